"""The models the demo trains and compares, one ``DemoModel`` entry each.

``MODELS`` is the whole list: the pipeline makes each entry's steps (in its
lane: its training, its evaluations, its quantization) and the report makes
each entry's rows (the comparison, the per-class table, the curves, the
FP32 / INT8 table). Adding a compared model is adding one entry.
"""
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from .steps import DemoError

CLASSIFICATION, SEGMENTATION = 'classification', 'segmentation'
PRETRAINED, FROM_SCRATCH = 'pretrained', 'from scratch'


@dataclass(frozen=True)
class QuantizationFiles:
    """Where one model's post-training INT8 steps write: the
    ``tools/quantize.py`` folder (it replaces the whole folder, so the rest
    lies beside it), the ``tools/test.py --report`` files of its FP32 and
    INT8 ONNX models and the ``tools/infer.py --json`` runs of each."""
    out_dir: Path
    fp32_report: Path
    int8_report: Path
    fp32_inference: Path
    int8_inference: Path

    @classmethod
    def under(cls, root: Path, key: str) -> 'QuantizationFiles':
        """The files of the model ``key`` in the quantization folder
        ``root``."""
        return cls(root / key, *(root / f'{key}_{name}.json' for name in (
            'test_fp32', 'test_int8', 'infer_fp32', 'infer_int8')))

    @property
    def quantize_json(self) -> Path:
        return self.out_dir / 'quantize.json'

    @property
    def deploy_config(self) -> Path:
        return self.out_dir / 'deploy.py'

    def onnx_file(self, kind: str) -> Path:
        """The FP32 (``kind`` 'fp32') or INT8 ('int8') ONNX model."""
        return self.out_dir / ('deploy.int8.onnx' if kind == 'int8' else
                               'deploy.onnx')

    def report(self, kind: str) -> Path:
        return self.int8_report if kind == 'int8' else self.fp32_report

    def inference(self, kind: str) -> Path:
        return self.int8_inference if kind == 'int8' else self.fp32_inference


@dataclass(frozen=True)
class DemoModel:
    """One model the demo trains.

    The first fields say what it is (``MODELS``); ``work_dir``,
    ``checkpoint``, ``options``, ``evaluation`` and ``quantization`` say
    where its steps write, and are set for a schedule by the pipeline
    (``located``).

    Args:
        name: How the steps and the report name it (``PSPNet-RepVGG-A0``).
        config: Its config, relative to the repository.
        key: The stem of its files in the demo work dir (``test_<key>.json``,
            ``quantize/<key>``).
        task: ``classification`` (a backbone's pretraining, trained in
            epochs) or ``segmentation`` (trained in iterations).
        lane: The training lane it trains in; it reads only what the models
            before it in its lane wrote (its pretraining).
        pretrained_from: The ``key`` of the classification model whose final
            checkpoint its backbone starts from (None: random weights).
        compared: Whether it is a row of the comparison (evaluated fused,
            timed at its network's fastest fused benchmark row).
        deployed: Whether it is the model deployed: fused (tools/deploy.py),
            evaluated in both forms, run on the val images and the video,
            and the benchmark's reference. Exactly one compared model is.
        quantized: Whether it is quantized to INT8 and both its ONNX files
            evaluated and timed.
        benchmark_config: The config the benchmark times its network by
            (None: its own); models of one network share one.
    """
    name: str
    config: str
    key: str
    task: str
    lane: int
    pretrained_from: Optional[str] = None
    compared: bool = False
    deployed: bool = False
    quantized: bool = False
    benchmark_config: Optional[str] = None
    work_dir: Optional[Path] = None
    checkpoint: Optional[Path] = None
    options: List[str] = field(default_factory=list)
    evaluation: Optional[Path] = None
    quantization: Optional[QuantizationFiles] = None

    @property
    def init(self) -> str:
        """How its backbone starts: ``pretrained`` or ``from scratch``."""
        return FROM_SCRATCH if self.pretrained_from is None else PRETRAINED

    @property
    def network(self) -> str:
        """The benchmark's name for its network: its benchmark config's
        name."""
        return Path(self.benchmark_config or self.config).stem

    @property
    def label(self) -> str:
        """``'<name>, <init>'``: one compared model among those of one
        network."""
        return f'{self.name}, {self.init}'

    def located(self, **where) -> 'DemoModel':
        """This entry with the fields of a schedule set (``work_dir`` ...)."""
        return dataclasses.replace(self, **where)


MODELS = (
    DemoModel('RepVGG-A0', 'configs/demo/repvgg_a0_demo_cls.py',
              'repvgg_a0_cls', CLASSIFICATION, lane=0),
    DemoModel('PSPNet-RepVGG-A0', 'configs/demo/pspnet_repvgg_a0_demo.py',
              'repvgg_a0', SEGMENTATION, lane=0,
              pretrained_from='repvgg_a0_cls', compared=True, deployed=True,
              quantized=True),
    # What pretraining adds: the same network and schedule, random weights.
    DemoModel('PSPNet-RepVGG-A0',
              'configs/demo/pspnet_repvgg_a0_demo_scratch.py', 'scratch',
              SEGMENTATION, lane=0, compared=True,
              benchmark_config='configs/demo/pspnet_repvgg_a0_demo.py'),
    DemoModel('QARepVGG-A0', 'configs/demo/qarepvgg_a0_demo_cls.py',
              'qarepvgg_a0_cls', CLASSIFICATION, lane=1),
    DemoModel('PSPNet-QARepVGG-A0', 'configs/demo/pspnet_qarepvgg_a0_demo.py',
              'qarepvgg_a0', SEGMENTATION, lane=1,
              pretrained_from='qarepvgg_a0_cls', quantized=True),
    # The baseline: mmseg's PSPNet-R-18 on the same schedule, from random
    # weights (it has no pretrained backbone in the demo).
    DemoModel('PSPNet-R-18', 'configs/demo/pspnet_r18_demo.py', 'r18',
              SEGMENTATION, lane=1, compared=True),
)


def deployed_model(models: Sequence[DemoModel]) -> DemoModel:
    """The one deployed model of ``models``."""
    deployed = [model for model in models if model.deployed]
    if len(deployed) != 1 or not deployed[0].compared:
        raise DemoError('the demo needs exactly one deployed model, a '
                         f'compared one; got {[m.key for m in deployed]}')
    return deployed[0]


def by_key(models: Sequence[DemoModel], key: str) -> DemoModel:
    """The model ``key`` of ``models``."""
    for model in models:
        if model.key == key:
            return model
    raise DemoError(f'no demo model {key!r} before the one that starts from '
                    f'it (the models: {[m.key for m in models]})')
