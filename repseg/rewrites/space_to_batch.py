"""Dilated stages as plain 3x3 convolutions (exact): space-to-batch.

A stride-1 3x3 conv with dilation d and padding d reads, for output
(i, j), only inputs congruent to (i, j) mod d: it is an ordinary 3x3 conv
(padding 1) on each of the d x d polyphase sub-images of its input. A chain
of blocks whose only spatial operations are such convs, with the same d,
(bias, ReLU, 1x1 convs and residual sums act on each pixel alone) therefore
needs one space-to-batch before the chain and one batch-to-space after it
(TensorFlow's ``atrous_conv2d`` works this way), and engines can run
Winograd kernels, which take dilation 1 only, on it.

The d x d phases are tiled in one image (a "phase mosaic") rather than
stacked on the batch axis, because ncnn, one of the engines this is for, has
no batch axis. One zero row and column separate the tiles, and where H or W
is not a multiple of d the input is padded with zeros at the bottom and
right. Separators and padding must be zero at the input of every 3x3 conv,
as the dilated conv's zero padding is, but bias and ReLU make them non-zero,
so each 3x3 conv of the chain masks its input; the end crops them off.
"""
from typing import List, Optional, Sequence

import torch.nn.functional as F
from mmseg.models.backbones.resnet import Bottleneck
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.backbones.repvgg import ReparamBlock
from ..models.utils import replace_submodule

# Layers that act on each pixel alone, which commute with the rearrangement
# of pixels (besides 1x1 stride-1 convs).
PER_PIXEL = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU,
             nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Tanh, nn.Identity,
             _BatchNorm, nn.Sequential)


def to_phase_mosaic(x: Tensor, d: int) -> Tensor:
    """(N, C, H, W), H = d h and W = d w -> (N, C, d (h+1), d (w+1)): tile
    (a, b), at rows a (h+1) ... and columns b (w+1) ..., holds rows a, a+d,
    ... and columns b, b+d, ... of the input; each tile is followed by one
    zero row and one zero column. Only 5-D reshapes and transposes of
    neighbouring axes, which every engine here converts."""
    n, c, height, width = x.shape
    h, w = height // d, width // d
    x = x.reshape(n, c, h, d, width).transpose(2, 3)
    x = F.pad(x, (0, 0, 0, 1)).reshape(n, c, d * (h + 1), w, d)
    x = F.pad(x.transpose(3, 4), (0, 1))
    return x.reshape(n, c, d * (h + 1), d * (w + 1))


def from_phase_mosaic(x: Tensor, d: int) -> Tensor:
    """The inverse of ``to_phase_mosaic`` (separators dropped)."""
    n, c, height, width = x.shape
    h, w = height // d - 1, width // d - 1
    x = x.reshape(n, c, height, d, w + 1)[..., :w].transpose(3, 4)
    x = x.reshape(n, c, d, h + 1, d * w)[:, :, :, :h].transpose(2, 3)
    return x.reshape(n, c, d * h, d * w)


class PhaseMask:
    """The mosaic's valid cells (1) against separators and padding (0),
    set by a ``SpaceToBatchChain`` for the convs inside it on each call."""
    value: Optional[Tensor] = None


class MaskedConv2d(nn.Module):
    """An undilated 3x3 conv (sharing a dilated conv's weights) whose input
    is masked first: separators and padding read as the dilated conv's
    zero padding."""

    def __init__(self, dilated: nn.Conv2d, mask: PhaseMask):
        super().__init__()
        self.conv = nn.Conv2d(dilated.in_channels, dilated.out_channels, 3,
                              padding=1, groups=dilated.groups,
                              bias=dilated.bias is not None).to(
                                  dilated.weight.device)
        self.conv.weight = dilated.weight
        self.conv.bias = dilated.bias
        self.mask = mask

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x * self.mask.value)


def _is_pointwise(conv: nn.Conv2d) -> bool:
    return (conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            and conv.padding == (0, 0))


def _dilated_3x3(conv: nn.Conv2d) -> int:
    """d for a stride-1, size-preserving 3x3 conv dilated by d > 1, else 0."""
    d = conv.dilation[0]
    if (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and d > 1
            and conv.dilation == (d, d) and conv.padding == (d, d)
            and conv.padding_mode == 'zeros'):
        return d
    return 0


def block_dilation(block: nn.Module) -> int:
    """d where ``block`` is computed exactly on a phase mosaic at dilation
    d; 0 for any other module. That is a block of a known type whose forward
    does nothing spatial but its convs (a fused RepVGG block of any type
    without SE; an mmseg ResNet ``Bottleneck`` without plugins or DCN), all
    of whose convs are 1x1 stride-1 or 3x3 stride-1 dilated by the same d,
    and whose other layers are per-pixel."""
    if isinstance(block, ReparamBlock):
        if not block.deploy or block.se_layer is not None:
            return 0
    elif not (type(block) is Bottleneck and not block.with_plugins
              and not block.with_dcn):
        return 0
    dilations = set()
    for module in block.modules():
        if module is block:
            continue
        if type(module) is nn.Conv2d:
            if not _is_pointwise(module):
                dilations.add(_dilated_3x3(module))
        elif not isinstance(module, PER_PIXEL):
            return 0
    return dilations.pop() if len(dilations) == 1 else 0


class SpaceToBatchChain(nn.Module):
    """A run of blocks, all of ``block_dilation`` d, computed with
    undilated 3x3 convs on the phase mosaic of their input.

    Args:
        blocks (Sequence[nn.Module]): The run, in order. Their dilated convs
            are replaced, in place, by ``MaskedConv2d`` sharing their weights.
        dilation (int): d > 1.
    """

    def __init__(self, blocks: Sequence[nn.Module], dilation: int):
        super().__init__()
        if dilation < 2 or any(block_dilation(b) != dilation for b in blocks):
            raise ValueError(f'SpaceToBatchChain: every block must be one '
                             f'that block_dilation finds {dilation}-dilated')
        self.dilation = dilation
        self.mask = PhaseMask()
        for block in blocks:
            for name, conv in list(block.named_modules()):
                if type(conv) is nn.Conv2d and _dilated_3x3(conv):
                    replace_submodule(block, name,
                                      MaskedConv2d(conv, self.mask))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        d = self.dilation
        height, width = x.shape[2:]
        # Not -height % d: traced, sizes are tensors, and pnnx computes % as
        # C does (-9 % 2 == -1).
        pad_h, pad_w = (d - height % d) % d, (d - width % d) % d
        valid = x.new_ones(1, 1, height, width)
        self.mask.value = to_phase_mosaic(F.pad(valid, (0, pad_w, 0, pad_h)),
                                          d)
        x = to_phase_mosaic(F.pad(x, (0, pad_w, 0, pad_h)), d)
        x = from_phase_mosaic(self.blocks(x), d)
        self.mask.value = None  # not kept between calls
        return x[:, :, :height, :width]


def _runs(blocks: List[nn.Module]) -> List[List[int]]:
    """Maximal runs of consecutive block indices with the same dilation."""
    runs, current = [], []
    for index, block in enumerate(blocks):
        d = block_dilation(block)
        if current and d == block_dilation(blocks[current[-1]]):
            current.append(index)
            continue
        if current:
            runs.append(current)
        current = [index] if d else []
    if current:
        runs.append(current)
    return runs


def use_space_to_batch(model: nn.Module) -> int:
    """Replace, in place, every run of blocks of the same ``block_dilation``
    inside an ``nn.Sequential`` of ``model`` (its stages) by a
    ``SpaceToBatchChain``; the number of blocks rewritten. RepVGG blocks
    must be fused (``repseg.models.to_inference_form``)."""
    rewritten = 0
    for sequential in [m for m in model.modules()
                       if isinstance(m, nn.Sequential)]:
        blocks = list(sequential)
        runs = _runs(blocks)
        if not runs:
            continue
        replaced = {}
        for run in runs:
            replaced[run[0]] = SpaceToBatchChain(
                [blocks[i] for i in run], block_dilation(blocks[run[0]]))
            rewritten += len(run)
        skipped = {i for run in runs for i in run[1:]}
        children = [replaced.get(i, block) for i, block in enumerate(blocks)
                    if i not in skipped]
        for name in list(sequential._modules):
            del sequential._modules[name]
        for index, child in enumerate(children):
            sequential.add_module(str(index), child)
    return rewritten
