"""Where the demo's step outputs lie, as the report reads them."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..models import DemoModel, by_key, deployed_model


@dataclass
class ReportInputs:
    """Where the step outputs lie.

    Args:
        work_dir: The demo work dir; the report is written there.
        models: The demo's models, located (``DemoModel.located``): each
            compared one's training work dir (its logs) and fused
            evaluation, each quantized one's ``QuantizationFiles``; the
            deployed model's pretraining (its logs).
        deploy_json: ``tools/deploy.py``'s equivalence report of the
            deployed model.
        multi_branch_report: ``tools/test.py --report`` of the deployed
            model as trained.
        benchmark_json: ``tools/analysis_tools/benchmark.py --json`` output.
        predictions_dir: ``tools/test.py --out`` of the fused deployed model
            (Cityscapes labelId PNGs).
        data_root: The Cityscapes-format dataset that was evaluated.
        commands: The command lines of the steps, to reproduce the figures.
        step_seconds: ``{step name: seconds its last run took, or None}``.
        side_by_side_steps: The steps of ``step_seconds`` that ran side by
            side, inside a block of lanes whose own wall-clock seconds are
            in ``step_seconds`` too (the total counts the block, not them).
        training_steps: The steps of ``step_seconds`` that are trainings
            (the report sums their seconds).
        quick: Whether the schedules were cut (``run_demo.py --quick``).
        image_inference / video_inference: ``tools/infer.py --json`` files
            of the val images and of the street video; the report's
            inference section needs both (None: no such section).
        overlay_video: The video of overlays ``tools/infer.py`` wrote (the
            report shows a strip of its frames; None: no strip).
    """
    work_dir: Path
    models: List[DemoModel]
    deploy_json: Path
    multi_branch_report: Path
    benchmark_json: Path
    predictions_dir: Path
    data_root: Path
    commands: List[str] = field(default_factory=list)
    step_seconds: Dict[str, Optional[float]] = field(default_factory=dict)
    side_by_side_steps: List[str] = field(default_factory=list)
    training_steps: List[str] = field(default_factory=list)
    quick: bool = False
    image_inference: Optional[Path] = None
    video_inference: Optional[Path] = None
    overlay_video: Optional[Path] = None

    @property
    def deployed(self) -> DemoModel:
        return deployed_model(self.models)

    @property
    def compared(self) -> List[DemoModel]:
        """The comparison's models, the deployed one first."""
        return [self.deployed] + [model for model in self.models
                                  if model.compared and not model.deployed]

    @property
    def quantized(self) -> List[DemoModel]:
        return [model for model in self.models if model.quantized]

    @property
    def pretraining(self) -> Optional[DemoModel]:
        """The deployed model's pretraining (None: it has none)."""
        key = self.deployed.pretrained_from
        return None if key is None else by_key(self.models, key)
