"""Built-in demo datasets, drawn procedurally (no download needed)."""
from .cityscapes import make_demo_cityscapes
from .imagenet import make_demo_imagenet

__all__ = ['make_demo_cityscapes', 'make_demo_imagenet']
