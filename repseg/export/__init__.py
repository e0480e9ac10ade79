"""Export of inference-form models to the files deployment engines load.

Each engine's two exporters (a model's inference call for deploy, a tensor
-> tensor(s) module for the benchmark) are named in its description,
``repseg.engines.ENGINES``.
"""
from .base import ExportError
from .ncnn import export_model_ncnn, export_ncnn
from .onnx import export_model_onnx, export_onnx, spatial_size_is_dynamic
from .openvino import export_model_openvino, export_openvino

__all__ = [
    'ExportError', 'export_model_ncnn', 'export_model_onnx',
    'export_model_openvino', 'export_ncnn', 'export_onnx', 'export_openvino',
    'spatial_size_is_dynamic'
]
