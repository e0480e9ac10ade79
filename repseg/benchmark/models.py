"""The models a benchmark runs: a config's (through ``repseg.apis``) or a
bare RepVGG backbone, with non-trivial BN statistics when untrained."""
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..apis import CheckpointMismatch, ConfigError, init_model
from ..checkpoint import CheckpointError
from ..engine.config import CLASSIFIER_SHAPE, default_input_shape
from ..models.backbones import RepVGG
from ..models.kind import BACKBONE, model_kind
from ..models.tensor_forward import TensorForward
from .modes import BenchmarkError


@dataclass
class ModelSpec:
    """One model to benchmark in every mode.

    Args:
        label (str): Its name in the row names (``label:mode``).
        model (nn.Module): The model as built (multi-branch), eval mode.
        kind (str): ``'segmentor'``, ``'classifier'`` or ``'backbone'``.
        default_shape (tuple[int, int]): Input height and width to use when
            none is given.
        in_channels (int): Input channels.
        already_fused (bool): The config describes a fused backbone
            (``deploy=True``): there is no multi-branch form.
    """
    label: str
    model: nn.Module
    kind: str
    default_shape: Tuple[int, int]
    in_channels: int = 3
    already_fused: bool = False

    def forward(self, model: nn.Module) -> TensorForward:
        return TensorForward(model)


@torch.no_grad()
def randomize_bn_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters for a model with
    random weights: fresh ones (mean 0, var 1, weight 1, bias 0) make BN
    nearly the identity and would hide a wrong fold in the output check."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            n = module.num_features
            module.running_mean.copy_(
                0.1 * torch.randn(n, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
            if module.affine:
                module.weight.data.copy_(
                    0.5 + torch.rand(n, generator=generator))
                module.bias.data.copy_(
                    0.1 * torch.randn(n, generator=generator))
    return model


def _config_label(path: str) -> str:
    return osp.splitext(osp.basename(path.split('::')[-1]))[0]


def model_from_config(path: str, checkpoint: Optional[str] = None,
                      seed: int = 0) -> ModelSpec:
    """The model of a segmentor or classifier config as the config
    describes it (``repseg.apis.init_model``, not brought to its inference
    form); ``checkpoint`` loaded strictly, or the BN statistics randomized
    without one."""
    torch.manual_seed(seed)
    try:
        model = init_model(path, checkpoint, fused=False)
    except (CheckpointError, CheckpointMismatch, ConfigError) as err:
        raise BenchmarkError(str(err)) from err
    cfg = model.cfg
    if 'backbone' not in cfg.model:
        raise BenchmarkError(f'config {path!r} has no model with a backbone')
    if checkpoint is None:
        randomize_bn_statistics(model, seed)
    return ModelSpec(
        label=_config_label(path),
        model=model,
        kind=model_kind(model),
        default_shape=default_input_shape(cfg.model),
        in_channels=cfg.model.backbone.get('in_channels', 3),
        already_fused=bool(cfg.model.backbone.get('deploy', False)))


def model_from_arch(arch, seed: int = 0) -> ModelSpec:
    """A bare ``RepVGG(arch)`` backbone (all four stage outputs), random
    weights and BN statistics; ``arch`` a name or an arch dict."""
    if isinstance(arch, str) and arch not in RepVGG.arch_settings:
        raise BenchmarkError(f'arch {arch!r} is not a RepVGG variant; choose '
                             f'from {sorted(RepVGG.arch_settings)}')
    torch.manual_seed(seed)
    model = randomize_bn_statistics(RepVGG(arch).eval(), seed)
    label = f'RepVGG-{arch}' if isinstance(arch, str) else 'RepVGG-custom'
    return ModelSpec(label, model, BACKBONE, CLASSIFIER_SHAPE)
