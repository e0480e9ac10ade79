"""The demo report: what ``tools/run_demo.py`` shows from the outputs of its
steps (the tools' JSON reports, the training logs, the predictions), as
``report.md`` with its plots and sample images, and ``report.json``.

Everything here reads files the tools wrote; nothing trains or evaluates.
"""
import datetime
import json
import math
from pathlib import Path
from typing import Dict, List, Sequence

import cv2
import matplotlib
import mmcv
import mmengine
import numpy as np
from mmengine.config import Config

matplotlib.use('Agg')  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402

from .fileio import atomic_output  # noqa: E402

__all__ = ['MIOU_TOLERANCE', 'ReportInputs', 'build_report']

# Fused and multi-branch models compute the same function up to float
# rounding; their mIoU (in percent, 2 decimals) must agree to this.
MIOU_TOLERANCE = 0.01
SAMPLE_COUNT = 3
IGNORE_INDEX = 255


class ReportInputs:
    """Where the step outputs lie (every path a ``pathlib.Path``).

    Args:
        work_dir: the demo work dir; the report is written there.
        cls_work_dir: the classification pretraining's work dir (its logs).
        seg_work_dir: the segmentation training's work dir (its logs).
        deploy_json: ``tools/deploy.py``'s equivalence report.
        fused_report / multibranch_report: ``tools/test.py --report`` files.
        benchmark_json: ``tools/analysis_tools/benchmark.py --json`` output.
        predictions_dir: ``tools/test.py --out`` (Cityscapes labelId PNGs).
        data_root: the Cityscapes-format dataset that was evaluated.
        commands: the command lines of the steps, to reproduce the figures.
        step_seconds: ``{step name: seconds its last run took, or None}``.
        quick: whether the schedules were cut (``run_demo.py --quick``).
    """

    def __init__(self, work_dir, cls_work_dir, seg_work_dir, deploy_json,
                 fused_report, multibranch_report, benchmark_json,
                 predictions_dir, data_root, commands: Sequence[str],
                 step_seconds: Dict[str, float] = None, quick: bool = False):
        self.work_dir = Path(work_dir)
        self.cls_work_dir = Path(cls_work_dir)
        self.seg_work_dir = Path(seg_work_dir)
        self.deploy_json = Path(deploy_json)
        self.fused_report = Path(fused_report)
        self.multibranch_report = Path(multibranch_report)
        self.benchmark_json = Path(benchmark_json)
        self.predictions_dir = Path(predictions_dir)
        self.data_root = Path(data_root)
        self.commands = list(commands)
        self.step_seconds = dict(step_seconds or {})
        self.quick = quick


# ---------------------------------------------------------------- logs


def was_resumed(run_dir: Path) -> bool:
    """Whether the run logged in ``run_dir`` (a ``<timestamp>`` folder)
    resumed an earlier one: mmengine keeps the run's config beside its
    scalars."""
    config = Config.fromfile(str(run_dir / 'vis_data' / 'config.py'),
                             import_custom_modules=False)
    return bool(config.get('resume'))


def last_training_logs(work_dir: Path) -> List[Path]:
    """The ``scalars.json`` files of the last training in ``work_dir``: its
    last run that started afresh and the runs that resumed it, oldest first
    (earlier trainings in the same folder are left out)."""
    # Timestamps (YYYYmmdd_HHMMSS) sort chronologically.
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    kept = []
    for log in reversed(logs):
        kept.append(log)
        if not was_resumed(log.parent.parent):
            break
    return kept[::-1]


def read_scalars(work_dir: Path) -> Dict[str, Dict[int, dict]]:
    """The logged records of the last training in ``work_dir``, as
    ``{'train': {step: record}, 'val': {step: record}}``; where a resumed
    run logs a step again, its record wins."""
    records = {'train': {}, 'val': {}}
    for log in last_training_logs(work_dir):
        for line in log.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            kind = 'train' if 'loss' in record else 'val'
            records[kind][int(record['step'])] = record
    return records


def curve(records: Dict[int, dict], key: str) -> List[list]:
    """``[[step, value], ...]`` of ``key``, in step order."""
    return [[step, records[step][key]] for step in sorted(records)
            if key in records[step]]


def training_curves(inputs: ReportInputs) -> dict:
    """Loss and validation metric over steps, of the segmentation training
    (steps are iterations) and of the classification pretraining (loss per
    iteration, accuracy per epoch), from their logs."""
    seg = read_scalars(inputs.seg_work_dir)
    cls = read_scalars(inputs.cls_work_dir)
    return dict(
        segmentation=dict(loss=curve(seg['train'], 'loss'),
                          val_miou=curve(seg['val'], 'mIoU')),
        classification=dict(loss=curve(cls['train'], 'loss'),
                            val_top1=curve(cls['val'], 'accuracy/top1')))


# ---------------------------------------------------------------- figures


def miou_comparison(fused: dict, multibranch: dict) -> dict:
    """The summary metrics of both evaluations and whether they agree."""
    difference = abs(fused['mIoU'] - multibranch['mIoU'])
    return dict(
        fused={k: fused.get(k) for k in ('mIoU', 'mAcc', 'aAcc')},
        multi_branch={k: multibranch.get(k) for k in ('mIoU', 'mAcc', 'aAcc')},
        difference=round(difference, 4),
        agree=difference <= MIOU_TOLERANCE,
        tolerance=MIOU_TOLERANCE)


def per_class_table(fused: dict, multibranch: dict) -> List[list]:
    """``[[class, fused IoU, multi-branch IoU], ...]``."""
    fused_iou = fused.get('per_class', {})
    multi_iou = multibranch.get('per_class', {})
    return [[name, fused_iou[name], multi_iou.get(name)] for name in fused_iou]


def benchmark_rows(benchmark: dict) -> List[dict]:
    """One row per timed model and mode of ``tools/analysis_tools/benchmark.py --json``:
    model (its config's name), mode, median and least latency (ms; on a
    shared machine the least is the one other load hardly touches),
    images/s (from the median), speed-up
    over the benchmark's reference row and output difference from the eager
    fused model."""
    return [dict(name=row['model'], mode=row['mode'],
                 latency_ms=row['median_ms'], min_latency_ms=row['min_ms'],
                 images_per_s=row['images_per_s'], speedup=row['speedup'],
                 max_rel_diff=row['max_rel_diff'])
            for row in benchmark['rows']]


def figures(inputs: ReportInputs) -> dict:
    """Every figure of the report, as ``report.json`` holds them."""
    fused = mmengine.load(str(inputs.fused_report))
    multibranch = mmengine.load(str(inputs.multibranch_report))
    deploy = mmengine.load(str(inputs.deploy_json))
    benchmark = mmengine.load(str(inputs.benchmark_json))
    return dict(
        quick=inputs.quick,
        generated=datetime.datetime.now().isoformat(timespec='seconds'),
        accuracy=miou_comparison(fused, multibranch),
        per_class_iou=per_class_table(fused, multibranch),
        equivalence=deploy,
        benchmark=dict(environment=benchmark['environment'],
                       reference=benchmark['reference'],
                       rows=benchmark_rows(benchmark)),
        training=training_curves(inputs),
        step_seconds=inputs.step_seconds,
        commands=inputs.commands)


# ---------------------------------------------------------------- plots


def save_figure(fig, path: Path) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png', dpi=110, bbox_inches='tight')
    plt.close(fig)


def plot_speed_vs_accuracy(report: dict, path: Path) -> None:
    """mIoU against images/s: the RepVGG model before and after fusion (the
    same mIoU, different speed) and the untrained ResNet baseline, which has
    no mIoU, as vertical lines at its speeds."""
    accuracy = report['accuracy']
    miou_by_mode = dict(unfused=accuracy['multi_branch']['mIoU'],
                        fused=accuracy['fused']['mIoU'])
    trained = report['benchmark']['rows'][0]['name']  # the config's model
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = {}
    for row in report['benchmark']['rows']:
        label = f"{row['name']} ({row['mode']})"
        if row['name'] == trained and row['mode'] in miou_by_mode:
            x, y = row['images_per_s'], miou_by_mode[row['mode']]
            points[row['mode']] = (x, y)
            ax.scatter([x], [y], s=60, zorder=3, label=label)
        else:
            ax.axvline(row['images_per_s'], color='grey',
                       linestyle=':' if 'fused' == row['mode'] else '--',
                       label=f'{label}: untrained, speed only')
    if 'unfused' in points and 'fused' in points:
        (x0, y0), (x1, y1) = points['unfused'], points['fused']
        ax.annotate('', xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle='->', color='black'))
        ax.annotate(f're-parameterized: x{x1 / x0:.2f}',
                    xy=((x0 + x1) / 2, (y0 + y1) / 2),
                    xytext=(0, 8), textcoords='offset points', ha='center')
    env = report['benchmark']['environment']
    ax.set_xlabel('images/s (input %s, %s, %s threads)' % (
        'x'.join(map(str, env.get('input_shape', []))), env.get('device'),
        env.get('threads', '-')))
    ax.set_ylabel('mIoU on the demo val set (%)')
    ax.set_title('Speed vs accuracy, PSPNet on the Cityscapes-format demo')
    ax.set_xlim(left=0)
    ax.set_ylim(0, max(miou_by_mode.values()) * 1.25 + 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    save_figure(fig, path)


def plot_training_curves(training: dict, path: Path) -> None:
    """Segmentation loss and validation mIoU over iterations, and the
    classification pretraining's loss and validation top-1 when logged."""
    panels = [('segmentation: training loss', 'iteration',
               training['segmentation']['loss'], '-'),
              ('segmentation: val mIoU (fused model, %)', 'iteration',
               training['segmentation']['val_miou'], 'o-')]
    cls = training['classification']
    if cls['loss']:
        panels += [('classification pretraining: loss', 'iteration',
                    cls['loss'], '-'),
                   ('classification pretraining: val top-1 (%)', 'epoch',
                    cls['val_top1'], 'o-')]
    rows = math.ceil(len(panels) / 2)
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.4 * rows), squeeze=False)
    for ax, (title, xlabel, points, style) in zip(axes.flat, panels):
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, style)
        if '%' in title:
            ax.set_ylim(0, max([y for _, y in points] + [1]) * 1.15)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


# ---------------------------------------------------------------- samples


def label_id_to_train_id() -> np.ndarray:
    """A lookup table from Cityscapes labelIds to trainIds (255: ignored),
    from cityscapesscripts' own label definitions."""
    from cityscapesscripts.helpers.labels import labels
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in labels:
        if 0 <= label.id < 256 and 0 <= label.trainId < IGNORE_INDEX:
            table[label.id] = label.trainId
    return table


def train_id_colours_bgr() -> np.ndarray:
    """Colour of every trainId as BGR (cv2's order); ignored pixels black."""
    from mmseg.datasets import CityscapesDataset
    palette = np.zeros((256, 3), dtype=np.uint8)
    rgb = np.array(CityscapesDataset.METAINFO['palette'], dtype=np.uint8)
    palette[:len(rgb)] = rgb[:, ::-1]
    return palette


def pick_samples(data_root: Path, predictions_dir: Path,
                 count: int = SAMPLE_COUNT) -> List[tuple]:
    """``(image, ground truth, prediction)`` paths of ``count`` val images
    spread over the val set (so several cities show)."""
    images = sorted((data_root / 'leftImg8bit' / 'val').glob(
        '*/*_leftImg8bit.png'))
    images = [image for image in images
              if (predictions_dir / image.name).is_file()]
    if not images:
        raise FileNotFoundError(f'no predictions in {predictions_dir} for the '
                                f'images of {data_root}/leftImg8bit/val')
    step = max(1, len(images) // count)
    picked = images[::step][:count]
    return [(image,
             data_root / 'gtFine' / 'val' / image.parent.name /
             image.name.replace('_leftImg8bit.png',
                                '_gtFine_labelTrainIds.png'),
             predictions_dir / image.name) for image in picked]


def labelled_column(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` under a white bar holding ``title``."""
    bar = np.full((28, image.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def sample_row(image_path: Path, gt_path: Path, pred_path: Path,
               to_train_id: np.ndarray, colours: np.ndarray,
               with_titles: bool) -> np.ndarray:
    """Input | ground truth | prediction, side by side, coloured with the
    Cityscapes palette."""
    image = mmcv.imread(str(image_path))
    gt = mmcv.imread(str(gt_path), flag='unchanged')
    # The predictions are palette PNGs of labelIds: pillow reads the indices
    # (cv2 would return the palette colours).
    pred = to_train_id[mmcv.imread(str(pred_path), flag='unchanged',
                                   backend='pillow')]
    height, width = image.shape[:2]
    columns = [image, colours[gt], colours[pred]]
    columns = [cv2.resize(c, (width, height), interpolation=cv2.INTER_NEAREST)
               for c in columns]
    if with_titles:
        titles = (image_path.name.replace('_leftImg8bit.png', ''),
                  'ground truth', 'prediction (fused model)')
        columns = [labelled_column(c, t) for c, t in zip(columns, titles)]
    gap = np.full((columns[0].shape[0], 6, 3), 255, dtype=np.uint8)
    return np.hstack([columns[0], gap, columns[1], gap, columns[2]])


def write_samples(inputs: ReportInputs, path: Path) -> List[str]:
    """The sample grid as one PNG; returns the image names shown."""
    samples = pick_samples(inputs.data_root, inputs.predictions_dir)
    to_train_id, colours = label_id_to_train_id(), train_id_colours_bgr()
    rows = [sample_row(*paths, to_train_id, colours, with_titles=True)
            for paths in samples]
    gap = np.full((6, rows[0].shape[1], 3), 255, dtype=np.uint8)
    grid = np.vstack([part for row in rows for part in (row, gap)][:-1])
    ok, png = cv2.imencode('.png', grid)
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    with atomic_output(path) as tmp:
        tmp.write_bytes(png.tobytes())
    return [image.name for image, _, _ in samples]


# ---------------------------------------------------------------- markdown


def fmt(value, digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def accuracy_section(report: dict) -> List[str]:
    acc = report['accuracy']
    verdict = ('They agree' if acc['agree'] else
               '**They do not agree: re-parameterization changed the model**')
    lines = ['## Accuracy: fused vs multi-branch', '',
             '| model | mIoU | mAcc | aAcc |', '|---|---|---|---|']
    for label, key in (('fused (re-parameterized, deploy.pth)', 'fused'),
                       ('multi-branch (as trained, --no-reparam)',
                        'multi_branch')):
        m = acc[key]
        lines.append(f"| {label} | {fmt(m['mIoU'])} | {fmt(m['mAcc'])} | "
                     f"{fmt(m['aAcc'])} |")
    lines += ['', f"{verdict}: the mIoU differs by {acc['difference']:.2f} "
              f"(tolerance {acc['tolerance']}) on the demo val set.", '']
    return lines


def equivalence_section(report: dict) -> List[str]:
    eq = report['equivalence']
    before, after = eq['before'], eq['after']
    folded = ', '.join(f'{k} {v}' for k, v in eq.get('folded', {}).items())
    return ['## Equivalence (tools/deploy.py)', '',
            f"On the same random input {'x'.join(map(str, eq['input_shape']))}"
            f", the fused model's output differs from the trained model's by "
            f"at most {eq['max_abs_diff']:.2e} ({eq['max_rel_diff']:.2e} of "
            'the largest output; the tool fails above 1e-4).', '',
            '| | parameters | convolutions | BN layers |', '|---|---|---|---|',
            f"| multi-branch | {before['params']:,} | {before['convs']} | "
            f"{before['norms']} |",
            f"| fused | {after['params']:,} | {after['convs']} | "
            f"{after['norms']} |", '',
            f'Head conv+BN pairs folded: {folded or "none"}.', '']


def benchmark_section(report: dict) -> List[str]:
    env = report['benchmark']['environment']
    shown = ('device', 'input_shape', 'threads', 'repeat', 'warmup', 'torch')
    described = ', '.join(f'{k} {env[k]}' for k in shown if k in env)
    lines = ['## Speed (tools/analysis_tools/benchmark.py)', '',
             f'Latency per call, median and least ({described}); images/s '
             'and speed-up (relative to '
             f"{report['benchmark']['reference']}) from the median; rel "
             'diff: largest output difference from the eager fused model.',
             '',
             '| model | mode | latency (ms) | min (ms) | images/s | speed-up | '
             'rel diff |', '|---|---|---|---|---|---|---|']
    for row in report['benchmark']['rows']:
        lines.append(f"| {row['name']} | {row['mode']} | "
                     f"{fmt(row['latency_ms'], 1)} | "
                     f"{fmt(row['min_latency_ms'], 1)} | "
                     f"{fmt(row['images_per_s'], 1)} | "
                     f"x{row['speedup']:.2f} | {row['max_rel_diff']:.1e} |")
    lines += ['', 'pspnet_r18_demo is mmseg\'s PSPNet R-18 sized like the '
              'demo (configs/demo/pspnet_r18_demo.py), timed untrained: it '
              'has no mIoU and shows as lines at its speeds ("fused": its '
              'conv+BN pairs folded).', '',
              '![speed vs accuracy](speed_vs_accuracy.png)', '']
    return lines


def training_section(report: dict) -> List[str]:
    seg = report['training']['segmentation']
    cls = report['training']['classification']
    lines = ['## Training', '']
    if seg['loss']:
        lines.append(f"Segmentation: loss {seg['loss'][0][1]:.3f} at "
                     f"iteration {seg['loss'][0][0]}, {seg['loss'][-1][1]:.3f}"
                     f" at iteration {seg['loss'][-1][0]}.")
    if seg['val_miou']:
        lines.append('Validation mIoU: ' + ', '.join(
            f'{v:.2f} at iteration {s}' for s, v in seg['val_miou']) + '.')
    if cls['val_top1']:
        lines.append('Classification pretraining, val top-1: ' + ', '.join(
            f'{v:.1f}% at epoch {s}' for s, v in cls['val_top1']) + '.')
    return lines + ['', '![training curves](training_curves.png)', '']


def per_class_section(report: dict) -> List[str]:
    lines = ['## Per-class IoU', '', '| class | fused | multi-branch |',
             '|---|---|---|']
    lines += [f'| {name} | {fmt(fused)} | {fmt(multi)} |'
              for name, fused, multi in report['per_class_iou']]
    return lines + ['']


def steps_section(report: dict) -> List[str]:
    seconds = report['step_seconds']
    known = [s for s in seconds.values() if s is not None]
    lines = ['## Time per step', '',
             'Seconds each step took when it last ran (- : made before this '
             'work dir, e.g. the shared demo data).', '',
             '| step | seconds |', '|---|---|']
    lines += [f'| {name} | {fmt(took, 0)} |' for name, took in seconds.items()]
    return lines + [f'| total | {sum(known):.0f} |', '']


def markdown(report: dict) -> str:
    lines = ['# repseg demo report', '',
             'PSPNet-RepVGG-A0 trained with multi-branch RepVGG blocks on the '
             'built-in Cityscapes-format demo data, then fused into a plain '
             f"VGG-style network. Generated {report['generated']} by "
             '`python tools/run_demo.py`.', '']
    if report['quick']:
        lines += ['**Quick run (`--quick`): the schedules are cut to a few '
                  'iterations; the figures only check the pipeline.**', '']
    lines += accuracy_section(report) + equivalence_section(report)
    lines += benchmark_section(report) + training_section(report)
    lines += ['## Samples (val)', '',
              'Input, ground truth and the fused model\'s prediction '
              '(Cityscapes palette; ignored pixels black): '
              + ', '.join(report['samples']) + '.', '',
              '![samples](samples.png)', '']
    lines += per_class_section(report)
    lines += steps_section(report)
    lines += ['## How it was made', '', '```bash']
    lines += report['commands'] + ['```', '']
    return '\n'.join(lines)


def build_report(inputs: ReportInputs) -> dict:
    """Write report.md, report.json, speed_vs_accuracy.png,
    training_curves.png and samples.png into ``inputs.work_dir``; returns
    the report's figures (``report.json``)."""
    work_dir = inputs.work_dir
    report = figures(inputs)
    plot_speed_vs_accuracy(report, work_dir / 'speed_vs_accuracy.png')
    plot_training_curves(report['training'], work_dir / 'training_curves.png')
    report['samples'] = write_samples(inputs, work_dir / 'samples.png')
    report['files'] = dict(markdown='report.md',
                           speed_vs_accuracy='speed_vs_accuracy.png',
                           training_curves='training_curves.png',
                           samples='samples.png')
    with atomic_output(work_dir / 'report.json') as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(work_dir / 'report.md') as tmp:
        tmp.write_text(markdown(report))
    return report


def summary(report: dict) -> str:
    """A few lines of the main figures, for the console."""
    acc = report['accuracy']
    lines = [f"mIoU fused {fmt(acc['fused']['mIoU'])}, multi-branch "
             f"{fmt(acc['multi_branch']['mIoU'])} "
             f"({'agree' if acc['agree'] else 'DISAGREE'})",
             f"fused vs trained max |diff| "
             f"{report['equivalence']['max_abs_diff']:.2e}"]
    for row in report['benchmark']['rows']:
        lines.append(f"{row['name']} ({row['mode']}): "
                     f"{fmt(row['latency_ms'], 1)} ms, "
                     f"{fmt(row['images_per_s'], 1)} images/s, "
                     f"x{row['speedup']:.2f}")
    return '\n'.join(lines)
