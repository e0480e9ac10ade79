"""The report's plots: speed against accuracy, and the training curves.
matplotlib is the demo's own requirement (the ``demo`` install extra)."""
import math
from pathlib import Path
from typing import List, Optional

from repseg.fileio import atomic_output
from ..steps import DemoError
from .figures import is_multi_branch


def pyplot():
    """matplotlib.pyplot, drawing into files only (no display on servers
    and in tests)."""
    try:
        import matplotlib
    except ModuleNotFoundError as error:
        raise DemoError('the demo report draws its plots with matplotlib, '
                        "the demo extra: pip install -e '.[demo]'") from error
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png', dpi=110, bbox_inches='tight')
    pyplot().close(fig)


def multi_branch_point(report: dict) -> Optional[dict]:
    """The deployed model before fusion: its multi-branch mIoU at its
    network's multi-branch benchmark row (None: not timed)."""
    deployed = report['comparison'][0]
    network = deployed['timed_by']['name']
    for row in report['benchmark']['rows']:
        if row['name'] == network and is_multi_branch(row['mode']):
            return dict(label=f"{deployed['model']}, {deployed['init']}"
                        f", multi-branch ({row['mode']})", mode=row['mode'],
                        images_per_s=row['images_per_s'],
                        mIoU=report['accuracy']['multi_branch']['mIoU'])
    return None


def speed_accuracy_points(report: dict) -> List[dict]:
    """The speed-vs-accuracy plot's points (label, mode, images/s, mIoU):
    each compared model, fused, at its network's fastest fused row (the
    deployed model first), then the deployed model as trained when its
    multi-branch row was timed."""
    points = [dict(label=f"{row['model']}, {row['init']} "
                   f"({row['timed_by']['mode']})",
                   mode=row['timed_by']['mode'],
                   images_per_s=row['timed_by']['images_per_s'],
                   mIoU=row['metrics']['mIoU'])
              for row in report['comparison']]
    multi_branch = multi_branch_point(report)
    return points + ([multi_branch] if multi_branch else [])


def draw_fusion(ax, points: List[dict]) -> None:
    """An arrow from the multi-branch point to the deployed fused one,
    labelled with the speed-up (and the engine, when the fastest fused
    path is not PyTorch's)."""
    fused, multi_branch = points[0], points[-1]
    if (not is_multi_branch(multi_branch['mode']) or fused['mIoU'] is None
            or multi_branch['mIoU'] is None):
        return
    (x0, y0), (x1, y1) = ((p['images_per_s'], p['mIoU'])
                          for p in (multi_branch, fused))
    ax.annotate('', xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle='->', color='black'))
    how = ('' if fused['mode'] == 'fused' else f" ({fused['mode']})")
    ax.annotate(f'fused{how}: x{x1 / x0:.2f}',
                xy=((x0 + x1) / 2, (y0 + y1) / 2),
                xytext=(0, 8), textcoords='offset points', ha='center')


def plot_speed_vs_accuracy(report: dict, path: Path) -> None:
    """mIoU against images/s: every compared model, fused, at its fastest
    fused row, and the deployed model before fusion (the same mIoU, another
    speed)."""
    points = speed_accuracy_points(report)
    fig, ax = pyplot().subplots(figsize=(6.4, 4.2))
    for point in points:
        if point['mIoU'] is not None:  # a model that predicts nothing
            ax.scatter([point['images_per_s']], [point['mIoU']], s=60,
                       zorder=3, label=point['label'])
    draw_fusion(ax, points)
    env = report['benchmark']['environment']
    ax.set_xlabel('images/s (input %s, %s, %s threads)' % (
        'x'.join(map(str, env.get('input_shape', []))), env.get('device'),
        env.get('threads', '-')))
    ax.set_ylabel('mIoU on the demo val set (%)')
    ax.set_title('Speed vs accuracy, PSPNet on the Cityscapes-format demo')
    ax.set_xlim(left=0)
    mious = [p['mIoU'] for p in points if p['mIoU'] is not None]
    ax.set_ylim(0, max(mious, default=0) * 1.25 + 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    save_figure(fig, path)


def deployed_label(training: dict) -> str:
    """The deployed model's label: the first compared curve's."""
    return next(iter(training['compared_val_miou']), 'deployed model')


def plot_training_curves(training: dict, path: Path) -> None:
    """Segmentation loss over iterations and the validation mIoU of every
    compared run, and the classification pretraining's loss and validation
    top-1 when logged."""
    deployed = deployed_label(training)
    panels = [(f'segmentation: training loss ({deployed})', 'iteration',
               {None: training['segmentation']['loss']}, '-'),
              ('segmentation: val mIoU (fused model, %)', 'iteration',
               training['compared_val_miou'], 'o-')]
    cls = training['classification']
    if cls['loss']:
        panels += [('classification pretraining: loss', 'iteration',
                    {None: cls['loss']}, '-'),
                   ('classification pretraining: val top-1 (%)', 'epoch',
                    {None: cls['val_top1']}, 'o-')]
    rows = math.ceil(len(panels) / 2)
    fig, axes = pyplot().subplots(rows, 2, figsize=(10, 3.4 * rows),
                                  squeeze=False)
    for ax, (title, xlabel, series, style) in zip(axes.flat, panels):
        for label, points in series.items():
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, style, label=label)
        if any(label is not None for label in series):
            ax.legend(fontsize=8, loc='best')
        if '%' in title:
            values = [y for points in series.values() for _, y in points]
            ax.set_ylim(0, max(values + [1]) * 1.15)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
