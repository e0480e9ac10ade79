"""PSPNet's bottleneck conv without upsampling the pyramid first (exact).

PSPHead concatenates its input feature with four pyramid features upsampled
from 1x1 ... 6x6 grids and applies a 3x3 conv to all of it. A conv over a
concatenation is the sum of convs over the parts, and for an upsampled part
the conv can run on the small grid, since convolution mixes channels and
bilinear upsampling mixes positions (``conv_of_upsampled``). The arithmetic
is counted by ``tools/analysis_tools/complexity.py`` and timed by
``tools/analysis_tools/benchmark.py`` (mode option ``psp``).
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads import PSPHead
from torch import Tensor, nn

from ..models.utils import replace_submodule


def shifted_interpolation_matrices(in_size: int, out_size: int,
                                   offsets: Sequence[int],
                                   align_corners: bool) -> Tensor:
    """Bilinear upsampling along one axis as matrices, one per conv tap.

    ``M[k, y, i]`` is the weight of input ``i`` in the upsampled value at
    ``y + offsets[k]`` (zero outside ``0..out_size-1``: the conv's zero
    padding). Built by upsampling the identity with ``F.interpolate``
    itself, so the weights are those mmseg's ``resize`` uses.
    """
    eye = torch.eye(in_size).reshape(in_size, 1, in_size, 1)
    weights = F.interpolate(eye, size=(out_size, 1), mode='bilinear',
                            align_corners=align_corners)[:, 0, :, 0].t()
    reach = max(abs(o) for o in offsets)
    padded = F.pad(weights, (0, 0, reach, reach))
    return torch.stack(
        [padded[reach + o:reach + o + out_size] for o in offsets])


def upsampling_matrix(grid: Tuple[int, int], size: Tuple[int, int],
                      kernel_size: Tuple[int, int], dilation: Tuple[int, int],
                      padding: Tuple[int, int], align_corners: bool) -> Tensor:
    """``M[(ky, kx, i, j), (y, x)]``: the weight of grid cell (i, j) in the
    upsampled map at ``(y, x) + tap offset (ky, kx)``, zero outside it."""
    rows, cols = (shifted_interpolation_matrices(
        grid[axis], size[axis],
        [k * dilation[axis] - padding[axis] for k in range(kernel_size[axis])],
        align_corners) for axis in (0, 1))
    matrix = torch.einsum('kyi,lxj->klijyx', rows, cols)
    return matrix.reshape(-1, size[0] * size[1])


def conv_of_upsampled(pooled: Tensor, kernel: Tensor, size: Tuple[int, int],
                      dilation: Tuple[int, int], padding: Tuple[int, int],
                      align_corners: bool) -> Tensor:
    """``conv2d(upsample(pooled, size), kernel)`` (bilinear upsampling;
    stride 1, zero padding keeping the size, no bias) without upsampling.

    Convolution mixes channels and bilinear upsampling mixes positions, so
    they commute: each tap's kernel is applied to the few pooled cells
    first (one 1x1 conv for all taps), and the taps' results are upsampled,
    shifted and summed by one matrix product with ``upsampling_matrix``.
    Plain 1x1 conv, reshape and matmul, which the engines convert (ncnn
    has no einsum); the work grows with the grid, not the output.
    """
    n, in_channels, grid_h, grid_w = pooled.shape
    out_channels, _, kernel_h, kernel_w = kernel.shape
    per_tap = kernel.permute(0, 2, 3, 1).reshape(
        out_channels * kernel_h * kernel_w, in_channels, 1, 1)
    taps = F.conv2d(pooled, per_tap).reshape(n, out_channels, -1)
    matrix = upsampling_matrix((grid_h, grid_w), size, (kernel_h, kernel_w),
                               dilation, padding, align_corners).to(pooled)
    return torch.matmul(taps, matrix).reshape(n, out_channels, *size)


class FactorizedPSPHead(nn.Module):
    """A PSPHead computing the same function with far less arithmetic.

    The bottleneck conv over the concatenation becomes a conv over the
    input feature plus, for each pyramid level, ``conv_of_upsampled`` on its
    small grid: of the original conv's work only the input feature's share
    remains. Everything else (pooling,
    the pyramid's 1x1 ConvModules, norm, activation, classifier) is the
    original head's own modules.

    Args:
        head (PSPHead): The head to rewrite; its modules are reused (not
            copied) and its ``bottleneck`` conv split.
    """

    def __init__(self, head: PSPHead):
        super().__init__()
        bottleneck = head.bottleneck
        conv = bottleneck.conv
        expected = head.in_channels + len(head.psp_modules) * head.channels
        if not (type(conv) is nn.Conv2d and conv.groups == 1
                and conv.stride == (1, 1) and conv.padding_mode == 'zeros'
                and not bottleneck.with_explicit_padding
                and conv.in_channels == expected and all(
                    2 * p == d * (k - 1) for p, d, k in zip(
                        conv.padding, conv.dilation, conv.kernel_size))):
            raise ValueError('FactorizedPSPHead: the bottleneck must be a '
                             'plain, size-preserving, stride-1 Conv2d over '
                             f'{expected} channels, got {conv}')
        order = [x for x in bottleneck.order
                 if (x != 'norm' or bottleneck.with_norm)]
        if order[0] != 'conv':
            raise ValueError('FactorizedPSPHead: the bottleneck ConvModule '
                             f'must start with its conv, got {order}')
        self.head = head
        self.bottleneck = bottleneck
        self.align_corners = head.align_corners
        # Kept apart: context_conv may be replaced (e.g. by use_winograd).
        self.padding, self.dilation = conv.padding, conv.dilation
        kernel = conv.weight.detach()
        self.context_conv = nn.Conv2d(
            head.in_channels, conv.out_channels, conv.kernel_size,
            padding=conv.padding, dilation=conv.dilation,
            bias=conv.bias is not None).to(kernel)
        with torch.no_grad():
            self.context_conv.weight.copy_(kernel[:, :head.in_channels])
            if conv.bias is not None:
                self.context_conv.bias.copy_(conv.bias)
        self.pyramid_kernels = nn.ParameterList([
            nn.Parameter(part.clone(), requires_grad=False)
            for part in kernel[:, head.in_channels:].split(head.channels, 1)
        ])
        # The original conv is replaced by the split one above.
        del bottleneck.conv

    def _bottleneck(self, x: Tensor) -> Tensor:
        out = self.context_conv(x)
        size = (x.shape[2], x.shape[3])
        for pyramid_level, kernel in zip(self.head.psp_modules,
                                         self.pyramid_kernels):
            out = out + conv_of_upsampled(
                pyramid_level(x), kernel, size, self.dilation, self.padding,
                self.align_corners)
        # The rest of the ConvModule (norm, activation) as it would run.
        for layer in self.bottleneck.order:
            if layer == 'norm' and self.bottleneck.with_norm:
                out = self.bottleneck.norm(out)
            elif layer == 'act' and self.bottleneck.with_activation:
                out = self.bottleneck.activate(out)
        return out

    def forward(self, inputs) -> Tensor:
        x = self.head._transform_inputs(inputs)
        return self.head.cls_seg(self._bottleneck(x))

    def predict(self, inputs, batch_img_metas: List[dict], test_cfg) -> Tensor:
        """As ``BaseDecodeHead.predict``: logits resized to the images."""
        return self.head.predict_by_feat(self.forward(inputs), batch_img_metas)


def factorize_psp_heads(model: nn.Module) -> int:
    """Replace, in place, every ``PSPHead`` attribute of ``model`` (its
    decode head, usually) by a ``FactorizedPSPHead``; the number replaced."""
    replaced = 0
    for name, module in list(model.named_modules()):
        if type(module) is PSPHead:
            replace_submodule(model, name, FactorizedPSPHead(module))
            replaced += 1
    return replaced
