"""The report's figures from the tools' JSON reports, read through the
classes that define them (``repseg.results``): a renamed or missing key
fails here, naming the file."""
import datetime
from typing import List, NamedTuple, Optional

from repseg.processor import describe
from repseg.results import (BenchmarkReport, BenchmarkRow, DeployReport,
                            EvaluationReport, InferenceReport, QuantizeReport,
                            ReportFormatError)
from ..models import FROM_SCRATCH, DemoModel
from .inputs import ReportInputs
from .logs import training_curves, val_miou_curve

# Fused and multi-branch models compute the same function up to float
# rounding; their mIoU (in percent, 2 decimals) must agree to this.
MIOU_TOLERANCE = 0.01
# What the demo's evaluations must hold (tools/test.py --report on a
# segmentation model).
SEGMENTATION_METRICS = ('mIoU', 'mAcc', 'aAcc')
# The benchmark's forms of a model as trained (``unfused``: older reports).
MULTI_BRANCH_FORMS = ('multi-branch', 'unfused')


class ToolReports(NamedTuple):
    """The tools' reports the demo report is made from: the fused
    evaluation of each compared model (``ReportInputs.compared``' order),
    the multi-branch evaluation of the deployed one, its deploy.json and
    the benchmark."""
    evaluations: List[EvaluationReport]
    multi_branch: EvaluationReport
    deploy: DeployReport
    benchmark: BenchmarkReport


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


def is_multi_branch(mode: str) -> bool:
    """Whether a benchmark mode is the model as trained, in PyTorch."""
    return mode in MULTI_BRANCH_FORMS


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


def load_benchmark(path, networks: List[str]) -> BenchmarkReport:
    """The benchmark JSON; each compared network must have a fused row
    there (the comparison times it by one)."""
    benchmark = BenchmarkReport.load(path)
    missing = [network for network in dict.fromkeys(networks)
               if fastest_fused_row(benchmark, network) is None]
    if missing:
        raise ReportFormatError(
            f'{path}: no fused row of {missing} (it has rows '
            f'{[row.row for row in benchmark.rows]})')
    return benchmark


def load_tool_reports(inputs: ReportInputs) -> ToolReports:
    """Read deploy.json, the evaluations of the compared models and of the
    multi-branch deployed model, and the benchmark JSON."""
    compared = inputs.compared
    return ToolReports(
        evaluations=[load_segmentation_evaluation(model.evaluation)
                     for model in compared],
        multi_branch=load_segmentation_evaluation(inputs.multi_branch_report),
        deploy=DeployReport.load(inputs.deploy_json),
        benchmark=load_benchmark(inputs.benchmark_json,
                                 [model.network for model in compared]))


def summary_metrics(report: EvaluationReport) -> dict:
    """``{'mIoU': ..., 'mAcc': ..., 'aAcc': ...}`` of one evaluation."""
    return {k: report.metric(k) for k in SEGMENTATION_METRICS}


def miou_comparison(fused: EvaluationReport,
                    multi_branch: EvaluationReport) -> dict:
    """The summary metrics of both evaluations and whether they agree."""
    difference = abs(fused.metric('mIoU') - multi_branch.metric('mIoU'))
    return dict(
        fused=summary_metrics(fused),
        multi_branch=summary_metrics(multi_branch),
        difference=round(difference, 4),
        agree=difference <= MIOU_TOLERANCE,
        tolerance=MIOU_TOLERANCE)


def per_class_figures(inputs: ReportInputs, reports: ToolReports) -> dict:
    """The per-class IoU table: its columns (the deployed model fused and
    multi-branch, then every other compared model, fused) and its rows
    ``[class, IoU per column ...]``."""
    deployed, *others = inputs.compared
    columns = [f'{deployed.label}, fused', f'{deployed.label}, multi-branch'
               ] + [model.label for model in others]
    fused, *other_reports = reports.evaluations
    tables = [reports.multi_branch] + other_reports
    return dict(
        per_class_columns=columns,
        per_class_iou=[[name, iou] + [t.per_class.get(name) for t in tables]
                       for name, iou in fused.per_class.items()])


def benchmark_row(row: BenchmarkRow) -> dict:
    """One timed model and mode of ``tools/analysis_tools/benchmark.py
    --json``: model (its config's name), mode, median and least latency
    (ms; on a shared machine the least is the one other load hardly
    touches), images/s (from the median), speed-up over the benchmark's
    reference row and output difference from the eager fused model."""
    return dict(name=row.model, mode=row.mode, latency_ms=row.median_ms,
                min_latency_ms=row.min_ms, images_per_s=row.images_per_s,
                speedup=row.speedup, max_rel_diff=row.max_rel_diff)


def tool_figures(inputs: ReportInputs, reports: ToolReports) -> dict:
    """The figures that come from the tools' reports."""
    benchmark = reports.benchmark
    return dict(
        accuracy=miou_comparison(reports.evaluations[0],
                                 reports.multi_branch),
        **per_class_figures(inputs, reports),
        equivalence=reports.deploy.to_dict(),
        benchmark=dict(environment=benchmark.environment,
                       processor=(None if benchmark.processor is None else
                                  describe(benchmark.processor)),
                       reference=benchmark.reference,
                       rows=[benchmark_row(row) for row in benchmark.rows]))


def comparison_row(model: DemoModel, evaluation: EvaluationReport,
                   benchmark: BenchmarkReport) -> dict:
    """One compared model: its fused evaluation, its network's
    multiply-adds per image and the benchmark row it is timed by, its
    network's fastest fused row."""
    return dict(model=model.name, init=model.init,
                metrics=summary_metrics(evaluation),
                per_class=dict(evaluation.per_class),
                multiply_adds=multiply_adds(benchmark, model.network),
                timed_by=benchmark_row(
                    fastest_fused_row(benchmark, model.network)))


def comparison_figures(inputs: ReportInputs, reports: ToolReports) -> dict:
    """The comparison's rows, the deployed model's first, each with its
    latency and multiply-adds over the deployed model's (each at its
    fastest fused row); and the mIoU points pretraining adds (the deployed
    model minus its network from scratch on the same schedule; None
    without such a model)."""
    rows = [comparison_row(model, evaluation, reports.benchmark)
            for model, evaluation in zip(inputs.compared,
                                         reports.evaluations)]
    deployed = rows[0]
    for row in rows:
        row['latency_ratio'] = ratio(row['timed_by']['latency_ms'],
                                     deployed['timed_by']['latency_ms'])
        row['multiply_adds_ratio'] = ratio(row['multiply_adds'],
                                           deployed['multiply_adds'])
    scratch = next((row for model, row in zip(inputs.compared, rows)
                    if model.init == FROM_SCRATCH
                    and model.network == inputs.deployed.network), None)
    gain = None if scratch is None or inputs.deployed.init == FROM_SCRATCH \
        else difference(deployed['metrics']['mIoU'],
                        scratch['metrics']['mIoU'])
    return dict(comparison=rows, pretraining_gain=gain)


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


def quantization_row(model: DemoModel) -> dict:
    """One model's FP32 / INT8 row: the mIoU of both ONNX files and the
    drop, how far the INT8 logits and classes are from the FP32 ones on the
    calibration images (quantize.json), both median latencies and the INT8
    speed-up (FP32 latency / INT8 latency)."""
    files = model.quantization
    quantized = QuantizeReport.load(files.quantize_json)
    fp32 = load_segmentation_evaluation(files.fp32_report)
    int8 = load_segmentation_evaluation(files.int8_report)
    fp32_run = InferenceReport.load(files.fp32_inference)
    int8_run = InferenceReport.load(files.int8_inference)
    fp32_miou, int8_miou = fp32.metric('mIoU'), int8.metric('mIoU')
    return dict(
        model=model.name, fp32_miou=fp32_miou, int8_miou=int8_miou,
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
    """``{'quantization': [row, ...]}`` (one row per quantized model, in
    order), or nothing when no model is quantized."""
    if not inputs.quantized:
        return {}
    return dict(quantization=[quantization_row(model)
                              for model in inputs.quantized])


def training_figures(inputs: ReportInputs) -> dict:
    """The deployed model's training curves and its pretraining's, and the
    val mIoU curve of each compared model (``'<model>, <init>'``:
    curve)."""
    pretraining = inputs.pretraining
    training = training_curves(
        None if pretraining is None else pretraining.work_dir,
        inputs.deployed.work_dir)
    training['compared_val_miou'] = {
        model.label: val_miou_curve(model.work_dir)
        for model in inputs.compared}
    return training


def figures(inputs: ReportInputs) -> dict:
    """Every figure of the report, as ``report.json`` holds them."""
    reports = load_tool_reports(inputs)
    return dict(
        quick=inputs.quick,
        generated=datetime.datetime.now().isoformat(timespec='seconds'),
        **tool_figures(inputs, reports),
        **comparison_figures(inputs, reports),
        **inference_figures(inputs),
        **quantization_figures(inputs),
        training=training_figures(inputs),
        step_seconds=inputs.step_seconds,
        side_by_side_steps=inputs.side_by_side_steps,
        training_steps=inputs.training_steps,
        commands=inputs.commands)
