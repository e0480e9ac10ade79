"""The demo pipeline behind ``tools/run_demo.py`` (whose help lists the
steps): repseg's main job on the built-in demo data, as the commands a user
would type (the same tools, the same arguments as the README), then the
report. ``Demo`` defines the schedules, the steps and the work dir;
``repseg.demo.steps`` runs the steps (skipping finished ones, resuming an
interrupted training); ``repseg.demo.report`` writes the report.
"""
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Union

from repseg.fileio import atomic_output
from .report import ReportInputs, build_report
from .steps import DemoError, Step, read_step_seconds, run_steps, shown

CLS_CONFIG = 'configs/demo/repvgg_a0_demo_cls.py'
SEG_CONFIG = 'configs/demo/pspnet_repvgg_a0_demo.py'
BASELINE_CONFIG = 'configs/demo/pspnet_r18_demo.py'
INPUT_SHAPE = ('128', '256')  # the demo's test size (H W)
# Written into every work dir the demo uses: --restart clears only such a
# folder, and a quick run never mixes with a full one.
MARKER = '.run_demo.json'


@dataclass
class Schedule:
    """Where the training runs write and what they end with. The full
    schedule is the configs' own; --quick cuts it (``*_options`` are the
    tools' --cfg-options)."""
    cls_work_dir: Path
    seg_work_dir: Path
    cls_checkpoint: Path
    seg_checkpoint: Path
    cls_options: List[str] = field(default_factory=list)
    seg_options: List[str] = field(default_factory=list)
    test_options: List[str] = field(default_factory=list)
    benchmark_options: List[str] = field(default_factory=list)
    pass_work_dirs: bool = False


@dataclass
class DemoRun:
    """What a run did: ``{step name: seconds, or 'skipped'}``, the report's
    figures (``report.json``) and the seconds from the first step on."""
    timings: Dict[str, Union[float, str]]
    report: dict
    seconds: float


def tool(name: str, *args) -> List[str]:
    return [f'tools/{name}.py'] + [str(arg) for arg in args]


class Demo:
    """The demo of the repository checkout at ``repo``: its steps, in the
    work dir ``work_dir`` (default ``work_dirs/demo``, with ``quick``
    ``work_dirs/demo_quick``), with the schedules cut when ``quick``."""

    def __init__(self, repo, work_dir=None, quick: bool = False):
        self.repo = Path(repo).resolve()
        self.data = self.repo / 'data'
        self.imagenet_root = self.data / 'demo_imagenet'
        self.cityscapes_root = self.data / 'demo_cityscapes'
        self.video = self.data / 'demo_street.mp4'
        self.quick = quick
        default = 'work_dirs/demo_quick' if quick else 'work_dirs/demo'
        self.work_dir = Path(work_dir or self.repo / default).resolve()
        self.schedule = (self.quick_schedule() if quick else
                         self.full_schedule())
        self.steps = self.data_steps() + self.model_steps()

    def shown(self, path: Path) -> str:
        """``path`` as a command shows it (relative to the repository)."""
        return shown(path, self.repo)

    # ------------------------------------------------------------ schedules
    def full_schedule(self) -> Schedule:
        # The configs' own work dirs and final checkpoints: 30 epochs
        # (repvgg_a0_demo_cls.py sets work_dir), 300 iterations.
        cls_dir = self.repo / 'work_dirs/repvgg_a0_demo_cls'
        seg_dir = self.repo / 'work_dirs/pspnet_repvgg_a0_demo'
        return Schedule(cls_dir, seg_dir, cls_dir / 'epoch_30.pth',
                        seg_dir / 'iter_300.pth')

    def quick_schedule(self) -> Schedule:
        """One short pretraining epoch, 4 segmentation iterations and 4 val
        images, in work dirs under the work dir. The segmentation config
        copies its ``pretrained_checkpoint`` into
        model.backbone.init_cfg.checkpoint when it is read, so that key is
        what points at the quick epoch_1.pth."""
        cls_dir = self.work_dir / 'repvgg_a0_demo_cls'
        seg_dir = self.work_dir / 'pspnet_repvgg_a0_demo'
        cls_checkpoint = cls_dir / 'epoch_1.pth'
        return Schedule(
            cls_dir, seg_dir, cls_checkpoint, seg_dir / 'iter_4.pth',
            cls_options=[
                'train_cfg.max_epochs=1',
                # 4 iterations of 32 images, validated on 100.
                'train_dataloader.dataset.indices=128',
                'val_dataloader.dataset.indices=100',
                'default_hooks.logger.interval=2'
            ],
            seg_options=[
                'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                # The config logs every 20 iterations: the curve needs
                # points.
                'default_hooks.logger.interval=2',
                'model.backbone.init_cfg.checkpoint='
                f'{self.shown(cls_checkpoint)}',
                'val_dataloader.dataset.indices=4'
            ],
            # Both evaluations on the same 4 val images (drawing the
            # overlays of every val image is the slow part of a test).
            test_options=['--cfg-options',
                          'test_dataloader.dataset.indices=4'],
            benchmark_options=['--repeat', '2', '--warmup', '1'],
            pass_work_dirs=True)

    # ---------------------------------------------------------------- steps
    def data_steps(self) -> List[Step]:
        # The makers write their folder under a temporary name and rename
        # it; the converter writes the split lists last.
        imagenet, cityscapes = self.imagenet_root, self.cityscapes_root
        return [
            Step('make the classification demo data',
                 tool('dataset_converters/make_demo_data', 'imagenet',
                      self.shown(imagenet)),
                 [imagenet], invalidates_later=False),
            Step('make the Cityscapes-format demo data',
                 tool('dataset_converters/make_demo_data', 'cityscapes',
                      self.shown(cityscapes)),
                 [cityscapes], invalidates_later=False),
            Step('convert the Cityscapes-format demo data',
                 tool('dataset_converters/cityscapes',
                      self.shown(cityscapes)),
                 [cityscapes / 'train.txt', cityscapes / 'val.txt'],
                 invalidates_later=False),
            Step('make the demo street video',
                 tool('dataset_converters/make_demo_data', 'video',
                      self.shown(self.video)),
                 [self.video], invalidates_later=False),
        ]

    def train_step(self, name, config, work_dir, checkpoint,
                   options) -> Step:
        args = [config]
        if self.schedule.pass_work_dirs:
            args += ['--work-dir', self.shown(work_dir)]
        if options:
            args += ['--cfg-options'] + options
        return Step(name, tool('train', *args), [checkpoint],
                    resumable_work_dir=work_dir)

    def model_steps(self) -> List[Step]:
        schedule, work_dir, shown = self.schedule, self.work_dir, self.shown
        ckpt = shown(schedule.seg_checkpoint)
        deploy_dir = work_dir / 'deploy'
        logs = work_dir / 'logs'
        return [
            self.train_step('pretrain RepVGG-A0 on the classification demo',
                            CLS_CONFIG, schedule.cls_work_dir,
                            schedule.cls_checkpoint, schedule.cls_options),
            self.train_step(
                'train PSPNet-RepVGG-A0 on the Cityscapes-format demo',
                SEG_CONFIG, schedule.seg_work_dir, schedule.seg_checkpoint,
                schedule.seg_options),
            # The ONNX model is exported at the test size: PSPNet's pooling
            # grid fixes its input size.
            Step('fuse the trained model (deploy)',
                 tool('deploy', SEG_CONFIG, ckpt, shown(deploy_dir),
                      '--shape', *INPUT_SHAPE, '--onnx'),
                 [deploy_dir / 'deploy.json', deploy_dir / 'deploy.onnx']),
            Step('evaluate the fused model',
                 tool('test', shown(deploy_dir / 'deploy.py'),
                      shown(deploy_dir / 'deploy.pth'),
                      '--report', shown(work_dir / 'test_fused.json'),
                      '--out', shown(work_dir / 'predictions'),
                      '--show-dir', shown(work_dir / 'show'),
                      '--work-dir', shown(logs / 'test_fused'),
                      *schedule.test_options),
                 [work_dir / 'predictions', work_dir / 'test_fused.json']),
            Step('evaluate the multi-branch model',
                 tool('test', SEG_CONFIG, ckpt, '--no-reparam',
                      '--report', shown(work_dir / 'test_multibranch.json'),
                      '--work-dir', shown(logs / 'test_multibranch'),
                      *schedule.test_options),
                 [work_dir / 'test_multibranch.json']),
            Step('benchmark fused vs multi-branch vs ResNet-18',
                 tool('analysis_tools/benchmark', SEG_CONFIG, ckpt,
                      '--modes', 'unfused', 'fused',
                      '--baselines', BASELINE_CONFIG,
                      '--shape', *INPUT_SHAPE, '--batch-size', '1',
                      '--reference', 'pspnet_repvgg_a0_demo:unfused',
                      *schedule.benchmark_options,
                      '--json', shown(work_dir / 'benchmark.json')),
                 [work_dir / 'benchmark.json']),
        ] + self.inference_steps()

    def inference_steps(self) -> List[Step]:
        """The deployed model on the val images and on the street video,
        as a user runs it on their own (tools/infer.py, ONNX Runtime)."""
        work_dir, shown = self.work_dir, self.shown
        deploy_dir = work_dir / 'deploy'
        model = [shown(deploy_dir / 'deploy.py'),
                 shown(deploy_dir / 'deploy.onnx')]
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
            for train_dir in (self.schedule.cls_work_dir,
                              self.schedule.seg_work_dir):
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
            work_dir=work_dir, cls_work_dir=self.schedule.cls_work_dir,
            seg_work_dir=self.schedule.seg_work_dir,
            deploy_json=work_dir / 'deploy' / 'deploy.json',
            fused_report=work_dir / 'test_fused.json',
            multibranch_report=work_dir / 'test_multibranch.json',
            benchmark_json=work_dir / 'benchmark.json',
            predictions_dir=work_dir / 'predictions',
            data_root=self.cityscapes_root,
            image_inference=work_dir / 'infer_val.json',
            video_inference=work_dir / 'infer_video.json',
            overlay_video=self.overlay_video(),
            commands=[step.shell() for step in self.steps],
            step_seconds={step.name: step_seconds.get(step.name)
                          for step in self.steps},
            quick=self.quick)

    def run(self, restart: bool = False) -> DemoRun:
        """Prepare the work dir, run the unfinished steps and write the
        report; ``DemoError`` when the demo cannot go on."""
        self.prepare_work_dir(restart)
        start = time.monotonic()
        timings = run_steps(self.steps, self.work_dir, self.repo)
        print('\n[run_demo] writing the report', flush=True)
        report = build_report(
            self.report_inputs(read_step_seconds(self.work_dir)))
        return DemoRun(timings, report, time.monotonic() - start)


def read_marker(work_dir: Path):
    marker = work_dir / MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None
