"""OpenVINO (Intel's inference engine), its CPU plugin: oneDNN kernels with
its own graph fusions."""
from typing import Tuple

import torch
from torch import Tensor

from .base import (Backend, BackendNotAvailable, EngineError,
                   check_input_shape)


def exception_reason(err: Exception) -> str:
    """The informative line of an OpenVINO exception: its last (the first
    names the C++ source file that threw)."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__


class OpenVinoBackend(Backend):
    """An OpenVINO IR ``.xml`` (with its ``.bin``) compiled for the CPU.

    fp32 throughout by default: the CPU plugin otherwise computes in bf16
    wherever the processor has bf16 instructions (AVX512_BF16, AMX).
    ``precision='bf16'`` asks for bf16 (``INFERENCE_PRECISION_HINT``),
    which the plugin emulates where the processor lacks them; ``'int8'``
    is a quantized IR, its int8 layers run as they are and the rest in
    fp32.

    Args:
        path (str): The ``.xml`` file.
        num_threads (int): Inference threads.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'int8'``.
    """
    name = 'openvino'
    suffix = '.xml'
    #: Precision -> OpenVINO's ``INFERENCE_PRECISION_HINT``.
    PRECISION_HINTS = dict(fp32='f32', bf16='bf16', int8='f32')
    precisions = tuple(PRECISION_HINTS)

    def __init__(self, path: str, num_threads: int, precision: str = 'fp32'):
        super().__init__(path, num_threads, precision)
        # One stream, every thread on one request; said explicitly, as
        # THROUGHPUT would split the threads into parallel streams.
        self.options = {
            'INFERENCE_NUM_THREADS': num_threads,
            'INFERENCE_PRECISION_HINT': self.PRECISION_HINTS[precision],
            'PERFORMANCE_HINT': 'LATENCY'}
        try:
            import openvino
        except ImportError as err:
            raise BackendNotAvailable('the openvino backend needs OpenVINO: '
                                      'pip install -e .[deploy]') from err
        core = openvino.Core()
        try:
            self.model = core.compile_model(core.read_model(self.path),
                                            'CPU', dict(self.options))
        except RuntimeError as err:
            raise EngineError(
                f'{self.path}: OpenVINO cannot load it (or the .bin beside '
                f'it): {exception_reason(err)}') from err
        self.request = self.model.create_infer_request()
        self.input_shape = tuple(
            d.get_length() if d.is_static else None
            for d in self.model.inputs[0].get_partial_shape())

    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        check_input_shape(self.path, self.input_shape, tuple(inputs.shape))
        try:
            # infer copies the outputs out of the request's buffers, which
            # the next call overwrites.
            results = self.request.infer(
                {0: inputs.detach().float().cpu().numpy()})
        except RuntimeError as err:
            raise EngineError(f'{self.path}: OpenVINO failed on it: '
                              f'{exception_reason(err)}') from err
        return tuple(torch.from_numpy(results[output])
                     for output in self.model.outputs)
