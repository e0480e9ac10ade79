"""Export of inference-form models to the files deployment engines load."""
from .base import ExportError
from .ncnn import export_model_ncnn, export_ncnn
from .onnx import export_model_onnx, export_onnx, spatial_size_is_dynamic

__all__ = [
    'ExportError', 'export_model_ncnn', 'export_model_onnx', 'export_ncnn',
    'export_onnx', 'spatial_size_is_dynamic'
]
