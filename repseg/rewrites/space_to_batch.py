"""Dilated stages as plain 3x3 convolutions (exact): space-to-batch.

A stride-1 3x3 conv with dilation d and padding d reads, for output
(i, j), only inputs congruent to (i, j) mod d: it is an ordinary 3x3 conv
(padding 1) on each of the d x d polyphase sub-images of its input. A chain
of such convs with the same d and only per-pixel operations between them
(bias, ReLU) therefore needs one space-to-batch before the chain and one
batch-to-space after it (TensorFlow's ``atrous_conv2d`` works this way), and
engines can run Winograd kernels, which take dilation 1 only, on it.

Where H or W is not a multiple of d the input is padded with zeros at the
bottom and right. The padded positions must stay zero between layers, as
the dilated conv's zero padding is, but bias and ReLU make them non-zero,
so they are masked after every layer and cropped at the end.
"""
from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..models.backbones.repvgg import ReparamBlock

# Activations that act on each value alone, which commute with the
# rearrangement of pixels.
ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU,
               nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.Tanh, nn.Identity)


def space_to_batch(x: Tensor, d: int) -> Tensor:
    """(N, C, H, W), H and W multiples of d -> (N d d, C, H/d, W/d); batch
    index ``n d^2 + a d + b`` holds rows a, a+d, ... and columns b, b+d, ...
    of image n."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // d, d, w // d, d).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n * d * d, c, h // d, w // d)


def batch_to_space(x: Tensor, d: int) -> Tensor:
    """The inverse of ``space_to_batch``."""
    nd2, c, h, w = x.shape
    n = nd2 // (d * d)
    x = x.reshape(n, d, d, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c, h * d, w * d)


def undilated(conv: nn.Conv2d) -> nn.Conv2d:
    """``conv`` with dilation and padding 1, the same weights (shared)."""
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1,
                      groups=conv.groups, bias=conv.bias is not None)
    plain.weight = conv.weight
    plain.bias = conv.bias
    return plain.to(conv.weight.device)


def block_dilation(block: nn.Module) -> int:
    """d for a fused block of any RepVGG block type (``RepVGGBlock``,
    ``QARepVGGBlock``: the same fused form) that is one d-dilated, stride-1,
    size-preserving 3x3 conv followed by an element-wise activation (no SE);
    0 for any other module."""
    if not (isinstance(block, ReparamBlock) and block.deploy
            and block.se_layer is None
            and isinstance(block.act, ELEMENTWISE)):
        return 0
    conv = block.branch_reparam
    d = conv.dilation[0]
    if (type(conv) is not nn.Conv2d or conv.kernel_size != (3, 3)
            or conv.stride != (1, 1) or conv.dilation != (d, d)
            or conv.padding != (d, d) or conv.padding_mode != 'zeros'):
        return 0
    return d if d > 1 else 0


class SpaceToBatchChain(nn.Module):
    """A run of fused RepVGG blocks, all dilated by ``dilation``, computed
    as undilated 3x3 convs on the input's d x d phases.

    Args:
        blocks (Sequence[ReparamBlock]): The run, in order (``block_dilation``
            of each equal to ``dilation``); their convs' weights are shared,
            not copied.
        dilation (int): d > 1.
    """

    def __init__(self, blocks: Sequence[nn.Module], dilation: int):
        super().__init__()
        if dilation < 2 or any(block_dilation(b) != dilation for b in blocks):
            raise ValueError(f'SpaceToBatchChain: every block must be a fused '
                             f'{dilation}-dilated RepVGG block without SE')
        self.dilation = dilation
        self.convs = nn.ModuleList(undilated(b.branch_reparam) for b in blocks)
        self.acts = nn.ModuleList(b.act for b in blocks)

    def forward(self, x: Tensor) -> Tensor:
        d = self.dilation
        n, _, height, width = x.shape
        pad_h, pad_w = -height % d, -width % d
        mask = None
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
            valid = x.new_zeros(1, 1, height + pad_h, width + pad_w)
            valid[:, :, :height, :width] = 1
            mask = space_to_batch(valid, d).repeat(n, 1, 1, 1)
        x = space_to_batch(x, d)
        for conv, act in zip(self.convs, self.acts):
            x = act(conv(x))
            if mask is not None:
                x = x * mask  # padding must not leak into the next layer
        return batch_to_space(x, d)[:, :, :height, :width]


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
    """Replace, in place, every run of dilated fused RepVGG blocks inside an
    ``nn.Sequential`` of ``model`` (its stages) by a ``SpaceToBatchChain``;
    the number of blocks rewritten. The model must be in its inference form
    (``repseg.models.to_inference_form``)."""
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
