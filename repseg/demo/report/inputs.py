"""Where the demo's step outputs lie, as the report reads them."""
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Sequence


class QuantizationFiles(NamedTuple):
    """One model's post-training INT8 outputs: ``tools/quantize.py``'s
    quantize.json, the ``tools/test.py --report`` files of its FP32 and
    INT8 ONNX models and the ``tools/infer.py --json`` runs of each."""
    quantize_json: Path
    fp32_report: Path
    int8_report: Path
    fp32_inference: Path
    int8_inference: Path


class ReportInputs:
    """Where the step outputs lie (every path a ``pathlib.Path``).

    Args:
        work_dir: the demo work dir; the report is written there.
        cls_work_dir: the classification pretraining's work dir (its logs).
        seg_work_dir: the segmentation training's work dir (its logs).
        scratch_work_dir / r18_work_dir: the work dirs of the same schedule
            from random weights, of PSPNet-RepVGG-A0 and of PSPNet-R-18.
        deploy_json: ``tools/deploy.py``'s equivalence report.
        fused_report / multibranch_report: ``tools/test.py --report`` files
            of the trained (pretrained) PSPNet-RepVGG-A0.
        scratch_report / r18_report: ``tools/test.py --report`` files of the
            two segmentors trained from scratch (fused).
        benchmark_json: ``tools/analysis_tools/benchmark.py --json`` output.
        predictions_dir: ``tools/test.py --out`` (Cityscapes labelId PNGs).
        data_root: the Cityscapes-format dataset that was evaluated.
        commands: the command lines of the steps, to reproduce the figures.
        step_seconds: ``{step name: seconds its last run took, or None}``.
        side_by_side_steps: the steps of ``step_seconds`` that ran side by
            side, inside a block of lanes whose own wall-clock seconds are
            in ``step_seconds`` too (the total counts the block, not them).
        training_steps: the steps of ``step_seconds`` that are trainings
            (the report sums their seconds).
        quick: whether the schedules were cut (``run_demo.py --quick``).
        image_inference / video_inference: ``tools/infer.py --json`` files
            of the val images and of the street video; the report's
            inference section needs both (None: no such section).
        overlay_video: the video of overlays ``tools/infer.py`` wrote (the
            report shows a strip of its frames; None: no strip).
        quantization: ``{model label: QuantizationFiles}``, the FP32 / INT8
            table's rows in order (None or empty: no such section).
    """

    def __init__(self, work_dir, cls_work_dir, seg_work_dir,
                 scratch_work_dir, r18_work_dir, deploy_json, fused_report,
                 multibranch_report, scratch_report, r18_report,
                 benchmark_json, predictions_dir, data_root,
                 commands: Sequence[str],
                 step_seconds: Dict[str, float] = None,
                 side_by_side_steps: Sequence[str] = (),
                 training_steps: Sequence[str] = (), quick: bool = False,
                 image_inference=None, video_inference=None,
                 overlay_video=None,
                 quantization: Dict[str, QuantizationFiles] = None):
        self.work_dir = Path(work_dir)
        self.cls_work_dir = Path(cls_work_dir)
        self.seg_work_dir = Path(seg_work_dir)
        self.scratch_work_dir = Path(scratch_work_dir)
        self.r18_work_dir = Path(r18_work_dir)
        self.deploy_json = Path(deploy_json)
        self.fused_report = Path(fused_report)
        self.multibranch_report = Path(multibranch_report)
        self.scratch_report = Path(scratch_report)
        self.r18_report = Path(r18_report)
        self.benchmark_json = Path(benchmark_json)
        self.predictions_dir = Path(predictions_dir)
        self.data_root = Path(data_root)
        self.commands = list(commands)
        self.step_seconds = dict(step_seconds or {})
        self.side_by_side_steps = list(side_by_side_steps)
        self.training_steps = list(training_steps)
        self.quick = quick
        self.image_inference = _optional_path(image_inference)
        self.video_inference = _optional_path(video_inference)
        self.overlay_video = _optional_path(overlay_video)
        self.quantization = {
            label: QuantizationFiles(*map(Path, files))
            for label, files in (quantization or {}).items()}


def _optional_path(path) -> Optional[Path]:
    return None if path is None else Path(path)
