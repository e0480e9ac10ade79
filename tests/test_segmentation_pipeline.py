"""tools/train.py, tools/test.py and tools/dist_train.sh on the tiny demo."""
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import write_tiny_seg_config
from helpers import load_tool, write_pretrained_config

from repseg.checkpoint import MissingCheckpointError
from repseg.datasets import DatasetNotReadyError
from repseg.engine import loops
from repseg.engine.loops import fused_copy

ROOT = Path(__file__).resolve().parents[1]
train_tool = load_tool('train')
test_tool = load_tool('test')
infer_tool = load_tool('infer')


def last_val_miou(work_dir):
    """mIoU of the last validation, as the visualizer backend logged it."""
    logs = list(Path(work_dir).glob('*/vis_data/scalars.json'))
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    return [r for r in records if 'mIoU' in r][-1]['mIoU']


def cityscapes_official_miou(pred_dir, data_root):
    """Mean class IoU of cityscapesscripts' own evaluation, in percent."""
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as cs
    gts = sorted(Path(data_root, 'gtFine/val').glob('*/*_gtFine_labelIds.png'))
    preds = [str(Path(pred_dir, g.name.replace('gtFine_labelIds',
                                                'leftImg8bit'))) for g in gts]
    args = copy.copy(cs.args)
    args.evalInstLevelScore = False
    args.JSONOutput = False
    args.quiet = True
    result = cs.evaluateImgLists(preds, [str(g) for g in gts], args)
    return 100 * result['averageScoreClasses']


@pytest.fixture(scope='module')
def trained(demo_cityscapes, tmp_path_factory):
    """A tiny PSPNet trained for 4 iterations (validated at the end), and
    the models validation ran on, with the number of val steps of each."""
    tmp = tmp_path_factory.mktemp('trained')
    config = write_tiny_seg_config(tmp / 'tiny.py', demo_cityscapes)
    work_dir = tmp / 'work'
    validated = []

    def spy(model):
        fused = fused_copy(model)
        fused.val_steps, val_step = 0, fused.val_step

        def counted_val_step(data):
            fused.val_steps += 1
            return val_step(data)

        fused.val_step = counted_val_step
        validated.append(fused)
        return fused

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loops, 'fused_copy', spy)
        train_tool.main([str(config), '--work-dir', str(work_dir)])
    return config, work_dir, validated


def test_train_writes_checkpoints_and_validates_fused_model(trained, tmp_path):
    config, work_dir, validated = trained
    assert len(validated) == 1  # one validation, on a fused copy
    assert validated[0].backbone.deploy
    assert validated[0].val_steps == 3  # every val image
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in validated[0].backbone.modules())
    assert (work_dir / 'iter_2.pth').is_file()
    assert (work_dir / 'iter_4.pth').is_file()
    checkpoint = torch.load(work_dir / 'iter_4.pth', weights_only=False)
    assert 'branch_3x3' in ' '.join(checkpoint['state_dict'])  # multi-branch

    report = tmp_path / 'fused.json'
    test_tool.main([str(config), str(work_dir / 'iter_4.pth'),
                    '--work-dir', str(tmp_path / 'test'),
                    '--report', str(report)])
    fused = json.loads(report.read_text())
    assert fused['fused'] is True
    assert fused['mIoU'] == pytest.approx(last_val_miou(work_dir), abs=0.01)


def test_test_tool_reports_outputs_and_agrees_with_cityscapesscripts(
        trained, demo_cityscapes, tmp_path):
    config, work_dir, _ = trained
    checkpoint = str(work_dir / 'iter_4.pth')
    out, show = tmp_path / 'preds', tmp_path / 'show'
    # What a crashed earlier run left in --out's staging folder is not kept.
    stale = tmp_path / '.preds.partial'
    stale.mkdir()
    (stale / 'other_model_prediction.png').write_bytes(b'stale')
    test_tool.main([config.as_posix(), checkpoint, '--work-dir',
                    str(tmp_path / 'a'), '--report', str(tmp_path / 'a.json'),
                    '--out', str(out), '--show-dir', str(show)])
    test_tool.main([config.as_posix(), checkpoint, '--multi-branch',
                    '--work-dir', str(tmp_path / 'b'),
                    '--report', str(tmp_path / 'b.json')])
    fused = json.loads((tmp_path / 'a.json').read_text())
    unfused = json.loads((tmp_path / 'b.json').read_text())

    assert {'mIoU', 'mAcc', 'aAcc', 'per_class', 'fused', 'config',
            'checkpoint'} <= set(fused)
    assert len(fused['per_class']) == 19 and 'road' in fused['per_class']
    assert unfused['fused'] is False
    assert fused['mIoU'] == pytest.approx(unfused['mIoU'], abs=0.01)
    assert fused['checkpoint'] == os.path.abspath(checkpoint)

    images = sorted(Path(demo_cityscapes, 'leftImg8bit/val').glob('*/*.png'))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in images)
    assert cityscapes_official_miou(out, demo_cityscapes) == pytest.approx(
        fused['mIoU'], abs=0.01)
    assert len(list(show.rglob('*.png'))) == len(images)
    assert not list(tmp_path.glob('.*partial*'))

    # tools/infer.py on the same images writes the same labelIds.
    import numpy as np
    from PIL import Image
    infer_tool.main([config.as_posix(), checkpoint,
                     str(demo_cityscapes / 'leftImg8bit' / 'val'),
                     '--out', str(tmp_path / 'infer')])
    for image in images:
        ours = np.array(Image.open(
            tmp_path / 'infer' / 'labels' / image.parent.name / image.name))
        theirs = np.array(Image.open(out / image.name))
        assert ours.shape == theirs.shape
        assert (ours == theirs).mean() >= 0.999


def test_a_checkpoint_of_another_model_is_refused(trained, tmp_path):
    # mmengine alone would only log the shape mismatch and test the
    # checkpoint with a random decode head.
    config, work_dir, _ = trained
    checkpoint = str(work_dir / 'iter_4.pth')
    report = tmp_path / 'report.json'
    with pytest.raises(SystemExit) as err:
        test_tool.main([str(config), checkpoint, '--work-dir',
                        str(tmp_path / 'test'), '--report', str(report),
                        '--cfg-options', 'model.decode_head.channels=8'])
    message = str(err.value)
    assert message.startswith(f'test.py: checkpoint {checkpoint!r} does not '
                              f'match config {str(config)!r}')
    assert 'size mismatch for decode_head.conv_seg.weight' in message
    assert not report.exists()


def test_resume_after_kill(demo_cityscapes, tmp_path):
    config = write_tiny_seg_config(tmp_path / 'long.py', demo_cityscapes,
                                   max_iters=12, val_interval=100)
    work_dir = tmp_path / 'work'
    command = [sys.executable, str(ROOT / 'tools/train.py'), str(config),
               '--work-dir', str(work_dir)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (work_dir / 'iter_2.pth').exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (work_dir / 'iter_2.pth').exists()
    assert not (work_dir / 'iter_12.pth').exists()
    assert not list(work_dir.glob('*.tmp*'))  # no half-written checkpoint

    train_tool.main([str(config), '--work-dir', str(work_dir), '--resume'])
    final = torch.load(work_dir / 'iter_12.pth', weights_only=False)
    assert final['meta']['iter'] == 12
    logs = ''.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 'resumed' in logs


def test_two_process_data_parallel_training_on_cpu(demo_cityscapes, tmp_path):
    config = write_tiny_seg_config(tmp_path / 'dist.py', demo_cityscapes,
                                   max_iters=2, val_interval=2,
                                   checkpoint_interval=2, norm='SyncBN')
    env = dict(os.environ, PORT=str(29500 + os.getpid() % 1000),
               OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', str(ROOT / 'tools/dist_train.sh'), str(config), '2',
         '--work-dir', str(tmp_path / 'work')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'work/iter_2.pth').is_file()
    log = ''.join(p.read_text() for p in (tmp_path / 'work').glob('*/*.log'))
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert 'mIoU' in log


def test_missing_dataset_fails_before_building_a_model(tmp_path, monkeypatch):
    config = write_tiny_seg_config(tmp_path / 'c.py', tmp_path / 'nowhere')
    monkeypatch.setattr(train_tool.Runner, 'from_cfg', lambda cfg: 1 / 0)
    with pytest.raises(SystemExit, match='make_demo_data.py') as exit_info:
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'w')])
    assert isinstance(exit_info.value.__cause__, DatasetNotReadyError)


def test_missing_resume_checkpoint_fails_before_building_a_model(
        demo_cityscapes, tmp_path, monkeypatch):
    config = write_tiny_seg_config(tmp_path / 'c.py', demo_cityscapes)
    monkeypatch.setattr(train_tool.Runner, 'from_cfg', lambda cfg: 1 / 0)
    with pytest.raises(SystemExit, match="--resume: checkpoint '.*gone.pth'"):
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'w'),
                         '--resume', str(tmp_path / 'gone.pth')])


def test_unconverted_dataset_names_the_converter(demo_cityscapes, tmp_path,
                                                 monkeypatch):
    import shutil
    root = tmp_path / 'raw'
    shutil.copytree(demo_cityscapes, root)
    for label in root.glob('gtFine/*/*/*_labelTrainIds.png'):
        label.unlink()
    config = write_tiny_seg_config(tmp_path / 'c.py', root)
    monkeypatch.setattr(train_tool.Runner, 'from_cfg', lambda cfg: 1 / 0)
    with pytest.raises(SystemExit,
                       match='dataset_converters/cityscapes.py') as exit_info:
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'w')])
    assert isinstance(exit_info.value.__cause__, DatasetNotReadyError)


def test_pretrained_checkpoint_missing_or_absent(demo_cityscapes, tmp_path,
                                                 monkeypatch):
    config = write_tiny_seg_config(tmp_path / 'c.py', demo_cityscapes)
    monkeypatch.setattr(train_tool.Runner, 'from_cfg', lambda cfg: 1 / 0)
    missing = tmp_path / 'absent.pth'
    pretrained = write_pretrained_config(tmp_path / 'pretrained.py', config,
                                         missing)
    with pytest.raises(SystemExit, match='absent.pth') as exit_info:
        train_tool.main([str(pretrained), '--work-dir', str(tmp_path / 'w')])
    assert isinstance(exit_info.value.__cause__, MissingCheckpointError)
    with pytest.warns(UserWarning, match='from scratch'), \
            pytest.raises(ZeroDivisionError):
        train_tool.main([str(config), '--work-dir', str(tmp_path / 'w')])
    # mmengine's list form: the Pretrained entry among others is checked.
    listed = tmp_path / 'listed.py'
    listed.write_text(
        f"_base_ = {str(config)!r}\n"
        "model = dict(backbone=dict(init_cfg=["
        "dict(type='Kaiming', layer=['Conv2d']), "
        f"dict(type='Pretrained', checkpoint={str(missing)!r})]))\n")
    with pytest.raises(SystemExit, match='absent.pth') as exit_info:
        train_tool.main([str(listed), '--work-dir', str(tmp_path / 'w')])
    assert isinstance(exit_info.value.__cause__, MissingCheckpointError)
