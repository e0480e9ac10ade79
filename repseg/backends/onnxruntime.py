"""ONNX Runtime (CPU execution provider)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from .base import Backend, BackendNotAvailable, check_input_shape


class OnnxRuntimeBackend(Backend):
    """An ``.onnx`` file in an ONNX Runtime session, all graph optimizations
    on. It computes in the file's precision: fp32, or int8 for a quantized
    file (``repseg.quantization``).

    Args:
        path (str): The ``.onnx`` file.
        num_threads (int): Intra-op threads.
        precision (str): ``'fp32'``, or ``'int8'`` for a quantized file.
        providers (list[str]): Execution providers; default CPU.
    """
    name = 'onnxruntime'
    suffix = '.onnx'
    precisions = ('fp32', 'int8')

    def __init__(self, path: str, num_threads: int, precision: str = 'fp32',
                 providers: Optional[List[str]] = None):
        super().__init__(path, num_threads, precision)
        try:
            import onnxruntime
        except ImportError as err:
            raise BackendNotAvailable(
                'the onnxruntime backend needs ONNX Runtime: pip install '
                '-e .[onnx]') from err
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = (
            onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL)
        options.intra_op_num_threads = num_threads
        # Idle threads must not spin: the benchmark times rows interleaved,
        # and a spinning pool would steal cores from the next row.
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
        self.options = {
            'graph_optimization_level': 'ORT_ENABLE_ALL',
            'intra_op_num_threads': num_threads,
            'session.intra_op.allow_spinning': '0'}
        self.session = onnxruntime.InferenceSession(
            self.path, options,
            providers=providers or ['CPUExecutionProvider'])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # Fixed dims are ints, dynamic ones names.
        self.input_shape = tuple(d if isinstance(d, int) else None
                                 for d in model_input.shape)

    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        check_input_shape(self.path, self.input_shape, tuple(inputs.shape))
        outputs = self.session.run(
            None, {self.input_name: inputs.detach().cpu().numpy()})
        return tuple(torch.from_numpy(out) for out in outputs)
