"""repseg's main job in one command, on the built-in demo data, with a report.

    python tools/run_demo.py [--work-dir DIR] [--restart] [--quick]

Runs, each as the command a user would type (the same tools, the same
arguments as the README), streaming their output:

1. the demo datasets (tools/dataset_converters/make_demo_data.py, tools/dataset_converters/cityscapes.py),
   unless present;
2. RepVGG-A0 pretraining on the classification demo
   (tools/train.py configs/demo/repvgg_a0_demo_cls.py);
3. PSPNet-RepVGG-A0 training on the Cityscapes-format demo from those weights
   (tools/train.py configs/demo/pspnet_repvgg_a0_demo.py);
4. fusion into the inference form, checked equal (tools/deploy.py);
5. evaluation of the fused and of the multi-branch model (tools/test.py);
6. timing of the fused and multi-branch models and of a ResNet-18 PSPNet
   (tools/analysis_tools/benchmark.py);
7. DIR/report.md (with plots and sample images) and DIR/report.json.

A step whose output exists is skipped, so a second run only rebuilds the
report; once a step has run, every later one runs again (its inputs
changed). An interrupted training continues from its last checkpoint.
"""
import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from repseg.fileio import atomic_output
from repseg.report import ReportInputs, build_report, summary

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'data'
CLS_CONFIG = 'configs/demo/repvgg_a0_demo_cls.py'
SEG_CONFIG = 'configs/demo/pspnet_repvgg_a0_demo.py'
BASELINE_CONFIG = 'configs/demo/pspnet_r18_demo.py'
IMAGENET_ROOT = DATA / 'demo_imagenet'
CITYSCAPES_ROOT = DATA / 'demo_cityscapes'
INPUT_SHAPE = ('128', '256')  # the demo's test size (H W)
# Written into every work dir this tool uses: --restart clears only such a
# folder, and a quick run never mixes with a full one.
MARKER = '.run_demo.json'
# Seconds each step took when it last ran (skipped steps keep theirs).
STEP_SECONDS = 'step_seconds.json'


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


def full_schedule() -> Schedule:
    # The configs' own work dirs and final checkpoints: 30 epochs
    # (repvgg_a0_demo_cls.py sets work_dir), 300 iterations.
    cls_dir = REPO / 'work_dirs/repvgg_a0_demo_cls'
    seg_dir = REPO / 'work_dirs/pspnet_repvgg_a0_demo'
    return Schedule(cls_dir, seg_dir, cls_dir / 'epoch_30.pth',
                    seg_dir / 'iter_300.pth')


def quick_schedule(work_dir: Path) -> Schedule:
    """One short pretraining epoch, 4 segmentation iterations and 4 val
    images, in work dirs under ``work_dir``. The segmentation config copies its
    ``pretrained_checkpoint`` into model.backbone.init_cfg.checkpoint when
    it is read, so that key is what points at the quick epoch_1.pth."""
    cls_dir = work_dir / 'repvgg_a0_demo_cls'
    seg_dir = work_dir / 'pspnet_repvgg_a0_demo'
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
            # The config logs every 20 iterations: the curve needs points.
            'default_hooks.logger.interval=2',
            f'model.backbone.init_cfg.checkpoint={shown(cls_checkpoint)}',
            'val_dataloader.dataset.indices=4'
        ],
        # Both evaluations on the same 4 val images (drawing the overlays
        # of all 16 takes longer than the rest of the test).
        test_options=['--cfg-options', 'test_dataloader.dataset.indices=4'],
        benchmark_options=['--repeat', '2', '--warmup', '1'],
        pass_work_dirs=True)


def shown(path: Path) -> str:
    """``path`` as a command shows it: relative to the repository (where the
    commands run) when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


@dataclass
class Step:
    """One command of the demo; finished when all ``outputs`` exist."""
    name: str
    command: List[str]
    outputs: List[Path]
    # Data steps are deterministic (fixed seed): remaking them does not
    # make the later steps stale.
    invalidates_later: bool = True
    resumable_work_dir: Path = None

    def finished(self) -> bool:
        return all(path.exists() for path in self.outputs)

    def shell(self) -> str:
        return shlex.join(['python'] + self.command)


def tool(name: str, *args) -> List[str]:
    return [f'tools/{name}.py'] + [str(arg) for arg in args]


def data_steps() -> List[Step]:
    # The makers write their folder under a temporary name and rename it;
    # the converter writes the split lists last.
    return [
        Step('make the classification demo data',
             tool('dataset_converters/make_demo_data', 'imagenet', shown(IMAGENET_ROOT)),
             [IMAGENET_ROOT], invalidates_later=False),
        Step('make the Cityscapes-format demo data',
             tool('dataset_converters/make_demo_data', 'cityscapes', shown(CITYSCAPES_ROOT)),
             [CITYSCAPES_ROOT], invalidates_later=False),
        Step('convert the Cityscapes-format demo data',
             tool('dataset_converters/cityscapes', shown(CITYSCAPES_ROOT)),
             [CITYSCAPES_ROOT / 'train.txt', CITYSCAPES_ROOT / 'val.txt'],
             invalidates_later=False),
    ]


def train_step(name, config, work_dir, checkpoint, options, pass_work_dir):
    args = [config]
    if pass_work_dir:
        args += ['--work-dir', shown(work_dir)]
    if options:
        args += ['--cfg-options'] + options
    return Step(name, tool('train', *args), [checkpoint],
                resumable_work_dir=work_dir)


def model_steps(work_dir: Path, schedule: Schedule) -> List[Step]:
    ckpt = shown(schedule.seg_checkpoint)
    deploy_dir = work_dir / 'deploy'
    logs = work_dir / 'logs'
    return [
        train_step('pretrain RepVGG-A0 on the classification demo',
                   CLS_CONFIG, schedule.cls_work_dir, schedule.cls_checkpoint,
                   schedule.cls_options, schedule.pass_work_dirs),
        train_step('train PSPNet-RepVGG-A0 on the Cityscapes-format demo',
                   SEG_CONFIG, schedule.seg_work_dir, schedule.seg_checkpoint,
                   schedule.seg_options, schedule.pass_work_dirs),
        Step('fuse the trained model (deploy)',
             tool('deploy', SEG_CONFIG, ckpt, shown(deploy_dir), '--shape',
                  *INPUT_SHAPE), [deploy_dir / 'deploy.json']),
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
             tool('analysis_tools/benchmark', SEG_CONFIG, ckpt, '--modes', 'unfused',
                  'fused', '--baselines', BASELINE_CONFIG, '--shape',
                  *INPUT_SHAPE, '--batch-size', '1',
                  '--reference', 'pspnet_repvgg_a0_demo:unfused',
                  *schedule.benchmark_options,
                  '--json', shown(work_dir / 'benchmark.json')),
             [work_dir / 'benchmark.json']),
    ]


class StepFailed(RuntimeError):
    """A step's command exited with a non-zero status."""

    def __init__(self, step: Step, command_line: str, returncode: int):
        super().__init__(f"step '{step.name}' failed: `{command_line}` "
                         f'exited with status {returncode}')
        self.returncode = returncode


def run_step(step: Step, resume: bool) -> float:
    """Run the step's command from the repository root, its output going
    straight to this console; returns the seconds it took."""
    command = list(step.command)
    if resume:
        # Right after the config: --cfg-options takes every value after it.
        command.insert(2, '--resume')
    command_line = shlex.join(['python'] + command)
    print(f'\n[run_demo] {step.name}: {command_line}', flush=True)
    start = time.monotonic()
    returncode = subprocess.run([sys.executable] + command,
                                cwd=REPO).returncode
    if returncode != 0:
        raise StepFailed(step, command_line, returncode)
    return time.monotonic() - start


def can_resume(step: Step, inputs_changed: bool) -> bool:
    """A training killed before its final checkpoint continues from its last
    one (tools/train.py --resume), unless what it starts from changed."""
    work_dir = step.resumable_work_dir
    return (work_dir is not None and not inputs_changed
            and (work_dir / 'last_checkpoint').is_file())


def run_steps(steps: List[Step], work_dir: Path) -> dict:
    """Run the unfinished steps (and every step after one that ran),
    recording each one's seconds as it ends; returns ``{step name: seconds,
    or 'skipped'}``."""
    timings = {}
    inputs_changed = False
    for step in steps:
        if step.finished() and not inputs_changed:
            print(f'[run_demo] skip (done): {step.name}', flush=True)
            timings[step.name] = 'skipped'
            continue
        timings[step.name] = run_step(step, can_resume(step, inputs_changed))
        missing = [shown(path) for path in step.outputs if not path.exists()]
        if missing:
            sys.exit(f"run_demo.py: step '{step.name}' succeeded but did not "
                     f'write {", ".join(missing)}')
        record_step_seconds(work_dir, step.name, timings[step.name])
        inputs_changed = inputs_changed or step.invalidates_later
    return timings


def record_step_seconds(work_dir: Path, name: str, seconds: float) -> None:
    """Keep the seconds a step took in STEP_SECONDS (a skipped step keeps
    the time of its last run)."""
    path = work_dir / STEP_SECONDS
    record = read_step_seconds(work_dir)
    record[name] = round(seconds, 1)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2))


def read_step_seconds(work_dir: Path) -> dict:
    path = work_dir / STEP_SECONDS
    return json.loads(path.read_text()) if path.is_file() else {}


# ---------------------------------------------------------------- work dirs


def check_location(path: Path) -> None:
    """Refuse a work dir that is, or holds, the repository or data/, or
    lies inside data/: --restart clears the work dir."""
    if path.is_relative_to(DATA) or any(
            keep.is_relative_to(path) for keep in (REPO, DATA)):
        sys.exit(f'run_demo.py: {path} cannot be a work dir: it holds or is '
                 f'inside {REPO} or {DATA}')


def read_marker(work_dir: Path):
    marker = work_dir / MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def clear(path: Path) -> None:
    check_location(path)
    if path.exists():
        print(f'[run_demo] --restart: removing {shown(path)}', flush=True)
        shutil.rmtree(path)


def prepare_work_dir(work_dir: Path, quick: bool, restart: bool,
                     schedule: Schedule) -> None:
    """Create (or with --restart, clear) the work dir and mark it, refusing
    to mix a quick run with a full one or to clear an unknown folder."""
    check_location(work_dir)
    marker = read_marker(work_dir)
    not_ours = (work_dir.is_dir() and any(work_dir.iterdir())
                and marker is None)
    if restart:
        if not_ours:
            sys.exit(f'run_demo.py: --restart clears only work dirs that '
                     f'run_demo.py made; {work_dir} is not one (no {MARKER})')
        clear(work_dir)
        for train_dir in (schedule.cls_work_dir, schedule.seg_work_dir):
            clear(train_dir)
        marker = None
    elif marker is not None and marker.get('quick') != quick:
        kind = 'quick' if marker.get('quick') else 'full'
        sys.exit(f'run_demo.py: {work_dir} holds a {kind} demo run; give '
                 'another --work-dir or --restart')
    work_dir.mkdir(parents=True, exist_ok=True)
    if marker is None:
        with atomic_output(work_dir / MARKER) as tmp:
            tmp.write_text(json.dumps(dict(quick=quick)))


# ---------------------------------------------------------------- report


def write_report(work_dir: Path, schedule: Schedule, steps: List[Step],
                 step_seconds: dict, quick: bool) -> dict:
    inputs = ReportInputs(
        work_dir=work_dir, cls_work_dir=schedule.cls_work_dir,
        seg_work_dir=schedule.seg_work_dir,
        deploy_json=work_dir / 'deploy' / 'deploy.json',
        fused_report=work_dir / 'test_fused.json',
        multibranch_report=work_dir / 'test_multibranch.json',
        benchmark_json=work_dir / 'benchmark.json',
        predictions_dir=work_dir / 'predictions', data_root=CITYSCAPES_ROOT,
        commands=[step.shell() for step in steps],
        step_seconds={step.name: step_seconds.get(step.name)
                      for step in steps},
        quick=quick)
    return build_report(inputs)


def print_timings(timings: dict) -> None:
    print('\n[run_demo] steps:')
    for name, seconds in timings.items():
        took = seconds if isinstance(seconds, str) else f'{seconds:.0f} s'
        print(f'  {name}: {took}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.split('\n')[3:]))
    parser.add_argument(
        '--work-dir', type=Path,
        help='where the deployed model, evaluations, benchmark and report '
        'go (default: work_dirs/demo, with --quick work_dirs/demo_quick); '
        'the trainings use the configs\' work dirs (work_dirs/'
        'repvgg_a0_demo_cls, work_dirs/pspnet_repvgg_a0_demo), with --quick '
        'folders inside this one')
    parser.add_argument(
        '--restart', action='store_true',
        help='clear the work dir and the two training work dirs first and '
        'run every step (the demo datasets in data/ are kept)')
    parser.add_argument(
        '--quick', action='store_true',
        help='the same steps with the schedules cut (1 short pretraining '
        'epoch, 4 segmentation iterations, 4 val images, a short benchmark) '
        'in their own work dirs: checks the pipeline in a few minutes; the '
        'figures mean nothing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    default = 'work_dirs/demo_quick' if args.quick else 'work_dirs/demo'
    work_dir = (args.work_dir or REPO / default).resolve()
    schedule = quick_schedule(work_dir) if args.quick else full_schedule()
    prepare_work_dir(work_dir, args.quick, args.restart, schedule)
    steps = data_steps() + model_steps(work_dir, schedule)
    start = time.monotonic()
    try:
        timings = run_steps(steps, work_dir)
    except StepFailed as error:
        sys.exit(f'run_demo.py: {error}')
    step_seconds = read_step_seconds(work_dir)
    print('\n[run_demo] writing the report', flush=True)
    report = write_report(work_dir, schedule, steps, step_seconds, args.quick)
    print_timings(timings)
    print(summary(report))
    print(f'[run_demo] done in {time.monotonic() - start:.0f} s; report: '
          f"{work_dir / 'report.md'} (figures: {work_dir / 'report.json'})")
    if not report['accuracy']['agree']:
        sys.exit('run_demo.py: the fused and the multi-branch model do not '
                 'give the same mIoU (see the report)')


if __name__ == '__main__':
    main()
