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
from typing import Dict, List, Optional, Union

from mmengine.config import Config

from repseg.fileio import atomic_output
from .imagenet import MARKER as IMAGENET_MARKER
from .report import QuantizationFiles, ReportInputs, build_report
from .steps import (DemoError, Lanes, Plan, Step, flatten, read_step_seconds,
                    run_steps, shown)

CLS_CONFIG = 'configs/demo/repvgg_a0_demo_cls.py'
SEG_CONFIG = 'configs/demo/pspnet_repvgg_a0_demo.py'
# SEG_CONFIG without the pretrained backbone: what pretraining adds.
SCRATCH_CONFIG = 'configs/demo/pspnet_repvgg_a0_demo_scratch.py'
QA_CLS_CONFIG = 'configs/demo/qarepvgg_a0_demo_cls.py'
QA_SEG_CONFIG = 'configs/demo/pspnet_qarepvgg_a0_demo.py'
BASELINE_CONFIG = 'configs/demo/pspnet_r18_demo.py'
INPUT_SHAPE = ('128', '256')  # the demo's test size (H W)
# Every model in its trained and fused form, and fused on each engine the
# demo deploys to, as tools/deploy.py exports for it (ncnn: with the psp
# and s2b rewrites): the report times each trained model at its fastest.
BENCHMARK_MODES = ('unfused', 'fused', 'fused+onnx', 'fused+psp+s2b+ncnn')
# The names the blocks of lanes record their wall-clock seconds under.
DATA = 'the demo data, two makers at a time (wall clock)'
TRAININGS = ('the six trainings with their evaluations, two at a '
             'time (wall clock)')
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
    # The same for the QARepVGG-A0 pair (QA_CLS_CONFIG, QA_SEG_CONFIG).
    qa_cls_work_dir: Path
    qa_seg_work_dir: Path
    qa_cls_checkpoint: Path
    qa_seg_checkpoint: Path
    # The segmentors trained from random weights on the same schedule:
    # PSPNet-RepVGG-A0 (SCRATCH_CONFIG) and PSPNet-R-18 (BASELINE_CONFIG).
    scratch_work_dir: Path
    r18_work_dir: Path
    scratch_checkpoint: Path
    r18_checkpoint: Path
    cls_options: List[str] = field(default_factory=list)
    seg_options: List[str] = field(default_factory=list)
    qa_seg_options: List[str] = field(default_factory=list)
    # Both from-scratch trainings' (no pretrained checkpoint to point at).
    scratch_options: List[str] = field(default_factory=list)
    test_options: List[str] = field(default_factory=list)
    benchmark_options: List[str] = field(default_factory=list)
    # tools/quantize.py --calib-images: a third of the 48 demo training
    # images, spread over them.
    calib_images: int = 16
    pass_work_dirs: bool = False

    def train_work_dirs(self) -> List[Path]:
        """Every training's work dir (what --restart clears)."""
        return [self.cls_work_dir, self.seg_work_dir, self.qa_cls_work_dir,
                self.qa_seg_work_dir, self.scratch_work_dir,
                self.r18_work_dir]


@dataclass
class Quantized:
    """Where one model's post-training INT8 steps write: the
    tools/quantize.py folder, the FP32 and INT8 evaluations and the
    latency runs (tools/infer.py --json) of each file."""
    label: str
    config: str
    checkpoint: Path
    out_dir: Path
    fp32_report: Path
    int8_report: Path
    fp32_inference: Path
    int8_inference: Path

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
        self.plan = [self.data_plan()] + self.model_plan()
        self.steps = flatten(self.plan)

    def shown(self, path: Path) -> str:
        """``path`` as a command shows it (relative to the repository)."""
        return shown(path, self.repo)

    # ------------------------------------------------------------ schedules
    def full_schedule(self) -> Schedule:
        """The configs' own work dirs and schedules, and the final
        checkpoints those schedules end with."""
        cls, qa_cls = (final_checkpoint(self.repo, config, 'epoch')
                       for config in (CLS_CONFIG, QA_CLS_CONFIG))
        seg, qa_seg, scratch, r18 = (
            final_checkpoint(self.repo, config, 'iter') for config in (
                SEG_CONFIG, QA_SEG_CONFIG, SCRATCH_CONFIG, BASELINE_CONFIG))
        return Schedule(
            cls.parent, seg.parent, cls, seg, qa_cls.parent, qa_seg.parent,
            qa_cls, qa_seg, scratch_work_dir=scratch.parent,
            r18_work_dir=r18.parent, scratch_checkpoint=scratch,
            r18_checkpoint=r18)

    def quick_schedule(self) -> Schedule:
        """One short pretraining epoch, 4 segmentation iterations and 4 val
        images, and 2 calibration images, in work dirs under the work dir,
        for both model pairs and both segmentors trained from scratch."""
        cls_dir = self.work_dir / 'repvgg_a0_demo_cls'
        seg_dir = self.work_dir / 'pspnet_repvgg_a0_demo'
        qa_cls_dir = self.work_dir / 'qarepvgg_a0_demo_cls'
        qa_seg_dir = self.work_dir / 'pspnet_qarepvgg_a0_demo'
        scratch_dir = self.work_dir / 'pspnet_repvgg_a0_demo_scratch'
        r18_dir = self.work_dir / 'pspnet_r18_demo'
        cls_checkpoint = cls_dir / 'epoch_1.pth'
        qa_cls_checkpoint = qa_cls_dir / 'epoch_1.pth'
        return Schedule(
            cls_dir, seg_dir, cls_checkpoint, seg_dir / 'iter_4.pth',
            qa_cls_dir, qa_seg_dir, qa_cls_checkpoint,
            qa_seg_dir / 'iter_4.pth',
            scratch_work_dir=scratch_dir, r18_work_dir=r18_dir,
            scratch_checkpoint=scratch_dir / 'iter_4.pth',
            r18_checkpoint=r18_dir / 'iter_4.pth',
            cls_options=[
                'train_cfg.max_epochs=1',
                # 4 iterations of 32 images, validated on 100.
                'train_dataloader.dataset.indices=128',
                'val_dataloader.dataset.indices=100',
                'default_hooks.logger.interval=2'
            ],
            seg_options=self.quick_seg_options(cls_checkpoint),
            qa_seg_options=self.quick_seg_options(qa_cls_checkpoint),
            scratch_options=self.quick_seg_options(),
            # Every evaluation on the same 4 val images (drawing the
            # overlays of every val image is the slow part of a test).
            test_options=['--cfg-options',
                          'test_dataloader.dataset.indices=4'],
            benchmark_options=['--repeat', '2', '--warmup', '1'],
            calib_images=2,
            pass_work_dirs=True)

    def quick_seg_options(self,
                          cls_checkpoint: Optional[Path] = None) -> List[str]:
        """4 segmentation iterations, from the quick ``cls_checkpoint`` when
        given (None: a training from scratch). The segmentation config
        copies its ``pretrained_checkpoint`` into
        model.backbone.init_cfg.checkpoint when it is read, so that key is
        what points at the quick epoch_1.pth."""
        options = [
            'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
            # The config logs every 20 iterations: the curve needs points.
            'default_hooks.logger.interval=2',
            'val_dataloader.dataset.indices=4'
        ]
        if cls_checkpoint is not None:
            options.append('model.backbone.init_cfg.checkpoint='
                           f'{self.shown(cls_checkpoint)}')
        return options

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

    def train_step(self, name, config, work_dir, checkpoint,
                   options) -> Step:
        args = [config]
        if self.schedule.pass_work_dirs:
            args += ['--work-dir', self.shown(work_dir)]
        if options:
            args += ['--cfg-options'] + options
        return Step(name, tool('train', *args), [checkpoint],
                    resumable_work_dir=work_dir)

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

    def model_plan(self) -> Plan:
        """Two lanes, each its trainings (pretraining first) and then what
        needs no idle cores: fusion, evaluations and quantization of its
        models. Then, on idle cores, what is timed: the benchmark and the
        tools/infer.py runs."""
        return [
            Lanes(TRAININGS, [self.repvgg_lane(), self.qa_lane()]),
            self.benchmark_step(),
        ] + self.inference_steps() + [
            step for quantized in self.quantized()
            for step in self.timing_steps(quantized)]

    def repvgg_lane(self) -> List[Step]:
        """RepVGG-A0 pretraining, PSPNet-RepVGG-A0 from it and from scratch,
        the fused model (deploy) and the evaluations of all three forms,
        and the A0's INT8 quantization."""
        schedule, work_dir, shown = self.schedule, self.work_dir, self.shown
        ckpt = shown(schedule.seg_checkpoint)
        deploy_dir = work_dir / 'deploy'
        repvgg, _ = self.quantized()
        return [
            self.train_step('pretrain RepVGG-A0 on the classification demo',
                            CLS_CONFIG, schedule.cls_work_dir,
                            schedule.cls_checkpoint, schedule.cls_options),
            self.train_step(
                'train PSPNet-RepVGG-A0 on the Cityscapes-format demo',
                SEG_CONFIG, schedule.seg_work_dir, schedule.seg_checkpoint,
                schedule.seg_options),
            self.train_step(
                'train PSPNet-RepVGG-A0 from scratch (the same schedule)',
                SCRATCH_CONFIG, schedule.scratch_work_dir,
                schedule.scratch_checkpoint, schedule.scratch_options),
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
                      '--work-dir', shown(work_dir / 'logs' / 'test_fused'),
                      *schedule.test_options),
                 [work_dir / 'predictions', work_dir / 'test_fused.json']),
            self.evaluation_step(
                'evaluate the multi-branch model', SEG_CONFIG, ckpt,
                work_dir / 'test_multibranch.json', 'test_multibranch',
                '--no-reparam'),
            # Fused, as tools/test.py evaluates by default.
            self.evaluation_step(
                'evaluate PSPNet-RepVGG-A0 from scratch (fused)',
                SCRATCH_CONFIG, shown(schedule.scratch_checkpoint),
                work_dir / 'test_scratch.json', 'test_scratch'),
        ] + self.quantize_steps(repvgg)

    def qa_lane(self) -> List[Step]:
        """The QARepVGG-A0 pair, trained like the RepVGG-A0 one, and the
        PSPNet-R-18 baseline; the baseline's evaluation and the QA model's
        INT8 quantization."""
        schedule = self.schedule
        _, qarepvgg = self.quantized()
        return self.qa_training_steps() + [
            self.train_step(
                'train the PSPNet-R-18 baseline (the same schedule)',
                BASELINE_CONFIG, schedule.r18_work_dir,
                schedule.r18_checkpoint, schedule.scratch_options),
            self.evaluation_step(
                'evaluate the PSPNet-R-18 baseline (fused)', BASELINE_CONFIG,
                self.shown(schedule.r18_checkpoint),
                self.work_dir / 'test_r18.json', 'test_r18'),
        ] + self.quantize_steps(qarepvgg)

    def benchmark_step(self) -> Step:
        """Both networks in every form, on each engine. The baseline is
        timed with random weights: speed does not depend on them."""
        shown, work_dir = self.shown, self.work_dir
        return Step(
            'benchmark fused vs multi-branch vs ResNet-18, on each engine',
            tool('analysis_tools/benchmark', SEG_CONFIG,
                 shown(self.schedule.seg_checkpoint),
                 '--modes', *BENCHMARK_MODES,
                 '--baselines', BASELINE_CONFIG,
                 '--shape', *INPUT_SHAPE, '--batch-size', '1',
                 '--reference', 'pspnet_repvgg_a0_demo:unfused',
                 *self.schedule.benchmark_options,
                 '--json', shown(work_dir / 'benchmark.json')),
            [work_dir / 'benchmark.json'])

    def qa_training_steps(self) -> List[Step]:
        """The QARepVGG-A0 pair, trained like the RepVGG-A0 one."""
        schedule = self.schedule
        return [
            self.train_step(
                'pretrain QARepVGG-A0 on the classification demo',
                QA_CLS_CONFIG, schedule.qa_cls_work_dir,
                schedule.qa_cls_checkpoint, schedule.cls_options),
            self.train_step(
                'train PSPNet-QARepVGG-A0 on the Cityscapes-format demo',
                QA_SEG_CONFIG, schedule.qa_seg_work_dir,
                schedule.qa_seg_checkpoint, schedule.qa_seg_options),
        ]

    def quantized(self) -> List[Quantized]:
        """Both trained segmentors and where their INT8 steps write.
        tools/quantize.py replaces its whole folder, so the evaluations and
        latency runs lie beside it."""
        root = self.work_dir / 'quantize'
        models = (('RepVGG-A0', 'repvgg_a0', SEG_CONFIG,
                   self.schedule.seg_checkpoint),
                  ('QARepVGG-A0', 'qarepvgg_a0', QA_SEG_CONFIG,
                   self.schedule.qa_seg_checkpoint))
        return [Quantized(label, config, checkpoint, root / key,
                          root / f'{key}_test_fp32.json',
                          root / f'{key}_test_int8.json',
                          root / f'{key}_infer_fp32.json',
                          root / f'{key}_infer_int8.json')
                for label, key, config, checkpoint in models]

    def quantize_steps(self, q: Quantized) -> List[Step]:
        """Quantize one model (tools/quantize.py, calibrated on training
        images) and evaluate its FP32 and INT8 ONNX files with the same
        metric (tools/test.py)."""
        shown, schedule = self.shown, self.schedule
        key = q.out_dir.name
        steps = [Step(f'quantize PSPNet-{q.label} (INT8)',
                      tool('quantize', q.config, shown(q.checkpoint),
                           shown(q.out_dir), '--calib-images',
                           schedule.calib_images),
                      [q.quantize_json, q.onnx_file('int8')])]
        reports = dict(fp32=q.fp32_report, int8=q.int8_report)
        return steps + [self.evaluation_step(
            f'evaluate PSPNet-{q.label} {kind.upper()} (ONNX)',
            shown(q.deploy_config), shown(q.onnx_file(kind)), reports[kind],
            f'test_{key}_{kind}') for kind in ('fp32', 'int8')]

    def timing_steps(self, q: Quantized) -> List[Step]:
        """The latency of one model's FP32 and INT8 ONNX files on the val
        images (tools/infer.py, one run after the other on idle cores)."""
        shown = self.shown
        val_images = shown(self.cityscapes_root / 'leftImg8bit' / 'val')
        inferences = dict(fp32=q.fp32_inference, int8=q.int8_inference)
        return [Step(
            f'time PSPNet-{q.label} {kind.upper()} on the val images (infer)',
            tool('infer', shown(q.deploy_config), shown(q.onnx_file(kind)),
                 val_images, '--json', shown(inferences[kind])),
            [inferences[kind]]) for kind in ('fp32', 'int8')]

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
            for train_dir in self.schedule.train_work_dirs():
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
            scratch_work_dir=self.schedule.scratch_work_dir,
            r18_work_dir=self.schedule.r18_work_dir,
            deploy_json=work_dir / 'deploy' / 'deploy.json',
            fused_report=work_dir / 'test_fused.json',
            multibranch_report=work_dir / 'test_multibranch.json',
            scratch_report=work_dir / 'test_scratch.json',
            r18_report=work_dir / 'test_r18.json',
            benchmark_json=work_dir / 'benchmark.json',
            predictions_dir=work_dir / 'predictions',
            data_root=self.cityscapes_root,
            image_inference=work_dir / 'infer_val.json',
            video_inference=work_dir / 'infer_video.json',
            overlay_video=self.overlay_video(),
            quantization={q.label: QuantizationFiles(
                q.quantize_json, q.fp32_report, q.int8_report,
                q.fp32_inference, q.int8_inference)
                for q in self.quantized()},
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
