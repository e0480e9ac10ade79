"""Export of inference-form models to the files deployment engines load."""
from .onnx import export_model_onnx, export_onnx, spatial_size_is_dynamic

__all__ = ['export_model_onnx', 'export_onnx', 'spatial_size_is_dynamic']
