"""What a reduced-precision row is held to, and how it runs in PyTorch.

bf16 keeps about three significant digits, so a bf16 row cannot meet the
fp32 bound (``repseg.equivalence.TOLERANCE``); it is held instead to
picking the same class as the fp32 eager fused model almost everywhere
(``argmax_agreement``) and to a loose relative difference.
"""
import contextlib
from typing import ContextManager, Sequence

import torch
from torch import Tensor

#: Largest relative difference (``relative_difference``) of a bf16 row.
BF16_TOLERANCE = 5e-2
#: Smallest share of output positions where a bf16 row picks the class
#: (channel) the fp32 model picks.
BF16_MIN_AGREEMENT = 0.99

#: Precision -> the dtype PyTorch's runtimes autocast to.
AUTOCAST_DTYPES = dict(bf16=torch.bfloat16)


def argmax_agreement(outputs: Sequence[Tensor],
                     references: Sequence[Tensor]) -> float:
    """The share of output positions, over all outputs, where the argmax
    over the class axis (dim 1: a segmentor's classes per pixel, a
    classifier's per image, a backbone's channels per position) is the
    same; shapes as ``relative_difference`` checked them."""
    same = total = 0
    for out, ref in zip(outputs, references):
        picked = out.detach().float().cpu().argmax(1)
        expected = ref.detach().float().cpu().argmax(1)
        same += (picked == expected).sum().item()
        total += expected.numel()
    return same / total if total else 1.0


def autocast(precision: str, device: torch.device) -> ContextManager:
    """``torch.autocast`` to ``precision``'s dtype on ``device``; nothing
    for fp32."""
    if precision not in AUTOCAST_DTYPES:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])
