"""Structural re-parameterization: the fusion math and the inference form.

Every tool that folds layers (validation, ``tools/deploy.py``, the
benchmark, the complexity counter) goes through ``to_inference_form``;
nothing else in repseg does this arithmetic.

* tensor math: ``fold_bn_into_kernel``, ``pad_kernel``, ``identity_kernel``
  (what a RepVGG block's ``reparameterize`` sums), ``compose_pointwise``
  (a conv followed by a 1x1 conv, as one conv: RDRNet's 1x1 path);
* one conv: ``fold_conv_bn``;
* a model: ``reparameterize_model`` (every RepVGG block) and
  ``fold_conv_bn_pairs`` (every BN that takes a conv's output), both in
  ``to_inference_form``.
"""
import copy
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..equivalence import TOLERANCE, OutputMismatch, relative_difference
from .kind import CLASSIFIER, SEGMENTOR, auxiliary_heads, model_kind
from .utils import replace_submodule


def fold_bn_into_kernel(kernel: Tensor, norm: _BatchNorm,
                        conv_bias: Optional[Tensor] = None
                        ) -> Tuple[Tensor, Tensor]:
    """The kernel and bias of a conv with an eval-mode BN folded in.

    ``BN(conv(x) + b) = conv'(x) + b'`` with ``conv' = W * gamma / std`` and
    ``b' = beta + (b - mean) * gamma / std``, ``std = sqrt(var + eps)``.
    Works for any ``_BatchNorm`` (BN, SyncBN), affine or not. (mmcv's
    ``fuse_conv_bn`` is another thing: it rewrites a whole module.)
    """
    std = (norm.running_var + norm.eps).sqrt()
    gamma = norm.weight if norm.affine else torch.ones_like(std)
    beta = norm.bias if norm.affine else torch.zeros_like(std)
    scale = gamma / std
    shift = -norm.running_mean if conv_bias is None else (
        conv_bias - norm.running_mean)
    return kernel * scale.reshape(-1, 1, 1, 1), beta + shift * scale


def pad_kernel(kernel: Tensor, kernel_size: int) -> Tensor:
    """Zero-pad a (smaller, odd) kernel to ``kernel_size``, centred."""
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


def compose_pointwise(first_kernel: Tensor, first_bias: Tensor,
                      second_kernel: Tensor, second_bias: Tensor
                      ) -> Tuple[Tensor, Tensor]:
    """The kernel and bias of one conv equal to a conv (``first``, any
    size, stride and padding, groups 1) followed by a 1x1 stride-1 conv
    (``second``, groups 1).

    A 1x1 conv mixes channels pixel by pixel, so it composes exactly with
    whatever precedes it, padded borders included:
    ``W = W2 @ W1`` (over the middle channels) and ``b = W2 @ b1 + b2``.
    """
    mixing = second_kernel.flatten(1)  # (out, middle)
    kernel = torch.einsum('om,mikl->oikl', mixing, first_kernel)
    return kernel, mixing @ first_bias + second_bias


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, norm: _BatchNorm) -> nn.Conv2d:
    """A new conv (with bias) equal to ``norm(conv(x))`` in eval mode."""
    kernel, bias = fold_bn_into_kernel(conv.weight, norm, conv.bias)
    fused = copy.deepcopy(conv)
    fused.weight = nn.Parameter(kernel.detach().clone())
    fused.bias = nn.Parameter(bias.detach().clone())
    return fused


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Convert every re-parameterizable module of ``model`` to its fused form.

    Any submodule with a ``reparameterize()`` method (a RepVGG block, a
    RepVGG backbone) is converted, wherever it sits: a bare backbone, a
    segmentor, a classifier, a wrapped model. Converting twice is a no-op.
    Other layers are left as they are (``to_inference_form`` folds them).

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


@torch.no_grad()
def find_conv_bn_pairs(model: nn.Module,
                       run: Callable[[nn.Module], object]
                       ) -> List[Tuple[str, str]]:
    """Names of the (conv, BN) pairs of ``model`` where the BN takes the
    conv's output tensor itself, unchanged, seen during one call of
    ``run(model)``; a conv or BN seen in more than one pair (a BN after two
    convs, a conv before two BNs) is in none.

    The data flow is observed rather than guessed from module order: a conv
    and a BN that merely sit side by side in a module are not a pair, nor
    are they across an in-place op (it bumps the tensor's version). A conv
    whose output also feeds something else than its BN would still fold
    wrongly: ``to_inference_form`` compares the folded model with the
    original and refuses that.
    """
    names = {module: name for name, module in model.named_modules()}
    last_conv = {}  # the latest conv call: its module, output and version
    seen = []

    def remember_conv(module, args, output):
        last_conv.update(module=module, output=output,
                         version=_version(output))

    def match_norm(module, args):
        if (args and last_conv and args[0] is last_conv['output']
                and _version(args[0]) == last_conv['version']):
            pair = (names[last_conv['module']], names[module])
            if pair not in seen:
                seen.append(pair)
        last_conv.clear()

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(remember_conv))
        elif isinstance(module, _BatchNorm):
            handles.append(module.register_forward_pre_hook(match_norm))
    try:
        run(model)
    finally:
        for handle in handles:
            handle.remove()
    convs = [conv for conv, _ in seen]
    norms = [norm for _, norm in seen]
    return [(conv, norm) for conv, norm in seen
            if convs.count(conv) == 1 and norms.count(norm) == 1]


def _version(tensor: Tensor) -> Optional[int]:
    """The tensor's version counter (in-place ops bump it); None where it
    is not tracked (tensors made under ``torch.inference_mode``)."""
    try:
        return tensor._version
    except RuntimeError:
        return None


@torch.no_grad()
def fold_conv_bn_pairs(model: nn.Module,
                       run: Callable[[nn.Module], object]
                       ) -> List[Tuple[str, str]]:
    """Fold, in place, every eval-mode BN that directly follows a conv in
    ``model`` into that conv (``fold_conv_bn``); the BN becomes
    ``nn.Identity``, so the state dict is that of a conv with bias and no
    norm (what mmcv's ``ConvModule`` builds for ``norm_cfg=None``).

    ``run(model)`` must call the model once on any small input: that is how
    the pairs are found (``find_conv_bn_pairs``). Returns the pairs folded.
    """
    if any(m.training for m in model.modules() if isinstance(m, _BatchNorm)):
        raise ValueError('fold_conv_bn_pairs: put the model in eval mode '
                         'first (a BN in training mode cannot be folded)')
    pairs = find_conv_bn_pairs(model, run)
    for conv_name, norm_name in pairs:
        conv = model.get_submodule(conv_name)
        norm = model.get_submodule(norm_name)
        replace_submodule(model, conv_name, fold_conv_bn(conv, norm))
        replace_submodule(model, norm_name, nn.Identity())
    return pairs


def count_layers(model: nn.Module) -> Dict[str, int]:
    """Parameters, convolutions and BN layers of ``model``."""
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        convs=sum(isinstance(m, nn.Conv2d) for m in model.modules()),
        norms=sum(isinstance(m, _BatchNorm) for m in model.modules()))


def run_every_layer(model: nn.Module, image: Tensor) -> List[Tensor]:
    """Call every layer that a model's inference form holds, once; the
    tensors that come out.

    A segmentor: backbone (and neck), decode head and the auxiliary heads,
    which inference itself never calls but which the deployed model keeps
    (its config still has them). A classifier: ``mode='tensor'``. A bare
    backbone: ``model(image)`` (``repseg.models.kind``).
    """
    kind = model_kind(model)
    if kind == SEGMENTOR:
        features = model.extract_feat(image)
        outputs = [model.decode_head(features)]
        outputs += [head(features) for head in auxiliary_heads(model)]
    elif kind == CLASSIFIER:
        outputs = model(image, mode='tensor')
    else:
        outputs = model(image)
    return _flat_tensors(outputs)


def _flat_tensors(value) -> List[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _flat_tensors(item)]
    return []


def example_image(model: nn.Module, size: int = 64) -> Tensor:
    """A small random image batch for ``model`` (seeded: the same every
    time): as many channels as its first conv takes, on the device of its
    parameters."""
    first_conv = next((m for m in model.modules()
                       if isinstance(m, nn.Conv2d)), None)
    channels = first_conv.in_channels if first_conv is not None else 3
    tensors = list(model.parameters()) + list(model.buffers())
    device = tensors[0].device if tensors else torch.device('cpu')
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, channels, size, size, generator=generator)
    return image.to(device)


@dataclass
class InferenceFormReport:
    """What ``to_inference_form`` changed.

    Args:
        blocks_fused (int): RepVGG blocks fused.
        folded (dict[str, int]): conv+BN pairs folded per top-level part
            (``backbone``, ``decode_head`` ...), parts with none left out.
        before / after (dict[str, int]): ``count_layers`` of the model as
            given and of its inference form.
    """
    blocks_fused: int
    folded: Dict[str, int] = field(default_factory=dict)
    before: Dict[str, int] = field(default_factory=dict)
    after: Dict[str, int] = field(default_factory=dict)


def _is_block(module: nn.Module) -> bool:
    """A re-parameterizable module with none inside it (a RepVGG block, not
    the backbone that holds blocks)."""
    def convertible(m):
        return callable(getattr(m, 'reparameterize', None))
    return convertible(module) and not any(
        convertible(m) for m in list(module.modules())[1:])


def count_unfused_blocks(model: nn.Module) -> int:
    """RepVGG blocks of ``model`` still in their multi-branch form."""
    return sum(_is_block(m) and not getattr(m, 'deploy', False)
               for m in model.modules())


def to_inference_form(model: nn.Module, example: Optional[Tensor] = None,
                      inplace: bool = False
                      ) -> Tuple[nn.Module, InferenceFormReport]:
    """The model as repseg runs it at inference, in eval mode.

    1. Every RepVGG block (any module with ``reparameterize()``) becomes one
       3x3 conv with bias (``reparameterize_model``).
    2. Every BN whose input is a conv's output, seen in one call of every
       layer on ``example`` (``run_every_layer``), is folded into that conv
       (``fold_conv_bn_pairs``): the heads' ConvModules, and conv+BN pairs
       that are no ConvModules (mmseg's ResNet), alike.

    Guarantee: in eval mode the result computes the same function as
    ``model`` up to float rounding, for every input size (folding does not
    depend on the example's size or values). It is checked here on the
    example (``repseg.equivalence``: ``OutputMismatch`` above
    ``TOLERANCE``; not on the meta device, which has no values), and
    callers that write or time the result check it again. Idempotent.
    BN layers that follow no conv (there are none in RepVGG, PSPNet or FCN
    heads) are left as they are and show in ``report.after['norms']``.

    Args:
        model: a bare backbone, a classifier or a segmentor, any form.
        example: an input batch to observe the data flow on; by default a
            blank 64x64 image (``example_image``).
        inplace: convert ``model`` itself rather than a deep copy.

    Returns:
        tuple[nn.Module, InferenceFormReport]: the inference form and what
        was changed.
    """
    before = count_layers(model)
    blocks_fused = count_unfused_blocks(model)
    fused = reparameterize_model(model, inplace=inplace)
    fused.eval()  # not chained: mmseg's ResNet.train returns None
    if example is None:
        example = example_image(fused)
    with torch.no_grad():
        expected = run_every_layer(fused, example)
    pairs = fold_conv_bn_pairs(fused,
                               lambda m: run_every_layer(m, example))
    if pairs and not example.is_meta:
        with torch.no_grad():
            difference = relative_difference(
                run_every_layer(fused, example), expected)
        if difference > TOLERANCE:
            raise OutputMismatch(
                f'folding {len(pairs)} conv+BN pairs changed the model\'s '
                f'outputs by {difference:.3e} of the largest (> {TOLERANCE:g})'
                ': a folded conv output also feeds something besides its BN')
    folded = {}
    for conv_name, _ in pairs:
        part = conv_name.split('.')[0]
        folded[part] = folded.get(part, 0) + 1
    return fused, InferenceFormReport(blocks_fused, folded, before,
                                      count_layers(fused))
