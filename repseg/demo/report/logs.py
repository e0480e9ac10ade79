"""Training curves from the logs mmengine writes (``vis_data/scalars.json``
of each run, with the run's config beside it)."""
import json
from pathlib import Path
from typing import Dict, List, Optional

from mmengine.config import Config


def was_resumed(run_dir: Path) -> bool:
    """Whether the run logged in ``run_dir`` (a ``<timestamp>`` folder)
    resumed an earlier one: mmengine keeps the run's config beside its
    scalars."""
    config = Config.fromfile(str(run_dir / 'vis_data' / 'config.py'),
                             import_custom_modules=False)
    return bool(config.get('resume'))


def last_training_logs(work_dir: Path) -> List[Path]:
    """The ``scalars.json`` files of the last training in ``work_dir``: its
    last run that started afresh and the runs that resumed it, oldest first
    (earlier trainings in the same folder are left out)."""
    # Timestamps (YYYYmmdd_HHMMSS) sort chronologically.
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    kept = []
    for log in reversed(logs):
        kept.append(log)
        if not was_resumed(log.parent.parent):
            break
    return kept[::-1]


def read_scalars(work_dir: Path) -> Dict[str, Dict[int, dict]]:
    """The logged records of the last training in ``work_dir``, as
    ``{'train': {step: record}, 'val': {step: record}}``; where a resumed
    run logs a step again, its record wins."""
    records = {'train': {}, 'val': {}}
    for log in last_training_logs(work_dir):
        for line in log.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            kind = 'train' if 'loss' in record else 'val'
            records[kind][int(record['step'])] = record
    return records


def curve(records: Dict[int, dict], key: str) -> List[list]:
    """``[[step, value], ...]`` of ``key``, in step order."""
    return [[step, records[step][key]] for step in sorted(records)
            if key in records[step]]


def val_miou_curve(seg_work_dir: Path) -> List[list]:
    """``[[iteration, val mIoU], ...]`` of the last segmentation training in
    ``seg_work_dir``."""
    return curve(read_scalars(seg_work_dir)['val'], 'mIoU')


def training_curves(cls_work_dir: Optional[Path],
                    seg_work_dir: Path) -> dict:
    """Loss and validation metric over steps, of the segmentation training
    (steps are iterations) and of the classification pretraining (loss per
    iteration, accuracy per epoch; empty without ``cls_work_dir``), from
    their logs."""
    seg = read_scalars(seg_work_dir)
    cls = (read_scalars(cls_work_dir) if cls_work_dir is not None else
           dict(train={}, val={}))
    return dict(
        segmentation=dict(loss=curve(seg['train'], 'loss'),
                          val_miou=curve(seg['val'], 'mIoU')),
        classification=dict(loss=curve(cls['train'], 'loss'),
                            val_top1=curve(cls['val'], 'accuracy/top1')))
