"""Export of a model's inference call to OpenVINO IR (``.xml`` + ``.bin``).

The model goes through repseg's ONNX export (``export_onnx``), whose
graph ONNX Runtime already runs, and OpenVINO converts that file: one
tracing path for both engines, and the IR's own suffix lets
``repseg.engines.backend_for_file`` tell the engine from the file.
"""
import os.path as osp
import tempfile
from typing import Callable

from torch import Tensor, nn

from ..backends.base import BackendNotAvailable
from ..backends.openvino import exception_reason
from .base import ExportError, fp32_only
from .onnx import export_model_onnx, export_onnx


def onnx_to_openvino(onnx_path: str, xml_path: str) -> str:
    """Convert the ONNX file ``onnx_path`` to ``xml_path`` and the ``.bin``
    beside it, weights fp32."""
    try:
        import openvino
    except ImportError as err:
        raise BackendNotAvailable('OpenVINO export needs OpenVINO: pip '
                                  'install -e .[deploy]') from err
    try:
        model = openvino.convert_model(onnx_path)
        # save_model halves the weights to fp16 unless told not to.
        openvino.save_model(model, str(xml_path), compress_to_fp16=False)
    except Exception as err:  # the converter raises several kinds
        raise ExportError(f'OpenVINO could not convert the ONNX export to '
                          f'{xml_path} ({type(err).__name__}: '
                          f'{exception_reason(err)})') from err
    return xml_path


def _through_onnx(write_onnx: Callable[[str], object], xml_path: str):
    """``write_onnx(path)`` into a temporary folder, that file converted to
    ``xml_path``; returns what ``write_onnx`` returned."""
    with tempfile.TemporaryDirectory(prefix='openvino_') as work:
        onnx_path = osp.join(work, 'model.onnx')
        result = write_onnx(onnx_path)
        onnx_to_openvino(onnx_path, xml_path)
    return result


def export_openvino(module: nn.Module, inputs: Tensor, xml_path: str) -> str:
    """``export_onnx`` of ``module`` (a tensor -> tensor(s) module) for
    ``inputs``' shape, as OpenVINO IR."""
    _through_onnx(lambda path: export_onnx(module, inputs, path), xml_path)
    return str(xml_path)


def export_model_openvino(model: nn.Module, inputs: Tensor, xml_path: str,
                          fp16: bool = False) -> bool:
    """``export_model_onnx`` (dynamic batch, and image size where the model
    allows it), as OpenVINO IR; returns whether the image size is dynamic.
    fp32 weights only."""
    fp32_only('OpenVINO', fp16)
    return _through_onnx(
        lambda path: export_model_onnx(model, inputs, path), xml_path)
