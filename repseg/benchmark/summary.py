"""Benchmark results: row names, the reference row, the summary
(``repseg.results.BenchmarkRow``) and its text table."""
from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from ..results import BenchmarkRow, ProcessorInfo
from .modes import BenchmarkError, parse_mode
from ..processor import describe, has_native_units

if TYPE_CHECKING:
    from .models import ModelSpec
    from .rows import Row, RowBuilder


def row_names(specs: Sequence[ModelSpec], modes: Sequence[str],
              builder: RowBuilder) -> List[str]:
    """The names ``build_rows`` will give its rows, known before any work."""
    return [f'{spec.label}:{builder.with_global_options(parse_mode(m)).name}'
            for spec in specs for m in modes]


def failure_reason(err: BaseException) -> str:
    """Why a row could not be built, on one line: the exception's type and
    the first line of its message; for the benchmark's own wrapper of an
    engine's error, that error's."""
    if isinstance(err, BenchmarkError) and err.__cause__ is not None:
        err = err.__cause__
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return f'{type(err).__name__}: {lines[0].strip() if lines else ""}'


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


def summarize(rows: Sequence[Row], reference: str,
              gemm_macs_per_s: Optional[float] = None,
              peak_macs_per_s: Optional[Dict[str, float]] = None,
              processor: Optional[ProcessorInfo] = None
              ) -> List[BenchmarkRow]:
    """Per row: latency median, quartiles, min and max (ms), images/s,
    peak memory (MiB), output difference (and its bounds), speed-up over
    the row named ``reference``, and the rate of its multiplications
    against the peak rate of the row's precision, ``peak_macs_per_s``
    (``timing.peak_rates``; ``gemm_macs_per_s`` for fp32 if given alone),
    where known; with ``processor``, whether it has units for the row's
    precision."""
    peaks = dict(peak_macs_per_s or {})
    if gemm_macs_per_s:
        peaks.setdefault('fp32', gemm_macs_per_s)
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
        fraction = None
        peak = peaks.get(row.mode.precision)
        if peak and row.multiplications is not None:
            fraction = row.multiplications / median / peak
        results.append(
            BenchmarkRow(
                row=row.name, model=row.model_label, mode=row.mode.name,
                batch_size=row.batch_size, repeats=len(times),
                median_ms=1e3 * median, q1_ms=1e3 * q1, q3_ms=1e3 * q3,
                min_ms=1e3 * times[0], max_ms=1e3 * times[-1],
                images_per_s=row.batch_size / median,
                peak_memory_mib=(None if row.peak_memory is None else
                                 row.peak_memory / 2**20),
                max_rel_diff=row.max_rel_diff,
                speedup=ref_median / median,
                latencies_ms=[1e3 * t for t in row.times],
                multiplications=row.multiplications,
                machine_fraction=fraction, precision=row.mode.precision,
                tolerance=row.tolerance,
                argmax_agreement=row.argmax_agreement,
                min_agreement=row.min_agreement,
                native_units=(None if processor is None else
                              has_native_units(processor,
                                               row.mode.precision))))
    return results


def format_table(results: Sequence[BenchmarkRow], reference: str) -> str:
    """The results as a text table, one line per row."""
    width = max(len('row'), *(len(r.row) for r in results))
    header = (f'{"row":<{width}} {"median ms":>10} {"IQR ms":>17} '
              f'{"min ms":>9} {"img/s":>8} {"peak MiB":>9} {"rel diff":>9} '
              f'{"speed-up":>8} {"G mults":>8} {"% peak":>6}')
    lines = [header, '-' * len(header)]
    for r in results:
        memory = ('n/a' if r.peak_memory_mib is None else
                  f'{r.peak_memory_mib:.0f}')
        iqr = f'{r.q1_ms:.1f}-{r.q3_ms:.1f}'
        mults = ('n/a' if r.multiplications is None else
                 f'{r.multiplications / 1e9:.1f}')
        fraction = ('n/a' if r.machine_fraction is None else
                    f'{100 * r.machine_fraction:.0f}%')
        agreement = ('' if r.argmax_agreement is None else
                     f' argmax {100 * r.argmax_agreement:.2f}%')
        emulated = (f' (emulated: no {r.precision} units)'
                    if r.native_units is False else '')
        lines.append(
            f'{r.row:<{width}} {r.median_ms:>10.1f} {iqr:>17} '
            f'{r.min_ms:>9.1f} {r.images_per_s:>8.2f} {memory:>9} '
            f'{r.max_rel_diff:>9.1e} {r.speedup:>7.2f}x {mults:>8} '
            f'{fraction:>6}{agreement}{emulated}')
    lines.append(f'speed-up: median latency of {reference} / median latency'
                 ' of the row; rel diff: largest |output - eager fused fp32 '
                 'output| / largest |eager fused fp32 output|; argmax: share '
                 'of output positions where a reduced-precision row picks '
                 'the class the fp32 model picks; G mults: multiplications '
                 "of convs and linear layers per call under the row's "
                 "Winograd tiles; % peak: their rate over the peak rate of "
                 "the row's precision measured in the run")
    return '\n'.join(lines)


def format_machine(processor: Optional[ProcessorInfo],
                   peak_macs_per_s: Dict[str, float]) -> str:
    """The processor and each precision's peak rate, one line each."""
    lines = []
    if processor is not None:
        lines.append(f'processor: {describe(processor)}')
    if peak_macs_per_s:
        rates = ', '.join(f'{precision} {rate / 1e9:.1f}'
                          for precision, rate in peak_macs_per_s.items())
        lines.append(f'peak rates (G multiply-adds/s): {rates}')
    return '\n'.join(lines)
