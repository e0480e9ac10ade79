"""Post-training INT8 quantization of exported models; each engine's
quantizer is named in its description (``repseg.engines.ENGINES``)."""
from .onnxruntime import quantize_onnx
from .openvino import quantize_openvino

__all__ = ['quantize_onnx', 'quantize_openvino']
