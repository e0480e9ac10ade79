"""Exact rewrites of a model in its inference form: each computes the same
function with less work or a faster layout. Every caller checks the result
against the model it came from (``repseg.equivalence``)."""
from .apply import MODEL_REWRITES, apply_rewrites
from .layout import to_channels_last
from .psp import FactorizedPSPHead, conv_of_upsampled, factorize_psp_heads
from .space_to_batch import (SpaceToBatchChain, from_phase_mosaic,
                             to_phase_mosaic, use_space_to_batch)
from .winograd import WinogradConv2d, is_winograd_conv, use_winograd

__all__ = [
    'MODEL_REWRITES', 'FactorizedPSPHead', 'SpaceToBatchChain',
    'WinogradConv2d', 'apply_rewrites', 'conv_of_upsampled', 'factorize_psp_heads', 'from_phase_mosaic',
    'is_winograd_conv', 'to_channels_last', 'to_phase_mosaic',
    'use_space_to_batch', 'use_winograd'
]
