"""One loading path, one set of errors: every file that cannot be a
checkpoint ends in a ``CheckpointError`` naming the file and what it is not,
through each way repseg and mmengine load checkpoints."""
import io
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
from torch import nn

import repseg  # noqa: F401  (installs the safe loader)
from repseg.checkpoint import (EXTRA_SAFE_GLOBALS_ENV, CheckpointError,
                               MissingCheckpointError, NotACheckpointError,
                               UnreadableCheckpointError,
                               UnsafeCheckpointError, runs_code, safe_load)

LOADERS = {
    'safe_load': safe_load,
    'CheckpointLoader': CheckpointLoader.load_checkpoint,
    'load_checkpoint': lambda path: load_checkpoint(nn.Linear(2, 1), path),
}


class Harmless:
    """A type no allowlist knows, and that runs nothing."""


class RunsCommand:
    """Unpickles as ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def save(path, obj=None, legacy=False):
    obj = {'state_dict': {'weight': torch.ones(64, 64)}} if obj is None \
        else obj
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def assert_names_file(error, path, reason):
    message = str(error.value)
    assert message.startswith(str(path)), message
    assert reason in message, message
    assert isinstance(error.value, CheckpointError)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize('loader', LOADERS)
@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_a_truncated_checkpoint_is_named_unreadable(tmp_path, loader, legacy):
    path = save(tmp_path / 'epoch_1.pth', legacy=legacy)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(UnreadableCheckpointError) as error:
        LOADERS[loader](str(path))
    assert_names_file(error, path, 'is not a readable PyTorch checkpoint: ')
    assert 'truncated or corrupt' in str(error.value)


def test_a_damaged_checkpoint_is_unreadable_not_unsafe(tmp_path):
    """Garbage where the pickle should be makes torch refuse it as if it
    were unsafe; the zip checksums show that it is damaged."""
    path = save(tmp_path / 'epoch_1.pth')
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo('epoch_1/data.pkl')
    data = bytearray(path.read_bytes())
    offset = info.header_offset  # the local header: 30 bytes, name, extra
    start = offset + 30 + int.from_bytes(data[offset + 26:offset + 28],
                                         'little') + int.from_bytes(
                                             data[offset + 28:offset + 30],
                                             'little')
    assert data[start] == 0x80  # the pickle's PROTO opcode
    data[start:start + 2] = b'\xff\xff'
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableCheckpointError) as error:
        safe_load(str(path))
    assert_names_file(error, path, 'the zip archive is truncated or corrupt')


def _random_bytes():
    return bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8))


def _npy():
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    return buffer.getvalue()


def _zip_without_data_pkl():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('notes/readme.txt', 'hello')
    return buffer.getvalue()


FOREIGN = {
    'empty': (b'', 'it is empty'),
    'text': (b'model = dict(type="EncoderDecoder")\n',
             "it is a text file, beginning 'model = dict"),
    'random bytes': (_random_bytes(), 'it is in neither of the formats'),
    'numpy .npy': (_npy(), 'it is a NumPy array'),
    'plain pickle': (pickle.dumps({'weight': [1.0]}, 2),
                     'it is a pickle that torch.save did not write'),
    'png image': (b'\x89PNG\r\n\x1a\n' + bytes(100), 'it is a PNG image'),
    'other zip': (_zip_without_data_pkl(), 'it is a zip archive without'),
}


@pytest.mark.parametrize('kind', FOREIGN)
def test_a_file_that_is_no_checkpoint_says_what_it_is(tmp_path, kind):
    content, reason = FOREIGN[kind]
    path = tmp_path / 'model.pth'
    path.write_bytes(content)
    with pytest.raises(NotACheckpointError) as error:
        safe_load(str(path))
    assert_names_file(error, path, 'is not a PyTorch checkpoint: ' + reason)


@pytest.mark.parametrize('loader', ['CheckpointLoader', 'load_checkpoint'])
def test_mmengine_loaders_raise_the_same_errors(tmp_path, loader):
    text = tmp_path / 'notes.txt'
    text.write_text('not weights\n')
    with pytest.raises(NotACheckpointError) as error:
        LOADERS[loader](str(text))
    assert_names_file(error, text, 'it is a text file')


def test_a_torchscript_archive_is_no_checkpoint(tmp_path):
    path = tmp_path / 'scripted.pt'
    torch.jit.trace(nn.Linear(2, 1), torch.ones(1, 2)).save(str(path))
    with pytest.warns(UserWarning, match='TorchScript'), \
            pytest.raises(NotACheckpointError) as error:
        safe_load(str(path))
    assert_names_file(error, path, 'it is a TorchScript archive')


@pytest.mark.parametrize('loader', LOADERS)
def test_a_missing_file_or_a_directory_is_also_file_not_found(
        tmp_path, loader):
    with pytest.raises(MissingCheckpointError) as error:
        LOADERS[loader](str(tmp_path / 'absent.pth'))
    assert_names_file(error, tmp_path / 'absent.pth', 'no such file')
    assert isinstance(error.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError) as error:
        LOADERS[loader](str(tmp_path))
    assert_names_file(error, tmp_path, 'is not a checkpoint file: it is a '
                      'directory')


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_a_checkpoint_that_runs_a_command_is_refused_without_an_opt_in(
        tmp_path, monkeypatch, legacy):
    marker = tmp_path / 'pwned'
    path = save(tmp_path / 'evil.pth',
                {'state_dict': {}, 'x': RunsCommand(f'touch {marker}')},
                legacy=legacy)
    monkeypatch.delenv(EXTRA_SAFE_GLOBALS_ENV, raising=False)
    with pytest.raises(UnsafeCheckpointError) as error:
        load_checkpoint(nn.Linear(2, 1), str(path))
    assert not marker.exists()
    assert_names_file(error, path, 'is not a safe checkpoint: it tries to '
                      'run code when loaded')
    assert f'{os.system.__module__}.system' in str(error.value)
    assert EXTRA_SAFE_GLOBALS_ENV not in str(error.value)
    assert error.value.__cause__ is None  # torch's advice to allow it
    assert error.value.runs_code
    assert isinstance(error.value, pickle.UnpicklingError)


@pytest.mark.parametrize('name', [
    'posix.system', 'os.system', 'builtins.eval', 'subprocess.Popen',
    'builtins.getattr', 'innocent_looking.system', 'shlex.os'
])
def test_the_opt_in_refuses_what_runs_code(tmp_path, monkeypatch, name):
    (tmp_path / 'innocent_looking.py').write_text('from os import system\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    path = save(tmp_path / 'plain.pth')
    monkeypatch.setenv(EXTRA_SAFE_GLOBALS_ENV, f'{__name__}.Harmless,{name}')
    with pytest.raises(ValueError) as error:
        safe_load(str(path))
    message = str(error.value)
    assert message.startswith(EXTRA_SAFE_GLOBALS_ENV) and name in message
    assert 'runs code' in message
    monkeypatch.delitem(sys.modules, 'innocent_looking', raising=False)


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_a_harmless_unknown_type_keeps_the_opt_in(tmp_path, monkeypatch,
                                                  legacy):
    path = save(tmp_path / 'custom.pth', {'extra': Harmless()}, legacy=legacy)
    monkeypatch.delenv(EXTRA_SAFE_GLOBALS_ENV, raising=False)
    with pytest.raises(UnsafeCheckpointError) as error:
        safe_load(str(path))
    assert_names_file(error, path, f'it needs {__name__}.Harmless')
    assert (f'export {EXTRA_SAFE_GLOBALS_ENV}="{__name__}.Harmless"'
            in str(error.value))
    assert not error.value.runs_code
    monkeypatch.setenv(EXTRA_SAFE_GLOBALS_ENV, f'{__name__}.Harmless')
    assert isinstance(safe_load(str(path))['extra'], Harmless)


@pytest.mark.parametrize('name', [
    'os.system', 'posix.system', 'nt.system', 'os.popen', 'os.execv',
    'posix.spawnv', 'subprocess.Popen', 'subprocess.check_output',
    'commands.getoutput', 'builtins.eval', 'builtins.exec',
    'builtins.compile', 'builtins.__import__', 'builtins.open',
    'builtins.getattr', '__builtin__.eval', 'builtins.object.__getattribute__',
    'runpy.run_path', 'pty.spawn', 'importlib.import_module', 'pickle.loads',
    '_pickle.loads', 'marshal.loads', 'webbrowser.open', 'shutil.rmtree',
    'operator.attrgetter', 'torch.load', 'torch.hub.load', 'sys.modules'
])
def test_code_running_names(name):
    assert runs_code(name)


@pytest.mark.parametrize('name', [
    'collections.OrderedDict', 'argparse.Namespace', 'numpy.dtype',
    'mmengine.logging.history_buffer.HistoryBuffer', '__main__.Custom',
    f'{__name__}.Harmless', 'torch._utils._rebuild_tensor_v2', 'codecs.encode'
])
def test_names_that_run_nothing(name):
    assert not runs_code(name)


def test_errors_that_are_not_the_files_stay_as_they_are(tmp_path,
                                                         monkeypatch):
    path = save(tmp_path / 'epoch_1.pth')

    def fails(error):

        def load(*args, **kwargs):
            raise error

        return load

    for error in (MemoryError(), KeyboardInterrupt(), RuntimeError('device')):
        monkeypatch.setattr(torch, 'load', fails(error))
        with pytest.raises(type(error)) as raised:
            safe_load(str(path))
        assert raised.value is error
