"""Evaluation metrics (registered in mmseg's METRICS)."""
from .accuracy import Accuracy
from .iou import PerClassIoUMetric

__all__ = ['Accuracy', 'PerClassIoUMetric']
