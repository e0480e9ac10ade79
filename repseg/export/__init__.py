"""Export of inference-form models to the files deployment engines load.

Both tables are keyed by the engine's ``Backend.name``
(``repseg.backends.BACKENDS``), whose ``suffix`` names the file to write.
"""
from typing import Callable, Dict

from .base import ExportError
from .ncnn import export_model_ncnn, export_ncnn
from .onnx import export_model_onnx, export_onnx, spatial_size_is_dynamic
from .openvino import export_model_openvino, export_openvino

#: Each engine's export of a tensor -> tensor(s) module for ``inputs``'
#: shape: ``(module, inputs, path)``; the benchmark's engine rows.
MODULE_EXPORTERS: Dict[str, Callable[..., object]] = {
    'onnxruntime': export_onnx, 'ncnn': export_ncnn,
    'openvino': export_openvino}

#: Each engine's export of a model's inference call, as deployed:
#: ``(model, inputs, path, fp16) -> bool``, whether the file takes any image
#: size (else only ``inputs``' one); ``fp16`` weights in ncnn only.
MODEL_EXPORTERS: Dict[str, Callable[..., bool]] = {
    'onnxruntime': export_model_onnx, 'ncnn': export_model_ncnn,
    'openvino': export_model_openvino}

__all__ = [
    'ExportError', 'MODEL_EXPORTERS', 'MODULE_EXPORTERS', 'export_model_ncnn',
    'export_model_onnx', 'export_model_openvino', 'export_ncnn', 'export_onnx',
    'export_openvino', 'spatial_size_is_dynamic'
]
