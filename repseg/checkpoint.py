"""Checkpoint safety: safe loading under ``torch.load(weights_only=True)``
and atomic saving.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
non-tensor objects mmengine writes into its own checkpoints (the message
hub's ``HistoryBuffer`` and the numpy arrays and scalars inside it), so
testing and ``--resume`` fail. mmengine 0.10 has no hook for this, so repseg
replaces mmengine's local-file checkpoint loader with one that allows exactly
those types and nothing else. Anything further must be named explicitly by
the user in ``REPSEG_EXTRA_SAFE_GLOBALS``.
"""
import importlib
import os
import os.path as osp
import pickle
from typing import List

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

EXTRA_SAFE_GLOBALS_ENV = 'REPSEG_EXTRA_SAFE_GLOBALS'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs types that safe loading does not allow."""


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


def _qualified_name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def _import_global(qualname: str):
    module_name, _, attr = qualname.strip().rpartition('.')
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f'{EXTRA_SAFE_GLOBALS_ENV}: cannot import '
                         f'{qualname!r}: {err}') from err


def extra_safe_globals() -> List:
    """The types the user allowed explicitly, comma-separated qualified
    names in ``$REPSEG_EXTRA_SAFE_GLOBALS``."""
    names = os.environ.get(EXTRA_SAFE_GLOBALS_ENV, '')
    return [_import_global(n) for n in names.split(',') if n.strip()]


def safe_load(filename: str, map_location=None):
    """``torch.load(filename, weights_only=True)`` that also accepts
    mmengine's own checkpoints, and says what to do about anything else."""
    allowed = mmengine_safe_globals() + extra_safe_globals()
    with torch.serialization.safe_globals(allowed):
        try:
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
        except pickle.UnpicklingError as err:
            try:
                needed = torch.serialization.get_unsafe_globals_in_checkpoint(
                    filename)
            except Exception:  # legacy (non-zip) format: keep torch's text
                needed = []
            names = {_qualified_name(entry) for entry in allowed}
            needed = [n for n in needed if n not in names]
            if not needed:  # an allowed type used in a disallowed way
                raise UnsafeCheckpointError(
                    f'{filename}: refused by safe loading (torch.load with '
                    f'weights_only=True): {err}') from err
            raise UnsafeCheckpointError(
                f'{filename}: refused by safe loading (torch.load with '
                f'weights_only=True): it needs {", ".join(needed)}, which '
                'repseg does not allow by default. If you trust this file, '
                'allow exactly these types: export '
                f'{EXTRA_SAFE_GLOBALS_ENV}="{",".join(needed)}"') from err


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None):
    """mmengine's loader for local paths, with safe loading (see above)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    return safe_load(filename, map_location)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, writing each file under a temporary
    name and renaming it, so that a run killed while saving a checkpoint
    never leaves a truncated one behind for ``--resume`` to pick up."""

    def put(self, obj: bytes, filepath) -> None:
        tmp = f'{filepath}.tmp{os.getpid()}'
        os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
        try:
            with open(tmp, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
