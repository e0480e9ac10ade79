"""Export of a model's inference call to ncnn (param + bin) with pnnx.

pnnx converts a TorchScript trace; its Python helper re-imports the Python
model it generates, which fails for modules named by numbers (nn.Sequential
children), so the pnnx executable is run directly, its side files kept in a
temporary folder.
"""
import os.path as osp
import subprocess
import tempfile
from typing import Tuple

import torch
from torch import Tensor, nn

from ..backends.base import BackendNotAvailable
from ..models.tensor_forward import TensorForward
from .base import ExportError


def pnnx_executable() -> str:
    try:
        from pnnx import EXEC_PATH
    except ImportError as err:
        raise BackendNotAvailable('ncnn export needs pnnx: pip install '
                                  '-e .[deploy]') from err
    return EXEC_PATH


@torch.no_grad()
def export_ncnn(module: nn.Module, inputs: Tensor, param_path: str,
                fp16: bool = False) -> Tuple[str, str]:
    """Export ``module`` (an image batch -> tensor(s) module) for the shape
    of one of ``inputs``' images to ``param_path`` and the ``.bin`` beside
    it (input blob ``in0``, outputs ``out0``, ``out1`` ...); fp32 weights
    unless ``fp16``. ncnn's blobs hold one image (``NcnnBackend`` runs a
    batch image by image), so the trace is of one."""
    executable = pnnx_executable()
    inputs = inputs[:1]
    param_path = osp.abspath(param_path)  # pnnx runs in its own folder
    bin_path = param_path[:-len('.param')] + '.bin'
    with tempfile.TemporaryDirectory(prefix='pnnx_') as work:
        traced = torch.jit.trace(module.eval(), inputs.cpu(),
                                 check_trace=False)
        script = osp.join(work, 'model.pt')
        traced.save(script)
        shape = ','.join(str(s) for s in inputs.shape)
        side = {key: osp.join(work, name) for key, name in (
            ('pnnxparam', 'model.pnnx.param'), ('pnnxbin', 'model.pnnx.bin'),
            ('pnnxpy', 'model_pnnx.py'), ('pnnxonnx', 'model.pnnx.onnx'),
            ('ncnnpy', 'model_ncnn.py'))}
        command = [executable, script, f'inputshape=[{shape}]f32',
                   'device=cpu', f'fp16={int(fp16)}',
                   f'ncnnparam={param_path}', f'ncnnbin={bin_path}'] + [
                       f'{k}={v}' for k, v in side.items()]
        done = subprocess.run(command, capture_output=True, text=True,
                              cwd=work)
    if done.returncode != 0 or not (osp.isfile(param_path)
                                    and osp.isfile(bin_path)):
        output = (done.stdout + done.stderr).strip().splitlines()[-10:]
        raise ExportError(f'pnnx could not convert the model to ncnn (exit '
                          f'{done.returncode}): ' + ' | '.join(output))
    record_input_shape(param_path, tuple(inputs.shape[1:]))
    return param_path, bin_path


def record_input_shape(param_path: str, chw: Tuple[int, int, int]) -> None:
    """Write the traced image shape into the ``Input`` layer (ncnn's own
    params 0=w 1=h 2=c): pnnx bakes the traced size into resize layers, so
    the model is right at that size only, and ``NcnnBackend`` checks it."""
    with open(param_path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    c, h, w = chw
    for index, line in enumerate(lines):
        if line.split()[:1] == ['Input']:
            fields = [t for t in line.split() if not t[:2] in ('0=', '1=',
                                                               '2=')]
            lines[index] = ' '.join(fields + [f'0={w}', f'1={h}', f'2={c}'])
    with open(param_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def export_model_ncnn(model: nn.Module, inputs: Tensor, param_path: str,
                      fp16: bool = False) -> bool:
    """``export_ncnn`` of a model's inference call (``TensorForward``);
    returns False: pnnx bakes the traced size into the resize layers, so the
    file takes that image size only."""
    export_ncnn(TensorForward(model), inputs, param_path, fp16)
    return False
