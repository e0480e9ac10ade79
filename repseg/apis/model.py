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
from ..precision import UnknownPrecision, autocast, check_precision_name
from ..results import DeployReport, FastestPath
from ..rewrites import MODEL_REWRITES, apply_rewrites, to_channels_last
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


def build_model(cfg: Config, exported_file: Optional[str] = None,
                precision: Optional[str] = None) -> nn.Module:
    """``cfg.model`` built with mmseg's registry, in train mode, SyncBN
    turned into BN, and no pretrained weights fetched (``init_cfg`` and
    ``pretrained`` are dropped: weights come from a checkpoint or stay as
    initialized). Works under ``torch.device('meta')`` too.

    With ``exported_file`` (``deploy.onnx`` ...), the registry's
    ``EngineModel`` of ``cfg.model`` instead: the file in its engine, in
    eval mode, on the CPU (``repseg.apis.engine_model``), computing in
    ``precision`` (None: the file's own)."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)
    if exported_file is not None:
        model_cfg = engine_model_cfg(model_cfg, exported_file, precision)
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


def run_as_in(model: nn.Module, mode: str) -> nn.Module:
    """``model`` (fused, PyTorch) with the exact rewrites and the memory
    format that the benchmark mode ``mode`` names (``psp``, ``s2b``,
    ``cl``), as it was timed. In place; the model itself."""
    options = mode.split('+')[1:]
    apply_rewrites(model, [o for o in options if o in MODEL_REWRITES])
    if 'cl' in options:
        to_channels_last(model)
    return model


def compute_in_bf16(model: nn.Module) -> nn.Module:
    """``model`` with every forward under ``torch.autocast`` to bf16 on
    its device (oneDNN's bf16 kernels on a CPU with AVX512-BF16 or AMX),
    tensor outputs back in fp32, so what follows (resizing, argmax,
    metrics) is as in fp32. In place; the model itself."""
    forward = model.forward

    def forward_in_bf16(*args, **kwargs):
        device = next(model.parameters()).device
        with autocast('bf16', device):
            out = forward(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            return out.float()
        if isinstance(out, (tuple, list)):
            return type(out)(o.float() if isinstance(o, torch.Tensor) else o
                             for o in out)
        return out

    model.forward = forward_in_bf16
    return model


def deployed_fastest(folder: str) -> FastestPath:
    """The fastest path ``tools/deploy.py --auto`` recorded in ``folder``'s
    deploy.json; ``ConfigError`` naming the folder without one."""
    report_path = os.path.join(folder, 'deploy.json')
    if not os.path.isfile(report_path):
        raise ConfigError(f'{folder}: a folder is taken as a tools/deploy.py '
                          'output, and it has no deploy.json')
    fastest = DeployReport.load(report_path).fastest
    if fastest is None or not fastest.file:
        raise ConfigError(f'{report_path} names no fastest path (deploy with '
                          '--auto); give one of its files instead')
    return fastest


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               fused: bool = True,
               precision: Optional[str] = None) -> nn.Module:
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
            file has only its inference form. A folder of
            ``tools/deploy.py --auto`` stands for its fastest path
            (``DeployReport.fastest``): its file, precision and, for
            PyTorch, its exact rewrites and memory format.
        precision: What the network computes in (``repseg.precision``):
            None, the checkpoint's own (fp32; int8 for an INT8 file);
            ``'bf16'`` in PyTorch (autocast, ``compute_in_bf16``) or in an
            engine that computes an fp32 file in it (OpenVINO); ``'int8'``
            needs an INT8 file (``tools/deploy.py --precision int8``).

    Returns:
        nn.Module: the model in eval mode, with ``cfg`` (the config used),
        ``precision`` (what it computes in) and ``dataset_meta`` (the checkpoint's, else the config dataset
        class's, ``config_dataset_meta``).
    """
    cfg = load_model_config(config, cfg_options)
    fastest = None
    if checkpoint is not None and os.path.isdir(checkpoint):
        fastest = deployed_fastest(checkpoint)
        checkpoint = os.path.join(checkpoint, fastest.file)
        precision = precision or fastest.precision
    engine = None if checkpoint is None else backend_for_file(checkpoint)
    if engine is not None and torch.device(device).type != 'cpu':
        raise WrongBackend(f'{checkpoint}: the {engine} backend runs on the '
                           f'CPU here, not on {device}')
    if precision is not None:
        check_precision_name(precision)
    if engine is None and precision == 'int8':
        raise UnknownPrecision(
            f'precision int8: {checkpoint or "a PyTorch model"} is not an '
            'INT8 file; make one with tools/deploy.py --precision int8 '
            '(or tools/quantize.py) and give its deploy.int8.* file')
    model = build_model(cfg, exported_file=checkpoint if engine else None,
                        precision=precision)
    model.dataset_meta = config_dataset_meta(cfg)
    if checkpoint is not None and engine is None:
        meta = load_weights(model, checkpoint, cfg).get('meta') or {}
        if isinstance(meta, dict) and meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    model.cfg = cfg
    model = model.to(device).eval()
    if fused and engine is None:
        model, _ = to_inference_form(model, inplace=True)
    if engine is None:
        if fastest is not None:
            run_as_in(model, fastest.mode)
        model.precision = precision or 'fp32'
        if model.precision == 'bf16':
            compute_in_bf16(model)
    else:
        model.precision = model.backend.precision
    return model
