"""Deployment engines that run exported models (``Backend``), by name, and
PyTorch's own graph runtimes."""
import os
from typing import Dict, Optional, Type

from ..checkpoint import MissingCheckpointError

from .base import (Backend, BackendNotAvailable, EngineError,
                   InputShapeMismatch, WrongBackend, check_input_shape)
from .ncnn import NcnnBackend
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVinoBackend
from .pytorch import compile_module, trace_and_freeze

#: Every engine an exported model can run on, by ``Backend.name``; each
#: one's description (exporters, rewrites ...) is in ``repseg.engines``.
BACKENDS: Dict[str, Type[Backend]] = {
    backend.name: backend
    for backend in (OnnxRuntimeBackend, NcnnBackend, OpenVinoBackend)
}


def backend_for_file(path) -> Optional[str]:
    """The name of the engine that loads files like ``path`` (by their
    ending), None for other files (PyTorch checkpoints)."""
    for name, backend in BACKENDS.items():
        if str(path).endswith(backend.suffix):
            return name
    return None


def load_backend(name: str, path: str, num_threads: int) -> Backend:
    """The exported file ``path`` loaded into the engine ``name``."""
    if name not in BACKENDS:
        raise WrongBackend(f'unknown backend {name!r}; choose from '
                           f'{sorted(BACKENDS)}')
    if not str(path).endswith(BACKENDS[name].suffix):
        raise WrongBackend(f'{path}: the {name} backend loads '
                           f'{BACKENDS[name].suffix} files')
    if not os.path.isfile(path):
        raise MissingCheckpointError(f'{path} is not an exported model '
                                     'file: there is no such file')
    return BACKENDS[name](path, num_threads)


__all__ = [
    'BACKENDS', 'Backend', 'BackendNotAvailable', 'EngineError', 'NcnnBackend',
    'OnnxRuntimeBackend', 'OpenVinoBackend',
    'InputShapeMismatch', 'WrongBackend', 'backend_for_file',
    'check_input_shape', 'compile_module', 'load_backend', 'trace_and_freeze'
]
