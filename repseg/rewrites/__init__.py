"""Exact rewrites of a model in its inference form: each computes the same
function with less work or a faster layout. Every caller checks the result
against the model it came from (``repseg.equivalence``)."""
from .layout import to_channels_last
from .psp import FactorizedPSPHead, conv_of_upsampled, factorize_psp_heads
from .winograd import WinogradConv2d, is_winograd_conv, use_winograd

__all__ = [
    'FactorizedPSPHead', 'WinogradConv2d', 'conv_of_upsampled',
    'factorize_psp_heads', 'is_winograd_conv', 'to_channels_last',
    'use_winograd'
]
