"""ImageNet classifier around the RepVGG backbone, for pretraining.

The model is the paper's: backbone, global average pooling, one linear
layer. Its state-dict keys (``backbone.*``, ``head.fc.*``) are those that
``tools/model_converters/convert_checkpoint.py`` writes, so converted
reference checkpoints load strictly, and a segmentor takes the backbone with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmseg.registry import MODELS
from torch import Tensor, nn


class LinearClsHead(nn.Module):
    """Global average pooling followed by one linear layer (``fc``).

    Args:
        in_channels (int): Channels of the last backbone stage.
        num_classes (int): Number of classes.
    """

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feature: Tensor) -> Tensor:
        return self.fc(F.adaptive_avg_pool2d(feature, 1).flatten(1))


def sample_mixup(alpha: float, batch_size: int,
                 device=None) -> Tuple[float, Tensor]:
    """Draw mixup's weight ``lam ~ Beta(alpha, alpha)`` and the partner of
    every sample (a random permutation of the batch).

    numpy and torch draw from the generators mmengine seeds
    (``randomness=dict(seed=...)``), so runs are reproducible.
    """
    lam = float(np.random.beta(alpha, alpha))
    return lam, torch.randperm(batch_size, device=device)


def mixup(inputs: Tensor, targets: Tensor, lam: float,
          partner: Tensor) -> Tuple[Tensor, Tensor]:
    """Mix every sample (and its target distribution) with its partner:
    ``x = lam * x + (1 - lam) * x[partner]``, same for the targets."""
    mixed_inputs = lam * inputs + (1 - lam) * inputs[partner]
    mixed_targets = lam * targets + (1 - lam) * targets[partner]
    return mixed_inputs, mixed_targets


@MODELS.register_module()
class RepVGGClassifier(BaseModel):
    """RepVGG image classifier: backbone, global average pooling, linear.

    ``forward(inputs, data_samples, mode)``:

    - ``'tensor'``: the logits, (N, num_classes).
    - ``'loss'``: ``dict(loss_cls=...)``, cross-entropy against the
      ``gt_label`` of the data samples, with label smoothing, and with mixup
      while the model is in training mode.
    - ``'predict'``: the data samples (new ``BaseDataElement`` s when None
      are given) with ``pred_score`` (softmax, (num_classes,)) and
      ``pred_label`` (0-dim tensor) set; ``gt_label`` is kept.

    Args:
        backbone (dict): Backbone config, e.g. ``dict(type='RepVGG',
            arch='A0', out_indices=(3, ))``; its last output is classified.
        num_classes (int): Number of classes. Defaults to 1000.
        label_smoothing (float): Mass spread uniformly over all classes in
            the target, in [0, 1). Defaults to 0.
        mixup_alpha (float): Beta(alpha, alpha) parameter of mixup applied
            to training batches; 0 disables it. Defaults to 0.
        data_preprocessor (dict, optional): Batch normalisation and stacking,
            usually ``dict(type='ImgDataPreprocessor', mean=..., std=...,
            bgr_to_rgb=True)``. Defaults to None (mmengine's
            ``BaseDataPreprocessor``: no normalisation).
        init_cfg (dict | list[dict], optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int = 1000,
                 label_smoothing: float = 0.0,
                 mixup_alpha: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'RepVGGClassifier: num_classes must be >= 1, '
                             f'got {num_classes}')
        if not 0 <= label_smoothing < 1:
            raise ValueError('RepVGGClassifier: label_smoothing must be in '
                             f'[0, 1), got {label_smoothing}')
        if mixup_alpha < 0:
            raise ValueError('RepVGGClassifier: mixup_alpha must be >= 0, '
                             f'got {mixup_alpha}')
        self.backbone = MODELS.build(backbone)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.mixup_alpha = mixup_alpha
        self.head = LinearClsHead(self.backbone.out_channels[-1], num_classes)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.head(self.backbone(inputs)[-1])
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'RepVGGClassifier: unknown mode {mode!r}; use '
                         "'tensor', 'loss' or 'predict'")

    def _labels(self, data_samples: Optional[List[BaseDataElement]],
                device) -> Tensor:
        if not data_samples or any('gt_label' not in s for s in data_samples):
            raise ValueError('RepVGGClassifier: mode "loss" needs data '
                             'samples with a gt_label each')
        labels = torch.stack([torch.as_tensor(s.gt_label).reshape(())
                              for s in data_samples]).long().to(device)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f'RepVGGClassifier: gt_label {labels.tolist()} outside '
                f'0..{self.num_classes - 1} (num_classes={self.num_classes}); '
                'the dataset has more classes than the model')
        return labels

    def loss(self, inputs: Tensor,
             data_samples: List[BaseDataElement]) -> Dict[str, Tensor]:
        """Cross-entropy against soft targets: one-hot labels, mixed by
        mixup in training mode; torch applies the label smoothing."""
        labels = self._labels(data_samples, inputs.device)
        targets = F.one_hot(labels, self.num_classes).to(inputs.dtype)
        if self.training and self.mixup_alpha > 0:
            lam, partner = sample_mixup(self.mixup_alpha, len(labels),
                                        inputs.device)
            inputs, targets = mixup(inputs, targets, lam, partner)
        logits = self(inputs, mode='tensor')
        loss = F.cross_entropy(logits, targets,
                               label_smoothing=self.label_smoothing)
        return dict(loss_cls=loss)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        scores = F.softmax(self(inputs, mode='tensor'), dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(scores))]
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax()
        return data_samples
