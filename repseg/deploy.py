"""Turning a trained model into its inference form, and proving it equal.

``deploy_model`` fuses every RepVGG block (``reparameterize_model``) and
folds the conv+BN pairs of the heads (``fold_conv_bn``); ``deploy_config``
describes the same model so that it can be rebuilt from a config alone.
"""
import copy
from typing import Dict, List, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.config import Config
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .equivalence import OutputMismatch, TOLERANCE, relative_difference  # noqa: F401
from .models.fusion import fold_conv_bn, reparameterize_model

HEAD_KEYS = ('decode_head', 'auxiliary_head', 'neck')


def _foldable_conv_modules(module: nn.Module) -> List[ConvModule]:
    """The ConvModules of ``module`` if every one of them is conv -> BN
    (which folds exactly); an empty list when any other norm is used."""
    conv_modules = [m for m in module.modules() if isinstance(m, ConvModule)]
    foldable = all(
        m.with_norm and isinstance(m.norm, _BatchNorm)
        and m.order.index('conv') < m.order.index('norm')
        for m in conv_modules)
    return conv_modules if foldable else []


@torch.no_grad()
def fold_head(head: nn.Module) -> int:
    """Fold every conv+BN ConvModule of ``head`` in place; the number folded.

    A folded ConvModule has a conv with bias and no norm: exactly what
    mmcv builds for ``norm_cfg=None``, so the deploy config rebuilds it.
    """
    conv_modules = _foldable_conv_modules(head)
    for module in conv_modules:
        module.conv = fold_conv_bn(module.conv, module.norm)
        delattr(module, module.norm_name)
        module.with_norm = False
        module.norm_name = None
    return len(conv_modules)


def count_layers(model: nn.Module) -> Dict[str, int]:
    """Parameters, convolutions and BN layers of ``model``."""
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        convs=sum(isinstance(m, nn.Conv2d) for m in model.modules()),
        norms=sum(isinstance(m, _BatchNorm) for m in model.modules()))


def deploy_model(model: nn.Module) -> Tuple[nn.Module, Dict[str, int]]:
    """A fused, eval-mode copy of ``model`` and the number of conv+BN pairs
    folded in each head (by attribute name)."""
    fused = reparameterize_model(model).eval()
    folded = {}
    for key in HEAD_KEYS:
        head = getattr(fused, key, None)
        if isinstance(head, nn.Module):
            folded[key] = fold_head(head)
    return fused, folded


def deploy_config(cfg: Config, folded: Dict[str, int]) -> Config:
    """``cfg`` describing the deployed model: fused backbone, heads without
    norm layers where they were folded, no pretrained initialization."""
    cfg = copy.deepcopy(cfg)
    model = cfg.model
    model.pop('pretrained', None)
    backbone = model.backbone
    backbone.pop('init_cfg', None)
    backbone.deploy = True
    for key, count in folded.items():
        head = model.get(key)
        if count and head:
            heads = head if isinstance(head, list) else [head]
            for h in heads:
                h.norm_cfg = None
    return cfg
