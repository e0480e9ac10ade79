"""The leaderboard: published segmentors on one CPU, each on its fastest
verified path, next to its published accuracy.

For each input shape, one interleaved benchmark run
(``repseg.benchmark.run.benchmark``, ``keep_going``; every row loaded for
each of its calls, so that a run of many large models holds one row's
engine session at a time) times every model in
``auto``'s candidate modes (``repseg.benchmark.auto.candidate_modes``:
the fused model as each engine deploys it and in PyTorch, in every
precision this processor computes natively), without the rewrites that do
not change it (``model_modes``); per model and precision the fastest row that passed the output
check is kept (``LeaderboardEntry``), with the model's published mIoU
(``repseg.benchmark.published``), its parameters and multiply-adds
(``repseg.analysis.config_complexity``) and, where no row could be built,
every mode's reason. ``write_leaderboard`` writes the tables (markdown
and JSON) and the speed-accuracy plot with its Pareto front.
"""
import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..fileio import atomic_output
from ..precision import PRECISIONS
from ..processor import describe, detect_processor
from ..results import ProcessorInfo
from .auto import candidate_modes, engine_of, native_precisions
from .modes import BenchmarkError, parse_mode
from .published import LEADERBOARD_MODELS, Published
from .run import NoRowBuilt, benchmark
from .summary import failure_reason

#: The shapes a leaderboard is measured at by default (height, width):
#: Cityscapes at half and at full resolution.
DEFAULT_SHAPES: Tuple[Tuple[int, int], ...] = ((512, 1024), (1024, 2048))

LEADERBOARD_MD = 'leaderboard.md'
LEADERBOARD_JSON = 'leaderboard.json'
LEADERBOARD_PNG = 'leaderboard.png'


class LeaderboardError(BenchmarkError):
    """Bad input to the leaderboard (a model label, a shape, a precision)."""


# ------------------------------------------------------------ modes


def has_psp_head(model: nn.Module) -> bool:
    from mmseg.models.decode_heads import PSPHead
    return any(type(m) is PSPHead for m in model.modules())


def space_to_batch_applies(model: nn.Module) -> bool:
    """Whether ``s2b`` rewrites any stage of ``model``'s inference form:
    found on a copy on the meta device (shapes only). Dilated blocks it
    cannot take (mmseg's ResNet ``BasicBlock``, R-18's) leave it a no-op."""
    from ..models.fusion import to_inference_form
    from ..rewrites import use_space_to_batch
    backbone = getattr(model, 'backbone', model)
    if not any(isinstance(m, nn.Conv2d) and max(m.dilation) > 1
               for m in backbone.modules()):
        return False
    meta = copy.deepcopy(model).to('meta')
    example = torch.zeros(1, 3, 64, 64, device='meta')
    try:
        fused = to_inference_form(meta, example, inplace=True)[0]
    except (RuntimeError, NotImplementedError):  # an op without meta kernel
        return False
    return use_space_to_batch(fused) > 0


def model_rewrites(model: nn.Module) -> Tuple[str, ...]:
    """The exact rewrites that change ``model``: ``psp`` for a PSP head,
    ``s2b`` for dilated stages it can take (output stride 8 or 16). The
    others' modes go without them: there they would do nothing but
    mislabel the mode."""
    return (('psp', ) * has_psp_head(model) +
            ('s2b', ) * space_to_batch_applies(model))


def model_modes(modes: Sequence[str], rewrites: Sequence[str]) -> List[str]:
    """``modes`` without the rewrites that would not change the model
    (those not in ``rewrites``, ``model_rewrites``), so that each row's
    name says what ran; in order, each once."""
    kept = []
    for mode in modes:
        parts = [p for p in parse_mode(mode).name.split('+')
                 if p not in ('psp', 's2b') or p in rewrites]
        kept.append('+'.join(parts))
    return list(dict.fromkeys(kept))


# ------------------------------------------------------------ entries


@dataclass
class LeaderboardEntry:
    """One model at one input shape in one precision: its fastest verified
    row, or why it has none.

    ``params`` and ``macs`` (multiply-adds of convs and linear layers, per
    image) are the fused model's at ``shape`` (``config_complexity``), None
    where they could not be counted; ``median_ms``/``fps`` the fastest
    row's, in ``mode`` on ``engine`` (``max_rel_diff`` and, in bf16 or
    int8, ``argmax_agreement``: its check against the fp32 model);
    ``failures`` maps each candidate mode
    that produced no row to its reason (also for a model that has a row);
    ``pareto`` marks the entries no other entry of the same shape and
    precision beats in both latency and mIoU; ``complexity_error`` says why the counts are
    missing.
    """
    label: str
    config: str
    miou: Optional[float]
    source: str
    repseg: bool
    shape: Tuple[int, int]
    precision: str
    modes: List[str]
    params: Optional[int] = None
    macs: Optional[int] = None
    median_ms: Optional[float] = None
    fps: Optional[float] = None
    mode: Optional[str] = None
    engine: Optional[str] = None
    max_rel_diff: Optional[float] = None
    argmax_agreement: Optional[float] = None
    failures: Dict[str, str] = field(default_factory=dict)
    pareto: bool = False
    complexity_error: Optional[str] = None

    @property
    def measured(self) -> bool:
        return self.median_ms is not None


def pareto_front(points: Sequence[Tuple[float, float]]) -> List[int]:
    """Indices of the points (latency, accuracy) no other point beats:
    none is at most as slow and at least as accurate, and better in one;
    in order of latency. Equal points are all kept."""
    front = []
    for i, (latency, accuracy) in enumerate(points):
        dominated = any(
            other_latency <= latency and other_accuracy >= accuracy
            and (other_latency, other_accuracy) != (latency, accuracy)
            for other_latency, other_accuracy in points)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i])


def mark_pareto(entries: Sequence[LeaderboardEntry]) -> None:
    """Set ``pareto`` on the entries on the front of their table (shape
    and precision; among the measured entries with a published mIoU): a
    model's bf16 row is ranked with the other bf16 rows, not against its
    own fp32 row."""
    for table in {(e.shape, e.precision) for e in entries}:
        ranked = [e for e in entries if (e.shape, e.precision) == table
                  and e.measured and e.miou is not None]
        front = pareto_front([(e.median_ms, e.miou) for e in ranked])
        for index, entry in enumerate(ranked):
            entry.pareto = index in front


def select_models(labels: Optional[Sequence[str]],
                  models: Sequence[Published] = LEADERBOARD_MODELS
                  ) -> List[Published]:
    """The models named by ``labels`` (in ``models``' order), all of them
    for None; an unknown label is a ``LeaderboardError`` naming it."""
    if not labels:
        return list(models)
    known = {m.label: m for m in models}
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise LeaderboardError(f'--models: unknown label(s) {unknown}; '
                               f'choose from {list(known)}')
    return [m for m in models if m.label in set(labels)]


def parse_shape(text: str) -> Tuple[int, int]:
    """``'512x1024'`` -> ``(512, 1024)``."""
    height, sep, width = text.lower().partition('x')
    if not (sep and height.isdigit() and width.isdigit()
            and int(height) > 0 and int(width) > 0):
        raise LeaderboardError(f'shape {text!r}: expected HxW, e.g. 512x1024')
    return int(height), int(width)


def _complexity(config: str, shape: Tuple[int, int]):
    """(params, multiply-adds, None) of the fused model at ``shape``, or
    (None, None, reason): the counts are extra, a model that runs still
    ranks."""
    from ..analysis.complexity import config_complexity
    try:
        total = config_complexity(config, shape).total
    except Exception as err:  # configs and forward passes raise many kinds
        return None, None, failure_reason(err)
    return total.params, total.macs, None


def _build_specs(models: Sequence[Published]):
    """Each model's benchmark spec (labelled by its leaderboard label), or
    the reason it cannot be built."""
    from .models import model_from_config
    specs, broken = {}, {}
    for published in models:
        try:
            spec = model_from_config(published.config)
        except Exception as err:  # configs raise many kinds
            broken[published.label] = failure_reason(err)
            continue
        spec.label = published.label
        specs[published.label] = spec
    return specs, broken


def run_leaderboard(models: Sequence[Published] = LEADERBOARD_MODELS,
                    shapes: Sequence[Tuple[int, int]] = DEFAULT_SHAPES,
                    threads: Optional[int] = None, repeat: int = 5,
                    warmup: int = 1,
                    precisions: Sequence[str] = ('fp32', ),
                    modes: Optional[Sequence[str]] = None,
                    min_agreement: float = 0.0,
                    on_timing=None) -> Tuple[List[LeaderboardEntry],
                                             Dict[str, dict]]:
    """Benchmark ``models`` at each of ``shapes`` (one interleaved run per
    shape, every model in its candidate modes, ``keep_going``) and rank
    them.

    Args:
        models: The segmentors, with their published mIoU.
        shapes: Input (height, width) pairs, batch 1.
        threads: torch's and the engines' threads (default: torch's).
        repeat, warmup: Timed and untimed calls per row.
        precisions: Of ``'fp32'``, ``'bf16'``, ``'int8'``: the candidates
            are ``auto``'s (``repseg.benchmark.auto.candidate_modes``) in
            those this processor computes natively; the others are left
            out, and listed in each run's ``skipped_precisions``.
        modes: These modes for every model instead of the candidates (the
            precisions are then theirs).
        min_agreement: Reduced-precision rows' argmax bound. None for
            the benchmark's per precision; by default none (0): the
            weights are random, and how often a random network's bf16 or
            int8 outputs pick its fp32 class measures its logits' margins,
            not the engine (each entry records it; the relative bound of
            its precision still holds).
        on_timing: Passed to ``benchmark``.

    Returns:
        The entries (shape, then ``models``' order, then precision) and,
        per shape (``'HxW'``), the run's environment, processor, peak rates
        and failures.
    """
    if not models:
        raise LeaderboardError('no models to rank')
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise LeaderboardError(f'precisions {list(precisions)}: choose from '
                               f'{PRECISIONS}')
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise LeaderboardError(f'models {labels} appear twice')
    if modes:
        candidates = [parse_mode(m).name for m in modes]
        precisions = list(dict.fromkeys(parse_mode(m).precision
                                        for m in candidates))
        skipped = []
    else:
        native = native_precisions(detect_processor(), precisions)
        skipped = [p for p in precisions if p not in native]
        precisions = native
        candidates = candidate_modes(precisions=precisions)
    if threads:
        torch.set_num_threads(threads)
    specs, broken = _build_specs(models)
    chosen: Dict[str, Dict[str, List[str]]] = {}  # label -> precision -> modes
    for label, spec in specs.items():
        names = model_modes(candidates, model_rewrites(spec.model))
        chosen[label] = {p: [m for m in names
                             if parse_mode(m).precision == p]
                         for p in precisions}
    entries, runs = [], {}
    for shape in shapes:
        shape = tuple(shape)
        key = f'{shape[0]}x{shape[1]}'
        run_modes = {label: [m for p in precisions for m in by[p]]
                     for label, by in chosen.items()}
        runnable = [specs[label] for label in run_modes if run_modes[label]]
        results, failures = {}, {}
        run = dict(failures={}, skipped_precisions=skipped)
        if runnable:
            try:
                report = benchmark(runnable, {s.label: run_modes[s.label]
                                              for s in runnable},
                                   shape=shape, repeat=repeat,
                                   warmup=warmup, keep_going=True,
                                   on_timing=on_timing, resident=False,
                                   min_agreement=min_agreement)
            except NoRowBuilt as err:
                failures = err.failures
            else:
                results = {r.row: r for r in report.rows}
                failures = dict(report.failures)
                run.update(environment=report.environment,
                           processor=(None if report.processor is None
                                      else report.processor.to_dict()),
                           peak_macs_per_s=report.peak_macs_per_s)
        run['failures'] = failures
        runs[key] = run
        for published in models:
            label = published.label
            params, macs, why = (_complexity(published.config, shape)
                                 if label in specs else (None, None, None))
            for precision in precisions:
                names = chosen.get(label, {}).get(precision, [])
                entry = LeaderboardEntry(
                    label, published.config, published.miou,
                    published.source, published.repseg, shape, precision,
                    names, params, macs, complexity_error=why)
                if label in broken:
                    entry.failures = {'(model)': broken[label]}
                rows = [results[f'{label}:{m}'] for m in names
                        if f'{label}:{m}' in results]
                entry.failures.update({
                    m: failures[f'{label}:{m}'] for m in names
                    if f'{label}:{m}' in failures})
                if rows:
                    best = min(rows, key=lambda r: r.median_ms)
                    entry.median_ms, entry.fps = best.median_ms, \
                        best.images_per_s
                    entry.mode, entry.engine = best.mode, engine_of(best.mode)
                    entry.max_rel_diff = best.max_rel_diff
                    entry.argmax_agreement = best.argmax_agreement
                entries.append(entry)
    mark_pareto(entries)
    return entries, runs


# ------------------------------------------------------------ outputs


def _number(value: Optional[float], scale: float, digits: int) -> str:
    return '—' if value is None else f'{value / scale:.{digits}f}'


def format_markdown(entries: Sequence[LeaderboardEntry],
                    runs: Optional[Dict[str, dict]] = None) -> str:
    """One table per shape (and precision), the models in order, the
    Pareto entries in bold; then every mode that failed, with its reason."""
    lines = []
    runs = runs or {}
    groups = []
    for entry in entries:
        if (entry.shape, entry.precision) not in groups:
            groups.append((entry.shape, entry.precision))
    for shape, precision in groups:
        key = f'{shape[0]}x{shape[1]}'
        env = runs.get(key, {}).get('environment') or {}
        processor = runs.get(key, {}).get('processor')
        lines.append(f'### {key}, batch 1, {precision}')
        lines.append('')
        if env:
            named = (describe(ProcessorInfo(**processor)) if processor
                     else env.get('processor', '?'))
            lines.append(f"{named}, "
                         f"{env.get('threads', '?')} threads, torch "
                         f"{env.get('torch', '?')}, median of "
                         f"{env.get('repeat', '?')} calls after "
                         f"{env.get('warmup', '?')} warm-up calls")
            lines.append('')
        lines.append('| model | mIoU | source | params (M) | G MACs | '
                     'latency (ms) | FPS | mode | engine | Pareto |')
        lines.append('|---|---|---|---|---|---|---|---|---|---|')
        for e in entries:
            if (e.shape, e.precision) != (shape, precision):
                continue
            name = f'**{e.label}**' if e.pareto else e.label
            latency = (f'{e.median_ms:.1f}' if e.measured else
                       'failed' if e.failures else 'not run')
            lines.append(
                f'| {name} | {_number(e.miou, 1, 2)} | {e.source} | '
                f'{_number(e.params, 1e6, 2)} | {_number(e.macs, 1e9, 2)} | '
                f'{latency} | {_number(e.fps, 1, 2)} | '
                f"{'`' + e.mode + '`' if e.mode else '—'} | "
                f"{e.engine or '—'} | {'yes' if e.pareto else ''} |")
        failed = [(e, mode, why) for e in entries
                  if (e.shape, e.precision) == (shape, precision)
                  for mode, why in e.failures.items()]
        if failed:
            lines += ['', 'Modes that gave no row:', '']
            lines += [f'- {e.label} `{mode}`: {why.replace("|", "/")}'
                      for e, mode, why in failed]
        lines.append('')
    lines.append(
        'mIoU: published Cityscapes val mIoU (single scale) of the config, '
        'from the source named; params and G MACs: the fused model '
        '(conv+BN folded, RepVGG blocks fused), multiply-adds of convs and '
        'linear layers per image at the table\'s input size; latency: '
        'median of the model\'s fastest mode among its candidates, every '
        'mode checked against the eager fused model before timing, all '
        'models timed interleaved in one run; FPS: 1000 / latency; Pareto: '
        'no other model of the table is at least as fast and at least as '
        'accurate (bold).')
    return '\n'.join(lines) + '\n'


def leaderboard_json(entries: Sequence[LeaderboardEntry],
                     runs: Dict[str, dict]) -> dict:
    return dict(entries=[dict(asdict(e), shape=list(e.shape))
                         for e in entries], runs=runs)


def plot_leaderboard(entries: Sequence[LeaderboardEntry], path) -> None:
    """Latency (log x) against mIoU, one panel per shape; repseg's models
    marked apart, reduced-precision entries hollow, each precision's Pareto front
    drawn."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    shapes = []
    for entry in entries:
        if entry.shape not in shapes:
            shapes.append(entry.shape)
    fig, axes = plt.subplots(1, len(shapes), figsize=(7 * len(shapes), 5.5),
                             squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        shown = [e for e in entries if e.shape == shape and e.measured
                 and e.miou is not None]
        for repseg, style in ((False, dict(marker='o', color='tab:blue',
                                           label='mmsegmentation')),
                              (True, dict(marker='*', color='tab:red',
                                          markersize=12, label='repseg'))):
            for precision in PRECISIONS:
                group = [e for e in shown if e.repseg == repseg
                         and e.precision == precision]
                if not group:
                    continue
                face = style['color'] if precision == 'fp32' else 'none'
                ax.plot([e.median_ms for e in group],
                        [e.miou for e in group], linestyle='none',
                        markerfacecolor=face, markeredgecolor=style['color'],
                        marker=style['marker'],
                        markersize=style.get('markersize', 7),
                        label=style['label'] +
                        ('' if precision == 'fp32' else f' ({precision})'))
        for e in shown:
            ax.annotate(e.label + ('' if e.precision == 'fp32' else
                                   f' {e.precision}'),
                        (e.median_ms, e.miou), textcoords='offset points',
                        xytext=(4, 4), fontsize=7)
        for precision, line in zip(PRECISIONS, ('--', ':', '-.')):
            front = sorted((e for e in shown if e.pareto
                            and e.precision == precision),
                           key=lambda e: e.median_ms)
            if front:
                ax.step([e.median_ms for e in front],
                        [e.miou for e in front], where='post', color='gray',
                        linestyle=line, label='Pareto front' + (
                            '' if precision == 'fp32' else f' ({precision})'))
        if shown:
            ax.set_xscale('log')
            ax.xaxis.set_major_formatter(ticker.FormatStrFormatter('%g'))
            ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel('latency (ms, log scale), batch 1')
        ax.set_ylabel('published Cityscapes val mIoU')
        ax.set_title(f'{shape[0]}x{shape[1]}')
        ax.grid(True, which='both', alpha=0.3)
        if shown:
            ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def write_leaderboard(entries: Sequence[LeaderboardEntry],
                      runs: Dict[str, dict], out_dir) -> Dict[str, Path]:
    """The markdown table, the JSON record and the plot in ``out_dir``,
    each written to a temporary name and renamed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = dict(markdown=out / LEADERBOARD_MD, json=out / LEADERBOARD_JSON,
                 plot=out / LEADERBOARD_PNG)
    with atomic_output(paths['markdown']) as tmp:
        tmp.write_text(format_markdown(entries, runs))
    with atomic_output(paths['json']) as tmp:
        tmp.write_text(json.dumps(leaderboard_json(entries, runs), indent=2) + '\n')
    plot_leaderboard(entries, paths['plot'])
    return paths
