"""Export of a model's inference call to ONNX (opset 18, torch.export)."""
import contextlib
import io
import logging
import os.path as osp
import warnings
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ..models.tensor_forward import TensorForward
from .base import ExportError, fp32_only


def export_onnx(module: nn.Module, inputs: Tensor, path: str,
                dynamic_dims: Optional[Dict[int, object]] = None) -> str:
    """Export ``module`` (a tensor -> tensor(s) module) with torch.export
    (opset 18), for ``inputs``' shape, or with ``dynamic_dims`` (input dim
    -> ``torch.export.Dim``) left free. The input is named ``input``."""
    # The exporter reports its progress on stdout and warns about ops of
    # packages that are not installed (torchvision): keep the output clean.
    registration = logging.getLogger(
        'torch.onnx._internal.exporter._registration')
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(
                module.eval(), (inputs, ), str(path), opset_version=18,
                dynamo=True, input_names=['input'], verbose=False,
                dynamic_shapes=None if dynamic_dims is None else
                (dynamic_dims, ))
    except Exception as err:  # the exporter raises many kinds
        message = (str(err).strip().splitlines() or [''])[0]
        raise ExportError(f'torch.onnx.export could not export the model '
                          f'({type(err).__name__}: {message})') from err
    finally:
        registration.setLevel(level)
    if not osp.isfile(path):
        raise ExportError(f'torch.onnx.export wrote nothing to {path}')
    return str(path)


def spatial_size_is_dynamic(model: nn.Module) -> bool:
    """Whether an ONNX export of ``model`` may take any image size.

    torch.export records adaptive average pooling to a grid other than 1x1
    (PSPNet's bins 2, 3 and 6) for the traced size only, and silently gives
    wrong results at other sizes; such models keep a fixed image size.
    """
    return all(
        m.output_size in (1, (1, 1))
        for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d))


def export_model_onnx(model: nn.Module, inputs: Tensor, path: str,
                      fp16: bool = False) -> bool:
    """Export a model's inference call (``TensorForward``) with a dynamic
    batch, and a dynamic image size where the model allows it; returns
    whether the image size is dynamic. fp32 weights only."""
    from torch.export import Dim
    fp32_only('ONNX', fp16)
    dynamic_size = spatial_size_is_dynamic(model)
    dims = {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO} if dynamic_size else {
        0: Dim.AUTO}
    export_onnx(TensorForward(model), inputs, path, dynamic_dims=dims)
    return dynamic_size
