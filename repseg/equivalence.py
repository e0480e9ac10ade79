"""How close a fused, rewritten or exported model is to the model it came
from: one measure and one bound, used by deploy, the benchmark and the
tests alike."""
from typing import Sequence

import torch

from .errors import RepSegError

# Largest |difference| / largest |output| accepted between a model and its
# fused, rewritten or exported form, in fp32.
TOLERANCE = 1e-4
# The same in half precision (fp16 keeps about three significant digits).
FP16_TOLERANCE = 1e-2


class OutputMismatch(RepSegError, RuntimeError):
    """A fused, rewritten or exported form computes something else than the
    model it came from."""


def relative_difference(outputs: Sequence[torch.Tensor],
                        references: Sequence[torch.Tensor]) -> float:
    """Largest |difference| over largest |reference|, over all outputs;
    ``OutputMismatch`` when the outputs differ in number or shape."""
    if len(outputs) != len(references):
        raise OutputMismatch(f'{len(outputs)} outputs instead of '
                             f'{len(references)}')
    worst = 0.0
    for out, ref in zip(outputs, references):
        if out.shape != ref.shape:
            raise OutputMismatch(f'output of shape {tuple(out.shape)} '
                                 f'instead of {tuple(ref.shape)}')
        out, ref = out.detach().float().cpu(), ref.detach().float().cpu()
        scale = ref.abs().max().clamp_min(1e-12)
        worst = max(worst, ((out - ref).abs().max() / scale).item())
    return worst


def max_abs_difference(outputs: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor]) -> float:
    """Largest |difference| over all outputs (shapes as checked above)."""
    relative_difference(outputs, references)  # checks number and shapes
    return max((o.detach().float().cpu() - r.detach().float().cpu()).abs()
               .max().item() for o, r in zip(outputs, references))
