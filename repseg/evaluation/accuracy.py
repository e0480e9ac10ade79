"""Top-k classification accuracy."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent, keys ``accuracy/top1``, ``accuracy/top5``.

    A sample counts as correct at k when its ``gt_label`` is among the k
    highest entries of its ``pred_score`` (data samples as the classifier's
    ``predict`` returns them).

    Args:
        topk (Sequence[int]): The k values. Defaults to (1, 5).
        collect_device (str): Device on which results are gathered across
            processes, 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'accuracy'.
    """

    default_prefix = 'accuracy'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f'Accuracy: topk must be positive ints, got '
                             f'{topk!r}')
        self.topk = tuple(sorted(set(topk)))

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        # Only the hit/miss per k is kept, not the scores: 50k x 1000 floats
        # would otherwise sit in memory and travel between processes.
        for sample in data_samples:
            score = torch.as_tensor(sample['pred_score']).flatten()
            if max(self.topk) > score.numel():
                raise ValueError(
                    f'Accuracy: topk {self.topk} exceeds the {score.numel()} '
                    'classes of pred_score; lower topk in the evaluator '
                    'config')
            label = int(sample['gt_label'])
            ranked = score.topk(max(self.topk)).indices
            self.results.append([bool((ranked[:k] == label).any())
                                 for k in self.topk])

    def compute_metrics(self, results: List[list]) -> dict:
        hits = np.asarray(results, dtype=np.float64)
        return {f'top{k}': float(100 * hits[:, i].mean())
                for i, k in enumerate(self.topk)}
