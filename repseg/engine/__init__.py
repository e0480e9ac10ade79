from .loops import ReparamTestLoop, ReparamValLoop, fused_copy

__all__ = ['ReparamTestLoop', 'ReparamValLoop', 'fused_copy']
