"""A whole benchmark: models in modes on one input, checked, timed
interleaved, summarized into a ``repseg.results.BenchmarkReport``."""
import platform
import tempfile
from typing import Optional, Sequence, Tuple

import torch

from ..equivalence import FP16_TOLERANCE, TOLERANCE
from .precision import BF16_MIN_AGREEMENT
from ..results import BenchmarkReport, ProcessorInfo
from .models import ModelSpec, model_from_arch, model_from_config
from .processor import detect_processor
from .profile import profile_row
from .rows import RowBuilder, build_rows
from .summary import find_row, row_names, summarize
from .timing import measure_cuda_memory, peak_rates, time_rows


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


def benchmark(specs: Sequence[ModelSpec], modes: Sequence[str],
              shape: Optional[Sequence[int]] = None, batch_size: int = 1,
              device: str = 'cpu', fp16: bool = False,
              channels_last: bool = False, repeat: int = 10,
              warmup: int = 2, tolerance: Optional[float] = None,
              reference: Optional[str] = None,
              on_timing=None,
              profile: Optional[Sequence[str]] = None,
              min_agreement: float = BF16_MIN_AGREEMENT) -> BenchmarkReport:
    """Every model of ``specs`` in every mode of ``modes``, on one random
    input of ``shape`` (H, W; the first model's default otherwise).

    Every row is checked against its model's eager fused output (and the
    fused model against the multi-branch one) before anything is timed:
    above ``tolerance`` (default ``TOLERANCE``, ``FP16_TOLERANCE`` in fp16;
    a bf16 row is held instead to ``repseg.benchmark.precision``'s bounds,
    an argmax agreement of ``min_agreement``)
    an ``OutputMismatch`` stops the run. The report names the processor and
    the peak rate of each precision, measured before and after the timing. A bad mode, row name or model raises
    ``BenchmarkError`` before any slow work. ``on_timing(environment, rows)``
    is called once the rows are built, before they are timed. ``profile``
    names rows (as ``--reference`` does) to profile part by part after the
    timing (``repseg.benchmark.profile``); an empty list profiles the first
    model's fastest row.
    """
    if tolerance is None:
        tolerance = FP16_TOLERANCE if fp16 else TOLERANCE
    height, width = shape or specs[0].default_shape
    torch.manual_seed(0)
    inputs = torch.randn(batch_size, specs[0].in_channels, height, width)
    # The engines' exported files live as long as the run.
    with tempfile.TemporaryDirectory(prefix='benchmark_') as workdir:
        builder = RowBuilder(inputs, workdir, device, fp16, channels_last)
        # A wrong reference fails now, not after minutes of preparation.
        names = row_names(specs, modes, builder)
        reference = find_row(names, reference)
        profiled = [find_row(names, text) for text in profile or ()]
        rows = build_rows(specs, modes, builder, tolerance,
                          min_agreement=min_agreement)
        processor = detect_processor()
        env = environment(device, inputs, fp16, channels_last, repeat, warmup,
                          processor)
        if on_timing is not None:
            on_timing(env, rows)
        # The machine's multiply rates, before and after the timing (the
        # better of the two: a busy phase should not flatter the rows).
        before = peak_rates(device)
        time_rows(rows, repeat, warmup, device)
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
            profiled = [min((r for r in results if r.model == specs[0].label),
                            key=lambda r: r.median_ms).row]
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
                           peak_macs_per_s=peaks)
