"""Every QARepVGG config builds, trains one step at a small input and is its
RepVGG counterpart with ``block_type='qarepvgg'`` (and its own checkpoint).

tests/test_seg_configs.py and tests/test_imagenet_configs.py glob
``pspnet_repvgg_*`` and ``imagenet/repvgg_*`` and pin those sets, so the
``qarepvgg`` configs are checked here.
"""
import gc
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import BaseDataElement
from helpers import check_segmentor_trains_and_predicts
from mmseg.registry import MODELS

import repseg  # noqa: F401
from repseg.apis import build_model
from repseg.models.backbones import QARepVGGBlock, RepVGG

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
# QARepVGG config -> its RepVGG counterpart.
SEG_CONFIGS = {
    'pspnet_qarepvgg_a0.py': 'pspnet_repvgg_a0.py',
    'pspnet_qarepvgg_b1g4.py': None,  # no RepVGG-B1g4 PSPNet leaf
    'demo/pspnet_qarepvgg_a0_demo.py': 'demo/pspnet_repvgg_a0_demo.py',
}
IMAGENET_CONFIGS = {
    'imagenet/qarepvgg_a0_in1k.py': 'imagenet/repvgg_a0_in1k.py',
    'imagenet/qarepvgg_b1g4_in1k.py': 'imagenet/repvgg_b1g4_in1k.py',
    'demo/qarepvgg_a0_demo_cls.py': 'demo/repvgg_a0_demo_cls.py',
}


def load(name):
    return Config.fromfile(str(CONFIGS / name))


def model_but_block_type(cfg, block_type):
    """``cfg.model`` without the backbone's block type (checked to be
    ``block_type``) and init_cfg (the checkpoint differs)."""
    model = cfg.model.to_dict()
    assert model['backbone'].pop('block_type', 'repvgg') == block_type
    model['backbone'].pop('init_cfg', None)
    return model


def test_every_qarepvgg_config_is_listed():
    found = {str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob('*.py')
             if 'qarepvgg' in p.stem and '_base_' not in p.parts}
    assert found == set(SEG_CONFIGS) | set(IMAGENET_CONFIGS)


@pytest.mark.parametrize('name', sorted(n for n, o in {
    **SEG_CONFIGS, **IMAGENET_CONFIGS}.items() if o))
def test_config_is_its_repvgg_counterpart_with_the_qarepvgg_block(name):
    qa, original = load(name), load({**SEG_CONFIGS,
                                     **IMAGENET_CONFIGS}[name])
    assert model_but_block_type(qa, 'qarepvgg') == \
        model_but_block_type(original, 'repvgg')
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg'):
        assert qa.get(key) == original.get(key), key


def test_pspnet_b1g4_is_the_a0_config_with_the_b1g4_variant_base():
    b1g4, a0 = load('pspnet_qarepvgg_b1g4.py'), load('pspnet_qarepvgg_a0.py')
    assert b1g4.model.backbone.arch == 'B1g4'
    with torch.device('meta'):  # no memory, no initialisation cost
        widths = RepVGG('B1g4', block_type='qarepvgg').out_channels
    assert widths == [128, 256, 512, 2048]
    assert b1g4.model.decode_head.in_channels == 2048
    assert b1g4.model.auxiliary_head.in_channels == 512
    for key in ('train_dataloader', 'optim_wrapper', 'train_cfg', 'val_cfg'):
        assert b1g4[key] == a0[key], key


@pytest.mark.parametrize('name', sorted(SEG_CONFIGS))
def test_seg_config_builds_and_trains_one_step(name):
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type == 'RepVGG' and backbone.block_type == 'qarepvgg'
    arch = backbone.arch.lower()
    if 'demo' in name:
        cls_demo = load('demo/qarepvgg_a0_demo_cls.py')
        assert cfg.pretrained_checkpoint == str(
            Path(cls_demo.work_dir) / f'epoch_{cls_demo.train_cfg.max_epochs}'
            '.pth')
    else:
        assert backbone.strides == (2, 2, 1, 1)
        assert backbone.dilations == (1, 1, 2, 4)
        assert backbone.norm_cfg.type == 'SyncBN'
        assert cfg.pretrained_checkpoint == \
            f'checkpoints/qarepvgg_{arch}_in1k.pth'
        assert cfg.val_cfg.type == 'ReparamValLoop'
    assert backbone.init_cfg == dict(type='Pretrained',
                                     checkpoint=cfg.pretrained_checkpoint,
                                     prefix='backbone.')

    cfg.model.data_preprocessor.size = (64, 96)
    torch.manual_seed(0)
    model = build_model(cfg)  # no pretrained weights, SyncBN as BN
    assert isinstance(model.backbone.stem, QARepVGGBlock)
    assert model.backbone.out_channels[3] == cfg.model.decode_head.in_channels
    assert model.backbone.out_channels[2] == \
        cfg.model.auxiliary_head.in_channels
    stem = model.backbone.stem
    check_segmentor_trains_and_predicts(model, cfg.optim_wrapper,
                                        lambda: stem.branch_1x1.weight)
    del model
    gc.collect()


@pytest.mark.parametrize('name', sorted(IMAGENET_CONFIGS))
def test_imagenet_config_builds_and_trains_one_step(name):
    cfg = load(name)
    assert cfg.model.backbone.block_type == 'qarepvgg'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone.stem, QARepVGGBlock)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    num_classes = cfg.model.num_classes
    data = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=[BaseDataElement(gt_label=torch.tensor(label))
                      for label in (3, num_classes - 1)])
    before = model.backbone.stage_1[0].post_norm.weight.detach().clone()
    log_vars = model.train_step(data, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before,
                           model.backbone.stage_1[0].post_norm.weight)
    del model, optim_wrapper
    gc.collect()
