"""Dataset preparation and checks (mmseg's own dataset classes load them)."""
from .cityscapes import (DatasetNotReadyError, check_cityscapes,
                         convert_cityscapes, write_split_lists)

__all__ = ['DatasetNotReadyError', 'check_cityscapes', 'convert_cityscapes',
           'write_split_lists']
