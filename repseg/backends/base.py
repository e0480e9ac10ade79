"""The interface every deployment engine implements."""
from abc import ABCMeta, abstractmethod
from typing import Tuple

from torch import Tensor


class BackendNotAvailable(ImportError):
    """The engine a backend needs is not installed."""


class Backend(metaclass=ABCMeta):
    """An exported model loaded into an engine, called like the module it
    was exported from: an image batch in, a tuple of tensors out.

    Args:
        path (str): The exported file (``.onnx`` ...).
        num_threads (int): Intra-op CPU threads (pass torch's, so that the
            engine and PyTorch are compared on equal terms).
    """
    #: The engine's name, as ``--backend`` and the benchmark modes spell it.
    name: str = ''

    def __init__(self, path: str, num_threads: int):
        self.path = str(path)
        self.num_threads = num_threads

    @abstractmethod
    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Run one batch (fp32, NCHW, any device: moved to the engine's)."""
