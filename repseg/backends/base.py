"""The interface every deployment engine implements."""
from abc import ABCMeta, abstractmethod
from typing import Optional, Sequence, Tuple

from torch import Tensor

from ..precision import check_precision_name
from ..errors import RepSegError


class BackendNotAvailable(RepSegError, ImportError):
    """The engine a backend needs is not installed."""


class EngineError(RepSegError, RuntimeError):
    """An engine that cannot load or run an exported file."""


class Backend(metaclass=ABCMeta):
    """An exported model loaded into an engine, called like the module it
    was exported from: an image batch in, a tuple of tensors out.

    Args:
        path (str): The exported file (``.onnx`` ...).
        num_threads (int): Intra-op CPU threads (pass torch's, so that the
            engine and PyTorch are compared on equal terms).
        precision (str): What it computes in, one of ``precisions``
            (``'int8'``: a quantized file, which the engine runs as it is).

    ``options`` holds the engine's own settings it was loaded with, by the
    engine's names, for an application to set the same.
    """
    #: The engine's name, as ``--backend`` and the benchmark modes spell it.
    name: str = ''
    #: The ending of the files it loads.
    suffix: str = ''
    #: The precisions it computes in (a load option, or the file's own).
    precisions: Tuple[str, ...] = ('fp32', )

    def __init__(self, path: str, num_threads: int,
                 precision: str = 'fp32'):
        self.path = str(path)
        self.num_threads = num_threads
        self.precision = self.check_precision(precision)
        self.options: dict = {}

    @classmethod
    def check_precision(cls, precision: str) -> str:
        """``precision`` if the engine computes in it, else
        ``UnsupportedPrecision`` naming the ones it does."""
        check_precision_name(precision)
        if precision not in cls.precisions:
            raise UnsupportedPrecision(
                f'precision {precision}: the {cls.name} engine computes in '
                f'{", ".join(cls.precisions)} only')
        return precision

    @abstractmethod
    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Run one batch (fp32, NCHW, any device: moved to the engine's)."""


class UnsupportedPrecision(RepSegError, ValueError):
    """A precision the engine does not compute in."""


class WrongBackend(RepSegError, ValueError):
    """A backend name that is not one of ``BACKENDS``, or a file that the
    named backend does not load."""


class InputShapeMismatch(RepSegError, ValueError):
    """An input of another shape than the exported model takes."""


def check_input_shape(path: str, expected: Sequence[Optional[int]],
                      got: Sequence[int]) -> None:
    """``InputShapeMismatch`` naming the file unless ``got`` fits
    ``expected`` (None: any size)."""
    if len(expected) == len(got) and all(
            e is None or e == g for e, g in zip(expected, got)):
        return
    shown = 'x'.join('?' if e is None else str(e) for e in expected)
    hint = ''
    if len(got) == 4 and len(expected) == 4:
        hint = (f'; export it for {got[2]}x{got[3]} images (tools/deploy.py '
                f'--shape {got[2]} {got[3]}) or have the test pipeline '
                f'resize to {expected[2]}x{expected[3]}')
    raise InputShapeMismatch(
        f'{path} takes inputs of shape {shown}, got '
        f'{"x".join(map(str, got))}{hint}')
