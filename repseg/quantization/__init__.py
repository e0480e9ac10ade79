"""Post-training INT8 quantization of exported models."""
from .onnxruntime import QUANTIZERS, quantize_onnx

__all__ = ['QUANTIZERS', 'quantize_onnx']
