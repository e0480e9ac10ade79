"""Side-by-side inference benchmark of the forms and runtimes of models.

A *row* is one model (a config, a RepVGG arch) in one *mode*. A mode is
``FORM[+OPTION...]``:

* FORM: ``unfused`` (the multi-branch model as built) or ``fused``
  (``repseg.deploy.deploy_model``, plus ``fold_conv_bn_pairs`` for conv+BN
  pairs that are not ConvModules, e.g. mmseg's ResNet).
* options: exact rewrites ``psp`` (PSP head factorized,
  ``repseg.inference.FactorizedPSPHead``), ``wino2`` / ``wino4`` (every 3x3
  stride-1 conv computed with Winograd F(2x2, 3x3) / F(4x4, 3x3),
  ``WinogradConv2d``), ``cl``
  (channels-last memory format), and at most one runtime: ``jit``
  (TorchScript, frozen, optimized for inference),
  ``compile`` (``torch.compile``, inductor with weight freezing) or
  ``onnx`` (ONNX Runtime, all graph optimizations; CPU, fp32).

Aliases: ``jit``, ``compile``, ``onnx`` mean ``fused+jit`` etc., and
``fast`` means ``FAST_MODE``, the fastest CPU path measured on this project's
segmentors at 512x1024 (README, Speed; for 224x224 classifier inputs
``onnx`` measured faster). All rows see the same input; they are timed
interleaved (at each repeat every row runs once, starting from a rotating
position) so that machine noise hits every row alike. Before timing, every row's output is
compared with the model's eager fused output, and a row that differs by more
than the tolerance (largest |difference| / largest |output|) is refused.
"""
import copy
import ctypes
import gc
import os.path as osp
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .deploy import (TOLERANCE, OutputMismatch, deploy_model,
                     relative_difference)
from .engine.config import (CLASSIFIER_SHAPE, default_input_shape,
                            read_config)
from .inference import (OnnxRuntimeModule, TensorForward, export_onnx,
                        factorize_psp_heads,
                        fold_conv_bn_pairs, to_channels_last,
                        trace_and_freeze, use_winograd)

FP16_TOLERANCE = 1e-2  # TOLERANCE in half precision (fp16 has ~3 digits)

FORMS = ('unfused', 'fused')
REWRITES = ('psp', 'wino2', 'wino4', 'cl')
RUNTIMES = ('jit', 'compile', 'onnx')
OPTIONS = REWRITES + RUNTIMES
FAST_MODE = 'fused+psp+wino4+compile'
ALIASES = {'jit': 'fused+jit', 'compile': 'fused+compile',
           'onnx': 'fused+onnx', 'fast': FAST_MODE}


class BenchmarkError(ValueError):
    """Bad input to the benchmark (a mode, a model, a row name)."""


# --------------------------------------------------------------- modes


@dataclass(frozen=True)
class Mode:
    """A parsed mode: the model form, layout options and runtime."""
    form: str
    options: Tuple[str, ...] = ()
    runtime: str = 'eager'

    @property
    def name(self) -> str:
        extras = [o for o in REWRITES if o in self.options]
        if self.runtime != 'eager':
            extras.append(self.runtime)
        return '+'.join([self.form] + extras)


def parse_mode(text: str) -> Mode:
    """``'fused+cl+jit'`` -> ``Mode('fused', ('cl', ), 'jit')``; aliases
    (``jit``, ``onnx``, ``fast`` ...) are expanded first."""
    parts = ALIASES.get(text, text).split('+')
    form, options = parts[0], parts[1:]
    if form not in FORMS:
        raise BenchmarkError(
            f'mode {text!r}: starts with {form!r}, not one of {FORMS} (or an '
            f'alias: {sorted(ALIASES)})')
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise BenchmarkError(f'mode {text!r}: unknown option(s) {unknown}; '
                             f'options are {OPTIONS}')
    if len(set(options)) != len(options):
        raise BenchmarkError(f'mode {text!r}: an option is repeated')
    if {'wino2', 'wino4'} <= set(options):
        raise BenchmarkError(f'mode {text!r}: wino2 or wino4, not both')
    runtimes = [o for o in options if o in RUNTIMES]
    if len(runtimes) > 1:
        raise BenchmarkError(f'mode {text!r}: at most one runtime of '
                             f'{RUNTIMES}, got {runtimes}')
    return Mode(form, tuple(o for o in REWRITES if o in options),
                runtimes[0] if runtimes else 'eager')


# --------------------------------------------------------------- models


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
            (``deploy=True``): there is no unfused form.
    """
    label: str
    model: nn.Module
    kind: str
    default_shape: Tuple[int, int]
    in_channels: int = 3
    already_fused: bool = False

    def forward(self, model: nn.Module) -> TensorForward:
        return TensorForward(model, bare_backbone=self.kind == 'backbone')


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
    """Build ``cfg.model`` of a segmentor or classifier config, CPU-ready
    (SyncBN turned into BN), no pretrained weights downloaded; load
    ``checkpoint`` strictly, or randomize the BN statistics without one."""
    from mmengine.utils import import_modules_from_strings
    from mmseg.registry import MODELS
    try:
        cfg = read_config(path)
    except ValueError as err:
        raise BenchmarkError(str(err)) from err
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    if 'model' not in cfg or 'backbone' not in cfg.model:
        raise BenchmarkError(f'config {path!r} has no model with a backbone')
    cfg.model.backbone.pop('init_cfg', None)
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    torch.manual_seed(seed)
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).eval()
    if checkpoint is not None:
        from .models.backbones import DeployFormMismatch
        if not osp.isfile(checkpoint):
            raise BenchmarkError(f'checkpoint {checkpoint!r} does not exist')
        try:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True, logger='silent')
        except (DeployFormMismatch, RuntimeError, KeyError) as err:
            raise BenchmarkError(f'checkpoint {checkpoint!r} does not fit '
                                 f'config {path!r}: {err}') from err
    else:
        randomize_bn_statistics(model, seed)
    is_classifier = 'Classifier' in cfg.model.type
    return ModelSpec(
        label=_config_label(path),
        model=model,
        kind='classifier' if is_classifier else 'segmentor',
        default_shape=default_input_shape(cfg.model),
        in_channels=cfg.model.backbone.get('in_channels', 3),
        already_fused=bool(cfg.model.backbone.get('deploy', False)))


def model_from_arch(arch, seed: int = 0) -> ModelSpec:
    """A bare ``RepVGG(arch)`` backbone (all four stage outputs), random
    weights and BN statistics; ``arch`` a name or an arch dict."""
    from .models.backbones import RepVGG
    if isinstance(arch, str) and arch not in RepVGG.arch_settings:
        raise BenchmarkError(f'arch {arch!r} is not a RepVGG variant; choose '
                             f'from {sorted(RepVGG.arch_settings)}')
    torch.manual_seed(seed)
    model = randomize_bn_statistics(RepVGG(arch).eval(), seed)
    label = f'RepVGG-{arch}' if isinstance(arch, str) else 'RepVGG-custom'
    return ModelSpec(label, model, 'backbone', CLASSIFIER_SHAPE)


# ---------------------------------------------------------------- rows


@dataclass
class Row:
    """One model in one mode, ready to run, and what was measured.

    ``run()`` computes the outputs (a tuple of tensors) from the row's own
    copy of the input (in the row's memory format and precision).
    """
    model_label: str
    mode: Mode
    run: Callable[[], Tuple[Tensor, ...]]
    batch_size: int
    times: List[float] = field(default_factory=list)
    max_rel_diff: Optional[float] = None
    peak_memory: Optional[int] = None

    @property
    def name(self) -> str:
        return f'{self.model_label}:{self.mode.name}'


def fused_form(spec: ModelSpec, sample: Tensor) -> nn.Module:
    """The eager fused model: RepVGG blocks fused, heads' conv+BN
    ConvModules folded (``deploy_model``), then any conv+BN pair left
    (non-ConvModule layers, e.g. ResNet's) folded too."""
    fused, _ = deploy_model(spec.model)
    forward = spec.forward(fused)
    fold_conv_bn_pairs(fused, lambda model: forward(sample))
    return fused.eval()


class RowBuilder:
    """Turns (model, mode) into runnable rows on one device, one input.

    Args:
        inputs (Tensor): The input every row sees (fp32, on the CPU).
        device (str): ``'cpu'`` or ``'cuda'``.
        fp16 (bool): Run in half precision (``.half()``; CUDA only).
        channels_last (bool): Add the ``cl`` option to every mode.
        workdir (str): Where ONNX files are written.
    """

    def __init__(self, inputs: Tensor, device: str = 'cpu',
                 fp16: bool = False, channels_last: bool = False,
                 workdir: Optional[str] = None):
        self.inputs = inputs
        self.device = torch.device(device)
        self.fp16 = fp16
        self.channels_last = channels_last
        self.workdir = workdir or tempfile.mkdtemp(prefix='benchmark_')

    def with_global_options(self, mode: Mode) -> Mode:
        if self.channels_last and 'cl' not in mode.options:
            return parse_mode(mode.name + '+cl')
        return mode

    def check_mode(self, spec: ModelSpec, mode: Mode) -> None:
        if mode.form == 'unfused' and spec.already_fused:
            raise BenchmarkError(
                f'mode {mode.name!r}: {spec.label} is already fused (backbone '
                'deploy=True); it has no unfused form')
        if mode.runtime == 'onnx' and (self.fp16 or self.device.type != 'cpu'):
            raise BenchmarkError(f'mode {mode.name!r}: the onnx runtime is '
                                 'benchmarked on the CPU in fp32 only')
        if self.fp16 and self.device.type != 'cuda':
            raise BenchmarkError('--fp16 needs --device cuda')

    def build(self, spec: ModelSpec, forms: Dict[str, nn.Module],
              mode: Mode) -> Row:
        """A row for ``spec`` in ``mode``; ``forms`` maps 'unfused' and
        'fused' to the eager models (copied here, never changed)."""
        mode = self.with_global_options(mode)
        self.check_mode(spec, mode)
        model = copy.deepcopy(forms[mode.form])
        inputs = self.inputs
        if 'psp' in mode.options:
            factorize_psp_heads(model)
        for tile in (2, 4):
            if f'wino{tile}' in mode.options:
                use_winograd(model, tile)
        if 'cl' in mode.options:
            model = to_channels_last(model)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        model = model.to(self.device).eval()
        inputs = inputs.to(self.device)
        if self.fp16:
            model, inputs = model.half(), inputs.half()
        module = spec.forward(model).eval()
        if mode.runtime == 'jit':
            module = trace_and_freeze(module, inputs)
        elif mode.runtime == 'compile':
            module = compile_module(module, inputs)
        elif mode.runtime == 'onnx':
            path = osp.join(self.workdir,
                            f'{spec.label}_{mode.name}.onnx'.replace('+', '_'))
            export_onnx(module, inputs, path)
            module = OnnxRuntimeModule(path, torch.get_num_threads())
        batch_size = inputs.shape[0]

        def run():
            with torch.inference_mode():
                return module(inputs)

        return Row(spec.label, mode, run, batch_size)


def compile_module(module: nn.Module, inputs: Tensor) -> Callable:
    """``torch.compile`` (inductor) with weight freezing, compiled now:
    freezing lets inductor prepack the conv weights for oneDNN and fuse
    conv with bias and ReLU, as TorchScript freezing does."""
    import torch._inductor.config as inductor_config
    compiled = torch.compile(module, dynamic=False)
    with inductor_config.patch(freezing=True), torch.inference_mode():
        compiled(inputs)  # compiles for this input's shape
    return compiled


def build_rows(specs: Sequence[ModelSpec], modes: Sequence[str],
               builder: RowBuilder,
               tolerance: float = TOLERANCE) -> List[Row]:
    """Every model in every mode, each row checked against the model's
    eager fused output (``OutputMismatch`` above ``tolerance``). The fused
    model is also checked against the unfused one, which catches a wrong
    fold. Models are prepared one at a time to bound memory."""
    parsed = [parse_mode(m) for m in modes]
    names = [p.name for p in parsed]
    if len(set(names)) != len(names):
        raise BenchmarkError(f'modes {list(modes)} name a mode twice')
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise BenchmarkError(f'models {labels} appear twice')
    rows = []
    # Pairs are found on a small input: the same layers run at any size.
    sample = builder.inputs[:1, :, :128, :128]
    for spec in specs:
        for mode in parsed:  # every error before any slow work
            builder.check_mode(spec, builder.with_global_options(mode))
        forms = dict(fused=fused_form(spec, sample))
        reference = eager_reference(spec, forms['fused'], builder)
        if not spec.already_fused:
            forms['unfused'] = spec.model
            unfused = eager_reference(spec, spec.model, builder)
            diff = relative_difference(reference, unfused)
            if diff > tolerance:
                raise OutputMismatch(
                    f'{spec.label}: the fused model differs from the '
                    f'unfused one by {diff:.3e} (> {tolerance:g})')
        for mode in parsed:
            try:
                row = builder.build(spec, forms, mode)
                outputs, row.peak_memory = measured_call(row, builder.device)
            except RuntimeError as err:  # a runtime that cannot take it
                message = str(err).strip().splitlines() or ['']
                raise BenchmarkError(
                    f'{spec.label}:{mode.name}: this mode fails on this model'
                    f' ({type(err).__name__}: {message[-1]})') from err
            row.max_rel_diff = relative_difference(outputs, reference)
            if row.max_rel_diff > tolerance:
                raise OutputMismatch(
                    f'row {row.name}: output differs from the eager fused '
                    f'model by {row.max_rel_diff:.3e} (> {tolerance:g}); '
                    'refused')
            rows.append(row)
    return rows


def eager_reference(spec: ModelSpec, model: nn.Module,
                    builder: RowBuilder) -> Tuple[Tensor, ...]:
    """Outputs of ``model`` in plain eager mode, builder's device/precision."""
    model = copy.deepcopy(model).to(builder.device)
    inputs = builder.inputs.to(builder.device)
    if builder.fp16:
        model, inputs = model.half(), inputs.half()
    with torch.inference_mode():
        outputs = spec.forward(model)(inputs)
    return tuple(o.float().cpu() for o in outputs)


# -------------------------------------------------------------- timing


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_rows(rows: Sequence[Row], repeat: int, warmup: int,
              device: str = 'cpu') -> None:
    """Time every row ``repeat`` times, interleaved: repeat ``r`` runs all
    rows once, starting at row ``r mod len(rows)``, so that slow phases of a
    shared machine fall on every row alike. ``warmup`` untimed rounds first
    (same interleaving). Latencies (s) go to ``row.times``."""
    device = torch.device(device)
    count = len(rows)
    for round_index in range(warmup + repeat):
        start = round_index % count
        for row in list(rows[start:]) + list(rows[:start]):
            _synchronize(device)
            began = time.perf_counter()
            row.run()
            _synchronize(device)
            if round_index >= warmup:
                row.times.append(time.perf_counter() - began)


def _current_rss() -> int:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``ru_maxrss``) to the current RSS,
    first returning freed heap pages to the system; False where this is not
    possible (not Linux >= 4.0)."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
        return True
    except OSError:
        return False


def measured_call(row: Row,
                  device) -> Tuple[Tuple[Tensor, ...], Optional[int]]:
    """Call ``row`` once; its outputs and the peak memory of the call above
    what was in use before it (bytes; None where it cannot be measured).

    CPU: growth of the process's peak resident set size (``ru_maxrss`` of
    ``resource.getrusage``, its mark reset just before the call). RSS sees
    every allocator alike (torch, oneDNN, ONNX Runtime), but runtimes keep
    memory between calls (ONNX Runtime's arena), so this is measured on the
    row's first call after it is built. CUDA: ``max_memory_allocated``
    growth, exact per call (``measure_cuda_memory``, after the timing).
    """
    device = torch.device(device)
    if device.type == 'cuda' or not _reset_peak_rss():
        return row.run(), None
    before = _current_rss()
    outputs = row.run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return outputs, max(0, peak - before)


def measure_cuda_memory(row: Row, device='cuda') -> int:
    """Peak CUDA memory of one call of ``row`` above what was allocated
    before it (``torch.cuda.max_memory_allocated``), in bytes."""
    device = torch.device(device)
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    row.run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


# ------------------------------------------------------------- results


def row_names(specs: Sequence[ModelSpec], modes: Sequence[str],
              builder: RowBuilder) -> List[str]:
    """The names ``build_rows`` will give its rows, known before any work."""
    return [f'{spec.label}:{builder.with_global_options(parse_mode(m)).name}'
            for spec in specs for m in modes]


def find_row(names: Sequence[str], text: Optional[str]) -> str:
    """The row name ``text`` stands for: ``LABEL:MODE``, or ``MODE`` alone
    when one row has that mode (modes are matched after alias expansion);
    the first row for None."""
    if text is None:
        return names[0]
    label, _, mode = text.rpartition(':')
    try:
        mode = parse_mode(mode).name
    except BenchmarkError:
        mode = None
    matches = [n for n in names if n.rpartition(':')[2] == mode
               and (not label or n.rpartition(':')[0] == label)]
    if len(matches) != 1:
        raise BenchmarkError(f'--reference {text!r} names {len(matches)} '
                             f'rows; one of {list(names)} is needed')
    return matches[0]


def summarize(rows: Sequence[Row], reference: str) -> List[dict]:
    """Per row: latency median, quartiles, min and max (ms), images/s,
    peak memory (MiB), output difference and speed-up over the row named
    ``reference``."""
    ref_median = statistics.median(
        next(r for r in rows if r.name == reference).times)
    results = []
    for row in rows:
        times = sorted(row.times)
        median = statistics.median(times)
        if len(times) >= 2:
            q1, _, q3 = statistics.quantiles(times, n=4, method='inclusive')
        else:
            q1 = q3 = median
        results.append(
            dict(row=row.name, model=row.model_label, mode=row.mode.name,
                 batch_size=row.batch_size, repeats=len(times),
                 median_ms=1e3 * median, q1_ms=1e3 * q1, q3_ms=1e3 * q3,
                 min_ms=1e3 * times[0], max_ms=1e3 * times[-1],
                 images_per_s=row.batch_size / median,
                 peak_memory_mib=(None if row.peak_memory is None else
                                  row.peak_memory / 2**20),
                 max_rel_diff=row.max_rel_diff,
                 speedup=ref_median / median,
                 latencies_ms=[1e3 * t for t in row.times]))
    return results


def format_table(results: Sequence[dict], reference: str) -> str:
    """The results as a text table, one line per row."""
    width = max(len('row'), *(len(r['row']) for r in results))
    header = (f'{"row":<{width}} {"median ms":>10} {"IQR ms":>17} '
              f'{"min ms":>9} {"img/s":>8} {"peak MiB":>9} {"rel diff":>9} '
              f'{"speed-up":>8}')
    lines = [header, '-' * len(header)]
    for r in results:
        memory = ('n/a' if r['peak_memory_mib'] is None else
                  f'{r["peak_memory_mib"]:.0f}')
        iqr = f'{r["q1_ms"]:.1f}-{r["q3_ms"]:.1f}'
        lines.append(
            f'{r["row"]:<{width}} {r["median_ms"]:>10.1f} {iqr:>17} '
            f'{r["min_ms"]:>9.1f} {r["images_per_s"]:>8.2f} {memory:>9} '
            f'{r["max_rel_diff"]:>9.1e} {r["speedup"]:>7.2f}x')
    lines.append(f'speed-up: median latency of {reference} / median latency'
                 ' of the row; rel diff: largest |output - eager fused '
                 'output| / largest |eager fused output|')
    return '\n'.join(lines)
