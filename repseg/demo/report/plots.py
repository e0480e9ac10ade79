"""The report's plots: speed against accuracy, and the training curves."""
import math
from pathlib import Path

import matplotlib

matplotlib.use('Agg')  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402

from repseg.fileio import atomic_output  # noqa: E402


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
