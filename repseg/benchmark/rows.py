"""Rows: a model in a mode, built, checked against the eager fused model,
ready to time."""
import copy
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
from .timing import measured_call


@dataclass
class Row:
    """One model in one mode, ready to run, and what was measured.

    ``run()`` computes the outputs (a tuple of tensors) from the row's own
    copy of the input (in the row's memory format and precision);
    ``multiplications`` is what one call computes with the row's kernels
    (``row_multiplications``). ``tolerance`` and ``min_agreement`` are
    the bounds the row was checked to (``build_rows``).
    """
    model_label: str
    mode: Mode
    run: Callable[[], Tuple[Tensor, ...]]
    batch_size: int
    multiplications: Optional[int] = None
    times: List[float] = field(default_factory=list)
    max_rel_diff: Optional[float] = None
    peak_memory: Optional[int] = None
    tolerance: Optional[float] = None
    argmax_agreement: Optional[float] = None
    min_agreement: Optional[float] = None

    @property
    def name(self) -> str:
        return f'{self.model_label}:{self.mode.name}'


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

    def build(self, spec: ModelSpec, forms: Dict[str, nn.Module],
              mode: Mode) -> Row:
        """A row for ``spec`` in ``mode``; ``forms`` maps 'multi-branch'
        and 'fused' to the eager models (copied here, never changed)."""
        mode = self.with_global_options(mode)
        self.check_mode(spec, mode)
        model = copy.deepcopy(forms[mode.form])
        inputs = self.inputs
        # Counted before Winograd, which changes the modules, not the work
        # the counter assigns them.
        apply_rewrites(model, [o for o in mode.options if o in ('psp', 's2b')])
        counted = row_multiplications(spec, model, inputs, mode)
        apply_rewrites(model, [o for o in mode.options
                               if o in ('wino2', 'wino4')])
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
            module = compile_module(module, inputs,
                                    AUTOCAST_DTYPES.get(mode.precision))
        elif mode.engine is not None:
            module = self.engine(mode, spec.label, module, inputs)
        batch_size = inputs.shape[0]
        # Engines take the precision when they load the file.
        precision = 'fp32' if mode.engine is not None else mode.precision
        device = self.device

        def run():
            with torch.inference_mode(), autocast(precision, device):
                return module(inputs)

        return Row(spec.label, mode, run, batch_size, counted)

    def engine(self, mode: Mode, label: str, module: nn.Module,
               inputs: Tensor):
        """``module`` exported for ``inputs``' shape and loaded into the
        mode's engine, with torch's thread count."""
        engine = mode.engine
        stem = f'{label}_{mode.name}'.replace('+', '_')
        path = osp.join(self.workdir, stem + engine.suffix)
        engine.module_exporter(module, inputs, path)
        if mode.precision == 'int8':
            fp32_path, path = path, osp.join(self.workdir,
                                             stem + engine.int8_suffix)
            engine.quantizer(fp32_path, path,
                             [inputs.detach().float().cpu().numpy()])
        return engine.backend(path, torch.get_num_threads(),
                              precision=mode.precision)


def build_rows(specs: Sequence[ModelSpec], modes: Sequence[str],
               builder: RowBuilder, tolerance: float = TOLERANCE,
               min_agreement: Optional[float] = None,
               failures: Optional[Dict[str, str]] = None) -> List[Row]:
    """Every model in every mode, each row checked against the model's
    eager fused output (``OutputMismatch`` above ``tolerance``; a bf16 or
    int8 row beyond its precision's bound, ``check_row``). The fused model is also checked against the
    multi-branch one, which catches a wrong fold. Models are prepared one
    at a time to bound memory. With ``failures`` (a dict), a row that
    cannot be built or checked is recorded there (row name -> its reason,
    ``failure_reason``) and left out, and the run goes on; a bad mode
    still stops it first."""
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
                rows.append(checked_row(spec, forms, mode, builder,
                                        reference, tolerance,
                                        min_agreement))
            except Exception as err:  # exporters and engines raise many kinds
                if failures is None:
                    raise
                failures[name] = failure_reason(err)
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
        if diff > tolerance:
            raise OutputMismatch(
                f'{spec.label}: the fused model differs from the '
                f'multi-branch one by {diff:.3e} (> {tolerance:g})')
    return forms, reference


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
