"""The demo pipeline behind ``tools/run_demo.py`` (whose help lists the
steps): repseg's main job on the built-in demo data, as the commands a user
would type (the same tools, the same arguments as the docs/ pages), then the
report. ``Demo`` makes the steps of each model of ``repseg.demo.models``
for a schedule and a work dir; ``repseg.demo.steps`` runs them (skipping
finished ones, resuming an interrupted training); ``repseg.demo.report``
writes the report.
"""
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import Config

from repseg.benchmark.auto import candidate_modes
from repseg.fileio import atomic_output
from .imagenet import MARKER as IMAGENET_MARKER
from .models import (CLASSIFICATION, MODELS, DemoModel, QuantizationFiles,
                     by_key, deployed_model)
from .report import ReportInputs, build_report, check_requirements
from .steps import (DemoError, Lanes, Plan, Step, flatten, read_step_seconds,
                    run_steps, shown)

INPUT_SHAPE = ('128', '256')  # the demo's test size (H W)
# The benchmark's name of the model as trained.
MULTI_BRANCH = 'multi-branch'
# tools/test.py's flag that evaluates the model as trained.
MULTI_BRANCH_FLAG = '--multi-branch'
# Every compared network as trained and fused, and on every path repseg
# deploys in each precision this processor computes natively (auto's
# candidates: ncnn's Winograd path everywhere, bf16 where the processor has
# its units): the report times each compared model at its network's fastest
# fused row, on the machine the demo ran on.
BENCHMARK_MODES = (MULTI_BRANCH, 'fused') + tuple(candidate_modes())
# The names the blocks of lanes record their wall-clock seconds under.
DATA = 'the demo data, two makers at a time (wall clock)'
TRAININGS = 'the trainings with their evaluations, side by side (wall clock)'
BENCHMARK = 'benchmark fused vs multi-branch and the baselines, on each engine'
# Written into every work dir the demo uses: --restart clears only such a
# folder, and a quick run never mixes with a full one.
MARKER = '.run_demo.json'
# The training unit of each task: its schedule's length and checkpoint name.
UNITS = {CLASSIFICATION: 'epoch', 'segmentation': 'iter'}


@dataclass
class Schedule:
    """The options of the steps that are not a model's: the full schedule
    is the configs' own; --quick cuts it."""
    test_options: List[str] = field(default_factory=list)
    benchmark_options: List[str] = field(default_factory=list)
    # tools/quantize.py --calib-images: a third of the demo training
    # images, spread over them.
    calib_images: int = 16
    # Whether the trainings get --work-dir (the quick ones write inside the
    # demo work dir).
    pass_work_dirs: bool = False


FULL = Schedule()
QUICK = Schedule(
    # Every evaluation on the same 4 val images (drawing the overlays of
    # every val image is the slow part of a test).
    test_options=['--cfg-options', 'test_dataloader.dataset.indices=4'],
    benchmark_options=['--repeat', '2', '--warmup', '1'],
    calib_images=2, pass_work_dirs=True)
# --quick: one short pretraining epoch (4 iterations of 32 images, validated
# on 100) and 4 segmentation iterations validated on 4 images.
QUICK_LENGTH = {CLASSIFICATION: 1, 'segmentation': 4}
QUICK_CLS_OPTIONS = [
    'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=128',
    'val_dataloader.dataset.indices=100', 'default_hooks.logger.interval=2'
]
QUICK_SEG_OPTIONS = [
    'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
    # The configs log less often: the curves need points.
    'default_hooks.logger.interval=2', 'val_dataloader.dataset.indices=4'
]


@dataclass
class DemoRun:
    """What a run did: ``{step name: seconds, or 'skipped'}``, the report's
    figures (``report.json``) and the seconds from the first step on."""
    timings: Dict[str, Union[float, str]]
    report: dict
    seconds: float


def tool(name: str, *args) -> List[str]:
    return [f'tools/{name}.py'] + [str(arg) for arg in args]


def final_checkpoint(repo: Path, config: str, unit: str) -> Path:
    """Where ``tools/train.py config`` (run in ``repo``) leaves its last
    checkpoint: ``{unit}_{train_cfg.max_{unit}s}.pth`` (``unit``: 'epoch' or
    'iter') in the config's work dir. Read from the config, so that a
    changed schedule cannot leave the later steps pointing at a missing
    file."""
    cfg = Config.fromfile(str(repo / config), import_custom_modules=False)
    key = f'max_{unit}s'
    count = (cfg.get('train_cfg') or {}).get(key)
    if count is None:
        raise DemoError(f'{config}: no train_cfg.{key}, which names the final '
                        'checkpoint the demo goes on from')
    # tools/train.py's rule: the config's work_dir, else
    # work_dirs/<config name>.
    work_dir = cfg.get('work_dir') or f'work_dirs/{Path(config).stem}'
    return repo / work_dir / f'{unit}_{count}.pth'


class Demo:
    """The demo of the repository checkout at ``repo``: the steps of
    ``models`` (default ``MODELS``), in the work dir ``work_dir`` (default
    ``work_dirs/demo``, with ``quick`` ``work_dirs/demo_quick``), with the
    schedules cut when ``quick``."""

    def __init__(self, repo, work_dir=None, quick: bool = False,
                 models: Sequence[DemoModel] = MODELS):
        self.repo = Path(repo).resolve()
        self.data = self.repo / 'data'
        self.imagenet_root = self.data / 'demo_imagenet'
        self.cityscapes_root = self.data / 'demo_cityscapes'
        self.video = self.data / 'demo_street.mp4'
        self.quick = quick
        default = 'work_dirs/demo_quick' if quick else 'work_dirs/demo'
        self.work_dir = Path(work_dir or self.repo / default).resolve()
        self.deploy_dir = self.work_dir / 'deploy'
        self.schedule = QUICK if quick else FULL
        self.models = self.locate(models)
        self.deployed = deployed_model(self.models)
        self.plan = [self.data_plan()] + self.model_plan()
        self.steps = flatten(self.plan)

    def shown(self, path: Path) -> str:
        """``path`` as a command shows it (relative to the repository)."""
        return shown(path, self.repo)

    # ---------------------------------------------------------- the models
    def locate(self, models: Sequence[DemoModel]) -> List[DemoModel]:
        """``models`` with where their steps write set for this schedule.
        Pretraining models come before the models that start from them."""
        located = []
        for model in models:
            work_dir, checkpoint = self.training_output(model)
            pretrained = (None if model.pretrained_from is None else
                          by_key(located, model.pretrained_from).checkpoint)
            located.append(model.located(
                work_dir=work_dir, checkpoint=checkpoint,
                options=self.training_options(model, pretrained),
                evaluation=self.evaluation_report(model),
                quantization=(QuantizationFiles.under(
                    self.work_dir / 'quantize', model.key)
                    if model.quantized else None)))
        return located

    def training_output(self, model: DemoModel):
        """The training's work dir and final checkpoint: the config's own
        (full), or a folder named like the config in the work dir
        (quick)."""
        unit = UNITS[model.task]
        if not self.quick:
            checkpoint = final_checkpoint(self.repo, model.config, unit)
            return checkpoint.parent, checkpoint
        work_dir = self.work_dir / Path(model.config).stem
        return work_dir, work_dir / f'{unit}_{QUICK_LENGTH[model.task]}.pth'

    def training_options(self, model: DemoModel,
                         pretrained: Optional[Path]) -> List[str]:
        """tools/train.py's --cfg-options: none for the full schedule; the
        quick cut, and for a pretrained segmentor its quick pretraining's
        checkpoint. The segmentation config copies its
        ``pretrained_checkpoint`` into model.backbone.init_cfg.checkpoint
        when it is read, so that key is what points at it."""
        if not self.quick:
            return []
        if model.task == CLASSIFICATION:
            return list(QUICK_CLS_OPTIONS)
        options = list(QUICK_SEG_OPTIONS)
        if pretrained is not None:
            options.append('model.backbone.init_cfg.checkpoint='
                           f'{self.shown(pretrained)}')
        return options

    def evaluation_report(self, model: DemoModel) -> Optional[Path]:
        """Where a compared model's fused evaluation goes."""
        if not model.compared:
            return None
        name = 'fused' if model.deployed else model.key
        return self.work_dir / f'test_{name}.json'

    def train_work_dirs(self) -> List[Path]:
        """Every training's work dir (what --restart clears)."""
        return [model.work_dir for model in self.models]

    def lanes(self) -> List[List[DemoModel]]:
        """The models of each training lane, in order."""
        count = 1 + max(model.lane for model in self.models)
        return [[model for model in self.models if model.lane == lane]
                for lane in range(count)]

    # ---------------------------------------------------------------- steps
    def data_plan(self) -> Lanes:
        """The two demo datasets and the street video, two makers at a
        time (each is one process on one core)."""
        # The makers write their folder under a temporary name and rename
        # it; the converter writes the split lists last.
        imagenet, cityscapes = self.imagenet_root, self.cityscapes_root
        return Lanes(DATA, [[
            Step('make the classification demo data',
                 tool('dataset_converters/make_demo_data', 'imagenet',
                      self.shown(imagenet)),
                 # The marker, not the folder: a folder an older maker drew
                 # (other classes) is remade.
                 [imagenet / IMAGENET_MARKER], invalidates_later=False),
            Step('make the demo street video',
                 tool('dataset_converters/make_demo_data', 'video',
                      self.shown(self.video)),
                 [self.video], invalidates_later=False),
        ], [
            Step('make the Cityscapes-format demo data',
                 tool('dataset_converters/make_demo_data', 'cityscapes',
                      self.shown(cityscapes)),
                 [cityscapes], invalidates_later=False),
            Step('convert the Cityscapes-format demo data',
                 tool('dataset_converters/cityscapes',
                      self.shown(cityscapes)),
                 [cityscapes / 'train.txt', cityscapes / 'val.txt'],
                 invalidates_later=False),
        ]])

    def model_plan(self) -> Plan:
        """The training lanes side by side, each its models' trainings and
        then what needs no idle cores: their fusion, evaluations and
        quantization. Then, on idle cores, what is timed: the benchmark and
        the tools/infer.py runs."""
        return [
            Lanes(TRAININGS, [self.lane_steps(lane)
                              for lane in self.lanes()]),
            self.benchmark_step(),
        ] + self.inference_steps() + [
            step for model in self.models if model.quantized
            for step in self.timing_steps(model)]

    def lane_steps(self, models: List[DemoModel]) -> List[Step]:
        """A lane: its models' trainings in order, then their evaluations,
        then their quantizations."""
        return ([self.train_step(model) for model in models]
                + [step for model in models
                   for step in self.evaluation_steps(model)]
                + [step for model in models if model.quantized
                   for step in self.quantize_steps(model)])

    def train_step(self, model: DemoModel) -> Step:
        args = [model.config]
        if self.schedule.pass_work_dirs:
            args += ['--work-dir', self.shown(model.work_dir)]
        if model.options:
            args += ['--cfg-options'] + model.options
        return Step(self.train_step_name(model), tool('train', *args),
                    [model.checkpoint], resumable_work_dir=model.work_dir)

    @staticmethod
    def train_step_name(model: DemoModel) -> str:
        if model.task == CLASSIFICATION:
            return f'pretrain {model.name} on the classification demo'
        if model.pretrained_from is not None:
            return f'train {model.name} on the Cityscapes-format demo'
        return f'train {model.name} from scratch (the same schedule)'

    def evaluation_step(self, name: str, config: str, checkpoint: str,
                        report: Path, log_name: str, *options) -> Step:
        """``tools/test.py config checkpoint [options]`` on the schedule's
        test images: its figures to ``report``, its logs to
        WORK/logs/``log_name``."""
        shown = self.shown
        return Step(name,
                    tool('test', config, checkpoint, *options,
                         '--report', shown(report),
                         '--work-dir', shown(self.work_dir / 'logs' /
                                             log_name),
                         *self.schedule.test_options),
                    [report])

    def evaluation_steps(self, model: DemoModel) -> List[Step]:
        """A compared model evaluated fused (as tools/test.py does by
        default); the deployed one fused by tools/deploy.py first, and
        evaluated as trained too."""
        if model.deployed:
            return self.deployment_steps(model)
        if not model.compared:
            return []
        return [self.evaluation_step(
            f'evaluate {model.name} {model.init} (fused)', model.config,
            self.shown(model.checkpoint), model.evaluation,
            model.evaluation.stem)]

    def deployment_steps(self, model: DemoModel) -> List[Step]:
        """Fuse the model (and export ONNX at the test size: PSPNet's
        pooling grid fixes its input size), evaluate the fused model (its
        predictions kept for the report's samples) and the multi-branch
        one."""
        work_dir, shown = self.work_dir, self.shown
        deploy_dir = self.deploy_dir
        checkpoint = shown(model.checkpoint)
        return [
            Step('fuse the trained model (deploy)',
                 tool('deploy', model.config, checkpoint, shown(deploy_dir),
                      '--shape', *INPUT_SHAPE, '--onnx'),
                 [deploy_dir / 'deploy.json', deploy_dir / 'deploy.onnx']),
            Step('evaluate the fused model',
                 tool('test', shown(deploy_dir / 'deploy.py'),
                      shown(deploy_dir / 'deploy.pth'),
                      '--report', shown(model.evaluation),
                      '--out', shown(work_dir / 'predictions'),
                      '--show-dir', shown(work_dir / 'show'),
                      '--work-dir', shown(work_dir / 'logs' /
                                          model.evaluation.stem),
                      *self.schedule.test_options),
                 [work_dir / 'predictions', model.evaluation]),
            self.evaluation_step(
                'evaluate the multi-branch model', model.config, checkpoint,
                self.multi_branch_report(), 'test_multibranch',
                MULTI_BRANCH_FLAG),
        ]

    def multi_branch_report(self) -> Path:
        return self.work_dir / 'test_multibranch.json'

    def benchmark_step(self) -> Step:
        """The deployed model in every mode, beside every other compared
        network (the baselines, timed with random weights: speed does not
        depend on them), on each engine."""
        deployed = self.deployed
        baselines = list(dict.fromkeys(
            model.benchmark_config or model.config for model in self.models
            if model.compared and model.network != deployed.network))
        return Step(
            BENCHMARK,
            tool('analysis_tools/benchmark', deployed.config,
                 self.shown(deployed.checkpoint),
                 '--modes', *BENCHMARK_MODES, '--baselines', *baselines,
                 '--shape', *INPUT_SHAPE, '--batch-size', '1',
                 '--reference', f'{deployed.network}:{MULTI_BRANCH}',
                 '--keep-going', *self.schedule.benchmark_options,
                 '--json', self.shown(self.benchmark_json())),
            [self.benchmark_json()])

    def benchmark_json(self) -> Path:
        return self.work_dir / 'benchmark.json'

    def quantize_steps(self, model: DemoModel) -> List[Step]:
        """Quantize one model (tools/quantize.py, calibrated on training
        images) and evaluate its FP32 and INT8 ONNX files with the same
        metric (tools/test.py)."""
        shown, q = self.shown, model.quantization
        steps = [Step(f'quantize {model.name} (INT8)',
                      tool('quantize', model.config, shown(model.checkpoint),
                           shown(q.out_dir), '--calib-images',
                           self.schedule.calib_images),
                      [q.quantize_json, q.onnx_file('int8')])]
        return steps + [self.evaluation_step(
            f'evaluate {model.name} {kind.upper()} (ONNX)',
            shown(q.deploy_config), shown(q.onnx_file(kind)), q.report(kind),
            f'test_{model.key}_{kind}') for kind in ('fp32', 'int8')]

    def timing_steps(self, model: DemoModel) -> List[Step]:
        """The latency of one model's FP32 and INT8 ONNX files on the val
        images (tools/infer.py, one run after the other on idle cores)."""
        shown, q = self.shown, model.quantization
        val_images = shown(self.cityscapes_root / 'leftImg8bit' / 'val')
        return [Step(
            f'time {model.name} {kind.upper()} on the val images (infer)',
            tool('infer', shown(q.deploy_config), shown(q.onnx_file(kind)),
                 val_images, '--json', shown(q.inference(kind))),
            [q.inference(kind)]) for kind in ('fp32', 'int8')]

    def inference_steps(self) -> List[Step]:
        """The deployed model on the val images and on the street video,
        as a user runs it on their own (tools/infer.py, ONNX Runtime)."""
        work_dir, shown = self.work_dir, self.shown
        model = [shown(self.deploy_dir / 'deploy.py'),
                 shown(self.deploy_dir / 'deploy.onnx')]
        val_images = self.cityscapes_root / 'leftImg8bit' / 'val'
        return [
            Step('segment the val images (infer)',
                 tool('infer', *model, shown(val_images),
                      '--out', shown(work_dir / 'infer_val'),
                      '--json', shown(work_dir / 'infer_val.json')),
                 [work_dir / 'infer_val.json']),
            Step('segment the street video (infer)',
                 tool('infer', *model, shown(self.video),
                      '--out', shown(work_dir / 'infer_video'),
                      '--json', shown(work_dir / 'infer_video.json')),
                 [work_dir / 'infer_video.json', self.overlay_video()]),
        ]

    def overlay_video(self) -> Path:
        """Where tools/infer.py writes the video's overlays."""
        return (self.work_dir / 'infer_video' /
                f'{self.video.stem}_overlay{self.video.suffix}')

    # ------------------------------------------------------------ work dirs
    def check_location(self, path: Path) -> None:
        """Refuse a work dir that is, or holds, the repository or data/, or
        lies inside data/: --restart clears the work dir."""
        if path.is_relative_to(self.data) or any(
                keep.is_relative_to(path) for keep in (self.repo, self.data)):
            raise DemoError(f'{path} cannot be a work dir: it holds or is '
                            f'inside {self.repo} or {self.data}')

    def clear(self, path: Path) -> None:
        self.check_location(path)
        if path.exists():
            print(f'[run_demo] --restart: removing {self.shown(path)}',
                  flush=True)
            shutil.rmtree(path)

    def prepare_work_dir(self, restart: bool) -> None:
        """Create (or with ``restart``, clear) the work dir and mark it,
        refusing to mix a quick run with a full one or to clear an unknown
        folder."""
        work_dir = self.work_dir
        self.check_location(work_dir)
        marker = read_marker(work_dir)
        not_ours = (work_dir.is_dir() and any(work_dir.iterdir())
                    and marker is None)
        if restart:
            if not_ours:
                raise DemoError(
                    '--restart clears only work dirs that run_demo.py made; '
                    f'{work_dir} is not one (no {MARKER})')
            self.clear(work_dir)
            for train_dir in self.train_work_dirs():
                self.clear(train_dir)
            marker = None
        elif marker is not None and marker.get('quick') != self.quick:
            kind = 'quick' if marker.get('quick') else 'full'
            raise DemoError(f'{work_dir} holds a {kind} demo run; give '
                            'another --work-dir or --restart')
        work_dir.mkdir(parents=True, exist_ok=True)
        if marker is None:
            with atomic_output(work_dir / MARKER) as tmp:
                tmp.write_text(json.dumps(dict(quick=self.quick)))

    # ---------------------------------------------------------------- run
    def report_inputs(self, step_seconds: dict) -> ReportInputs:
        work_dir = self.work_dir
        return ReportInputs(
            work_dir=work_dir, models=self.models,
            deploy_json=self.deploy_dir / 'deploy.json',
            multi_branch_report=self.multi_branch_report(),
            benchmark_json=self.benchmark_json(),
            predictions_dir=work_dir / 'predictions',
            data_root=self.cityscapes_root,
            image_inference=work_dir / 'infer_val.json',
            video_inference=work_dir / 'infer_video.json',
            overlay_video=self.overlay_video(),
            commands=[step.shell() for step in self.steps],
            step_seconds={name: step_seconds.get(name)
                          for name in self.timed_names()},
            side_by_side_steps=[step.name for item in self.plan
                                if isinstance(item, Lanes)
                                for step in item.steps()],
            training_steps=[step.name for step in self.steps
                            if step.resumable_work_dir is not None],
            quick=self.quick)

    def timed_names(self) -> List[str]:
        """The names step_seconds.json records, in plan order: every step,
        and each block of lanes before its steps."""
        names = []
        for item in self.plan:
            if isinstance(item, Lanes):
                names.append(item.name)
            names += [step.name for step in flatten([item])]
        return names

    def run(self, restart: bool = False) -> DemoRun:
        """Prepare the work dir, run the unfinished steps and write the
        report; ``DemoError`` when the demo cannot go on."""
        check_requirements()
        self.prepare_work_dir(restart)
        start = time.monotonic()
        timings = run_steps(self.plan, self.work_dir, self.repo)
        print('\n[run_demo] writing the report', flush=True)
        report = build_report(
            self.report_inputs(read_step_seconds(self.work_dir)))
        return DemoRun(timings, report, time.monotonic() - start)


def read_marker(work_dir: Path):
    marker = work_dir / MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None
