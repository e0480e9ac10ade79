"""The precisions a path computes in, by name, and how PyTorch computes in
them (``autocast``). What each is held to against the fp32 model is
``repseg.equivalence``'s ``BOUNDS``."""
import contextlib
from typing import ContextManager

import torch

from .errors import RepSegError

#: The precisions a deployment path computes in. fp16 is none of them: no
#: engine repseg runs computes in fp16 on a CPU (CUDA's fp16 is the
#: ``--fp16`` of the PyTorch tools).
PRECISIONS = ('fp32', 'bf16', 'int8')

#: Precision -> the dtype PyTorch autocasts to.
AUTOCAST_DTYPES = dict(bf16=torch.bfloat16)


class UnknownPrecision(RepSegError, ValueError):
    """A precision that no path of repseg computes in, or that the chosen
    path does not."""


def check_precision_name(precision: str) -> str:
    """``precision`` if a path computes in it; ``UnknownPrecision`` naming
    the ones there are (and why fp16 is not one) otherwise."""
    if precision in PRECISIONS:
        return precision
    if precision == 'fp16':
        raise UnknownPrecision(
            'precision fp16: no engine repseg runs computes in fp16 on a '
            'CPU (ncnn stores fp16 on x86 but computes in fp32, OpenVINO '
            'and ONNX Runtime compute in fp32, bf16 or int8); choose from '
            f'{", ".join(PRECISIONS)}')
    raise UnknownPrecision(f'precision {precision!r}: choose from '
                           f'{", ".join(PRECISIONS)}')


def autocast(precision: str, device: torch.device) -> ContextManager:
    """``torch.autocast`` to ``precision``'s dtype on ``device``; nothing
    for fp32."""
    if precision not in AUTOCAST_DTYPES:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type,
                          dtype=AUTOCAST_DTYPES[precision])
