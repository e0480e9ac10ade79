"""Building a model from a config, the one way every tool does it: in
PyTorch (any form), or, for an exported file, the engine model that stands
in for it (``engine_model.py``)."""
import copy
import os
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint
from mmengine.utils import import_modules_from_strings
from torch import nn

from ..backends import WrongBackend
from ..engines import backend_for_file
from ..engine.config import ConfigError, read_config
from ..errors import RepSegError
from ..models.backbones import DeployFormMismatch
from ..models.fusion import to_inference_form
from .engine_model import engine_model_cfg

ConfigType = Union[str, os.PathLike, Config]


class CheckpointMismatch(RepSegError, ValueError):
    """A readable checkpoint whose weights do not fit the config's model.
    ``__cause__`` holds the loader's own error (``DeployFormMismatch`` for a
    fused checkpoint given a multi-branch model, or the reverse)."""

    @property
    def is_form_mismatch(self) -> bool:
        return isinstance(self.__cause__, DeployFormMismatch)


def config_name(cfg: Config) -> str:
    """How errors name a config: its file, else ``'config'``."""
    return cfg.filename or 'config'


def load_model_config(config: ConfigType,
                      cfg_options: Optional[dict] = None) -> Config:
    """A config with a ``model``, from a file, an installed package's config
    (``mmseg::pspnet/...py``) or a ``Config`` (deep-copied: the caller's is
    never changed), ``cfg_options`` merged and ``custom_imports`` imported.
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, (str, os.PathLike)):
        cfg = read_config(str(config))
    else:
        raise TypeError('config must be a path or an mmengine Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    if 'model' not in cfg:
        raise ConfigError(f'config {config_name(cfg)!r} has no "model" key')
    return cfg


def build_model(cfg: Config, exported_file: Optional[str] = None
                ) -> nn.Module:
    """``cfg.model`` built with mmseg's registry, in train mode, SyncBN
    turned into BN, and no pretrained weights fetched (``init_cfg`` and
    ``pretrained`` are dropped: weights come from a checkpoint or stay as
    initialized). Works under ``torch.device('meta')`` too.

    With ``exported_file`` (``deploy.onnx`` ...), the registry's
    ``EngineModel`` of ``cfg.model`` instead: the file in its engine, in
    eval mode, on the CPU (``repseg.apis.engine_model``)."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)
    if exported_file is not None:
        model_cfg = engine_model_cfg(model_cfg, exported_file)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    try:
        model = MODELS.build(model_cfg)
    except RepSegError:
        raise  # already names what is wrong
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f'config {config_name(cfg)!r}: cannot build '
                          f'"model": {err}') from err
    # Inference needs no synchronized statistics, and torch's SyncBN runs
    # on CUDA only.
    return revert_sync_batchnorm(model)


def config_dataset_meta(cfg: Config) -> Optional[dict]:
    """Classes and palette of the config's test (else val, train) dataset
    class, as mmseg's ``init_model`` falls back to them; a checkpoint's own
    ``dataset_meta`` wins over this."""
    from mmseg.registry import DATASETS
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        if not isinstance(dataset.get('type'), str):
            continue
        dataset_class = DATASETS.get(dataset['type'])
        if dataset_class is not None and hasattr(dataset_class, 'METAINFO'):
            # A config's metainfo overrides the class's, as in the dataset.
            return dict(copy.deepcopy(dict(dataset_class.METAINFO)),
                        **copy.deepcopy(dict(dataset.get('metainfo') or {})))
    return None


def load_weights(model: nn.Module, checkpoint: str, cfg: Config) -> dict:
    """Load ``checkpoint`` into ``model`` strictly; the checkpoint's dict.

    A file that is missing or not a readable checkpoint raises the safe
    loader's ``repseg.checkpoint.CheckpointError``; weights that do not fit
    ``cfg``'s model raise ``CheckpointMismatch`` naming both.
    """
    try:
        return load_checkpoint(model, str(checkpoint), map_location='cpu',
                               strict=True, logger='silent')
    except (DeployFormMismatch, RuntimeError, KeyError) as err:
        raise CheckpointMismatch(
            f'checkpoint {str(checkpoint)!r} does not match config '
            f'{config_name(cfg)!r}: {err}') from err


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               fused: bool = True) -> nn.Module:
    """A segmentor or classifier from a training config or a
    ``tools/deploy.py`` output, as mmseg's ``init_model`` builds one.

    Args:
        config: Config file, ``package::path`` name or ``Config``.
        checkpoint: Weights, loaded strictly; without one the weights stay
            as initialized. An exported file (``deploy.onnx`` ...) is
            loaded into its engine (``repseg.backends``), which then stands
            in for the network (``build_model``'s ``exported_file``).
        device: Where the model goes (the CPU for an exported file).
        cfg_options: Overrides merged into the config first.
        fused: Bring the model to its fused inference form
            (``repseg.models.to_inference_form``); False keeps the form the
            config describes (multi-branch blocks, BN layers). An exported
            file has only its inference form.

    Returns:
        nn.Module: the model in eval mode, with ``cfg`` (the config used)
        and ``dataset_meta`` (the checkpoint's, else the config dataset
        class's, ``config_dataset_meta``).
    """
    cfg = load_model_config(config, cfg_options)
    engine = None if checkpoint is None else backend_for_file(checkpoint)
    if engine is not None and torch.device(device).type != 'cpu':
        raise WrongBackend(f'{checkpoint}: the {engine} backend runs on the '
                           f'CPU here, not on {device}')
    model = build_model(cfg, exported_file=checkpoint if engine else None)
    model.dataset_meta = config_dataset_meta(cfg)
    if checkpoint is not None and engine is None:
        meta = load_weights(model, checkpoint, cfg).get('meta') or {}
        if isinstance(meta, dict) and meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    model.cfg = cfg
    model = model.to(device).eval()
    if fused and engine is None:
        model, _ = to_inference_form(model, inplace=True)
    return model
