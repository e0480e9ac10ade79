"""ClassWeightedCrossEntropyLoss: PyTorch's weighted mean cross-entropy
with ignored pixels, where mmseg's class_weight fails on them."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import repseg  # noqa: F401  (registers the loss)


def _batch(num_classes=5):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, num_classes, 6, 7, generator=generator)
    label = torch.randint(0, num_classes, (2, 6, 7), generator=generator)
    label[0, :2] = 255
    return logits, label


def test_mmseg_class_weight_fails_on_ignored_pixels():
    # The bug the loss exists for (open-mmlab/mmsegmentation#3734): when
    # this starts passing, mmseg's own loss can replace it.
    logits, label = _batch()
    loss = MODELS.build(dict(type='CrossEntropyLoss', class_weight=[1.0] * 5))
    with pytest.raises(IndexError):
        loss(logits, label, ignore_index=255)


def test_equals_torch_weighted_mean():
    logits, label = _batch()
    weights = [0.5, 1.0, 2.0, 3.0, 4.0]
    loss = MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                             class_weight=weights, loss_weight=0.4))
    expected = 0.4 * F.cross_entropy(logits, label,
                                     weight=torch.tensor(weights),
                                     ignore_index=255)
    torch.testing.assert_close(loss(logits, label), expected)


def test_pixel_weights_multiply_before_the_mean():
    # OHEM passes a 0/1 weight per pixel: dropped pixels add no loss but
    # still count in the mean, as with mmseg's unweighted loss.
    logits, label = _batch()
    weights = [1.0, 2.0, 1.0, 1.0, 3.0]
    keep = torch.zeros(label.shape)
    keep[1] = 1
    loss = MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                             class_weight=weights))
    per_pixel = F.cross_entropy(logits, label, weight=torch.tensor(weights),
                                ignore_index=255, reduction='none')
    labelled = label != 255
    expected = (per_pixel * keep).sum() / torch.tensor(weights)[
        label[labelled]].sum()
    torch.testing.assert_close(loss(logits, label, weight=keep), expected)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match='class_weight is required'):
        MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                          class_weight=None))
    logits, label = _batch()
    loss = MODELS.build(dict(type='ClassWeightedCrossEntropyLoss',
                             class_weight=[1.0, 2.0]))
    with pytest.raises(ValueError, match='2 class weights for 5 classes'):
        loss(logits, label)
