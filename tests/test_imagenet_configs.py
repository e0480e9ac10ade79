import gc
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import repseg  # noqa: F401  (registers the classifier, data and metric)
from repseg.demo.imagenet import make_demo_imagenet
from repseg.models.backbones import RepVGG

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / 'configs/imagenet').glob('repvgg_*_in1k.py'))
PAPER_VARIANTS = {'A0', 'A1', 'A2', 'B0', 'B1', 'B1g2', 'B1g4', 'B2', 'B2g4',
                  'B3', 'B3g4'}
LONG_RECIPE = {'B2g4', 'B3', 'B3g4'}  # 200 epochs, AutoAugment, LS, mixup
DEMO = ROOT / 'configs/demo/repvgg_a0_demo_cls.py'
MODEL_BASE = ROOT / 'configs/_base_/models/repvgg_cls.py'


# Tiny inputs: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')


def arch_of(path):
    return Config.fromfile(str(path)).model.backbone.arch


def test_every_paper_variant_has_a_config():
    archs = {arch_of(p): p.stem for p in CONFIGS}
    assert set(archs) == PAPER_VARIANTS
    assert all(stem == f'repvgg_{a.lower()}_in1k' for a, stem in archs.items())


def test_configs_share_one_model_but_the_arch():
    """Each config is _base_/models/repvgg_cls.py's classifier with its own
    arch (and the long recipe's label smoothing and mixup)."""
    shared = Config.fromfile(str(MODEL_BASE)).model.to_dict()
    assert 'arch' not in shared['backbone']
    for path in CONFIGS:
        model = Config.fromfile(str(path)).model.to_dict()
        model['backbone'].pop('arch')
        model.pop('label_smoothing', None)
        model.pop('mixup_alpha', None)
        assert model == shared, path.stem


def decay_of_each_parameter(model, optim_wrapper):
    decay = {id(p): g['weight_decay']
             for g in optim_wrapper.optimizer.param_groups
             for p in g['params']}
    return {name: decay[id(p)] for name, p in model.named_parameters()}


def check_recipe(cfg, arch):
    pipeline = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    test = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert test == ['LoadImageFromFile', 'ResizeShortestEdge', 'CenterCrop',
                    'PackClsInputs']
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    long = arch in LONG_RECIPE
    assert cfg.train_cfg.max_epochs == (200 if long else 120)
    assert ('AutoAugment' in pipeline) == long
    assert cfg.model.get('label_smoothing', 0) == (0.1 if long else 0)
    assert cfg.model.get('mixup_alpha', 0) == (0.2 if long else 0)
    assert [s['type'] for s in cfg.param_scheduler] == (
        ['LinearLR', 'CosineAnnealingLR'] if long else ['CosineAnnealingLR'])


def learning_rates(cfg, optim_wrapper, epoch_length=10):
    """The lr at the first iteration and after each of the first 6 epochs."""
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optim_wrapper,
                                              epoch_length=epoch_length))
                  for s in cfg.param_scheduler]
    rates = [optim_wrapper.get_lr()['lr'][0]]
    for step in range(1, 6 * epoch_length + 1):
        for scheduler in schedulers:
            scheduler.step()
        if step % epoch_length == 0:
            rates.append(optim_wrapper.get_lr()['lr'][0])
    return rates


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds_and_trains_one_step(path):
    cfg = Config.fromfile(str(path))
    arch = cfg.model.backbone.arch
    check_recipe(cfg, arch)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    norms = {f'{name}.{p}' for name, m in model.named_modules()
             if isinstance(m, _BatchNorm) for p, _ in m.named_parameters()}
    for name, decay in decay_of_each_parameter(model, optim_wrapper).items():
        kernel = name not in norms and not name.endswith('.bias')
        assert decay == (1e-4 if kernel else 0), name

    data = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=[BaseDataElement(gt_label=torch.tensor(label))
                      for label in (3, 997)])
    before = model.head.fc.weight.detach().clone()
    log_vars = model.train_step(data, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, model.head.fc.weight)

    rates = learning_rates(cfg, optim_wrapper)
    if arch in LONG_RECIPE:  # linear warm-up over 5 epochs, then cosine
        assert rates[0] == pytest.approx(1e-4)
        assert rates[5] == pytest.approx(0.1)
        assert rates[6] < 0.1
    else:
        assert rates[0] == pytest.approx(0.1)
        assert rates[1] == pytest.approx(0.05 * (1 + torch.cos(
            torch.tensor(torch.pi / 120)).item()))
    del model, optim_wrapper
    gc.collect()


def test_demo_config_trains_tests_and_hands_over(tmp_path):
    cfg = Config.fromfile(str(DEMO))
    final = Path(cfg.work_dir) / f'epoch_{cfg.train_cfg.max_epochs}.pth'
    assert final == Path('work_dirs/repvgg_a0_demo_cls') / final.name
    seg_demo = ROOT / 'configs/demo/pspnet_repvgg_a0_demo.py'
    if seg_demo.exists():  # the segmentation demo starts from that file
        seg_cfg = Config.fromfile(str(seg_demo), import_custom_modules=False)
        assert seg_cfg.model.backbone.init_cfg.checkpoint == str(final)

    data_root = tmp_path / 'demo_imagenet'
    make_demo_imagenet(data_root, num_train_per_class=2, num_val_per_class=1,
                       image_size=40)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = tmp_path / 'work' / 'epoch_1.pth'
    assert checkpoint.is_file()
    metrics = runner.test()
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}

    backbone = RepVGG('A0', out_indices=(3, ), init_cfg=dict(
        type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    backbone.init_weights()
    trained = runner.model.backbone.state_dict()
    loaded = backbone.state_dict()
    assert set(loaded) == set(trained)
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)
