"""The demo report: what ``tools/run_demo.py`` shows from the outputs of its
steps (the tools' JSON reports, the training logs, the predictions, the
segmented video), as ``report.md`` with its plots and sample images, and
``report.json``.

Everything here reads files the tools wrote; nothing trains or evaluates.
``inputs`` says where they lie, ``figures`` reads the tools' reports
(through ``repseg.results``) and ``logs`` the training logs, for each
model of ``ReportInputs.models``; ``plots``,
``samples`` and ``markdown`` draw and write what ``build_report`` puts
together.
"""
import json

from repseg.fileio import atomic_output
from .figures import MIOU_TOLERANCE, figures
from .inputs import ReportInputs
from .markdown import markdown, summary
from .plots import plot_speed_vs_accuracy, plot_training_curves, pyplot
from .samples import write_samples, write_video_strip

__all__ = ['MIOU_TOLERANCE', 'ReportInputs', 'build_report',
           'check_requirements', 'summary']


def check_requirements() -> None:
    """Fail now (``DemoError``), not after the steps, when what the report
    draws with is not installed."""
    pyplot()


def relative(path, root) -> str:
    """``path`` as report.md links it: relative to the report's folder when
    inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def build_report(inputs: ReportInputs) -> dict:
    """Write report.md, report.json, speed_vs_accuracy.png,
    training_curves.png, samples.png and (given the overlay video)
    video_strip.png into ``inputs.work_dir``; returns the report's figures
    (``report.json``)."""
    work_dir = inputs.work_dir
    report = figures(inputs)
    plot_speed_vs_accuracy(report, work_dir / 'speed_vs_accuracy.png')
    plot_training_curves(report['training'], work_dir / 'training_curves.png')
    report['samples'] = write_samples(inputs.data_root,
                                      inputs.predictions_dir,
                                      work_dir / 'samples.png')
    report['files'] = dict(markdown='report.md',
                           speed_vs_accuracy='speed_vs_accuracy.png',
                           training_curves='training_curves.png',
                           samples='samples.png')
    if inputs.overlay_video is not None:
        report['video_strip'] = dict(
            write_video_strip(inputs.overlay_video,
                              work_dir / 'video_strip.png'),
            video=relative(inputs.overlay_video, work_dir))
        report['files']['video_strip'] = 'video_strip.png'
    with atomic_output(work_dir / 'report.json') as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_output(work_dir / 'report.md') as tmp:
        tmp.write_text(markdown(report))
    return report
