"""Rows: a model in a mode, built, checked against the eager fused model,
ready to time."""
import copy
import dataclasses
import gc
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..analysis import multiplications
from ..backends import BackendNotAvailable, compile_module, trace_and_freeze
from ..engines import no_winograd
from ..equivalence import TOLERANCE, OutputMismatch, relative_difference
from ..equivalence import argmax_agreement, bound_for
from ..models.fusion import to_inference_form
from ..precision import AUTOCAST_DTYPES, autocast
from ..rewrites import apply_rewrites, to_channels_last
from .models import ModelSpec
from .modes import BenchmarkError, Mode, parse_mode
from .summary import failure_reason
from .timing import measured_call, memory_is_short


@dataclass
class Row:
    """One model in one mode, ready to run, and what was measured.

    ``run()`` computes the outputs (a tuple of tensors) from the row's own
    copy of the input (in the row's memory format and precision);
    ``multiplications`` is what one call computes with the row's kernels
    (``row_multiplications``). ``tolerance`` and ``min_agreement`` are
    the bounds the row was checked to (``build_rows``). ``load``, where
    given, makes ``run`` again from the row's exported file or model:
    ``release`` then frees what running holds (a model copy, an engine
    session and its buffers) until ``loaded`` is asked for it.
    """
    model_label: str
    mode: Mode
    run: Optional[Callable[[], Tuple[Tensor, ...]]]
    batch_size: int
    multiplications: Optional[int] = None
    times: List[float] = field(default_factory=list)
    max_rel_diff: Optional[float] = None
    peak_memory: Optional[int] = None
    tolerance: Optional[float] = None
    argmax_agreement: Optional[float] = None
    min_agreement: Optional[float] = None
    load: Optional[Callable[[], Callable[[], Tuple[Tensor, ...]]]] = None

    @property
    def name(self) -> str:
        return f'{self.model_label}:{self.mode.name}'

    def loaded(self) -> Callable[[], Tuple[Tensor, ...]]:
        """``run``, loaded again first if it was released."""
        if self.run is None:
            self.run = self.load()
        return self.run

    def release(self) -> None:
        """Drop ``run`` and what it holds, where ``load`` can make it
        again (a row without ``load`` stays loaded)."""
        if self.load is not None:
            self.run = None


def fused_form(spec: ModelSpec, sample: Tensor) -> nn.Module:
    """The eager fused model: ``spec.model``'s inference form, the data
    flow observed on ``sample``."""
    return to_inference_form(spec.model, sample)[0]


def winograd_tiles_of(mode: Mode) -> Callable[[nn.Conv2d], Optional[int]]:
    """The Winograd tile each eligible conv of a row in ``mode`` runs with:
    repseg's rewrite (``wino2``/``wino4``, dilated convs too), else the
    engine's own choice (``Engine.winograd_tile``: ncnn's on undilated
    convs), none for PyTorch's runtimes (PyTorch asks oneDNN for direct
    convolutions)."""
    for tile in (2, 4):
        if f'wino{tile}' in mode.options:
            return lambda conv, tile=tile: tile
    if mode.engine is not None:
        return mode.engine.winograd_tile
    return no_winograd


def row_multiplications(spec: ModelSpec, model: nn.Module, inputs: Tensor,
                        mode: Mode) -> int:
    """Multiplications of one call of ``model`` (after the row's ``psp`` and
    ``s2b`` rewrites, which change the work) on ``inputs`` under the row's
    Winograd tiles; counted on a copy on the meta device (shapes only)."""
    meta = copy.deepcopy(model).to('meta')
    return multiplications(spec.forward(meta).eval(), inputs.to('meta'),
                           winograd_tiles_of(mode))


class RowBuilder:
    """Turns (model, mode) into runnable rows on one device, one input.

    Args:
        inputs (Tensor): The input every row sees (fp32, on the CPU).
        workdir (str): Where the engines' files are written; the caller
            owns it (``benchmark`` removes it after the run).
        device (str): ``'cpu'`` or ``'cuda'``.
        fp16 (bool): Run in half precision (``.half()``; CUDA only).
        channels_last (bool): Add the ``cl`` option to every mode.
    """

    def __init__(self, inputs: Tensor, workdir: str, device: str = 'cpu',
                 fp16: bool = False, channels_last: bool = False):
        self.inputs = inputs
        self.workdir = workdir
        self.device = torch.device(device)
        self.fp16 = fp16
        self.channels_last = channels_last
        self.exported = set()  # engine files already written in workdir

    def with_global_options(self, mode: Mode) -> Mode:
        if self.channels_last and 'cl' not in mode.options:
            return parse_mode(mode.name + '+cl')
        return mode

    def check_mode(self, spec: ModelSpec, mode: Mode) -> None:
        if mode.form == 'multi-branch' and spec.already_fused:
            raise BenchmarkError(
                f'mode {mode.name!r}: {spec.label} is already fused (backbone '
                'deploy=True); it has no multi-branch form')
        if mode.engine is not None and (self.fp16
                                        or self.device.type != 'cpu'):
            raise BenchmarkError(f'mode {mode.name!r}: the {mode.runtime} '
                                 'runtime is benchmarked on the CPU in fp32 '
                                 'only')
        if self.fp16 and self.device.type != 'cuda':
            raise BenchmarkError('--fp16 needs --device cuda')
        if self.fp16 and mode.precision != 'fp32':
            raise BenchmarkError(f'mode {mode.name!r}: {mode.precision} '
                                 'and --fp16 are two precisions; give one')

    def row_inputs(self, mode: Mode) -> Tensor:
        """The input in the row's memory format, device and precision."""
        inputs = self.inputs
        if 'cl' in mode.options:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        inputs = inputs.to(self.device)
        return inputs.half() if self.fp16 else inputs

    def runnable(self, spec: ModelSpec, model: nn.Module, mode: Mode,
                 inputs: Tensor) -> nn.Module:
        """``model`` (a copy with the row's ``psp``/``s2b`` rewrites) with
        the rest of the mode applied: Winograd, channels-last, the device
        and precision, then PyTorch's runtime; engines take it from here
        (``export``)."""
        apply_rewrites(model, [o for o in mode.options
                               if o in ('wino2', 'wino4')])
        if 'cl' in mode.options:
            model = to_channels_last(model)
        model = model.to(self.device).eval()
        if self.fp16:
            model = model.half()
        module = spec.forward(model).eval()
        if mode.runtime == 'jit':
            module = trace_and_freeze(module, inputs)
        elif mode.runtime == 'compile':
            module = compile_module(module, inputs,
                                    AUTOCAST_DTYPES.get(mode.precision))
        return module

    def build(self, spec: ModelSpec, forms: Dict[str, nn.Module],
              mode: Mode) -> Row:
        """A row for ``spec`` in ``mode``; ``forms`` maps 'multi-branch'
        and 'fused' to the eager models (copied here, never changed).

        An engine's file is exported (and quantized) once, here; the row's
        ``load`` opens it again in the engine. A PyTorch eager row's
        ``load`` copies and rewrites the model again; jit and compile rows
        have none (tracing and compiling again would dominate)."""
        mode = self.with_global_options(mode)
        self.check_mode(spec, mode)
        inputs = self.row_inputs(mode)
        form = forms[mode.form]
        exact = [o for o in mode.options if o in ('psp', 's2b')]

        def rewritten() -> nn.Module:
            model = copy.deepcopy(form)
            apply_rewrites(model, exact)
            return model

        model = rewritten()
        # Counted before Winograd, which changes the modules, not the work
        # the counter assigns them.
        counted = row_multiplications(spec, model, inputs, mode)
        # Engines take the precision when they load the file.
        precision = 'fp32' if mode.engine is not None else mode.precision
        device = self.device

        def runner(module) -> Callable[[], Tuple[Tensor, ...]]:
            def run():
                with torch.inference_mode(), autocast(precision, device):
                    return module(inputs)
            return run

        if mode.engine is not None:
            path = self.export(mode, spec.label,
                               self.runnable(spec, model, mode, inputs),
                               inputs)
            threads = torch.get_num_threads()

            def load():
                return runner(mode.engine.backend(path, threads,
                                                  precision=mode.precision))
            run = load()
        else:
            run = runner(self.runnable(spec, model, mode, inputs))
            load = None
            if mode.runtime == 'eager':
                def load():
                    return runner(self.runnable(spec, rewritten(), mode,
                                                inputs))
        return Row(spec.label, mode, run, inputs.shape[0], counted,
                   load=load)

    def export(self, mode: Mode, label: str, module: nn.Module,
               inputs: Tensor) -> str:
        """``module`` exported for ``inputs``' shape into the mode's
        engine's file (quantized, for an int8 mode); its path. The fp32
        file is exported once per model and mode: the engine's bf16 and
        int8 rows take it as their fp32 rows do."""
        engine = mode.engine
        fp32_mode = dataclasses.replace(mode, precision='fp32')
        stem = f'{label}_{fp32_mode.name}'.replace('+', '_')
        path = osp.join(self.workdir, stem + engine.suffix)
        if path not in self.exported:
            engine.module_exporter(module, inputs, path)
            self.exported.add(path)
        if mode.precision == 'int8':
            fp32_path, path = path, osp.join(self.workdir,
                                             stem + engine.int8_suffix)
            engine.quantizer(fp32_path, path,
                             [inputs.detach().float().cpu().numpy()])
        return path


def build_rows(specs: Sequence[ModelSpec], modes: Sequence[str],
               builder: RowBuilder, tolerance: float = TOLERANCE,
               min_agreement: Optional[float] = None,
               failures: Optional[Dict[str, str]] = None,
               resident: Optional[bool] = True) -> List[Row]:
    """Every model in every mode, each row checked against the model's
    eager fused output (``OutputMismatch`` above ``tolerance``; a bf16 or
    int8 row beyond its precision's bound, ``check_row``). The fused model
    is also checked against the multi-branch one, which catches a wrong
    fold. Models are prepared one at a time to bound memory. With
    ``failures`` (a dict), a row that cannot be built or checked is
    recorded there (row name -> its reason, ``failure_reason``) and left
    out, and the run goes on; a bad mode still stops it first.
    ``resident``: True keeps every row loaded; False releases each once
    checked (``Row.release``); None releases it only when the machine's
    memory runs short (``memory_is_short``)."""
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
        row_names = [f'{spec.label}:{builder.with_global_options(m).name}'
                     for m in parsed]
        try:
            forms, reference = checked_forms(spec, builder, sample,
                                             tolerance)
        except Exception as err:  # the model itself: all its rows fail
            if failures is None:
                raise
            failures.update(dict.fromkeys(row_names, failure_reason(err)))
            continue
        for mode, name in zip(parsed, row_names):
            try:
                row = checked_row(spec, forms, mode, builder, reference,
                                  tolerance, min_agreement)
            except Exception as err:  # exporters and engines raise many kinds
                if failures is None:
                    raise
                failures[name] = failure_reason(err)
                continue
            rows.append(row)
            if resident is False or (resident is None and memory_is_short()):
                row.release()
                gc.collect()
    return rows


def checked_forms(spec: ModelSpec, builder: RowBuilder, sample: Tensor,
                  tolerance: float):
    """The eager forms of ``spec`` ('fused', and 'multi-branch' unless
    already fused) and the fused form's outputs, the reference of every
    row; ``OutputMismatch`` where the two forms differ."""
    forms = dict(fused=fused_form(spec, sample))
    reference = eager_reference(spec, forms['fused'], builder)
    if not spec.already_fused:
        forms['multi-branch'] = spec.model
        multi_branch = eager_reference(spec, spec.model, builder)
        diff = relative_difference(reference, multi_branch)
        if diff > tolerance and not fp32_rounding_explains(
                spec, builder.inputs, sample, multi_branch, diff, tolerance):
            raise OutputMismatch(
                f'{spec.label}: the fused model differs from the '
                f'multi-branch one by {diff:.3e} (> {tolerance:g})')
    return forms, reference


def fp32_rounding_explains(spec: ModelSpec, inputs: Tensor, sample: Tensor,
                           multi_branch: Tuple[Tensor, ...], diff: float,
                           tolerance: float) -> bool:
    """Whether a fused model ``diff`` away from the multi-branch one is
    fp32 rounding, not a wrong fold: in float64 the fold is within
    ``tolerance``, while the multi-branch model's own fp32 outputs
    (``multi_branch``) are further than ``tolerance`` from its float64 ones
    and the fused model at most ``FP32_ROUNDING_FACTOR`` times that (deep
    random-weight networks at large inputs round so)."""
    model = copy.deepcopy(spec.model).double().cpu().eval()
    fused = to_inference_form(model, sample.double().cpu())[0]
    with torch.inference_mode():
        exact = spec.forward(model)(inputs.double().cpu())
        fused_exact = spec.forward(fused)(inputs.double().cpu())
    fold = relative_difference(fused_exact, exact)
    rounding = relative_difference(multi_branch, exact)
    return (fold <= tolerance < rounding
            and diff <= FP32_ROUNDING_FACTOR * rounding)


#: How much further than the multi-branch model's own fp32 rounding the
#: fused model may be (its weights are rounded products, its sums in
#: another order).
FP32_ROUNDING_FACTOR = 4.0


def checked_row(spec: ModelSpec, forms: Dict[str, nn.Module], mode: Mode,
                builder: RowBuilder, reference: Tuple[Tensor, ...],
                tolerance: float, min_agreement: Optional[float]) -> Row:
    """One row built, called once and checked (``check_row``)."""
    try:
        row = builder.build(spec, forms, mode)
        outputs, row.peak_memory = measured_call(row, builder.device)
    except BackendNotAvailable as err:
        raise BenchmarkError(
            f'{spec.label}:{mode.name}: {err}') from err
    except RuntimeError as err:  # a runtime that cannot take it
        message = str(err).strip().splitlines() or ['']
        raise BenchmarkError(
            f'{spec.label}:{mode.name}: this mode fails on this model'
            f' ({type(err).__name__}: {message[-1]})') from err
    check_row(row, outputs, reference, tolerance, min_agreement)
    return row


def check_row(row: Row, outputs: Tuple[Tensor, ...],
              reference: Tuple[Tensor, ...], tolerance: float,
              min_agreement: Optional[float] = None) -> None:
    """Record the row's difference from the eager fused fp32 ``reference``
    (and, in a reduced precision, its argmax agreement) with the bounds of
    its precision (``tolerance`` in fp32; ``bound_for`` in bf16 and int8,
    ``min_agreement`` replacing the default agreement); ``OutputMismatch``
    beyond them."""
    row.max_rel_diff = relative_difference(outputs, reference)
    if row.mode.precision == 'fp32':
        row.tolerance = tolerance
    else:
        bound = bound_for(row.mode.precision, min_agreement)
        row.tolerance, row.min_agreement = bound.tolerance, bound.min_agreement
        row.argmax_agreement = argmax_agreement(outputs, reference)
        if row.argmax_agreement < row.min_agreement:
            raise OutputMismatch(
                f'row {row.name}: picks the eager fused fp32 model\'s class '
                f'at {row.argmax_agreement:.4f} of the output positions '
                f'(< {row.min_agreement:g}); refused')
    if row.max_rel_diff > row.tolerance:
        raise OutputMismatch(
            f'row {row.name}: output differs from the eager fused '
            f'model by {row.max_rel_diff:.3e} (> {row.tolerance:g}); '
            'refused')


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
