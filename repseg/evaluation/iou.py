"""mmseg's IoUMetric, also returning each class's IoU."""
import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """``IoUMetric`` whose result also holds ``IoU.<class name>`` (percent,
    NaN for a class absent from both prediction and ground truth).

    mmseg's metric prints the per-class table but returns only the means;
    the reports (``tools/test.py --report``) need the per-class figures.
    """

    def compute_metrics(self, results: list) -> dict:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersect = sum(r[0] for r in results).numpy()
        union = sum(r[1] for r in results).numpy()
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = intersect / union
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = float(np.round(value * 100, 2))
        return metrics
