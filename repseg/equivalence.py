"""How close a fused, rewritten or exported model is to the model it came
from: one measure and one bound per precision (``BOUNDS``), used by
deploy, the benchmark and the tests alike."""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch

from .errors import RepSegError
from .precision import check_precision_name

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


# ------------------------------------------------- reduced precision

#: Largest relative difference (``relative_difference``) of a bf16 path:
#: bf16 keeps about three significant digits, so it cannot meet
#: ``TOLERANCE``.
BF16_TOLERANCE = 5e-2
#: Smallest share of output positions where a bf16 path picks the class
#: (channel) the fp32 model picks.
BF16_MIN_AGREEMENT = 0.99
#: The same for an INT8 path. Per-tensor 8-bit activations put one grid over
#: a whole feature map, so the worst single logit can move by as much as the
#: logits span where a layer's range is set by a few outliers: the bound
#: that says whether the model still segments is the agreement, and the
#: largest difference is held only to the size of the largest logit.
INT8_TOLERANCE = 1.0
INT8_MIN_AGREEMENT = 0.9


@dataclass(frozen=True)
class PrecisionBound:
    """What a path in one precision is held to: ``tolerance`` on the
    relative difference and, for a reduced precision, ``min_agreement`` on
    the argmax agreement (None: not checked)."""
    tolerance: float
    min_agreement: Optional[float] = None


#: Precision -> its bound against the fp32 model.
BOUNDS = {
    'fp32': PrecisionBound(TOLERANCE),
    'bf16': PrecisionBound(BF16_TOLERANCE, BF16_MIN_AGREEMENT),
    'int8': PrecisionBound(INT8_TOLERANCE, INT8_MIN_AGREEMENT),
}


def bound_for(precision: str,
              min_agreement: Optional[float] = None) -> PrecisionBound:
    """The bound of ``precision``; ``min_agreement`` replaces a reduced
    precision's default (an untrained model's logits lie close together,
    so random weights may need less)."""
    bound = BOUNDS[check_precision_name(precision)]
    if min_agreement is not None and bound.min_agreement is not None:
        bound = PrecisionBound(bound.tolerance, min_agreement)
    return bound


def argmax_agreement(outputs: Sequence[torch.Tensor],
                     references: Sequence[torch.Tensor]) -> float:
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


def check_within_bound(what: str, outputs: Sequence[torch.Tensor],
                       references: Sequence[torch.Tensor],
                       bound: PrecisionBound,
                       reference_name: str = 'the fp32 model'
                       ) -> Tuple[float, float]:
    """``(relative_difference, argmax_agreement)`` of ``outputs`` against
    the fp32 ``references`` (``reference_name``); ``OutputMismatch``
    naming ``what`` beyond ``bound``."""
    rel = relative_difference(outputs, references)
    agreement = argmax_agreement(outputs, references)
    if bound.min_agreement is not None and agreement < bound.min_agreement:
        raise OutputMismatch(
            f'{what} picks {reference_name}\'s class at {agreement:.4f} of '
            f'the output positions (< {bound.min_agreement:g})')
    if rel > bound.tolerance:
        raise OutputMismatch(
            f'{what} differs from {reference_name} by {rel:.3e} of the '
            f'largest output (> {bound.tolerance:g})')
    return rel, agreement
