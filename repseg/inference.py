"""Exact rewrites and runtimes that make a fused model faster at inference.

Everything here preserves the model's function (up to float rounding); the
benchmark tool (``tools/analysis_tools/benchmark.py``) checks every result against the
eager fused model before timing it.

* ``fold_conv_bn_pairs``: folds every conv that feeds a BatchNorm directly,
  wherever it sits, for backbones whose conv+BN pairs are not ConvModules
  (mmseg's ResNet) and so are left alone by ``repseg.deploy.deploy_model``.
* ``FactorizedPSPHead`` / ``factorize_psp_heads``: PSPNet's bottleneck conv
  without upsampling the pyramid features first (see the class).
* ``to_channels_last``, ``trace_and_freeze``, ``OnnxRuntimeModule``: memory
  format, TorchScript (frozen, oneDNN conv+ReLU fusion) and ONNX Runtime.
"""
import contextlib
import io
import logging
import os.path as osp
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads import PSPHead
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .models.fusion import fold_conv_bn


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition('.')
    setattr(model.get_submodule(parent) if parent else model, child, module)


@torch.no_grad()
def find_conv_bn_pairs(model: nn.Module,
                       run: Callable[[nn.Module], object]
                       ) -> List[Tuple[str, str]]:
    """Names of the (conv, BN) pairs of ``model`` where the BN takes the
    conv's output tensor itself, seen during one call of ``run(model)``.

    The data flow is observed rather than guessed from module order: a conv
    and a BN that merely sit side by side in a module are not a pair. A conv
    whose output also feeds something else than its BN would fold wrongly;
    the benchmark catches that by comparing with the unfolded model.
    """
    names = {module: name for name, module in model.named_modules()}
    last_conv = {}  # the latest conv call: its module and output tensor
    pairs = []

    def remember_conv(module, args, output):
        last_conv.update(module=module, output=output)

    def match_norm(module, args):
        if args and last_conv and args[0] is last_conv['output']:
            pair = (names[last_conv['module']], names[module])
            if pair not in pairs:
                pairs.append(pair)
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
    return pairs


@torch.no_grad()
def fold_conv_bn_pairs(model: nn.Module,
                       run: Callable[[nn.Module], object]) -> int:
    """Fold, in place, every BN (eval mode) that directly follows a conv in
    ``model`` into that conv (``repseg.models.fusion.fold_conv_bn``); the BN
    becomes ``nn.Identity``. Returns the number of pairs folded.

    ``run(model)`` must call the model once (any small input will do); it is
    how the pairs are found (``find_conv_bn_pairs``).
    """
    if any(m.training for m in model.modules() if isinstance(m, _BatchNorm)):
        raise ValueError('fold_conv_bn_pairs: put the model in eval mode '
                         'first (a BN in training mode cannot be folded)')
    pairs = find_conv_bn_pairs(model, run)
    for conv_name, norm_name in pairs:
        conv = model.get_submodule(conv_name)
        norm = model.get_submodule(norm_name)
        _set_submodule(model, conv_name, fold_conv_bn(conv, norm))
        _set_submodule(model, norm_name, nn.Identity())
    return len(pairs)


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


def conv_of_upsampled(pooled: Tensor, kernel: Tensor, size: Tuple[int, int],
                      dilation: Tuple[int, int], padding: Tuple[int, int],
                      align_corners: bool) -> Tensor:
    """``conv2d(upsample(pooled, size), kernel)`` (bilinear upsampling;
    stride 1, zero padding keeping the size, no bias) without upsampling.

    Convolution mixes channels and bilinear upsampling mixes positions, so
    they commute: each tap's kernel is applied to the few pooled cells
    first, and each tap's result is upsampled, shifted and summed by two
    small matrix products. For PSPNet's 512 -> 512 3x3 conv on a 6x6 grid
    upsampled to 64x128 this is ~0.1 G multiply-adds instead of 19 G.
    """
    kernel_h, kernel_w = kernel.shape[-2:]
    rows = shifted_interpolation_matrices(
        pooled.shape[2], size[0],
        [k * dilation[0] - padding[0] for k in range(kernel_h)],
        align_corners).to(pooled)
    cols = shifted_interpolation_matrices(
        pooled.shape[3], size[1],
        [k * dilation[1] - padding[1] for k in range(kernel_w)],
        align_corners).to(pooled)
    # taps[n, ky, kx, o, i, j]: tap (ky, kx) of the kernel on cell (i, j).
    taps = torch.einsum('ocyx,ncij->nyxoij', kernel, pooled)
    per_row = torch.einsum('lxj,nkloij->nkoix', cols, taps)
    return torch.einsum('kyi,nkoix->noyx', rows, per_row)


class FactorizedPSPHead(nn.Module):
    """A PSPHead computing the same function with far less arithmetic.

    PSPHead concatenates the input feature (C channels) with four pyramid
    features upsampled from 1x1, 2x2, 3x3 and 6x6 grids, and applies a 3x3
    conv to all of it: on 2048 + 4 x 512 channels at 64x128 that one conv is
    ~155 G multiply-adds, a third of a PSPNet's inference. A conv over a
    concatenation is the sum of convs over the parts, and for an upsampled
    part the conv can run on the small grid (``conv_of_upsampled``): only
    the input feature's share (half of it) remains. Everything else (pooling,
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
            _set_submodule(model, name, FactorizedPSPHead(module))
            replaced += 1
    return replaced


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
    function as the conv up to float rounding: ~1e-6 relative for m = 2,
    ~1e-5 for m = 4 (its transforms have larger coefficients).

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
        if not is_winograd_eligible(conv):
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


def is_winograd_eligible(conv: nn.Module) -> bool:
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
             if is_winograd_eligible(module)]
    for name in names:
        _set_submodule(model, name,
                       WinogradConv2d(model.get_submodule(name), tile))
    return len(names)


class TensorForward(nn.Module):
    """The inference call of a model as tensor -> tuple of tensors:
    ``model(x, mode='tensor')`` for segmentors (decode-head logits) and
    classifiers (logits), ``model(x)`` for a bare backbone."""

    def __init__(self, model: nn.Module, bare_backbone: bool = False):
        super().__init__()
        self.model = model
        self.bare_backbone = bare_backbone

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        out = self.model(x) if self.bare_backbone else self.model(
            x, mode='tensor')
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` with 4-D weights in channels-last memory format (in place):
    oneDNN then runs convs on NHWC data without reordering them."""
    return model.to(memory_format=torch.channels_last)


@torch.no_grad()
def trace_and_freeze(module: nn.Module,
                     inputs: Tensor) -> torch.jit.ScriptModule:
    """TorchScript of ``module`` (traced on ``inputs``, so for their shape),
    frozen (weights become constants) and optimized for inference: on CPU
    that prepacks conv weights for oneDNN and fuses conv with the ReLU (and
    the residual add) that follows it."""
    traced = torch.jit.trace(module.eval(), inputs, check_trace=False)
    return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


class OnnxRuntimeModule:
    """An ONNX Runtime session called like the module it was exported from.

    Args:
        path (str): The ``.onnx`` file.
        num_threads (int): Intra-op threads (use torch's, for a fair match).
        providers (list[str]): Execution providers; default CPU.
    """

    def __init__(self, path: str, num_threads: int,
                 providers: Optional[List[str]] = None):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = (
            onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL)
        options.intra_op_num_threads = num_threads
        # Idle threads must not spin: rows are timed interleaved, and a
        # spinning pool would steal cores from the next row.
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
        self.session = onnxruntime.InferenceSession(
            path, options, providers=providers or ['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        outputs = self.session.run(None,
                                   {self.input_name: inputs.cpu().numpy()})
        return tuple(torch.from_numpy(out) for out in outputs)


def export_onnx(module: nn.Module, inputs: Tensor, path: str,
                dynamic_dims: Optional[Dict[int, object]] = None) -> str:
    """Export ``module`` (a tensor -> tensor(s) module) with torch.export
    (opset 18), for ``inputs``' shape, or with ``dynamic_dims`` (input dim
    -> ``torch.export.Dim``) left free."""
    # The exporter reports its progress on stdout and warns about ops of
    # packages that are not installed (torchvision): keep the table clean.
    registration = logging.getLogger(
        'torch.onnx._internal.exporter._registration')
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(
                module.eval(), (inputs, ), path, opset_version=18,
                dynamo=True, input_names=['input'], verbose=False,
                dynamic_shapes=None if dynamic_dims is None else
                (dynamic_dims, ))
    finally:
        registration.setLevel(level)
    if not osp.isfile(path):
        raise RuntimeError(f'export_onnx: nothing was written to {path}')
    return path
