import os
import pickle

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

import repseg  # noqa: F401  (installs the safe loader)
from repseg.checkpoint import (EXTRA_SAFE_GLOBALS_ENV, AtomicLocalBackend,
                               UnsafeCheckpointError)
from repseg import fileio
from repseg.engine.resume import find_resumable_checkpoint
from repseg.fileio import atomic_output, temporary_sibling


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


class ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)), labels=torch.ones(1))


class Custom:
    """A type no safe-loading allowlist knows."""


class SneakyGetattr:
    """Pickles as getattr(HistoryBuffer, '__init__'): not a statistic."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def make_runner(work_dir, max_epochs, resume=False):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(), batch_size=4,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        # The runner sets the process-wide default scope: keep it mmseg's,
        # as repseg's own configs do, for the tests that run after this one.
        default_scope='mmseg')


def test_runner_checkpoints_load_and_resume_under_weights_only(tmp_path):
    runner = make_runner(tmp_path, max_epochs=1)
    runner.train()
    path = tmp_path / 'epoch_1.pth'
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert any('HistoryBuffer' in name for name in unsafe)  # needs the list
    checkpoint = _load_checkpoint(str(path), map_location='cpu')
    assert isinstance(checkpoint['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)

    resumed = make_runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == 4
    assert torch.equal(
        _load_checkpoint(str(tmp_path / 'epoch_2.pth'))['state_dict']
        ['fc.weight'], resumed.model.fc.weight.detach())


def test_unknown_types_are_refused_with_the_opt_in(tmp_path, monkeypatch):
    path = tmp_path / 'custom.pth'
    torch.save({'state_dict': {}, 'extra': Custom()}, path)
    monkeypatch.delenv(EXTRA_SAFE_GLOBALS_ENV, raising=False)
    with pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(str(path))
    message = str(error.value)
    assert str(path) in message
    assert f'{__name__}.Custom' in message
    assert EXTRA_SAFE_GLOBALS_ENV in message

    monkeypatch.setenv(EXTRA_SAFE_GLOBALS_ENV, f'{__name__}.Custom')
    assert isinstance(_load_checkpoint(str(path))['extra'], Custom)


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': SneakyGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        _load_checkpoint(str(path))


def test_bad_opt_in_names_the_variable(tmp_path, monkeypatch):
    path = tmp_path / 'plain.pth'
    torch.save({'w': torch.ones(1)}, path)
    monkeypatch.setenv(EXTRA_SAFE_GLOBALS_ENV, 'no_such_module.Type')
    with pytest.raises(ValueError, match=EXTRA_SAFE_GLOBALS_ENV):
        _load_checkpoint(str(path))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    backend = get_file_backend(str(tmp_path / 'x.pth'))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'iter_1.pth'
    backend.put(b'complete', target)

    def killed(*args):
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'partial', target)
    assert target.read_bytes() == b'complete'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_1.pth']


def test_shared_atomic_output_replaces_a_folder_only_when_done(tmp_path):
    """One staging name for every process (tools/test.py --out): what a
    failed run left there goes first, and the folder appears only whole."""
    out = tmp_path / 'preds'
    staging = temporary_sibling(out, shared=True)
    assert staging == temporary_sibling(out, shared=True)
    assert staging.parent == tmp_path and staging.name.startswith('.')
    staging.mkdir()
    (staging / 'stale.png').write_bytes(b'stale')
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(out, shared=True) as tmp:
            assert tmp == staging and not tmp.exists()
            tmp.mkdir()
            (tmp / 'a.png').write_bytes(b'a')
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    for name in ('a.png', 'b.png'):  # twice: the second replaces the first
        with atomic_output(out, shared=True) as tmp:
            tmp.mkdir()
            (tmp / name).write_bytes(b'x')
        assert [p.name for p in tmp_path.iterdir()] == ['preds']
        assert [p.name for p in out.iterdir()] == [name]


def test_shared_atomic_output_is_left_to_the_main_process(tmp_path,
                                                          monkeypatch):
    out = tmp_path / 'preds'
    monkeypatch.setattr(fileio, '_is_main_process', lambda: False)
    with atomic_output(out, shared=True) as tmp:
        tmp.mkdir()
    assert not out.exists() and tmp.is_dir()  # the main process moves it


def test_resume_skips_a_truncated_last_checkpoint_record(tmp_path):
    for step in (100, 200):
        (tmp_path / f'iter_{step}.pth').write_bytes(b'x')
    assert find_resumable_checkpoint(str(tmp_path)) == str(
        tmp_path / 'iter_200.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_1'))
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_200.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_100.pth'))
    assert find_resumable_checkpoint(str(tmp_path)).endswith('iter_100.pth')
    with pytest.warns(UserWarning, match='no checkpoint'):
        assert find_resumable_checkpoint(str(tmp_path / 'empty')) is None


def test_resume_never_picks_a_best_checkpoint(tmp_path):
    """CheckpointHook's best_*.pth holds no optimizer state: with no record,
    the newest regular checkpoint is taken even when a best one is newer."""
    (tmp_path / 'epoch_3.pth').write_bytes(b'x')
    (tmp_path / 'best_accuracy_top1_epoch_4.pth').write_bytes(b'x')
    assert find_resumable_checkpoint(str(tmp_path)) == str(
        tmp_path / 'epoch_3.pth')
