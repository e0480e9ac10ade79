"""Config preparation shared by the tools and the package: reading a config
(``ConfigError`` when it cannot be), its default input size, and making a
GPU-oriented config run here."""
import os.path as osp
import warnings
from typing import Tuple

import torch
from mmengine.config import Config

from ..checkpoint import MissingCheckpointError
from ..errors import RepSegError
from ..models.init_cfg import pretrained_init
from ..models.kind import SEGMENTOR, config_kind

# Input (H, W) the tools use when none is given: ImageNet's test crop for
# classifiers and bare backbones, mmseg's Cityscapes crop for segmentors.
CLASSIFIER_SHAPE = (224, 224)
SEGMENTOR_SHAPE = (512, 1024)


class ConfigError(RepSegError, ValueError):
    """A config that cannot be read or does not describe a model."""


def default_input_shape(model_cfg) -> Tuple[int, int]:
    """``SEGMENTOR_SHAPE`` for a segmentor's model config, else
    ``CLASSIFIER_SHAPE`` (``repseg.models.kind.config_kind``)."""
    return (SEGMENTOR_SHAPE if config_kind(model_cfg) == SEGMENTOR
            else CLASSIFIER_SHAPE)


def read_config(path: str) -> Config:
    """A config file, or a config of an installed OpenMMLab package
    (``mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py``);
    ``ConfigError`` naming ``path`` when it cannot be found or read."""
    if '::' in path:
        from mmengine.hub import get_config
        try:
            return get_config(path)
        except Exception as err:  # mmengine raises several kinds
            raise ConfigError(f'config {path!r}: cannot be found or read '
                              f'({type(err).__name__}: {err})') from err
    if not osp.isfile(path):
        raise ConfigError(f'config {path!r} does not exist')
    try:
        return Config.fromfile(path)
    except (OSError, SyntaxError) as err:
        raise ConfigError(f'cannot read config {path!r}: {err}') from err


def _replace_sync_bn(node):
    """Turn every ``SyncBN`` norm config inside ``node`` into ``BN``."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def adapt_to_device(cfg: Config) -> None:
    """Make a GPU-oriented config run on a machine without CUDA.

    Distributed training then uses the gloo backend, and SyncBN becomes BN:
    torch's SyncBatchNorm only synchronizes CUDA tensors. (mmengine itself
    reverts SyncBN only for non-distributed runs.)
    """
    if torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.get('launcher', 'none') == 'none':
        return
    # DDP over CPU modules takes no device_ids (mmengine passes LOCAL_RANK).
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if 'SyncBN' in str(cfg.model):
        warnings.warn('no CUDA: SyncBN layers are built as BN (per-process '
                      'statistics) for CPU distributed training')
        _replace_sync_bn(cfg.model)


def init_cpu_process_group(cfg: Config) -> None:
    """Start the gloo process group of a torchrun launch without CUDA.

    mmengine's init_dist calls torch.cuda.set_device unconditionally, which
    fails on a CPU-only torch; a group that already exists is used as is.
    """
    if (cfg.get('launcher', 'none') == 'pytorch'
            and not torch.cuda.is_available()
            and not torch.distributed.is_initialized()):
        torch.distributed.init_process_group(backend='gloo')


def iter_dataset_cfgs(cfg: Config):
    """(dataloader name, dataset config) of every dataloader in ``cfg``."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader and loader.get('dataset'):
            yield name, loader['dataset']


def check_pretrained(cfg: Config) -> None:
    """Fail early, naming the path, when the backbone's pretrained checkpoint
    is missing (``MissingCheckpointError``); warn when there is none
    (training from scratch)."""
    backbone = cfg.model.get('backbone') or {}
    pretrained = pretrained_init(backbone.get('init_cfg'))
    if pretrained is None:
        warnings.warn('no pretrained checkpoint for the backbone '
                      '(model.backbone.init_cfg): training from scratch')
        return
    checkpoint = str(pretrained.get('checkpoint', ''))
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise MissingCheckpointError(
            f'pretrained backbone checkpoint {checkpoint!r} does not exist '
            '(model.backbone.init_cfg.checkpoint). Pretrain it with '
            'tools/train.py configs/imagenet/..., or convert a downloaded '
            'one with tools/model_converters/convert_checkpoint.py SRC '
            f'{checkpoint}, or train from scratch with --cfg-options '
            'model.backbone.init_cfg=None')


def check_datasets(cfg: Config, names=('train_dataloader', 'val_dataloader',
                                       'test_dataloader')) -> None:
    """Fail early, naming the path and the command that fixes it, when a
    dataset the config uses is missing or not prepared."""
    from ..datasets import DatasetNotReadyError, check_cityscapes
    for name, dataset in iter_dataset_cfgs(cfg):
        if name not in names:
            continue
        if dataset.get('type') == 'CityscapesDataset':
            img_dir = dataset.get('data_prefix', {}).get('img_path', '')
            check_cityscapes(dataset.get('data_root', ''),
                             splits=(osp.basename(img_dir.rstrip('/')), ))
        elif dataset.get('data_root') and not osp.isdir(dataset.data_root):
            raise DatasetNotReadyError(
                f'{name}.dataset.data_root {dataset.data_root!r} does not '
                'exist; see data/README.md')
