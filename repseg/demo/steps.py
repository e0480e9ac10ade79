"""A small step scheduler: each step is one command line, finished when its
outputs exist. Finished steps are skipped; once a step has run, every later
one runs again (its inputs changed); a training killed before its final
checkpoint continues from its last one. ``Lanes`` run step sequences that do
not read each other's outputs side by side, each on its share of the CPUs.
The seconds each step took are kept in the work dir, so that a report can
show them after a rerun."""
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from repseg.errors import RepSegError
from repseg.fileio import atomic_output

# Seconds each step took when it last ran (skipped steps keep theirs).
STEP_SECONDS = 'step_seconds.json'
# Where a step run beside others writes its output (under the work dir).
STEP_LOGS = Path('logs') / 'steps'
# Lines of a failed side-by-side step's log shown on the console.
FAILED_LOG_LINES = 40
# Lanes record their steps' seconds into one file.
_RECORD_LOCK = threading.Lock()


class DemoError(RepSegError, RuntimeError):
    """The demo cannot go on; the message says why."""


@dataclass
class Step:
    """One command of the demo (a tool and its arguments, run with this
    Python); finished when all ``outputs`` exist."""
    name: str
    command: List[str]
    outputs: List[Path]
    # Data steps are deterministic (fixed seed): remaking them does not
    # make the later steps stale.
    invalidates_later: bool = True
    # A training's work dir: an interrupted run resumes from it.
    resumable_work_dir: Optional[Path] = None

    def finished(self) -> bool:
        return all(path.exists() for path in self.outputs)

    def shell(self) -> str:
        return shlex.join(['python'] + self.command)


class StepFailed(DemoError):
    """A step's command exited with a non-zero status."""

    def __init__(self, step: Step, command_line: str, returncode: int,
                 log: Optional[str] = None):
        where = f' (its output: {log})' if log else ''
        super().__init__(f"step '{step.name}' failed: `{command_line}` "
                         f'exited with status {returncode}{where}')
        self.returncode = returncode


@dataclass
class Lanes:
    """Step sequences run side by side, one process per lane, the CPUs
    shared among them: on a small machine, trainings side by side on a
    share of the cores each finish sooner in all than one after the other
    on every core. Each lane's steps run in order and none reads another
    lane's outputs. ``name`` is what the wall-clock seconds of the whole
    block are recorded under."""
    name: str
    lanes: List[List[Step]]

    def steps(self) -> List[Step]:
        return [step for lane in self.lanes for step in lane]


Plan = Sequence[Union[Step, Lanes]]


def flatten(plan: Plan) -> List[Step]:
    """Every step of ``plan``, the lanes' one lane after the other."""
    return [step for item in plan
            for step in (item.steps() if isinstance(item, Lanes) else [item])]


def shown(path: Path, root: Path) -> str:
    """``path`` as a command shows it: relative to ``root`` (where the
    commands run) when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def step_log(work_dir: Path, step: Step) -> Path:
    """Where a step run beside others writes its output."""
    slug = re.sub(r'[^a-z0-9]+', '_', step.name.lower()).strip('_')
    return work_dir / STEP_LOGS / f'{slug}.log'


def log_tail(path: Path, lines: int = FAILED_LOG_LINES) -> str:
    text = path.read_text(errors='replace') if path.is_file() else ''
    return ''.join(text.splitlines(keepends=True)[-lines:])


def run_step(step: Step, resume: bool, cwd: Path,
             log: Optional[Path] = None,
             threads: Optional[int] = None) -> float:
    """Run the step's command from ``cwd``, its output going straight to
    this console, or with ``log`` into that file (its compute threads set
    to ``threads``); returns the seconds it took."""
    command = list(step.command)
    if resume:
        # Right after the config: --cfg-options takes every value after it.
        command.insert(2, '--resume')
    command_line = shlex.join(['python'] + command)
    where = ('' if log is None else f'\n[run_demo]   side by side, {threads} '
             f'thread(s); output: {shown(log, cwd)}')
    # One print: lanes print at the same time.
    print(f'\n[run_demo] {step.name}: {command_line}{where}', flush=True)
    env = None
    if threads is not None:
        # torch reads these when it starts (intra-op threads).
        env = dict(os.environ, OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, 'w') if log is not None else nullcontext() as out:
        returncode = subprocess.run(
            [sys.executable] + command, cwd=cwd, env=env, stdout=out,
            stderr=None if out is None else subprocess.STDOUT).returncode
    seconds = time.monotonic() - start
    if returncode != 0:
        if log is not None:
            print(f'[run_demo] {step.name} failed; the end of '
                  f'{shown(log, cwd)}:\n{log_tail(log)}', flush=True)
        raise StepFailed(step, command_line, returncode,
                         shown(log, cwd) if log is not None else None)
    if log is not None:
        print(f'[run_demo] {step.name}: done in {seconds:.0f} s', flush=True)
    return seconds


def can_resume(step: Step, inputs_changed: bool) -> bool:
    """A training killed before its final checkpoint continues from its last
    one (tools/train.py --resume), unless what it starts from changed."""
    work_dir = step.resumable_work_dir
    return (work_dir is not None and not inputs_changed
            and (work_dir / 'last_checkpoint').is_file())


def to_run(steps: List[Step], inputs_changed: bool) -> bool:
    """Whether any of ``steps``, run in order, will run."""
    return inputs_changed or not all(step.finished() for step in steps)


def run_sequence(steps: List[Step], inputs_changed: bool, work_dir: Path,
                 cwd: Path, timings: dict, threads: Optional[int] = None,
                 stop: Optional[threading.Event] = None) -> bool:
    """Run ``steps`` in order (with ``threads``: each into its log, see
    run_step), skipping the finished ones unless an earlier one ran or
    ``inputs_changed``; stops before the next step once ``stop`` is set.
    Returns whether the inputs of later steps changed."""
    for step in steps:
        if stop is not None and stop.is_set():
            break
        if step.finished() and not inputs_changed:
            print(f'[run_demo] skip (done): {step.name}', flush=True)
            timings[step.name] = 'skipped'
            continue
        log = step_log(work_dir, step) if threads is not None else None
        timings[step.name] = run_step(step, can_resume(step, inputs_changed),
                                      cwd, log, threads)
        missing = [shown(path, cwd) for path in step.outputs
                   if not path.exists()]
        if missing:
            raise DemoError(f"step '{step.name}' succeeded but did not "
                            f'write {", ".join(missing)}')
        record_step_seconds(work_dir, step.name, timings[step.name])
        inputs_changed = inputs_changed or step.invalidates_later
    return inputs_changed


def run_lanes(lanes: Lanes, inputs_changed: bool, work_dir: Path, cwd: Path,
              timings: dict) -> bool:
    """Run the lanes side by side, the CPUs shared among those with a step
    to run. A failure stops the other lanes after their current step (its
    work is kept) and is raised then."""
    busy = [lane for lane in lanes.lanes if to_run(lane, inputs_changed)]
    threads = max(1, cpu_count() // max(1, len(busy)))
    stop = threading.Event()
    start = time.monotonic()

    def run_lane(lane):
        try:
            return run_sequence(lane, inputs_changed, work_dir, cwd,
                                timings, threads, stop)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(len(lanes.lanes)) as pool:
        futures = [pool.submit(run_lane, lane) for lane in lanes.lanes]
    changed = [future.result() for future in futures]  # raises the failure
    if busy:
        record_step_seconds(work_dir, lanes.name, time.monotonic() - start)
    return any(changed)


def cpu_count() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def run_steps(plan: Plan, work_dir: Path,
              cwd: Path) -> Dict[str, Union[float, str]]:
    """Run the unfinished steps of ``plan`` (and every step after one that
    ran; in ``Lanes``, every later step of its lane and every step after
    them) from ``cwd``, recording each one's seconds in ``work_dir`` as it
    ends; returns ``{step name: seconds, or 'skipped'}`` in plan order."""
    timings = {}
    inputs_changed = False
    for item in plan:
        if isinstance(item, Lanes):
            inputs_changed = (run_lanes(item, inputs_changed, work_dir, cwd,
                                        timings) or inputs_changed)
        else:
            inputs_changed = run_sequence([item], inputs_changed, work_dir,
                                          cwd, timings)
    return {step.name: timings[step.name] for step in flatten(plan)}


def record_step_seconds(work_dir: Path, name: str, seconds: float) -> None:
    """Keep the seconds a step took in STEP_SECONDS (a skipped step keeps
    the time of its last run)."""
    path = work_dir / STEP_SECONDS
    with _RECORD_LOCK:
        record = read_step_seconds(work_dir)
        record[name] = round(seconds, 1)
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(record, indent=2))


def read_step_seconds(work_dir: Path) -> dict:
    path = work_dir / STEP_SECONDS
    return json.loads(path.read_text()) if path.is_file() else {}
