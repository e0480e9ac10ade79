"""A whole benchmark: models in modes on one input, checked, timed
interleaved, summarized into a ``repseg.results.BenchmarkReport``."""
import platform
import tempfile
from typing import Optional, Sequence, Tuple

import torch

from ..equivalence import FP16_TOLERANCE, TOLERANCE
from ..results import BenchmarkReport
from .models import ModelSpec, model_from_arch, model_from_config
from .profile import profile_row
from .rows import RowBuilder, build_rows
from .summary import find_row, row_names, summarize
from .timing import gemm_rate, measure_cuda_memory, time_rows


def build_specs(config: Optional[str] = None,
                checkpoint: Optional[str] = None, arch=None,
                baselines: Sequence[str] = ()) -> Tuple[ModelSpec, ...]:
    """The main model (a config's, or the bare backbone of ``arch``), then
    each baseline config's (random weights)."""
    main = (model_from_arch(arch) if arch is not None else
            model_from_config(config, checkpoint))
    return (main, ) + tuple(model_from_config(path) for path in baselines)


def environment(device: str, inputs: torch.Tensor, fp16: bool,
                channels_last: bool, repeat: int, warmup: int) -> dict:
    """What the figures were measured on, for the report."""
    env = dict(device=device, input_shape=list(inputs.shape), fp16=fp16,
               channels_last=channels_last, torch=torch.__version__,
               python=platform.python_version(), repeat=repeat,
               warmup=warmup)
    if device == 'cpu':
        env.update(threads=torch.get_num_threads(),
                   processor=platform.processor() or platform.machine(),
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
              profile: Optional[Sequence[str]] = None) -> BenchmarkReport:
    """Every model of ``specs`` in every mode of ``modes``, on one random
    input of ``shape`` (H, W; the first model's default otherwise).

    Every row is checked against its model's eager fused output (and the
    fused model against the multi-branch one) before anything is timed:
    above ``tolerance`` (default ``TOLERANCE``, ``FP16_TOLERANCE`` in fp16)
    an ``OutputMismatch`` stops the run. A bad mode, row name or model raises
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
        rows = build_rows(specs, modes, builder, tolerance)
        env = environment(device, inputs, fp16, channels_last, repeat, warmup)
        if on_timing is not None:
            on_timing(env, rows)
        # The machine's multiply rate, before and after the timing (the
        # better of the two: a busy phase should not flatter the rows).
        rate = gemm_rate(device)
        time_rows(rows, repeat, warmup, device)
        rate = env['gemm_macs_per_s'] = max(rate, gemm_rate(device))
        if torch.device(device).type == 'cuda':
            for row in rows:
                row.peak_memory = measure_cuda_memory(row, device)
        results = summarize(rows, reference, None if fp16 else rate)
        if profile is not None and not profiled:
            profiled = [min((r for r in results if r.model == specs[0].label),
                            key=lambda r: r.median_ms).row]
        profiles = {}
        for name in profiled:
            row = next(r for r in rows if r.name == name)
            spec = next(s for s in specs if s.label == row.model_label)
            profiles[name] = profile_row(spec, row.mode.name, builder, rate)
    return BenchmarkReport(environment=env, reference=reference,
                           tolerance=tolerance, rows=results,
                           profiles=profiles)
