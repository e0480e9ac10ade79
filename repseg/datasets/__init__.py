"""Dataset preparation and checks (mmseg's own dataset classes load them)."""
from . import transforms  # noqa: F401  (registers the transforms)
from .cityscapes import (DatasetNotReadyError, check_cityscapes,
                         class_weights, convert_cityscapes, write_split_lists)
from .imagenet import ImageNetDataset

__all__ = ['DatasetNotReadyError', 'ImageNetDataset', 'check_cityscapes',
           'class_weights', 'convert_cityscapes', 'write_split_lists']
