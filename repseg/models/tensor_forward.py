"""A model's inference call as a plain tensor function, for tracing,
exporting and comparing forms."""
from typing import Tuple

from torch import Tensor, nn

from .kind import BACKBONE, model_kind


class TensorForward(nn.Module):
    """The inference call of a model as tensor -> tuple of tensors, by its
    kind (``repseg.models.kind``): ``model(x, mode='tensor')`` for
    segmentors (decode-head logits at the feature resolution) and
    classifiers (logits), ``model(x)`` for a bare backbone (its stage
    outputs)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.bare_backbone = model_kind(model) == BACKBONE

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        out = self.model(x) if self.bare_backbone else self.model(
            x, mode='tensor')
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )
