import os

import pytest
import torch

# Two threads at most: the suite must fit a 2-core CI machine.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

TINY_ARCH = dict(num_blocks=(1, 1, 2, 1), width_factor=(0.25, 0.25, 0.25, 0.5))


@pytest.fixture
def one_thread():
    """These inputs are tiny: one thread avoids OpenMP barrier waits, which
    on a busy machine cost two threads more than the work they share."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def demo_cityscapes(tmp_path_factory):
    """A tiny converted Cityscapes-format demo: 4 train + 3 val scenes."""
    from repseg.datasets import convert_cityscapes
    from repseg.demo import make_demo_cityscapes
    root = tmp_path_factory.mktemp('demo') / 'cityscapes'
    make_demo_cityscapes(root, seed=0, num_train=4, num_val=3, size=(256, 128))
    convert_cityscapes(root)
    return root


def write_tiny_seg_config(path, data_root, **overrides):
    """A config file: the demo PSPNet config with a tiny RepVGG, 64x128
    crops, in-process data loading and a handful of iterations."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = os.path.join(repo, 'configs/demo/pspnet_repvgg_a0_demo.py')
    settings = dict(
        max_iters=4, val_interval=4, checkpoint_interval=2,
        norm='BN', scale=(128, 64))
    settings.update(overrides)
    text = f'''
_base_ = {base!r}
data_root = {str(data_root)!r}
norm_cfg = dict(type={settings['norm']!r}, requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 128)),
    backbone=dict(arch=dict(_delete_=True, **{TINY_ARCH!r}), init_cfg=None,
                  norm_cfg=norm_cfg),
    decode_head=dict(in_channels=256, channels=16, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=8, norm_cfg=norm_cfg))
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=2, dataset=dict(data_root=data_root,
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
              dict(type='RandomCrop', crop_size=(64, 128)),
              dict(type='PackSegInputs')]))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='Resize', scale={settings['scale']!r}, keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
val_dataloader = dict(loader, dataset=dict(data_root=data_root,
                                           pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={settings['max_iters']}, val_interval={settings['val_interval']})
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={settings['checkpoint_interval']}, max_keep_ckpts=-1))
'''
    path.write_text(text)
    return path
