"""Every segmentation config builds, and trains one step at a small input."""
from pathlib import Path

import pytest
import torch
from helpers import check_segmentor_trains_and_predicts
from mmengine.config import Config

import repseg  # noqa: F401
from repseg.apis import build_model
from repseg.models.backbones import RepVGG

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
SEG_CONFIGS = sorted(CONFIGS.glob('pspnet_repvgg_*.py')) + [
    CONFIGS / 'demo/pspnet_repvgg_a0_demo.py']
# One base per backbone variant: the arch, the head widths, the checkpoint.
VARIANT_BASES = sorted((CONFIGS / '_base_/models').glob('pspnet_repvgg_*.py'))
FAST = (None, None, 4, None)


def relative(path):
    return str(path.relative_to(CONFIGS))


def stage_widths(arch):
    """The output widths of the four stages of the built backbone (on the
    meta device: no memory, no initialisation cost)."""
    with torch.device('meta'):
        return RepVGG(arch=arch, out_indices=(0, 1, 2, 3)).out_channels


def test_the_required_configs_exist():
    names = {p.stem for p in SEG_CONFIGS}
    assert {'pspnet_repvgg_b2', 'pspnet_repvgg_b2_fast', 'pspnet_repvgg_b1g2',
            'pspnet_repvgg_b1g2_fast', 'pspnet_repvgg_a0',
            'pspnet_repvgg_b2_paper', 'pspnet_repvgg_b1g2_fast_paper',
            'pspnet_repvgg_a0_demo'} <= names


@pytest.mark.parametrize('path', SEG_CONFIGS + VARIANT_BASES, ids=relative)
def test_head_widths_follow_from_the_backbone(path):
    """The PSP head reads stage 4 and the auxiliary head stage 3: their
    in_channels are those stages' widths for the config's arch."""
    model = Config.fromfile(path).model
    widths = stage_widths(model.backbone.arch)
    assert model.backbone.out_indices == (0, 1, 2, 3)
    assert model.decode_head.in_index == 3
    assert model.decode_head.in_channels == widths[3]
    assert model.auxiliary_head.in_index == 2
    assert model.auxiliary_head.in_channels == widths[2]


def test_there_is_a_variant_base_for_every_variant_in_use():
    archs = {Config.fromfile(p).model.backbone.arch for p in SEG_CONFIGS}
    assert {f'pspnet_repvgg_{a.lower()}' for a in archs} <= {
        p.stem for p in VARIANT_BASES}


@pytest.mark.parametrize('path', VARIANT_BASES, ids=relative)
def test_variant_base_names_its_arch_and_imagenet_checkpoint(path):
    cfg = Config.fromfile(path)
    arch = cfg.model.backbone.arch.lower()
    assert path.stem == f'pspnet_repvgg_{arch}'
    assert cfg.pretrained_checkpoint == f'checkpoints/repvgg_{arch}_in1k.pth'
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=cfg.pretrained_checkpoint,
        prefix='backbone.')
    # The checkpoint comes from the ImageNet config of the same arch.
    imagenet = CONFIGS / f'imagenet/repvgg_{arch}_in1k.py'
    assert Config.fromfile(imagenet).model.backbone.arch.lower() == arch


def test_head_widths_are_written_only_in_the_variant_bases():
    """A leaf that wrote in_channels again could disagree with its arch
    (the ResNet baseline has no variant base)."""
    allowed = set(VARIANT_BASES) | {CONFIGS / 'demo/pspnet_r18_demo.py'}
    # RDRNet's variant bases (tests/test_rdrnet.py checks their widths).
    allowed |= set((CONFIGS / '_base_/models').glob('rdrnet_*.py'))
    for path in CONFIGS.rglob('*.py'):
        if path not in allowed:
            assert 'in_channels' not in path.read_text(), relative(path)


@pytest.mark.parametrize(
    'path', sorted(CONFIGS.glob('pspnet_repvgg_*_paper.py')), ids=relative)
def test_paper_recipe_changes_only_the_schedule(path):
    paper = Config.fromfile(path)
    same = Config.fromfile(path.with_name(path.name.replace('_paper', '')))
    for key in ('model', 'train_dataloader', 'val_dataloader', 'env_cfg'):
        assert paper[key] == same[key], key
    assert paper.train_cfg.max_iters != same.train_cfg.max_iters


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
        # The variant base of the leaf's own arch.
        arch = backbone.arch.lower()
        assert path.stem.split('_')[2] == arch
        assert cfg.pretrained_checkpoint == \
            f'checkpoints/repvgg_{arch}_in1k.pth'
        assert backbone.get('num_dilated_blocks') == (
            FAST if 'fast' in path.stem else None)
        assert cfg.val_cfg.type == 'ReparamValLoop'
    if 'paper' in path.stem:
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4
        assert cfg.train_cfg.max_iters == 7440

    cfg.model.data_preprocessor.size = (64, 96)  # pad to the test input
    model = build_model(cfg)  # no pretrained weights, SyncBN as BN
    assert model.backbone.out_channels[3] == cfg.model.decode_head.in_channels
    assert model.backbone.out_channels[2] == \
        cfg.model.auxiliary_head.in_channels
    check_segmentor_trains_and_predicts(
        model, cfg.optim_wrapper,
        lambda: model.backbone.stem.branch_3x3.conv.weight)


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
    inputs = torch.rand(1, 3, 128, 256)
    shapes = []
    for cfg in (repvgg, resnet):
        model = build_model(cfg).eval()
        with torch.no_grad():
            shapes.append(model(inputs, mode='tensor').shape)
    assert shapes == [(1, 19, 8, 16)] * 2
