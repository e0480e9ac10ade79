"""Parameters, multiply-adds and Winograd multiplications of fused models.

The three figures of the RepVGG paper (Ding et al., CVPR 2021, Table 4),
counted on the inference-time (fused) model by forward hooks on the modules
that actually run, so any model can be measured, not just RepVGG:

* **Params**: every parameter of the model's inference form
  (``repseg.models.to_inference_form``: RepVGG blocks fused, conv+BN pairs
  folded), i.e. for a RepVGG classifier the 3x3 kernel and bias of every
  fused block plus the linear weight and bias.
* **MACs** (the paper's "FLOPs"): multiply-adds of every convolution and
  linear layer, per image.
* **Wino MULs**: multiplications when every 3x3 stride-1 conv uses Winograd
  F(2x2, 3x3): 16 multiplications per 2x2 output tile and per (input channel
  of the group, output channel) pair, i.e. 4/9 of the direct count. Grouped
  convs are Winograd convs too (each group is an ordinary conv). Every other
  layer (stride-2 3x3 convs, 1x1 convs, linear) counts its direct
  multiply-adds. A partial tile at an odd border costs a whole tile
  (``ceil(H/2) * ceil(W/2)`` tiles), as in a real F(2x2, 3x3) kernel.
  The input and output transforms of F(2x2, 3x3) are additions only (the
  kernel transform, with its halves, is done once ahead of time).

What reproduces the paper's Params, FLOPs and Wino MULs for all eleven
RepVGG variants it gives figures for (A0-B3, see ``PAPER_FIGURES``):
convs and the linear layer only; Winograd applied to the grouped convs
(without it B1g2 would have 6.2 G Wino MULs, not the paper's 4.6); params
with the fused biases, truncated (not rounded) to two decimals by the paper:
A0 has 8,309,384 parameters, printed 8.30 (rounding gives 8.31), and with
truncation every variant matches while neither rounding nor leaving the
biases out does. FLOPs and Wino MULs are rounded to one decimal. At 224x224
every stride-1 map is even (56, 28, 14), so the tile convention and the
exact 4/9 agree there; the linear layer (1.3 M MACs for A0) is below the
printed precision.

Dilated 3x3 stride-1 convs (output stride 8 segmentors): standard Winograd
kernels (cuDNN, most runtimes) take dilation 1 only, so they run as direct
convs; yet a dilation-d conv is exactly d x d interleaved undilated convs on
the subsampled phases of its input, each of which can use F(2x2, 3x3).
Both counts are therefore reported: ``wino_muls`` treats dilated convs as
Winograd convs (tiles counted per phase), ``wino_muls_dilated_direct``
counts them as direct convs. They are equal for models without dilation.

Not counted (each well below the printed precision of a conv network, or
folded away at deployment): normalization layers (an eval-mode BN is a
per-channel affine map that folds into the preceding conv), biases and
element-wise ops (ReLU, additions, the SE block's channel scaling), pooling
and interpolation (the segmentors' bilinear resizes).

Why hooks rather than ``mmengine.analysis`` (a jit-trace FLOP counter): the
Winograd counts need each conv's kernel size, stride, dilation and groups,
which a module hook reads directly; a trace also cannot take a segmentor's
inference call (it passes image metas, not tensors), and mmseg 1.2.2's own
``get_flops.py`` fails on it. The tests cross-check the MACs against
``mmengine.analysis.FlopAnalyzer`` on a plain conv net.
"""
import itertools
import math
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.conv import _ConvNd

from ..apis.model import build_model, load_model_config
from ..engine.config import CLASSIFIER_SHAPE, default_input_shape
from ..errors import RepSegError
from ..models.backbones import RepVGG
from ..models.classifier import RepVGGClassifier
from ..models.fusion import to_inference_form
from ..models.kind import CLASSIFIER, SEGMENTOR, auxiliary_heads, model_kind
from ..rewrites.winograd import is_winograd_conv

# RepVGG paper, Table 4 (ImageNet, 224x224) and the 200-epoch results in the
# text (B3g4, B3: params and FLOPs only). Params in millions, truncated to
# two decimals; FLOPs (multiply-adds) and Wino MULs in billions, rounded to
# one. The other variants (B2g2, B3g2, D2se) have no published figures.
PAPER_FIGURES = {
    'A0': dict(params=8.30, macs=1.4, wino_muls=0.7),
    'A1': dict(params=12.78, macs=2.4, wino_muls=1.3),
    'A2': dict(params=25.49, macs=5.1, wino_muls=2.7),
    'B0': dict(params=14.33, macs=3.1, wino_muls=1.6),
    'B1': dict(params=51.82, macs=11.8, wino_muls=5.9),
    'B1g2': dict(params=41.36, macs=8.8, wino_muls=4.6),
    'B1g4': dict(params=36.12, macs=7.3, wino_muls=3.9),
    'B2': dict(params=80.31, macs=18.4, wino_muls=9.1),
    'B2g4': dict(params=55.77, macs=11.3, wino_muls=6.0),
    'B3': dict(params=110.96, macs=26.2, wino_muls=None),
    'B3g4': dict(params=75.62, macs=16.1, wino_muls=None),
}

# A segmentor's auxiliary heads train only; they are not in the totals.
TRAINING_ONLY_PARTS = ('auxiliary_head', )

WINOGRAD_TILE = 2  # F(2x2, 3x3): 2x2 outputs per tile from 4x4 = 16 products


class ComplexityError(RepSegError, ValueError):
    """An arch, input shape or model that cannot be measured; the message
    names it."""


@dataclass
class Complexity:
    """Counts of one model part, per image.

    Args:
        params (int): Parameters.
        macs (int): Multiply-adds (the paper's "FLOPs").
        wino_muls (int): Multiplications with Winograd F(2x2, 3x3) for every
            3x3 stride-1 conv, dilated ones included.
        wino_muls_dilated_direct (int): The same with dilated convs direct.
    """
    params: int = 0
    macs: int = 0
    wino_muls: int = 0
    wino_muls_dilated_direct: int = 0

    def __add__(self, other: 'Complexity') -> 'Complexity':
        return Complexity(*(a + b for a, b in zip(
            asdict(self).values(), asdict(other).values())))


@dataclass
class ComplexityReport:
    """The counts of a model at one input shape, part by part.

    Args:
        name (str): What was measured, e.g. ``'RepVGG-A0'`` or a config path.
        input_shape (tuple[int, int]): Input height and width.
        parts (dict[str, Complexity]): Counts per top-level submodule
            (``backbone``, ``decode_head``, ...), in model order.
        excluded (tuple[str]): Parts not run at inference, left out of
            ``total`` (a segmentor's ``auxiliary_head``).
        arch (str, optional): The RepVGG variant, for the paper comparison.
    """
    name: str
    input_shape: Tuple[int, int]
    parts: Dict[str, Complexity]
    excluded: Tuple[str, ...] = ()
    arch: Optional[str] = None
    total: Complexity = field(init=False)

    def __post_init__(self):
        self.total = sum((c for part, c in self.parts.items()
                          if part not in self.excluded), Complexity())

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``paper`` holds the published figures."""
        return dict(
            name=self.name,
            arch=self.arch,
            input_shape=list(self.input_shape),
            total=asdict(self.total),
            parts={k: asdict(v) for k, v in self.parts.items()},
            excluded_from_total=list(self.excluded),
            paper=paper_figures(self))


def winograd_tiles(length: int, dilation: int = 1,
                   tile: int = WINOGRAD_TILE) -> int:
    """``tile``-wide Winograd output tiles along one axis of ``length``
    outputs.

    A dilation-``d`` conv is ``d`` interleaved undilated convs per axis
    (output ``i`` reads only inputs congruent to ``i`` mod ``d``), so the
    outputs split into ``d`` phases, each tiled on its own.
    """
    phases = (math.ceil((length - phase) / dilation)
              for phase in range(min(dilation, length)))
    return sum(math.ceil(size / tile) for size in phases)


def winograd_products(conv: nn.Conv2d, output: Tensor, tile: int) -> int:
    """Multiplications of one Winograd-eligible conv call under F(tile x
    tile, 3x3), per image: (tile + 2)^2 products per output tile and per
    (input channel of the group, output channel) pair, dilated convs tiled
    per phase; the transforms are additions only."""
    height, width = output.shape[-2:]
    tiles = (winograd_tiles(height, conv.dilation[0], tile) *
             winograd_tiles(width, conv.dilation[1], tile))
    channel_pairs = conv.out_channels * conv.in_channels // conv.groups
    return tiles * (tile + 2)**2 * channel_pairs


def conv_complexity(conv: _ConvNd, inputs: Tensor,
                    output: Tensor) -> Complexity:
    """Multiply-adds and Winograd multiplications of one conv call, per
    image (transposed convs included; no Winograd for them)."""
    kernel_size = math.prod(conv.kernel_size)
    if conv.transposed:
        # Each input value scatters a kernel into every output channel of
        # its group.
        macs = (inputs[0].numel() * conv.out_channels // conv.groups *
                kernel_size)
    else:
        in_per_group = conv.in_channels // conv.groups
        macs = output[0].numel() * kernel_size * in_per_group
    if not is_winograd_conv(conv):
        return Complexity(macs=macs, wino_muls=macs,
                          wino_muls_dilated_direct=macs)
    wino = winograd_products(conv, output, WINOGRAD_TILE)
    dilated = conv.dilation != (1, 1)
    return Complexity(macs=macs, wino_muls=wino,
                      wino_muls_dilated_direct=macs if dilated else wino)


def linear_complexity(linear: nn.Linear, output: Tensor) -> Complexity:
    """Multiply-adds of one linear call, per image (every leading dim but
    the batch is a separate product, e.g. tokens)."""
    macs = output[0].numel() * linear.in_features
    return Complexity(macs=macs, wino_muls=macs, wino_muls_dilated_direct=macs)


def multiplications(module: nn.Module, inputs: Tensor,
                    winograd_tile: Callable[[nn.Conv2d], Optional[int]]
                    ) -> int:
    """Multiplications of the convs and linear layers of one call
    ``module(inputs)``, where each conv for which ``winograd_tile`` gives a
    tile m runs Winograd F(m x m, 3x3): (m + 2)^2 products per m x m output
    tile and (input channel of the group, output channel) pair, dilated
    convs tiled per phase. Every other conv and linear layer counts its
    multiply-adds. What a runtime's kernels compute, for a rate against the
    machine's (``repseg.benchmark``)."""
    total = 0

    def count(layer, args, output):
        nonlocal total
        tile = (winograd_tile(layer) if isinstance(layer, nn.Conv2d)
                and is_winograd_conv(layer) else None)
        if tile is not None:
            per_image = winograd_products(layer, output, tile)
        elif isinstance(layer, nn.Linear):
            per_image = linear_complexity(layer, output).macs
        else:
            per_image = conv_complexity(layer, args[0], output).macs
        total += output.shape[0] * per_image

    handles = [m.register_forward_hook(count) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total


class ComplexityCounter:
    """Counts the convs and linear layers of ``model`` that run while the
    counter is entered (``with counter: model(x)``); it can be entered again
    to add more calls. A module called twice counts twice.

    Args:
        model (nn.Module): The model; its top-level children are the parts.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.compute: Dict[str, Complexity] = {}
        self._handles = []

    def __enter__(self) -> 'ComplexityCounter':
        for name, module in self.model.named_modules():
            if isinstance(module, (_ConvNd, nn.Linear)):
                self._handles.append(
                    module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str) -> Callable:

        def count(module, inputs, output):
            if isinstance(module, nn.Linear):
                counted = linear_complexity(module, output)
            else:
                counted = conv_complexity(module, inputs[0], output)
            self.compute[name] = self.compute.get(name,
                                                  Complexity()) + counted

        return count

    def by_part(self) -> Dict[str, Complexity]:
        """Params and counted compute per top-level child of the model
        (children without either are left out); what the model holds
        directly is ``'(top level)'``."""
        children = dict(self.model.named_children())
        parts = OrderedDict()
        for part, child in children.items():
            parts[part] = Complexity(
                params=sum(p.numel() for p in child.parameters()))
        parts['(top level)'] = Complexity(params=sum(
            p.numel() for p in self.model.parameters(recurse=False)))
        for name, counted in self.compute.items():
            part = name.split('.')[0]
            part = part if part in children else '(top level)'
            parts[part] = parts[part] + counted
        return OrderedDict((part, counts) for part, counts in parts.items()
                           if counts != Complexity())


def check_input_shape(input_shape) -> Tuple[int, int]:
    """``input_shape`` as a (height, width) pair of positive ints."""
    shape = tuple(input_shape) if isinstance(input_shape,
                                             (tuple, list)) else ()
    if len(shape) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0
            for s in shape):
        raise ComplexityError(f'input_shape must be two positive ints '
                              f'(height, width), got {input_shape!r}')
    return shape


def _run_segmentor(model: nn.Module, image: Tensor,
                   counter: ComplexityCounter) -> None:
    """The inference forward (``EncoderDecoder.encode_decode``: features,
    decode head, resize to the input), then the auxiliary heads on the same
    features, which their own part keeps apart."""
    height, width = image.shape[-2:]
    metas = [dict(img_shape=(height, width), ori_shape=(height, width),
                  pad_shape=(height, width))]
    # extract_feat's output (the neck's, else the backbone's) is kept for
    # the auxiliary heads rather than computed a second time.
    source = model.neck if getattr(model, 'with_neck', False) else \
        model.backbone
    features = []
    handle = source.register_forward_hook(
        lambda module, args, output: features.append(output))
    try:
        with counter:
            model.encode_decode(image, metas)
    finally:
        handle.remove()
    heads = auxiliary_heads(model)
    if not heads:
        return
    with counter:
        for head in heads:
            head(features[-1])


def _run_model(model: nn.Module, image: Tensor,
               counter: ComplexityCounter) -> None:
    """Any other model: classifiers in ``mode='tensor'`` (the logits of
    ``RepVGGClassifier`` and mmpretrain's classifiers), other modules called
    directly (``repseg.models.kind``)."""
    with counter:
        if model_kind(model) == CLASSIFIER:
            model(image, mode='tensor')
        else:
            model(image)


def _count(model: nn.Module, shape: Tuple[int, int], in_channels: int):
    """Run an eval-mode ``model`` once on a blank image on its device.

    Returns:
        tuple[dict, tuple]: counts per part, and the parts left out of the
        total.
    """
    tensors = itertools.chain(model.parameters(), model.buffers())
    device = next(tensors, torch.empty(0)).device
    image = torch.zeros(1, in_channels, *shape, device=device)
    counter = ComplexityCounter(model)
    segmentor = model_kind(model) == SEGMENTOR
    with torch.no_grad():
        (_run_segmentor if segmentor else _run_model)(model, image, counter)
    parts = counter.by_part()
    excluded = tuple(part for part in TRAINING_ONLY_PARTS
                     if segmentor and part in parts)
    return parts, excluded


def model_complexity(model: nn.Module,
                     input_shape: Sequence[int],
                     name: str = 'model',
                     arch: Optional[str] = None,
                     in_channels: int = 3,
                     fuse: bool = True) -> ComplexityReport:
    """Measure ``model`` on one image of ``input_shape``, in eval mode.

    Args:
        model (nn.Module): A segmentor (``decode_head`` and ``extract_feat``,
            measured as ``encode_decode`` plus the auxiliary heads, which are
            reported but not counted in the total), an mmengine model
            (``mode='tensor'``) or any module taking an image batch.
        input_shape (Sequence[int]): Height and width.
        name (str): Name for the report. Defaults to ``'model'``.
        arch (str, optional): RepVGG variant, for the paper comparison.
        in_channels (int): Image channels. Defaults to 3.
        fuse (bool): Measure the inference form of ``model``
            (``to_inference_form``, a copy; the given model is not changed);
            False measures ``model`` as it is.
            Defaults to True.

    Returns:
        ComplexityReport: per part and in total.
    """
    shape = check_input_shape(input_shape)
    measured = to_inference_form(model)[0] if fuse else model
    was_training = measured.training
    try:
        parts, excluded = _count(measured.eval(), shape, in_channels)
    except RepSegError:
        raise  # already names what is wrong
    except (RuntimeError, ValueError) as err:
        raise ComplexityError(f'{name}: the forward pass fails at input '
                              f'shape {shape[0]}x{shape[1]}: {err}') from err
    finally:
        measured.train(was_training)
    return ComplexityReport(name, shape, parts, excluded, arch)


def _build_and_measure(build: Callable[[], nn.Module],
                       input_shape: Sequence[int],
                       name: str,
                       arch: Optional[str] = None,
                       in_channels: int = 3) -> ComplexityReport:
    """Build a model with ``build()``, bring it to its inference form in
    place and measure it.

    Tried first on PyTorch's meta device: the counts depend on shapes only,
    so there no weights are initialized or fused and no arithmetic is done,
    which is most of the time otherwise. Ops without a meta kernel (some
    mmcv ops) or code that reads values fail there (a RuntimeError, at
    times a ValueError); the model is then built and measured on the CPU,
    where a forward pass that fails is a ``ComplexityError``.
    """
    shape = check_input_shape(input_shape)
    try:
        with torch.device('meta'):
            model = to_inference_form(build(), inplace=True)[0]
            parts, excluded = _count(model, shape, in_channels)
        return ComplexityReport(name, shape, parts, excluded, arch)
    except RepSegError:
        raise  # a config that cannot be built fails the same on the CPU
    except (RuntimeError, ValueError):
        model = to_inference_form(build(), inplace=True)[0]
        return model_complexity(model, shape, name, arch, in_channels,
                                fuse=False)


def check_arch(arch: str) -> str:
    """``arch`` if it names a RepVGG variant, else a ``ComplexityError``
    naming it."""
    if arch not in RepVGG.arch_settings:
        raise ComplexityError(f'unknown RepVGG arch {arch!r}; choose from '
                              f'{", ".join(RepVGG.arch_settings)}')
    return arch


def classifier_complexity(arch: str,
                          input_shape: Sequence[int] = CLASSIFIER_SHAPE,
                          num_classes: int = 1000) -> ComplexityReport:
    """Counts of the fused RepVGG ImageNet classifier ``arch`` (the paper's:
    backbone, global average pooling, linear).

    Args:
        arch (str): RepVGG variant name, e.g. ``'A0'`` or ``'B1g2'``.
        input_shape (Sequence[int]): Height and width. Defaults to 224x224.
        num_classes (int): Classes of the linear layer. Defaults to 1000.
    """
    check_arch(arch)

    def build():
        return RepVGGClassifier(
            backbone=dict(type='RepVGG', arch=arch, out_indices=(3, )),
            num_classes=num_classes)

    return _build_and_measure(build, input_shape, f'RepVGG-{arch}', arch)


def config_complexity(config,
                      input_shape: Optional[Sequence[int]] = None
                      ) -> ComplexityReport:
    """Counts of the inference form of ``cfg.model`` of an mmseg-style
    config.

    Args:
        config (str | PathLike | mmengine.Config): Config file, package
            config (``mmseg::...``) or object; its ``model`` is built as
            ``repseg.apis`` builds models.
        input_shape (Sequence[int], optional): Height and width; defaults to
            512x1024 for segmentors and 224x224 otherwise.
    """
    name = str(config) if isinstance(config, (str, os.PathLike)) else \
        'config'
    config = load_model_config(config)
    if input_shape is None:
        input_shape = default_input_shape(config.model)
    in_channels = config.model.get('backbone', {}).get('in_channels', 3)
    return _build_and_measure(lambda: build_model(config), input_shape, name,
                              in_channels=in_channels)


def _millions(count: int) -> float:
    return count / 1e6


def _billions(count: int) -> float:
    return count / 1e9


def paper_figures(report: ComplexityReport) -> Optional[dict]:
    """The paper's figures for the report's model, if it gives any: only
    for RepVGG classifiers measured at the paper's 224x224."""
    if tuple(report.input_shape) != CLASSIFIER_SHAPE:
        return None
    return PAPER_FIGURES.get(report.arch)


def paper_matches(report: ComplexityReport) -> Dict[str, Optional[bool]]:
    """Whether each figure, printed as the paper prints it (params truncated
    to 0.01 M, FLOPs and Wino MULs rounded to 0.1 G), equals the paper's;
    None where the paper gives no figure."""
    paper = paper_figures(report) or {}
    total = report.total
    printed = dict(params=total.params // 10_000 / 100,
                   macs=round(total.macs / 1e8) / 10,
                   wino_muls=round(total.wino_muls / 1e8) / 10)
    return {key: (None if paper.get(key) is None else
                  math.isclose(printed[key], paper[key]))
            for key in printed}


def format_paper_table(reports: List[ComplexityReport]) -> str:
    """Our figures next to the paper's, with the difference (ours - paper)
    and whether they agree at the paper's precision."""
    columns = (('params', 'Params (M)', _millions, 4, 2),
               ('macs', 'FLOPs (G MACs)', _billions, 3, 1),
               ('wino_muls', 'Wino MULs (G)', _billions, 3, 1))
    header = f'{"model":<12}'
    for _, title, _, _, _ in columns:
        header += f' | {title:<14} {"paper":>7} {"diff":>8}'
    lines = [header + ' | match', '-' * (len(header) + 8)]
    for report in reports:
        paper = paper_figures(report) or {}
        matches = paper_matches(report)
        line = f'{report.name:<12}'
        for key, _, scale, ours_digits, paper_digits in columns:
            ours = scale(getattr(report.total, key))
            theirs = paper.get(key)
            if theirs is None:
                line += f' | {ours:<14.{ours_digits}f} {"-":>7} {"-":>8}'
            else:
                line += (f' | {ours:<14.{ours_digits}f} '
                         f'{theirs:>7.{paper_digits}f} '
                         f'{ours - theirs:>+8.{ours_digits}f}')
        known = [m for m in matches.values() if m is not None]
        line += ' | ' + ('-' if not known else 'yes' if all(known) else 'NO')
        lines.append(line)
    lines.append(
        f'{reports[0].input_shape[0]}x{reports[0].input_shape[1]} input, '
        'fused models. Paper (RepVGG Table 4): params truncated to 0.01 M, '
        'FLOPs and Wino MULs rounded to 0.1 G.' if reports else '')
    return '\n'.join(lines)


def format_report(report: ComplexityReport) -> str:
    """Per-part table of one model, with its total."""
    header = (f'{"part":<16} {"Params (M)":>11} {"MACs (G)":>10} '
              f'{"Wino MULs (G)":>14} {"dilated direct":>15}')
    lines = [f'{report.name} at {report.input_shape[0]}x'
             f'{report.input_shape[1]} (fused)', header, '-' * len(header)]

    def row(label, counts):
        return (f'{label:<16} {_millions(counts.params):>11.3f} '
                f'{_billions(counts.macs):>10.3f} '
                f'{_billions(counts.wino_muls):>14.3f} '
                f'{_billions(counts.wino_muls_dilated_direct):>15.3f}')

    for part, counts in report.parts.items():
        label = part + (' *' if part in report.excluded else '')
        lines.append(row(label, counts))
    lines.append(row('total', report.total))
    if report.excluded:
        lines.append('* training only (dropped at inference): not counted '
                     'in the total')
    lines.append('Wino MULs: 3x3 stride-1 convs with Winograd F(2x2,3x3), '
                 'dilated ones included; dilated direct: dilated convs '
                 'counted as direct convs.')
    return '\n'.join(lines)
