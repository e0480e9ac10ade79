"""The exact rewrites by name, applied in the one order that composes."""
from typing import Sequence

from torch import nn

from .psp import factorize_psp_heads
from .space_to_batch import use_space_to_batch
from .winograd import use_winograd

# psp before s2b and Winograd: both act on convs psp creates or keeps;
# s2b before Winograd, which takes the undilated convs s2b makes.
MODEL_REWRITES = ('psp', 's2b', 'wino2', 'wino4')


def apply_rewrites(model: nn.Module, names: Sequence[str]) -> nn.Module:
    """``model`` with the rewrites of ``names`` (of ``MODEL_REWRITES``: the
    factorized PSP head, space-to-batch, Winograd F(2x2, 3x3) or F(4x4,
    3x3)) applied in place, in ``MODEL_REWRITES`` order."""
    unknown = [n for n in names if n not in MODEL_REWRITES]
    if unknown:
        raise ValueError(f'unknown rewrite(s) {unknown}; choose from '
                         f'{MODEL_REWRITES}')
    if 'psp' in names:
        factorize_psp_heads(model)
    if 's2b' in names:
        use_space_to_batch(model)
    for tile in (2, 4):
        if f'wino{tile}' in names:
            use_winograd(model, tile)
    return model
