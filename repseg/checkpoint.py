"""Checkpoint safety: safe loading under ``torch.load(weights_only=True)``,
one set of errors for files that are not checkpoints, and atomic saving.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
non-tensor objects mmengine writes into its own checkpoints (the message
hub's ``HistoryBuffer`` and the numpy arrays and scalars inside it), so
testing and ``--resume`` fail. mmengine 0.10 has no hook for this, so repseg
replaces mmengine's local-file checkpoint loader with one that allows exactly
those types and nothing else. Anything further must be named explicitly by
the user in ``REPSEG_EXTRA_SAFE_GLOBALS``, except what runs code, which no
checkpoint needs and which is never allowed.

Everything loads through that loader (tools/test.py, ``--resume``,
``Pretrained`` init_cfg, ``mmengine.runner.checkpoint.load_checkpoint``,
``repseg.apis.init_model``), so it is also where a file that cannot be a
checkpoint gets one error saying so (``CheckpointError``), instead of
whatever torch's parser trips over (``KeyError: 101`` for a text file, a
miniz error for a truncated one).
"""
import _compat_pickle
import importlib
import os
import os.path as osp
import pickle
import pickletools
import re
import types
import zipfile
from typing import List, Optional

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import RepSegError
from .fileio import atomic_output

EXTRA_SAFE_GLOBALS_ENV = 'REPSEG_EXTRA_SAFE_GLOBALS'


class CheckpointError(RepSegError, ValueError):
    """A file given as a checkpoint that cannot be loaded as one.

    The message starts with the path and says what the file is not, so
    each tool ends in one line the user can act on. A ValueError, like any
    bad argument, and deliberately not a RuntimeError or KeyError, which
    callers read as "weights that do not fit the model".
    """


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """No file at the path (nothing, or a directory). Also a
    FileNotFoundError, as mmengine's own loader raised, for the callers
    that catch that."""


class UnreadableCheckpointError(CheckpointError):
    """A checkpoint that cannot be read back: truncated (a copy or a save
    cut short), corrupted, or not readable by this user."""


class NotACheckpointError(CheckpointError):
    """A file in neither format ``torch.save`` writes: text, an image, a
    numpy array, a plain pickle, a TorchScript or other zip archive..."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint that safe loading refuses: it needs types repseg does
    not allow, or it tries to run code (then ``runs_code`` is true). Also a
    ``pickle.UnpicklingError``, what torch raises for the same refusal."""

    runs_code = False


class SafeGlobalsError(RepSegError, ValueError):
    """``$REPSEG_EXTRA_SAFE_GLOBALS`` names what cannot be imported, or
    what runs code."""


def _numpy_globals() -> list:
    """The numpy callables and types that pickled arrays and scalars use."""
    try:  # numpy >= 2 keeps them in numpy._core, and pickles that name
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    dtype_classes = [type(np.dtype(t)) for t in np.typecodes['All']
                     if t not in 'OMm'] + [type(np.dtype('O'))]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *dtype_classes]


def _history_buffer_method(owner, name: str):
    """Stands in for ``getattr`` while unpickling.

    ``HistoryBuffer`` pickles its statistics methods (min, max, mean, ...)
    as ``getattr(HistoryBuffer, name)``; allowing the real ``getattr`` would
    open every attribute of every allowed type, so only that is allowed.
    """
    if (owner is HistoryBuffer and not name.startswith('_')
            and callable(getattr(HistoryBuffer, name, None))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}): only HistoryBuffer '
        'statistics methods may be looked up')


def mmengine_safe_globals() -> list:
    """Exactly the types mmengine checkpoints need beyond plain containers
    (entries as ``torch.serialization.safe_globals`` takes them)."""
    return [HistoryBuffer, (_history_buffer_method, 'builtins.getattr'),
            *_numpy_globals()]


# What runs code. A checkpoint holds tensors and plain data; a pickle that
# reaches for any of these wants to run something while it is loaded, so
# the refusal says so and offers no opt-in, and the opt-in variable refuses
# them too. Safe loading refuses everything not allowed either way: this
# list only decides which message a refusal gets. The rule: a name in (or
# under) one of these modules, one of these builtins, or any name reaching
# a dunder attribute (``object.__getattribute__`` is getattr renamed).
_CODE_RUNNING_MODULES = (
    # processes, commands and the operating system
    'os', 'posix', 'nt', 'subprocess', '_posixsubprocess', 'pty', 'sys',
    'signal', 'ctypes', 'multiprocessing', 'concurrent', 'asyncio',
    'threading', '_thread', 'shutil', 'webbrowser', 'socket',
    # running, compiling or importing code
    'runpy', 'code', 'codeop', 'importlib', 'imp', 'pkgutil', 'zipimport',
    'pdb', 'bdb', 'timeit', 'trace', 'profile', 'cProfile',
    # loading further pickles or code, which then run whatever they hold
    'pickle', '_pickle', 'marshal', 'shelve', 'dill', 'cloudpickle',
    'joblib', 'torch.load', 'torch.serialization', 'torch.hub', 'torch.jit',
    'torch.package', 'torch.utils.cpp_extension', 'numpy.load',
    'mmengine.config',
    # attribute lookup by name: getattr in all but name
    'operator', '_operator',
)
_CODE_RUNNING_BUILTINS = frozenset({
    'eval', 'exec', 'execfile', 'compile', '__import__', 'open', 'file',
    'input', 'raw_input', 'breakpoint', 'help', 'exit', 'quit', 'reload',
    'getattr', 'setattr', 'delattr', 'globals', 'locals', 'vars',
    'function', 'code',  # types.FunctionType and CodeType: code from bytes
})
_DUNDER = re.compile(r'__\w+__')


def _py3_name(qualname: str) -> str:
    """``module.name`` under its Python 3 name: protocol-2 pickles, which
    torch writes, name ``subprocess`` ``commands`` and ``builtins``
    ``__builtin__``, and Python 3 unpickles them under the new names."""
    module, _, name = qualname.strip().rpartition('.')
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return '.'.join(_compat_pickle.NAME_MAPPING[(module, name)])
    first, dot, rest = qualname.strip().partition('.')
    return _compat_pickle.IMPORT_MAPPING.get(first, first) + dot + rest


def runs_code(qualname: str) -> bool:
    """Whether the pickle global ``qualname`` (``module.name``, Python 2
    names included) runs code when called."""
    parts = _py3_name(qualname).split('.')
    if parts[0] == 'builtins':
        return len(parts) < 2 or parts[1] in _CODE_RUNNING_BUILTINS or any(
            _DUNDER.fullmatch(p) for p in parts[2:])
    name = '.'.join(parts)
    return (any(name == m or name.startswith(m + '.')
                for m in _CODE_RUNNING_MODULES)
            or any(_DUNDER.fullmatch(p) for p in parts[1:]))


def _qualified_name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    if isinstance(entry, types.ModuleType):  # ``shlex.os`` is ``os``
        return entry.__name__
    return (f'{getattr(entry, "__module__", None)}.'
            f'{getattr(entry, "__qualname__", None)}')


def _refuse_code_running(name: str, given: str) -> None:
    if runs_code(name):
        also = '' if name == given else f' (that is {name})'
        raise SafeGlobalsError(
            f'{EXTRA_SAFE_GLOBALS_ENV}: refusing {given!r}{also}: it runs '
            'code when a checkpoint calls it, and no checkpoint needs that; '
            'remove it from the variable')


def _import_global(qualname: str):
    qualname = qualname.strip()
    _refuse_code_running(qualname, qualname)
    module_name, _, attr = qualname.rpartition('.')
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise SafeGlobalsError(f'{EXTRA_SAFE_GLOBALS_ENV}: cannot import '
                               f'{qualname!r}: {err}') from err
    # under another name, say a module's ``from os import system``
    _refuse_code_running(_qualified_name(found), qualname)
    return found


def extra_safe_globals() -> List:
    """The types the user allowed explicitly, comma-separated qualified
    names in ``$REPSEG_EXTRA_SAFE_GLOBALS``; never one that runs code."""
    names = os.environ.get(EXTRA_SAFE_GLOBALS_ENV, '')
    return [_import_global(n) for n in names.split(',') if n.strip()]


_ZIP_MAGIC = b'PK\x03\x04'  # what torch itself tests for its zip format
# The legacy format starts with torch's magic number, pickled at protocol 2
# or later (a FRAME opcode may precede it).
_LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, 2)[2:-1]
_TRUNCATED_ZIP = 'the zip archive is truncated or corrupt'


def _what_it_is(head: bytes) -> str:
    """What a file that is no checkpoint looks like, from its first bytes:
    what the user most likely passed by mistake."""
    if not head:
        return 'it is empty'
    for magic, kind in ((b'\x93NUMPY', 'a NumPy array (.npy)'),
                        (b'\x89PNG', 'a PNG image'),
                        (b'\xff\xd8\xff', 'a JPEG image'),
                        (b'\x1f\x8b', 'gzip-compressed')):
        if head.startswith(magic):
            return f'it is {kind}'
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return 'it is a pickle that torch.save did not write'
    if re.match(rb'\x08[\x03-\x20]\x12', head):
        return 'it looks like an ONNX model'
    if b'\0' not in head:
        try:
            text = head.decode('utf-8')
        except UnicodeDecodeError as err:  # allow a character cut short
            text = head[:err.start].decode('utf-8') if (
                err.start >= len(head) - 3) else None
        if text is not None:
            first = text.strip().split('\n', 1)[0][:60]
            return f'it is a text file, beginning {first!r}'
    return 'it is in neither of the formats torch.save writes'


def checkpoint_format(filename: str) -> str:
    """``'zip'`` or ``'legacy'``, the ``torch.save`` format ``filename`` is
    in, from its first bytes; else the ``CheckpointError`` saying what it
    is. torch reads anything else as a legacy file and fails in its parser,
    so such files never reach it."""
    if not osp.lexists(filename):
        raise MissingCheckpointError(
            f'{filename} is not a checkpoint file: there is no such file')
    if osp.isdir(filename):
        raise MissingCheckpointError(
            f'{filename} is not a checkpoint file: it is a directory')
    if not osp.isfile(filename):
        raise MissingCheckpointError(
            f'{filename} is not a checkpoint file: ' + (
                'it is a broken link' if osp.islink(filename) else
                'it is not a regular file'))
    try:
        with open(filename, 'rb') as f:
            head = f.read(512)
    except OSError as err:
        raise UnreadableCheckpointError(
            f'{filename} is not a readable PyTorch checkpoint: '
            f'{err.strerror or err}') from err
    if head.startswith(_ZIP_MAGIC):
        return 'zip'
    if _LEGACY_MAGIC in head[:16]:
        return 'legacy'
    raise NotACheckpointError(
        f'{filename} is not a PyTorch checkpoint: {_what_it_is(head)}')


def _zip_problem(filename: str, err: Exception) -> Optional[CheckpointError]:
    """What is wrong with a zip file torch failed to load, or None when the
    archive is intact and so the failure is not the file's (a
    ``map_location`` naming a device the host lacks, say)."""
    if isinstance(err, RuntimeError) and 'PytorchStreamReader failed' in str(
            err):  # torch's own zip reader says the archive is broken
        return UnreadableCheckpointError(
            f'{filename} is not a readable PyTorch checkpoint: '
            f'{_TRUNCATED_ZIP}')
    try:
        with zipfile.ZipFile(filename) as archive:
            # torch.save writes DIR/data.pkl, DIR/data/0, ... in one DIR
            records = {name.partition('/')[2] for name in archive.namelist()}
            if 'constants.pkl' in records:
                return NotACheckpointError(
                    f'{filename} is not a PyTorch checkpoint: it is a '
                    'TorchScript archive (torch.jit.save), which holds code')
            if 'data.pkl' not in records:
                return NotACheckpointError(
                    f'{filename} is not a PyTorch checkpoint: it is a zip '
                    'archive without the data.pkl that torch.save writes')
            damaged = archive.testzip()  # the first record failing its CRC
    except MemoryError:
        raise
    except Exception:  # BadZipFile, and UnicodeDecodeError, EOFError...
        damaged = 'the directory'  # for names and headers damaged in place
    if damaged is None:
        return None
    return UnreadableCheckpointError(
        f'{filename} is not a readable PyTorch checkpoint: {_TRUNCATED_ZIP}')


# What torch's legacy reader says when the raw storage bytes after the
# pickles are cut short or garbled (its only checks there).
_LEGACY_STORAGE_DAMAGE = re.compile(
    'unexpected EOF|wrong byte size|corrupt|Invalid magic number')


def _legacy_problem(filename: str,
                    err: Exception) -> Optional[CheckpointError]:
    """What is wrong with a legacy-format file torch failed to load, or None
    when it reads back whole (then it was refused, or the failure is not
    the file's). Unlike a zip archive, nothing else can check it: its
    pickles are read back with ``pickletools``, its storages by torch."""
    if _legacy_globals(filename) is not None and not (
            isinstance(err, EOFError)
            or isinstance(err, RuntimeError)
            and _LEGACY_STORAGE_DAMAGE.search(str(err))):
        return None
    return UnreadableCheckpointError(
        f'{filename} is not a readable PyTorch checkpoint: the data is '
        'truncated or corrupt (legacy torch.save format)')


def _legacy_globals(filename: str) -> Optional[set]:
    """The globals a legacy-format file's pickles name, read without
    loading anything (``pickletools``); None when they do not read back.

    torch pickles at protocol 2, where each global is a GLOBAL opcode, as
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` (zip files
    only) also assumes."""
    found = set()
    try:
        with open(filename, 'rb') as f:
            for _ in range(5):  # magic number, version, sys info, the data,
                for op, arg, _ in pickletools.genops(f):  # storage keys
                    if op.name == 'GLOBAL':
                        found.add(_py3_name(arg.replace(' ', '.', 1)))
    except MemoryError:
        raise
    except Exception:  # ValueError for pickletools' "not a pickle"
        return None
    return found


def _refusal(filename: str, fmt: str, err: pickle.UnpicklingError,
             allowed: list) -> UnsafeCheckpointError:
    """The error for a checkpoint safe loading refused, saying what it
    needs and, unless that runs code, how to allow it."""
    names = {_qualified_name(entry) for entry in allowed}
    if fmt == 'zip':  # torch's scan leaves out what it allows by default
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(
            filename)
    else:  # ours does not: take out what torch allows (its private lists,
        needed = _legacy_globals(filename) or []  # as its own scan does)
        for allowlist in ('_get_allowed_globals',
                          '_get_user_allowed_globals'):
            names.update(getattr(torch._weights_only_unpickler, allowlist,
                                 dict)())
    needed = sorted({_py3_name(n) for n in needed} - names)
    code = [n for n in needed if runs_code(n)]
    if code:
        error = UnsafeCheckpointError(
            f'{filename} is not a safe checkpoint: it tries to run code when '
            f'loaded (it calls {", ".join(code)}). Safe loading refused it, '
            'so nothing ran; no checkpoint needs that, and repseg never '
            'allows it.')
        error.runs_code = True
        return error
    if not needed:  # an allowed type used in a disallowed way
        return UnsafeCheckpointError(
            f'{filename} is not loadable by safe loading (torch.load with '
            f'weights_only=True): {err}')
    return UnsafeCheckpointError(
        f'{filename} is not loadable by safe loading (torch.load with '
        f'weights_only=True): it needs {", ".join(needed)}, which repseg '
        'does not allow by default. If you trust this file, allow exactly '
        f'these types: export {EXTRA_SAFE_GLOBALS_ENV}="{",".join(needed)}"')


def safe_load(filename: str, map_location=None):
    """``torch.load(filename, weights_only=True)`` that also accepts
    mmengine's own checkpoints, and says what to do about anything else.

    Raises:
        CheckpointError: missing, unreadable, truncated or foreign files,
            and checkpoints safe loading refuses (``UnsafeCheckpointError``).
            An error torch raises for an intact checkpoint (a
            ``map_location`` for a device the host lacks) stays torch's.
        SafeGlobalsError: ``$REPSEG_EXTRA_SAFE_GLOBALS`` names what cannot
            be imported, or what runs code (a ``ValueError``).
    """
    filename = os.fspath(filename)
    fmt = checkpoint_format(filename)
    allowed = mmengine_safe_globals() + extra_safe_globals()
    with torch.serialization.safe_globals(allowed):
        try:
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
        except MemoryError:
            raise
        except Exception as err:
            problem = (_zip_problem if fmt == 'zip' else _legacy_problem)(
                filename, err)
            if problem is not None:
                raise problem from err
            if not isinstance(err, pickle.UnpicklingError):
                raise
            refusal = _refusal(filename, fmt, err, allowed)
            # torch's message for a file that runs code suggests allowing it
            # or loading with weights_only=False: not chained to this one
            raise refusal from (None if refusal.runs_code else err)


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None):
    """mmengine's loader for local paths, with safe loading (see above)."""
    return safe_load(osp.expanduser(filename), map_location)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, writing each file through
    ``atomic_output`` (and to disk before the rename), so that a run killed
    while saving a checkpoint never leaves a truncated one behind for
    ``--resume`` to pick up."""

    def put(self, obj: bytes, filepath) -> None:
        with atomic_output(filepath) as tmp, open(tmp, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
