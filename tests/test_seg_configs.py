"""Every segmentation config builds, and trains one step at a small input."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import repseg  # noqa: F401

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
SEG_CONFIGS = sorted(CONFIGS.glob('pspnet_repvgg_*.py')) + [
    CONFIGS / 'demo/pspnet_repvgg_a0_demo.py']
FAST = (None, None, 4, None)


def test_the_required_configs_exist():
    names = {p.stem for p in SEG_CONFIGS}
    assert {'pspnet_repvgg_b2', 'pspnet_repvgg_b2_fast', 'pspnet_repvgg_b1g2',
            'pspnet_repvgg_b1g2_fast', 'pspnet_repvgg_a0',
            'pspnet_repvgg_b2_paper', 'pspnet_repvgg_b1g2_fast_paper',
            'pspnet_repvgg_a0_demo'} <= names


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=lambda p: p.stem)
def test_config_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    assert backbone.type == 'RepVGG'
    assert cfg.model.decode_head.pool_scales == (1, 2, 3, 6)
    assert cfg.model.auxiliary_head.loss_decode.loss_weight == 0.4
    if 'demo' not in path.stem:
        assert backbone.strides == (2, 2, 1, 1)  # output stride 8
        assert backbone.dilations == (1, 1, 2, 4)
        assert backbone.norm_cfg.type == 'SyncBN'
        assert backbone.init_cfg.type == 'Pretrained'
        assert backbone.init_cfg.checkpoint == cfg.pretrained_checkpoint
        assert backbone.get('num_dilated_blocks') == (
            FAST if 'fast' in path.stem else None)
        assert cfg.val_cfg.type == 'ReparamValLoop'
    if 'paper' in path.stem:
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4
        assert cfg.train_cfg.max_iters == 7440

    init_default_scope('mmseg')
    backbone.pop('init_cfg')
    cfg.model.data_preprocessor.size = (64, 96)  # pad to the test input
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    assert model.backbone.out_channels[3] == cfg.model.decode_head.in_channels
    assert model.backbone.out_channels[2] == \
        cfg.model.auxiliary_head.in_channels
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 96),
                                             ori_shape=(64, 96)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, 64, 96)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8)
                        for _ in range(2)], data_samples=samples)
    before = model.backbone.stem.branch_3x3.conv.weight.detach().clone()
    losses = model.train_step(data, optim_wrapper)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(before, model.backbone.stem.branch_3x3.conv.weight)
    model.eval()
    with torch.no_grad():
        outputs = model.test_step(dict(inputs=data['inputs'],
                                       data_samples=samples))
    assert outputs[0].pred_sem_seg.data.shape == (1, 64, 96)


def test_resnet_demo_baseline_is_sized_like_the_repvgg_demo():
    """configs/demo/pspnet_r18_demo.py (the demo's timing baseline) shares
    the RepVGG demo's data and schedule, and its logits come out at the same
    output stride."""
    repvgg = Config.fromfile(CONFIGS / 'demo/pspnet_repvgg_a0_demo.py')
    resnet = Config.fromfile(CONFIGS / 'demo/pspnet_r18_demo.py')
    for key in ('train_dataloader', 'val_dataloader', 'val_evaluator',
                'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg'):
        assert resnet[key] == repvgg[key], key
    assert resnet.model.backbone.type == 'ResNetV1c'
    assert resnet.model.backbone.depth == 18
    init_default_scope('mmseg')
    repvgg.model.backbone.pop('init_cfg')
    inputs = torch.rand(1, 3, 128, 256)
    shapes = []
    for cfg in (repvgg, resnet):
        model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
        with torch.no_grad():
            shapes.append(model(inputs, mode='tensor').shape)
    assert shapes == [(1, 19, 8, 16)] * 2
