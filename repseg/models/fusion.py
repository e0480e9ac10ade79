"""Structural re-parameterization: the fusion math, in one place.

Every tool that folds layers (RepVGG blocks, conv+BN pairs of the heads)
calls these functions; nothing else in repseg does this arithmetic.
"""
import copy
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def fuse_conv_bn(kernel: Tensor, norm: _BatchNorm,
                 conv_bias: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Fold an eval-mode BN that follows a conv into the conv.

    ``BN(conv(x) + b) = conv'(x) + b'`` with ``conv' = W * gamma / std`` and
    ``b' = beta + (b - mean) * gamma / std``, ``std = sqrt(var + eps)``.
    Works for any ``_BatchNorm`` (BN, SyncBN), affine or not.

    Returns:
        tuple[Tensor, Tensor]: the fused kernel and bias.
    """
    std = (norm.running_var + norm.eps).sqrt()
    gamma = norm.weight if norm.affine else torch.ones_like(std)
    beta = norm.bias if norm.affine else torch.zeros_like(std)
    scale = gamma / std
    shift = -norm.running_mean if conv_bias is None else conv_bias - norm.running_mean
    return kernel * scale.reshape(-1, 1, 1, 1), beta + shift * scale


def pad_kernel(kernel: Tensor, kernel_size: int) -> Tensor:
    """Zero-pad a (smaller, odd) kernel to ``kernel_size`` around its centre."""
    pad = (kernel_size - kernel.shape[-1]) // 2
    return F.pad(kernel, [pad] * 4)


def identity_kernel(channels: int, groups: int, kernel_size: int,
                    like: Tensor) -> Tensor:
    """The kernel of a (grouped) conv that passes its input through unchanged.

    Output channel ``i`` reads input channel ``i`` of its group, which is
    index ``i % (channels / groups)`` of the group's slice, at the centre tap.
    """
    in_per_group = channels // groups
    kernel = like.new_zeros(channels, in_per_group, kernel_size, kernel_size)
    centre = kernel_size // 2
    index = torch.arange(channels, device=like.device)
    kernel[index, index % in_per_group, centre, centre] = 1
    return kernel


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, norm: _BatchNorm) -> nn.Conv2d:
    """A new conv (with bias) equal to ``norm(conv(x))`` in eval mode."""
    kernel, bias = fuse_conv_bn(conv.weight, norm, conv.bias)
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter(kernel.detach().clone())
    fused.bias = nn.Parameter(bias.detach().clone())
    return fused


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Convert every re-parameterizable module of ``model`` to its fused form.

    Any submodule with a ``reparameterize()`` method (a RepVGG block, a
    RepVGG backbone) is converted, wherever it sits: a bare backbone, a
    segmentor, a classifier, a wrapped model. Converting twice is a no-op.

    Args:
        model: the model to convert.
        inplace: convert ``model`` itself; otherwise a deep copy is converted
            and ``model`` is left untouched.

    Returns:
        The converted model, in the same train/eval mode as the input.
    """
    if not inplace:
        model = copy.deepcopy(model)
    # Listed first: conversion replaces submodules while we walk them.
    for module in list(model.modules()):
        if callable(getattr(module, 'reparameterize', None)):
            module.reparameterize()
    return model
