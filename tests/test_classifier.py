import math
from pathlib import Path

import pytest
import torch
from helpers import max_rel_diff, randomize_bn
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from mmseg.registry import MODELS
from reference_repvgg import ReferenceRepVGG
from torch import nn

import repseg
import repseg.models.classifier as classifier_module
from repseg.convert import convert_checkpoint
from repseg.models.classifier import RepVGGClassifier, mixup, sample_mixup

ROOT = Path(__file__).resolve().parents[1]
A0_SPEC = dict(num_blocks=(2, 4, 14, 1), widths=(48, 96, 192, 1280))
PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


# Tiny inputs: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')


def build_a0(num_classes=5, **kwargs):
    torch.manual_seed(0)
    return RepVGGClassifier(
        backbone=dict(type='RepVGG', arch='A0', out_indices=(3, )),
        num_classes=num_classes, data_preprocessor=PREPROCESSOR, **kwargs)


def samples(*labels):
    return [BaseDataElement(gt_label=torch.tensor(label)) for label in labels]


class Passthrough(nn.Module):
    """A 'backbone' whose last output is its input: the logits are then the
    inputs, which makes the loss computable by hand."""

    def forward(self, x):
        return (x, )


def logits_model(num_classes, **kwargs):
    model = build_a0(num_classes, **kwargs)
    model.backbone = Passthrough()
    model.head = nn.Identity()
    return model


def test_forward_modes():
    model = build_a0().eval()
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=samples(1, 3)))
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
        losses = model(**data, mode='loss')
        predictions = model(**data, mode='predict')
    assert logits.shape == (2, 5)
    assert set(losses) == {'loss_cls'} and losses['loss_cls'].ndim == 0
    expected_loss = nn.functional.cross_entropy(logits, torch.tensor([1, 3]))
    assert torch.allclose(losses['loss_cls'], expected_loss)
    assert [int(p.gt_label) for p in predictions] == [1, 3]
    for prediction, row in zip(predictions, logits):
        assert torch.allclose(prediction.pred_score, row.softmax(0))
        assert int(prediction.pred_label) == int(row.argmax())
    bare = model.predict(data['inputs'])
    assert len(bare) == 2 and 'gt_label' not in bare[0]
    with pytest.raises(ValueError, match="mode 'feature'"):
        model(data['inputs'], mode='feature')
    with pytest.raises(ValueError, match='num_classes=5'):
        model(data['inputs'], samples(1, 7), mode='loss')


def test_state_dict_keys_match_converted_checkpoints():
    keys = set(build_a0().state_dict())
    assert {k for k in keys if not k.startswith('backbone.')} == {
        'head.fc.weight', 'head.fc.bias'}


def test_label_smoothing_loss_by_hand():
    model = logits_model(2, label_smoothing=0.2)
    # softmax([0, ln 3]) = [1/4, 3/4]; label 1, K = 2: target [0.1, 0.9].
    logits = torch.tensor([[0.0, math.log(3)]])
    loss = model.loss(logits, samples(1))['loss_cls']
    expected = -(0.1 * math.log(1 / 4) + 0.9 * math.log(3 / 4))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_mixup_loss_by_hand(monkeypatch):
    model = logits_model(2, label_smoothing=0.1, mixup_alpha=0.2).train()
    monkeypatch.setattr(classifier_module, 'sample_mixup',
                        lambda alpha, n, device: (0.75, torch.tensor([1, 0])))
    # Mixed logits: 0.75 * x + 0.25 * x[[1, 0]]; both rows become
    # [0, ln 3] and [ln 3, 0] -> softmax [1/4, 3/4] and [3/4, 1/4].
    logits = torch.tensor([[-math.log(3) / 2, 3 * math.log(3) / 2],
                           [3 * math.log(3) / 2, -math.log(3) / 2]])
    loss = model.loss(logits, samples(1, 0))['loss_cls']
    # Labels [1, 0] mixed 0.75/0.25 -> [0.25, 0.75] and [0.75, 0.25],
    # smoothed 0.1 over K=2: t * 0.9 + 0.05.
    t1 = (0.25 * 0.9 + 0.05, 0.75 * 0.9 + 0.05)
    row1 = -(t1[0] * math.log(1 / 4) + t1[1] * math.log(3 / 4))
    row2 = -(t1[1] * math.log(3 / 4) + t1[0] * math.log(1 / 4))
    assert loss.item() == pytest.approx((row1 + row2) / 2, rel=1e-6)


def test_mixup_only_in_training(monkeypatch):
    def refuse(*args):
        raise AssertionError('mixup sampled outside training')

    model = logits_model(3, mixup_alpha=0.2).eval()
    monkeypatch.setattr(classifier_module, 'sample_mixup', refuse)
    logits = torch.randn(4, 3)
    loss = model.loss(logits, samples(0, 1, 2, 0))['loss_cls']
    expected = nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0]))
    assert torch.allclose(loss, expected)


def test_sample_mixup_and_mixup():
    lam, partner = sample_mixup(0.2, 6)
    assert 0 <= lam <= 1
    assert sorted(partner.tolist()) == list(range(6))
    inputs, targets = torch.randn(2, 3), torch.eye(2)
    mixed, mixed_targets = mixup(inputs, targets, 0.3, torch.tensor([1, 0]))
    assert torch.allclose(mixed[0], 0.3 * inputs[0] + 0.7 * inputs[1])
    assert torch.allclose(mixed_targets, torch.tensor([[0.3, 0.7],
                                                       [0.7, 0.3]]))


def test_reparameterize_classifier():
    model = randomize_bn(build_a0()).eval()
    x = torch.randn(2, 3, 64, 64)
    fused = repseg.reparameterize_model(model)
    assert any('branch_reparam' in k for k in fused.state_dict())
    with torch.no_grad():
        assert max_rel_diff(fused(x), model(x)) <= 1e-5


@pytest.mark.parametrize('deploy', [False, True])
def test_reference_checkpoint_loads_strictly(deploy):
    torch.manual_seed(0)
    reference = randomize_bn(ReferenceRepVGG(**A0_SPEC, num_classes=1000))
    reference.eval()
    source = (reference.deploy_state_dict() if deploy
              else reference.state_dict())
    state, arch, is_deploy = convert_checkpoint({'state_dict': source})
    assert (arch, is_deploy) == ('A0', deploy)

    cfg = Config.fromfile(str(ROOT / 'configs/imagenet/repvgg_a0_in1k.py'))
    cfg.model.backbone.deploy = deploy
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert max_rel_diff(model(x), reference(x)) <= 1e-5
