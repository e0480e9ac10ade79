"""Deployment engines that run exported models (``Backend`` and its
classes) and PyTorch's own graph runtimes. Which engines there are, by
name, and what loads a file is ``repseg.engines``."""
from .base import (Backend, BackendNotAvailable, EngineError,
                   InputShapeMismatch, UnsupportedPrecision, WrongBackend,
                   check_input_shape)
from .ncnn import NcnnBackend
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVinoBackend
from .pytorch import compile_module, trace_and_freeze

__all__ = [
    'Backend', 'BackendNotAvailable', 'EngineError', 'NcnnBackend',
    'OnnxRuntimeBackend', 'OpenVinoBackend', 'InputShapeMismatch',
    'UnsupportedPrecision', 'WrongBackend', 'check_input_shape',
    'compile_module', 'trace_and_freeze'
]
