"""Deployment engines that run exported models (``Backend``), by name, and
PyTorch's own graph runtimes."""
from typing import Dict, Type

from .base import Backend, BackendNotAvailable
from .onnxruntime import OnnxRuntimeBackend
from .pytorch import compile_module, trace_and_freeze

#: Every engine an exported model can run on, by ``Backend.name``.
BACKENDS: Dict[str, Type[Backend]] = {
    backend.name: backend
    for backend in (OnnxRuntimeBackend, )
}


def load_backend(name: str, path: str, num_threads: int) -> Backend:
    """The exported file ``path`` loaded into the engine ``name``."""
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose from '
                         f'{sorted(BACKENDS)}')
    return BACKENDS[name](path, num_threads)


__all__ = [
    'BACKENDS', 'Backend', 'BackendNotAvailable', 'OnnxRuntimeBackend',
    'compile_module', 'load_backend', 'trace_and_freeze'
]
