"""A whole benchmark: models in modes on one input, checked, timed
interleaved, summarized into a ``repseg.results.BenchmarkReport``."""
import platform
import tempfile
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..equivalence import FP16_TOLERANCE, TOLERANCE
from ..results import BenchmarkReport, ProcessorInfo
from .models import ModelSpec, model_from_arch, model_from_config
from .modes import BenchmarkError, parse_mode
from ..processor import detect_processor
from .profile import profile_row
from .rows import Row, RowBuilder, build_rows
from .summary import find_row, row_names, summarize
from .timing import measure_cuda_memory, peak_rates, time_rows


#: ``benchmark``'s modes: one list for every model, or label -> its list.
ModesArgument = Union[Sequence[str], Mapping[str, Sequence[str]]]


class NoRowBuilt(BenchmarkError):
    """A ``keep_going`` run in which every row failed; ``failures`` maps
    each row name to its reason, as ``BenchmarkReport.failures`` would."""

    def __init__(self, failures: Dict[str, str]):
        self.failures = dict(failures)
        super().__init__('no row could be built: ' + '; '.join(
            f'{name}: {why}' for name, why in failures.items()))


def build_specs(config: Optional[str] = None,
                checkpoint: Optional[str] = None, arch=None,
                baselines: Sequence[str] = ()) -> Tuple[ModelSpec, ...]:
    """The main model (a config's, or the bare backbone of ``arch``), then
    each baseline config's (random weights)."""
    main = (model_from_arch(arch) if arch is not None else
            model_from_config(config, checkpoint))
    return (main, ) + tuple(model_from_config(path) for path in baselines)


def environment(device: str, inputs: torch.Tensor, fp16: bool,
                channels_last: bool, repeat: int, warmup: int,
                processor: Optional[ProcessorInfo] = None) -> dict:
    """What the figures were measured on, for the report (``processor``:
    the CPU's model name, ``detect_processor``'s by default; its
    instruction sets are in ``BenchmarkReport.processor``)."""
    env = dict(device=device, input_shape=list(inputs.shape), fp16=fp16,
               channels_last=channels_last, torch=torch.__version__,
               python=platform.python_version(), repeat=repeat,
               warmup=warmup)
    if device == 'cpu':
        env.update(threads=torch.get_num_threads(),
                   processor=(processor or detect_processor()).model,
                   memory='peak RSS growth in the first call after '
                   'building (resource.getrusage ru_maxrss, mark reset '
                   'before the call)')
    else:
        env.update(gpu=torch.cuda.get_device_name(),
                   memory='torch.cuda.max_memory_allocated growth per call')
    return env


def modes_by_model(specs: Sequence[ModelSpec],
                   modes: ModesArgument) -> List[Tuple[ModelSpec, List[str]]]:
    """Each model with its modes: ``modes`` for all of them, or a dict from
    a model's label to its own list (every model must have one)."""
    if not isinstance(modes, Mapping):
        return [(spec, list(modes)) for spec in specs]
    missing = [s.label for s in specs if s.label not in modes]
    if missing:
        raise BenchmarkError(f'no modes given for model(s) {missing}')
    return [(spec, list(modes[spec.label])) for spec in specs]


def build_all_rows(pairs, builder: RowBuilder, tolerance: float,
                   min_agreement: Optional[float],
                   failures: Optional[Dict[str, str]],
                   resident: Optional[bool] = True) -> List[Row]:
    """``build_rows`` for each (model, modes) pair, ``failures`` and
    ``resident`` as there; every mode of every model is checked before any
    slow work."""
    labels = [spec.label for spec, _ in pairs]
    if len(set(labels)) != len(labels):
        raise BenchmarkError(f'models {labels} appear twice')
    for spec, modes in pairs:
        for mode in modes:
            builder.check_mode(spec,
                               builder.with_global_options(parse_mode(mode)))
    rows = []
    for spec, modes in pairs:
        rows += build_rows([spec], modes, builder, tolerance,
                           min_agreement=min_agreement, failures=failures,
                           resident=resident)
    return rows


def benchmark(specs: Sequence[ModelSpec], modes: ModesArgument,
              shape: Optional[Sequence[int]] = None, batch_size: int = 1,
              device: str = 'cpu', fp16: bool = False,
              channels_last: bool = False, repeat: int = 10,
              warmup: int = 2, tolerance: Optional[float] = None,
              reference: Optional[str] = None,
              on_timing=None,
              profile: Optional[Sequence[str]] = None,
              min_agreement: Optional[float] = None,
              keep_going: bool = False,
              resident: Optional[bool] = None) -> BenchmarkReport:
    """Every model of ``specs`` in every mode of ``modes`` (or, with a dict
    from model label to modes, in its own), on one random input of
    ``shape`` (H, W; the first model's default otherwise).

    Every row is checked against its model's eager fused output (and the
    fused model against the multi-branch one) before anything is timed:
    above ``tolerance`` (default ``TOLERANCE``, ``FP16_TOLERANCE`` in fp16;
    a bf16 or int8 row is held instead to its precision's bound in
    ``repseg.equivalence.BOUNDS``, ``min_agreement`` replacing its argmax
    agreement)
    an ``OutputMismatch`` stops the run. With ``keep_going``, a row that
    cannot be built (an export or engine that cannot take the model) or
    checked is left out instead and recorded in the report's ``failures``
    with its reason; the run stops only if no row is left. The report names
    the processor and the peak rate of each precision, measured before and
    after the timing. A bad mode, row name or model raises
    ``BenchmarkError`` before any slow work. ``on_timing(environment, rows)``
    is called once the rows are built, before they are timed. ``profile``
    names rows (as ``--reference`` does) to profile part by part after the
    timing (``repseg.benchmark.profile``); an empty list profiles the first
    model's fastest row.

    ``resident``: whether every row stays loaded (its model copy or engine
    session) from its check to the end of the timing. None: as long as
    the machine's memory allows (``memory_is_short``); once it does not,
    every row is loaded for each call instead (``time_rows``), which the
    report's environment records (``rows``).
    """
    if tolerance is None:
        tolerance = FP16_TOLERANCE if fp16 else TOLERANCE
    pairs = modes_by_model(specs, modes)
    height, width = shape or specs[0].default_shape
    torch.manual_seed(0)
    inputs = torch.randn(batch_size, specs[0].in_channels, height, width)
    failures = {} if keep_going else None
    # The engines' exported files live as long as the run.
    with tempfile.TemporaryDirectory(prefix='benchmark_') as workdir:
        builder = RowBuilder(inputs, workdir, device, fp16, channels_last)
        # A wrong reference fails now, not after minutes of preparation.
        names = [name for spec, spec_modes in pairs
                 for name in row_names([spec], spec_modes, builder)]
        reference = find_row(names, reference)
        profiled = [find_row(names, text) for text in profile or ()]
        rows = build_all_rows(pairs, builder, tolerance, min_agreement,
                              failures, resident)
        if not rows:
            raise NoRowBuilt(failures)
        built = [row.name for row in rows]
        if reference not in built:  # it failed: the first row that did not
            reference = built[0]
        profiled = [name for name in profiled if name in built]
        processor = detect_processor()
        env = environment(device, inputs, fp16, channels_last, repeat, warmup,
                          processor)
        # One way of timing for every row of a run.
        resident = all(row.run is not None for row in rows)
        for row in rows if not resident else ():
            row.release()
        env['rows'] = ('kept loaded' if resident else
                       'loaded for each call, one at a time in memory')
        if on_timing is not None:
            on_timing(env, rows)
        # The machine's multiply rates, before and after the timing (the
        # better of the two: a busy phase should not flatter the rows).
        before = peak_rates(device)
        time_rows(rows, repeat, warmup, device, resident)
        peaks = {precision: max(rate, before.get(precision, 0.0))
                 for precision, rate in peak_rates(device).items()}
        rate = env['gemm_macs_per_s'] = peaks['fp32']
        if torch.device(device).type == 'cuda':
            for row in rows:
                row.peak_memory = measure_cuda_memory(row, device)
        results = summarize(rows, reference,
                            peak_macs_per_s=None if fp16 else peaks,
                            processor=processor)
        if profile is not None and not profiled:
            first = [r for r in results if r.model == rows[0].model_label]
            profiled = [min(first, key=lambda r: r.median_ms).row]
        profiles = {}
        for name in profiled:
            row = next(r for r in rows if r.name == name)
            spec = next(s for s in specs if s.label == row.model_label)
            profiles[name] = profile_row(
                spec, row.mode.name, builder,
                peaks.get(row.mode.precision, rate))
    return BenchmarkReport(environment=env, reference=reference,
                           tolerance=tolerance, rows=results,
                           profiles=profiles, processor=processor,
                           peak_macs_per_s=peaks, failures=failures or {})
