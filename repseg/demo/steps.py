"""A small step scheduler: each step is one command line, finished when its
outputs exist. Finished steps are skipped; once a step has run, every later
one runs again (its inputs changed); a training killed before its final
checkpoint continues from its last one. The seconds each step took are kept
in the work dir, so that a report can show them after a rerun."""
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Union

from repseg.fileio import atomic_output

# Seconds each step took when it last ran (skipped steps keep theirs).
STEP_SECONDS = 'step_seconds.json'


class DemoError(RuntimeError):
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

    def __init__(self, step: Step, command_line: str, returncode: int):
        super().__init__(f"step '{step.name}' failed: `{command_line}` "
                         f'exited with status {returncode}')
        self.returncode = returncode


def shown(path: Path, root: Path) -> str:
    """``path`` as a command shows it: relative to ``root`` (where the
    commands run) when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def run_step(step: Step, resume: bool, cwd: Path) -> float:
    """Run the step's command from ``cwd``, its output going straight to
    this console; returns the seconds it took."""
    command = list(step.command)
    if resume:
        # Right after the config: --cfg-options takes every value after it.
        command.insert(2, '--resume')
    command_line = shlex.join(['python'] + command)
    print(f'\n[run_demo] {step.name}: {command_line}', flush=True)
    start = time.monotonic()
    returncode = subprocess.run([sys.executable] + command,
                                cwd=cwd).returncode
    if returncode != 0:
        raise StepFailed(step, command_line, returncode)
    return time.monotonic() - start


def can_resume(step: Step, inputs_changed: bool) -> bool:
    """A training killed before its final checkpoint continues from its last
    one (tools/train.py --resume), unless what it starts from changed."""
    work_dir = step.resumable_work_dir
    return (work_dir is not None and not inputs_changed
            and (work_dir / 'last_checkpoint').is_file())


def run_steps(steps: List[Step], work_dir: Path,
              cwd: Path) -> Dict[str, Union[float, str]]:
    """Run the unfinished steps (and every step after one that ran) from
    ``cwd``, recording each one's seconds in ``work_dir`` as it ends;
    returns ``{step name: seconds, or 'skipped'}``."""
    timings = {}
    inputs_changed = False
    for step in steps:
        if step.finished() and not inputs_changed:
            print(f'[run_demo] skip (done): {step.name}', flush=True)
            timings[step.name] = 'skipped'
            continue
        timings[step.name] = run_step(step, can_resume(step, inputs_changed),
                                      cwd)
        missing = [shown(path, cwd) for path in step.outputs
                   if not path.exists()]
        if missing:
            raise DemoError(f"step '{step.name}' succeeded but did not "
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
