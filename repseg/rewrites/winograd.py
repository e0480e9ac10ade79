"""3x3 stride-1 convs computed with Winograd F(m x m, 3x3) (exact up to
float rounding), and the one rule that says which convs qualify.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR
2016 (arXiv 1509.09308). ``repseg.analysis.complexity`` counts Winograd
multiplications with the same rule (``is_winograd_conv``).
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.utils import replace_submodule


# Winograd F(m x m, 3x3) (Lavin & Gray, 2016): an m x m output tile from
# an (m+2) x (m+2) input tile, as A^T [(G g G^T) * (B^T d B)] A for kernel
# g and input tile d: (m+2)^2 multiplications instead of 9 m^2. Matrices
# from the interpolation points 0, 1, -1 (m = 2) and 0, 1, -1, 2, -2 (m = 4),
# each with the point at infinity.
WINOGRAD_MATRICES = {
    2: dict(
        BT=((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)),
        G=((1, 0, 0), (1 / 2, 1 / 2, 1 / 2), (1 / 2, -1 / 2, 1 / 2),
           (0, 0, 1)),
        AT=((1, 1, 1, 0), (0, 1, -1, -1))),
    4: dict(
        BT=((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
            (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1)),
        G=((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
           (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1)),
        AT=((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0),
            (0, 1, -1, 8, -8, 1))),
}


def _combine(parts: Sequence[Tensor], matrix) -> Tensor:
    """``stack([sum_j matrix[i][j] * parts[j] for i])``, skipping zero
    coefficients and multiplying only by those other than +-1 (the F(2x2,
    3x3) transforms are additions only)."""
    rows = []
    for coefficients in matrix:
        row = None
        for c, part in zip(coefficients, parts):
            if c == 0:
                continue
            if row is None:
                row = part * c if c not in (1, -1) else (part if c == 1 else
                                                         -part)
            elif c in (1, -1):
                row = row + part if c == 1 else row - part
            else:
                row = row + part * c
        rows.append(row)
    return torch.stack(rows)


def _strided_parts(x: Tensor, dim: int, count: int, size: int,
                   step: int) -> List[Tensor]:
    """For every offset j < size, the view of ``x`` along ``dim`` holding
    element j of each of ``count`` tiles that start every ``step``."""
    return [x.narrow(dim, j, step * (count - 1) + 1).unfold(dim, 1, step)
            .squeeze(-1) for j in range(size)]


class WinogradConv2d(nn.Module):
    """A 3x3, stride-1, size-preserving conv (any groups, any dilation)
    computed with Winograd F(m x m, 3x3): (m+2)^2 / m^2 multiplications per
    output (4 for m = 2, 2.25 for m = 4) instead of 9, in batched matrix
    products; the transforms are cheap element-wise passes. The same
    function as the conv up to float rounding, which is larger for m = 4
    (its transforms have larger coefficients); the tests bound both.

    A dilation-d conv is d x d interleaved undilated convs, one per phase of
    the input (rows and columns congruent mod d), so it runs as an undilated
    one on the phases stacked into the batch (when d divides the size;
    otherwise the direct conv runs).

    Args:
        conv (nn.Conv2d): The conv to replace; its weights are transformed
            once here (in float64).
        tile (int): Output tile size m, 2 or 4. Defaults to 2.
    """

    def __init__(self, conv: nn.Conv2d, tile: int = 2):
        super().__init__()
        if not is_winograd_conv(conv):
            raise ValueError(f'WinogradConv2d: not a 3x3 stride-1 '
                             f'size-preserving conv: {conv}')
        if tile not in WINOGRAD_MATRICES:
            raise ValueError(f'WinogradConv2d: tile must be one of '
                             f'{sorted(WINOGRAD_MATRICES)}, got {tile}')
        self.conv = conv
        self.tile = tile
        self.dilation = conv.dilation[0]
        self.groups = conv.groups
        matrices = WINOGRAD_MATRICES[tile]
        self.input_matrix, self.output_matrix = matrices['BT'], matrices['AT']
        weight = conv.weight.detach().double()
        g = torch.tensor(matrices['G'], dtype=torch.float64)
        # U[j, i] = (G w G^T)[i, j], laid out (n * groups, K/g, C/g) with
        # n = (m+2)^2, in the order the input tiles come in (column first).
        transformed = torch.einsum('ia,kcab,jb->jikc', g, weight, g)
        points = (tile + 2)**2
        out_per_group = conv.out_channels // conv.groups
        self.register_buffer(
            'kernel', transformed.reshape(
                points, conv.groups, out_per_group, weight.shape[1]).reshape(
                    points * conv.groups, out_per_group,
                    weight.shape[1]).to(conv.weight),
            persistent=False)

    def _valid_winograd(self, padded: Tensor) -> Tensor:
        """The valid (unpadded) undilated 3x3 conv of ``padded``, no bias."""
        m, size = self.tile, self.tile + 2
        batch, channels, height, width = padded.shape
        out_h, out_w = height - 2, width - 2
        # Whole tiles only: round the output size up, crop afterwards.
        tiles_h, tiles_w = -(-out_h // m), -(-out_w // m)
        padded = F.pad(padded,
                       (0, tiles_w * m - out_w, 0, tiles_h * m - out_h))
        rows = _combine(_strided_parts(padded, 2, tiles_h, size, m),
                        self.input_matrix)  # i, B, C, th, W'
        tiles = _combine(_strided_parts(rows, 4, tiles_w, size, m),
                         self.input_matrix)  # j, i, B, C, th, tw
        groups = self.groups
        tiles = tiles.reshape(size * size, batch, groups, channels // groups,
                              tiles_h * tiles_w).permute(0, 2, 3, 1, 4)
        tiles = tiles.reshape(size * size * groups, channels // groups,
                              batch * tiles_h * tiles_w)
        products = torch.bmm(self.kernel, tiles)  # n g, K/g, B th tw
        products = products.reshape(size, size, -1, batch, tiles_h, tiles_w)
        out = _combine(products.unbind(0), self.output_matrix)  # q, i, ...
        out = _combine(out.transpose(0, 1).unbind(0), self.output_matrix)
        # out[p, q, k, b, t, u] is output row m t + p, column m u + q.
        out = out.permute(3, 2, 4, 0, 5, 1).reshape(batch, -1, m * tiles_h,
                                                    m * tiles_w)
        return out[:, :, :out_h, :out_w]

    def forward(self, x: Tensor) -> Tensor:
        d = self.dilation
        batch, channels, height, width = x.shape
        if height % d or width % d:
            return self.conv(x)
        padded = F.pad(x, (d, d, d, d))
        if d > 1:
            # Phase (a, b) holds rows a, a+d, ... and columns b, b+d, ...
            padded = padded.reshape(batch, channels, height // d + 2, d,
                                    width // d + 2, d)
            padded = padded.permute(0, 3, 5, 1, 2, 4).reshape(
                batch * d * d, channels, height // d + 2, width // d + 2)
        out = self._valid_winograd(padded)
        if d > 1:
            out = out.reshape(batch, d, d, -1, height // d, width // d)
            out = out.permute(0, 3, 4, 1, 5, 2).reshape(batch, -1, height,
                                                        width)
        if self.conv.bias is not None:
            out = out + self.conv.bias.reshape(1, -1, 1, 1)
        return out


def is_winograd_conv(conv: nn.Module) -> bool:
    """A plain 3x3 stride-1 Conv2d whose zero padding equals its dilation
    (the output has the input's size)."""
    return (type(conv) is nn.Conv2d and conv.kernel_size == (3, 3)
            and conv.stride == (1, 1) and conv.padding_mode == 'zeros'
            and conv.dilation[0] == conv.dilation[1]
            and conv.padding == conv.dilation)


def use_winograd(model: nn.Module, tile: int = 2) -> int:
    """Replace, in place, every eligible conv of ``model`` (3x3, stride 1,
    size-preserving, any groups and dilation) by a ``WinogradConv2d`` with
    output tiles of ``tile``; the number replaced. Any model alike: RepVGG's
    convs, ResNet's 3x3 convs, the heads' 3x3 convs."""
    names = [name for name, module in model.named_modules()
             if is_winograd_conv(module)]
    for name in names:
        replace_submodule(model, name,
                       WinogradConv2d(model.get_submodule(name), tile))
    return len(names)
