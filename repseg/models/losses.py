"""Cross-entropy with per-class weights that works with ignored pixels.

mmseg 1.2's ``CrossEntropyLoss(class_weight=...)`` averages by indexing the
class weights with every label, the ignore index (255) included, and fails
with ``IndexError: index 255 is out of bounds`` on any Cityscapes batch
(open-mmlab/mmsegmentation#3734). This one passes mmseg the average it
means: the summed class weight of the labelled pixels, which is what
PyTorch's weighted ``cross_entropy(reduction='mean')`` divides by.
"""
import torch
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS


@MODELS.register_module()
class ClassWeightedCrossEntropyLoss(CrossEntropyLoss):
    """mmseg's softmax ``CrossEntropyLoss`` with ``class_weight`` required,
    averaged over the class weights of the pixels that are not ignored.
    Other arguments as mmseg's; ``use_sigmoid`` is taken (so that a config
    can change the type of mmseg's loss dict) but must stay False."""

    def __init__(self, class_weight, loss_weight=1.0, loss_name='loss_ce',
                 reduction='mean', use_sigmoid=False):
        if not class_weight:
            raise ValueError('ClassWeightedCrossEntropyLoss: class_weight '
                             'is required (one weight per class)')
        if use_sigmoid:
            raise ValueError('ClassWeightedCrossEntropyLoss is a softmax '
                             'loss: use_sigmoid must be False')
        super().__init__(class_weight=class_weight, loss_weight=loss_weight,
                         loss_name=loss_name, reduction=reduction,
                         avg_non_ignore=True)

    def forward(self, cls_score, label, weight=None, avg_factor=None,
                reduction_override=None, ignore_index=255, **kwargs):
        weights = cls_score.new_tensor(self.class_weight)
        if weights.numel() != cls_score.shape[1]:
            raise ValueError(
                f'ClassWeightedCrossEntropyLoss: {weights.numel()} class '
                f'weights for {cls_score.shape[1]} classes')
        reduction = reduction_override or self.reduction
        if avg_factor is None and reduction == 'mean':
            labelled = label != ignore_index
            avg_factor = weights[label[labelled]].sum().clamp(
                min=torch.finfo(weights.dtype).eps)
        return super().forward(cls_score, label, weight=weight,
                               avg_factor=avg_factor,
                               reduction_override=reduction_override,
                               ignore_index=ignore_index, **kwargs)
