"""Every deployment engine, described once (``Engine``, ``ENGINES``).

Deploy, the benchmark, quantization and the demo read an engine's name,
file suffix, exporters, deploy rewrites and Winograd tile from here; the
engine itself (loading and running its files) is its ``repseg.backends``
class. A new engine is a backend module and one ``Engine`` below.

This module sits above ``backends``, ``export``, ``rewrites`` and
``quantization`` and below ``apis`` and ``benchmark``.
"""
import os
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Type

from torch import nn

from .backends import (Backend, NcnnBackend, OnnxRuntimeBackend,
                       OpenVinoBackend, UnsupportedPrecision, WrongBackend)
from .backends.ncnn import winograd_tile as ncnn_winograd_tile
from .checkpoint import MissingCheckpointError
from .export import (export_model_ncnn, export_model_onnx,
                     export_model_openvino, export_ncnn, export_onnx,
                     export_openvino)
from .quantization import quantize_onnx, quantize_openvino
from .rewrites import MODEL_REWRITES


def no_winograd(conv: nn.Conv2d) -> Optional[int]:
    """The Winograd tile of an engine without fp32 Winograd kernels: none
    (oneDNN, which PyTorch and OpenVINO use, and ONNX Runtime's MLAS)."""
    return None


@dataclass(frozen=True)
class Engine:
    """One deployment engine, as everything that uses it reads it.

    Args:
        backend (type[Backend]): The class that loads and runs its files;
            the engine's ``name`` (``--backend``) and file ``suffix``.
        alias (str): Its runtime option in benchmark modes (``'onnx'``).
        model_exporter (callable): Deploy's export of a model's inference
            call, ``(model, inputs, path, fp16) -> bool`` (whether the file
            takes any image size); ``fp16`` weights where the engine stores
            them, an ``ExportError`` elsewhere.
        module_exporter (callable): The benchmark's export of a tensor ->
            tensor(s) module for ``inputs``' shape, ``(module, inputs,
            path)``.
        rewrites (tuple[str]): The exact rewrites (``repseg.rewrites``
            names) the deployed model gets before it is exported.
        winograd_tile (callable): The Winograd output tile the engine runs
            a conv with, None for none; the benchmark counts
            multiplications with it.
        quantizer (callable, optional): Its post-training INT8
            quantization, ``(fp32_path, int8_path, batches) -> dict`` (what
            was done); None where there is none.
    """
    backend: Type[Backend]
    alias: str
    model_exporter: Callable[..., bool]
    module_exporter: Callable[..., object]
    rewrites: Tuple[str, ...] = ()
    winograd_tile: Callable[[nn.Conv2d], Optional[int]] = no_winograd
    quantizer: Optional[Callable[..., dict]] = None

    def __post_init__(self):
        unknown = [r for r in self.rewrites if r not in MODEL_REWRITES]
        if unknown:
            raise ValueError(f'engine {self.name!r}: unknown rewrite(s) '
                             f'{unknown}; choose from {MODEL_REWRITES}')

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def suffix(self) -> str:
        return self.backend.suffix

    @property
    def precisions(self) -> Tuple[str, ...]:
        """What it computes an fp32 file in (the backend's ``precision=``;
        ``'fp32'`` first); INT8 is a file of its own (``quantizer``)."""
        return tuple(p for p in self.backend.precisions if p != 'int8')

    @property
    def int8_suffix(self) -> str:
        """The ending of its INT8 files (``deploy.int8.onnx``)."""
        return '.int8' + self.suffix


#: Every deployment engine, by ``Backend.name``.
ENGINES: Dict[str, Engine] = {
    engine.name: engine
    for engine in (
        # The factorized PSP head pays on every engine (half of the bottleneck
        # conv's work); PSPNet's pyramid fixes the input size anyway.
        Engine(OnnxRuntimeBackend, 'onnx', export_model_onnx, export_onnx,
               rewrites=('psp', ), quantizer=quantize_onnx),
        # ncnn runs Winograd on undilated 3x3 convs only, which s2b makes of
        # the dilated stages; its export is for one image size, the size
        # the factorized PSP head's upsampling matrices and s2b's masks are
        # built for.
        Engine(NcnnBackend, 'ncnn', export_model_ncnn, export_ncnn,
               rewrites=('psp', 's2b'), winograd_tile=ncnn_winograd_tile),
        Engine(OpenVinoBackend, 'openvino', export_model_openvino,
               export_openvino, rewrites=('psp', ),
               quantizer=quantize_openvino),
    )
}

#: The class that loads each engine's files, by engine name.
BACKENDS: Dict[str, Type[Backend]] = {
    name: engine.backend for name, engine in ENGINES.items()}


def backend_for_file(path) -> Optional[str]:
    """The name of the engine that loads files like ``path`` (by their
    ending), None for other files (PyTorch checkpoints)."""
    for name, engine in ENGINES.items():
        if str(path).endswith(engine.suffix):
            return name
    return None


def file_precision(path) -> str:
    """What an exported file computes in as it is: ``'int8'`` for a
    quantized one (``deploy.int8.onnx``), else ``'fp32'``."""
    return 'int8' if '.int8.' in os.path.basename(str(path)) else 'fp32'


def load_backend(name: str, path: str, num_threads: int,
                 precision: Optional[str] = None) -> Backend:
    """The exported file ``path`` loaded into the engine ``name``, to
    compute in ``precision`` (None: the file's own, ``file_precision``).
    An INT8 file runs in int8 only, and int8 needs an INT8 file."""
    if name not in ENGINES:
        raise WrongBackend(f'unknown backend {name!r}; choose from '
                           f'{sorted(ENGINES)}')
    suffix = ENGINES[name].suffix
    if not str(path).endswith(suffix):
        raise WrongBackend(f'{path}: the {name} backend loads {suffix} files')
    if not os.path.isfile(path):
        raise MissingCheckpointError(f'{path} is not an exported model '
                                     'file: there is no such file')
    own = file_precision(path)
    precision = precision or own
    if (precision == 'int8') != (own == 'int8'):
        raise UnsupportedPrecision(
            f'{path}: an {own} file cannot run in {precision}' +
            (' (quantize it: tools/deploy.py --precision int8)'
             if precision == 'int8' else ''))
    return ENGINES[name].backend(path, num_threads, precision=precision)


__all__ = ['BACKENDS', 'ENGINES', 'Engine', 'backend_for_file',
           'file_precision', 'load_backend', 'no_winograd']
