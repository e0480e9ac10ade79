"""Exact rewrites of a model in its inference form: each computes the same
function with less work or a faster layout. Every caller checks the result
against the model it came from (``repseg.equivalence``)."""
from .layout import to_channels_last
from .psp import FactorizedPSPHead, conv_of_upsampled, factorize_psp_heads
from .space_to_batch import (SpaceToBatchChain, batch_to_space,
                             space_to_batch, use_space_to_batch)
from .winograd import WinogradConv2d, is_winograd_conv, use_winograd

__all__ = [
    'FactorizedPSPHead', 'SpaceToBatchChain', 'WinogradConv2d',
    'batch_to_space', 'conv_of_upsampled', 'factorize_psp_heads',
    'is_winograd_conv', 'space_to_batch', 'to_channels_last',
    'use_space_to_batch', 'use_winograd'
]
