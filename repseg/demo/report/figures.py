"""The report's figures from the tools' JSON reports, read through the
classes that define them (``repseg.results``): a renamed or missing key
fails here, naming the file."""
import datetime
from pathlib import Path
from typing import List, NamedTuple, Optional

from repseg.results import (BenchmarkReport, DeployReport, EvaluationReport,
                            InferenceReport, QuantizeReport,
                            ReportFormatError)
from .inputs import QuantizationFiles, ReportInputs
from .logs import training_curves

# Fused and multi-branch models compute the same function up to float
# rounding; their mIoU (in percent, 2 decimals) must agree to this.
MIOU_TOLERANCE = 0.01
# What the demo's evaluations must hold (tools/test.py --report on a
# segmentation model).
SEGMENTATION_METRICS = ('mIoU', 'mAcc', 'aAcc')


class ToolReports(NamedTuple):
    """The tools' reports the demo report is made from."""
    fused: EvaluationReport
    multibranch: EvaluationReport
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


def load_tool_reports(inputs: ReportInputs) -> ToolReports:
    """Read deploy.json, both evaluations and the benchmark JSON."""
    return ToolReports(
        fused=load_segmentation_evaluation(inputs.fused_report),
        multibranch=load_segmentation_evaluation(inputs.multibranch_report),
        deploy=DeployReport.load(inputs.deploy_json),
        benchmark=BenchmarkReport.load(inputs.benchmark_json))


def miou_comparison(fused: EvaluationReport,
                    multibranch: EvaluationReport) -> dict:
    """The summary metrics of both evaluations and whether they agree."""
    difference = abs(fused.metric('mIoU') - multibranch.metric('mIoU'))
    return dict(
        fused={k: fused.metric(k) for k in SEGMENTATION_METRICS},
        multi_branch={k: multibranch.metric(k) for k in SEGMENTATION_METRICS},
        difference=round(difference, 4),
        agree=difference <= MIOU_TOLERANCE,
        tolerance=MIOU_TOLERANCE)


def per_class_table(fused: EvaluationReport,
                    multibranch: EvaluationReport) -> List[list]:
    """``[[class, fused IoU, multi-branch IoU], ...]``."""
    return [[name, iou, multibranch.per_class.get(name)]
            for name, iou in fused.per_class.items()]


def benchmark_rows(benchmark: BenchmarkReport) -> List[dict]:
    """One row per timed model and mode of
    ``tools/analysis_tools/benchmark.py --json``: model (its config's name),
    mode, median and least latency (ms; on a shared machine the least is the
    one other load hardly touches), images/s (from the median), speed-up
    over the benchmark's reference row and output difference from the eager
    fused model."""
    return [dict(name=row.model, mode=row.mode, latency_ms=row.median_ms,
                 min_latency_ms=row.min_ms, images_per_s=row.images_per_s,
                 speedup=row.speedup, max_rel_diff=row.max_rel_diff)
            for row in benchmark.rows]


def tool_figures(reports: ToolReports) -> dict:
    """The figures that come from the tools' reports."""
    benchmark = reports.benchmark
    return dict(
        accuracy=miou_comparison(reports.fused, reports.multibranch),
        per_class_iou=per_class_table(reports.fused, reports.multibranch),
        equivalence=reports.deploy.to_dict(),
        benchmark=dict(environment=benchmark.environment,
                       reference=benchmark.reference,
                       rows=benchmark_rows(benchmark)))


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
    drop = (None if fp32_miou is None or int8_miou is None else
            round(fp32_miou - int8_miou, 4))
    return dict(
        model=label, fp32_miou=fp32_miou, int8_miou=int8_miou,
        miou_drop=drop, evaluated_backends=[fp32.backend, int8.backend],
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


def figures(inputs: ReportInputs) -> dict:
    """Every figure of the report, as ``report.json`` holds them."""
    return dict(
        quick=inputs.quick,
        generated=datetime.datetime.now().isoformat(timespec='seconds'),
        **tool_figures(load_tool_reports(inputs)),
        **inference_figures(inputs),
        **quantization_figures(inputs),
        training=training_curves(Path(inputs.cls_work_dir),
                                 Path(inputs.seg_work_dir)),
        step_seconds=inputs.step_seconds,
        commands=inputs.commands)
