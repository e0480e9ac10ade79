"""Finding the checkpoint to resume from after a run was killed."""
import glob
import os.path as osp
import re
import warnings
from typing import Optional


def _step(path: str) -> int:
    """N of a CheckpointHook ``iter_N.pth`` / ``epoch_N.pth``, else -1: a
    ``best_*_N.pth`` holds no optimizer or scheduler state to resume."""
    match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', osp.basename(path))
    return int(match[1]) if match else -1


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The last complete checkpoint in ``work_dir``, or None.

    mmengine records the last checkpoint in ``work_dir/last_checkpoint``;
    that record is written after the checkpoint itself, with a plain write
    that a kill can truncate. Checkpoints are saved atomically (see
    ``repseg.checkpoint.AtomicLocalBackend``), so when the record is missing
    or names no file, the newest ``iter_N.pth`` / ``epoch_N.pth`` present
    is complete and is used.
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            recorded = f.read().strip()
        if recorded and osp.isfile(recorded):
            return recorded
    candidates = [p for p in glob.glob(osp.join(work_dir, '*.pth'))
                  if _step(p) >= 0]
    if not candidates:
        warnings.warn(f'--resume: no checkpoint in {work_dir!r}; training '
                      'starts from the beginning')
        return None
    return max(candidates, key=_step)
