"""The report's figures from the tools' JSON reports, read through the
classes that define them (``repseg.results``): a renamed or missing key
fails here, naming the file."""
import datetime
from pathlib import Path
from typing import List, NamedTuple, Optional

from repseg.results import (BenchmarkReport, BenchmarkRow, DeployReport,
                            EvaluationReport, InferenceReport, QuantizeReport,
                            ReportFormatError)
from .inputs import QuantizationFiles, ReportInputs
from .logs import training_curves, val_miou_curve

# Fused and multi-branch models compute the same function up to float
# rounding; their mIoU (in percent, 2 decimals) must agree to this.
MIOU_TOLERANCE = 0.01
# What the demo's evaluations must hold (tools/test.py --report on a
# segmentation model).
SEGMENTATION_METRICS = ('mIoU', 'mAcc', 'aAcc')
# The model names the benchmark times the compared networks by: their
# configs' names (both PSPNet-RepVGG-A0 trainings are one network, timed
# once; the baseline is timed with random weights, as speed does not depend
# on them).
A0_MODEL = 'pspnet_repvgg_a0_demo'
R18_MODEL = 'pspnet_r18_demo'


class ToolReports(NamedTuple):
    """The tools' reports the demo report is made from: the evaluations of
    the pretrained PSPNet-RepVGG-A0 (fused and multi-branch) and of the
    segmentors trained from scratch (fused), deploy.json and the
    benchmark."""
    fused: EvaluationReport
    multibranch: EvaluationReport
    scratch: EvaluationReport
    r18: EvaluationReport
    deploy: DeployReport
    benchmark: BenchmarkReport


class Compared(NamedTuple):
    """One trained segmentor of the pretraining and baseline comparison:
    its name, how its backbone started, its fused evaluation, its
    training's work dir (its logs) and the benchmark's name for its
    network."""
    model: str
    init: str
    evaluation: EvaluationReport
    work_dir: Path
    benchmark_model: str


def load_segmentation_evaluation(path) -> EvaluationReport:
    """A ``tools/test.py --report`` file of a segmentation model: its
    summary metrics and per-class IoU must be there."""
    report = EvaluationReport.load(path)
    missing = [name for name in SEGMENTATION_METRICS
               if name not in report.metrics]
    if missing or not report.per_class:
        raise ReportFormatError(
            f'{path}: not a segmentation evaluation: missing metrics '
            f'{missing}{"" if report.per_class else ", no per_class"} '
            f'(it has {sorted(report.metrics)})')
    return report


def is_fused(mode: str) -> bool:
    """Whether a benchmark mode runs the fused model: 'fused', or 'fused+'
    an engine (or an exact rewrite); each computes the fused function."""
    return mode.split('+')[0] == 'fused'


def fastest_fused_row(benchmark: BenchmarkReport,
                      model: str) -> Optional[BenchmarkRow]:
    """The lowest-median row among ``model``'s fused rows (None: it has
    none): the model at its fastest path."""
    rows = [row for row in benchmark.rows
            if row.model == model and is_fused(row.mode)]
    return min(rows, key=lambda row: row.median_ms, default=None)


def multiply_adds(benchmark: BenchmarkReport, model: str) -> Optional[int]:
    """``model``'s multiply-adds per image at the benchmark's input (None:
    not counted): those of its eager fused row, whose convs are computed
    directly (an engine row counts the fewer multiplications of its
    Winograd tiles instead)."""
    return next((row.multiplications for row in benchmark.rows
                 if row.model == model and row.mode == 'fused'), None)


def load_benchmark(path) -> BenchmarkReport:
    """The benchmark JSON; each compared network must have a fused row
    there (the comparison times it by one)."""
    benchmark = BenchmarkReport.load(path)
    missing = [model for model in (A0_MODEL, R18_MODEL)
               if fastest_fused_row(benchmark, model) is None]
    if missing:
        raise ReportFormatError(
            f'{path}: no fused row of {missing} (it has rows '
            f'{[row.row for row in benchmark.rows]})')
    return benchmark


def load_tool_reports(inputs: ReportInputs) -> ToolReports:
    """Read deploy.json, the four evaluations and the benchmark JSON."""
    load = load_segmentation_evaluation
    return ToolReports(
        fused=load(inputs.fused_report),
        multibranch=load(inputs.multibranch_report),
        scratch=load(inputs.scratch_report), r18=load(inputs.r18_report),
        deploy=DeployReport.load(inputs.deploy_json),
        benchmark=load_benchmark(inputs.benchmark_json))


def compared(inputs: ReportInputs, reports: ToolReports) -> List[Compared]:
    """The comparison's rows, in order: PSPNet-RepVGG-A0 pretrained and
    from scratch on the same schedule (what pretraining adds), and the
    PSPNet-R-18 baseline, from scratch on that schedule too (it has no
    pretrained backbone)."""
    return [
        Compared('PSPNet-RepVGG-A0', 'pretrained', reports.fused,
                 inputs.seg_work_dir, A0_MODEL),
        Compared('PSPNet-RepVGG-A0', 'from scratch', reports.scratch,
                 inputs.scratch_work_dir, A0_MODEL),
        Compared('PSPNet-R-18', 'from scratch', reports.r18,
                 inputs.r18_work_dir, R18_MODEL)]


def summary_metrics(report: EvaluationReport) -> dict:
    """``{'mIoU': ..., 'mAcc': ..., 'aAcc': ...}`` of one evaluation."""
    return {k: report.metric(k) for k in SEGMENTATION_METRICS}


def miou_comparison(fused: EvaluationReport,
                    multibranch: EvaluationReport) -> dict:
    """The summary metrics of both evaluations and whether they agree."""
    difference = abs(fused.metric('mIoU') - multibranch.metric('mIoU'))
    return dict(
        fused=summary_metrics(fused),
        multi_branch=summary_metrics(multibranch),
        difference=round(difference, 4),
        agree=difference <= MIOU_TOLERANCE,
        tolerance=MIOU_TOLERANCE)


def per_class_table(reports: ToolReports) -> List[list]:
    """``[[class, fused, multi-branch, from-scratch, R-18 IoU], ...]``."""
    others = (reports.multibranch, reports.scratch, reports.r18)
    return [[name, iou] + [other.per_class.get(name) for other in others]
            for name, iou in reports.fused.per_class.items()]


def benchmark_row(row: BenchmarkRow) -> dict:
    """One timed model and mode of ``tools/analysis_tools/benchmark.py
    --json``: model (its config's name), mode, median and least latency
    (ms; on a shared machine the least is the one other load hardly
    touches), images/s (from the median), speed-up over the benchmark's
    reference row and output difference from the eager fused model."""
    return dict(name=row.model, mode=row.mode, latency_ms=row.median_ms,
                min_latency_ms=row.min_ms, images_per_s=row.images_per_s,
                speedup=row.speedup, max_rel_diff=row.max_rel_diff)


def tool_figures(reports: ToolReports) -> dict:
    """The figures that come from the tools' reports."""
    benchmark = reports.benchmark
    return dict(
        accuracy=miou_comparison(reports.fused, reports.multibranch),
        per_class_iou=per_class_table(reports),
        equivalence=reports.deploy.to_dict(),
        benchmark=dict(environment=benchmark.environment,
                       reference=benchmark.reference,
                       rows=[benchmark_row(row) for row in benchmark.rows]))


def comparison_row(run: Compared, benchmark: BenchmarkReport) -> dict:
    """One trained segmentor: its fused evaluation, its network's
    multiply-adds per image and the benchmark row it is timed by, its
    network's fastest fused row."""
    return dict(model=run.model, init=run.init,
                metrics=summary_metrics(run.evaluation),
                per_class=dict(run.evaluation.per_class),
                multiply_adds=multiply_adds(benchmark, run.benchmark_model),
                timed_by=benchmark_row(
                    fastest_fused_row(benchmark, run.benchmark_model)))


def comparison_figures(runs: List[Compared],
                       benchmark: BenchmarkReport) -> dict:
    """The comparison's rows, the mIoU points pretraining adds (pretrained
    minus from scratch, the same schedule), and PSPNet-R-18's latency
    (each at its fastest fused row) and multiply-adds over
    PSPNet-RepVGG-A0's."""
    rows = [comparison_row(run, benchmark) for run in runs]
    pretrained, scratch, r18 = rows
    return dict(
        comparison=rows,
        pretraining_gain=difference(pretrained['metrics']['mIoU'],
                                    scratch['metrics']['mIoU']),
        r18_latency_ratio=ratio(r18['timed_by']['latency_ms'],
                                pretrained['timed_by']['latency_ms']),
        r18_multiply_adds_ratio=ratio(r18['multiply_adds'],
                                      pretrained['multiply_adds']))


def inference_row(report: InferenceReport) -> dict:
    """What one ``tools/infer.py --json`` run measured: images or frames
    done, the model's median latency (ms) and the end-to-end rate (reading
    and writing included), and where it ran."""
    return dict(kind=report.kind, done=report.done,
                failures=len(report.failures),
                median_latency_ms=report.median_latency_ms, fps=report.fps,
                backend=report.backend, device=report.device,
                threads=report.threads)


def inference_figures(inputs: ReportInputs) -> dict:
    """``{'inference': {'images': row, 'video': row}}`` from the two
    tools/infer.py runs, or nothing when the inputs name none."""
    if inputs.image_inference is None or inputs.video_inference is None:
        return {}
    return dict(inference=dict(
        images=inference_row(InferenceReport.load(inputs.image_inference)),
        video=inference_row(InferenceReport.load(inputs.video_inference))))


def ratio(numerator: Optional[float],
          denominator: Optional[float]) -> Optional[float]:
    """``numerator / denominator``, None when either is unknown (an
    evaluation without an mIoU, a run without a latency) or zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def difference(minuend: Optional[float],
               subtrahend: Optional[float]) -> Optional[float]:
    """``minuend - subtrahend``, None when either is unknown (an evaluation
    without an mIoU)."""
    if minuend is None or subtrahend is None:
        return None
    return round(minuend - subtrahend, 4)


def quantization_row(label: str, files: QuantizationFiles) -> dict:
    """One model's FP32 / INT8 row: the mIoU of both ONNX files and the
    drop, how far the INT8 logits and classes are from the FP32 ones on the
    calibration images (quantize.json), both median latencies and the INT8
    speed-up (FP32 latency / INT8 latency)."""
    quantized = QuantizeReport.load(files.quantize_json)
    fp32 = load_segmentation_evaluation(files.fp32_report)
    int8 = load_segmentation_evaluation(files.int8_report)
    fp32_run = InferenceReport.load(files.fp32_inference)
    int8_run = InferenceReport.load(files.int8_inference)
    fp32_miou, int8_miou = fp32.metric('mIoU'), int8.metric('mIoU')
    return dict(
        model=label, fp32_miou=fp32_miou, int8_miou=int8_miou,
        miou_drop=difference(fp32_miou, int8_miou),
        evaluated_backends=[fp32.backend, int8.backend],
        int8_max_rel_diff=quantized.int8_max_rel_diff,
        int8_agreement=quantized.int8_agreement,
        calibration_images=quantized.calibration_images,
        input_shape=quantized.input_shape,
        fp32_latency_ms=fp32_run.median_latency_ms,
        int8_latency_ms=int8_run.median_latency_ms,
        int8_speedup=ratio(fp32_run.median_latency_ms,
                           int8_run.median_latency_ms),
        timed_images=[fp32_run.done, int8_run.done],
        backend=int8_run.backend, device=int8_run.device,
        threads=int8_run.threads)


def quantization_figures(inputs: ReportInputs) -> dict:
    """``{'quantization': [row, ...]}`` (one row per model, in the inputs'
    order), or nothing when the inputs name no quantized model."""
    if not inputs.quantization:
        return {}
    return dict(quantization=[quantization_row(label, files)
                              for label, files in
                              inputs.quantization.items()])


def training_figures(inputs: ReportInputs, runs: List[Compared]) -> dict:
    """The training curves, and the val mIoU curve of each compared run
    (``'<model>, <init>'``: curve)."""
    training = training_curves(Path(inputs.cls_work_dir),
                               Path(inputs.seg_work_dir))
    training['compared_val_miou'] = {
        f'{run.model}, {run.init}': val_miou_curve(run.work_dir)
        for run in runs}
    return training


def figures(inputs: ReportInputs) -> dict:
    """Every figure of the report, as ``report.json`` holds them."""
    reports = load_tool_reports(inputs)
    runs = compared(inputs, reports)
    return dict(
        quick=inputs.quick,
        generated=datetime.datetime.now().isoformat(timespec='seconds'),
        **tool_figures(reports),
        **comparison_figures(runs, reports.benchmark),
        **inference_figures(inputs),
        **quantization_figures(inputs),
        training=training_figures(inputs, runs),
        step_seconds=inputs.step_seconds,
        side_by_side_steps=inputs.side_by_side_steps,
        training_steps=inputs.training_steps,
        commands=inputs.commands)
