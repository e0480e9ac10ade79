"""OpenVINO's post-training INT8 through NNCF, the quantizer OpenVINO
maintains.

NNCF inserts FakeQuantize nodes (weights int8 per output channel,
activations per tensor, ranges from the calibration images; the
``performance`` preset: symmetric) that the CPU plugin runs as integer
kernels (VNNI, AMX-INT8 where the processor has them). The IR it writes is
an OpenVINO IR like any other, loaded by ``OpenVinoBackend`` as int8.
"""
import sys
import threading
from typing import Sequence

import numpy as np

from ..backends.base import BackendNotAvailable, EngineError

# NNCF walks the model graph recursively: a deep network (RepVGG-B's 20+
# convs in a row, PSP and the s2b mosaics around them) can pass Python's
# default recursion limit, so it runs in a thread with a deeper stack.
RECURSION_LIMIT = 20000
STACK_BYTES = 512 * 1024 * 1024


def _nncf():
    try:
        import nncf
        import openvino
    except ImportError as err:
        raise BackendNotAvailable('INT8 quantization for OpenVINO needs NNCF: '
                                  'pip install -e .[deploy]') from err
    return nncf, openvino


def _in_deep_thread(function):
    """``function()`` in a thread whose stack and recursion limit fit a
    deep graph; its result, or its exception raised here."""
    result = {}

    def run():
        try:
            result['value'] = function()
        except BaseException as err:  # noqa: B902 - handed to the caller
            result['error'] = err

    old_stack = threading.stack_size(STACK_BYTES)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
    try:
        thread = threading.Thread(target=run, name='nncf-quantize')
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if 'error' in result:
        raise result['error']
    return result['value']


def quantize_openvino(fp32_path: str, int8_path: str,
                      batches: Sequence[np.ndarray]) -> dict:
    """Quantize the IR ``fp32_path`` (``.xml``) into ``int8_path``,
    calibrating on ``batches`` (model inputs, as the fp32 model takes
    them); what was done, for the report."""
    nncf, openvino = _nncf()
    core = openvino.Core()
    model = core.read_model(fp32_path)
    dataset = nncf.Dataset(list(batches))
    try:
        quantized = _in_deep_thread(lambda: nncf.quantize(
            model, dataset, preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(batches)))
    except (RuntimeError, ValueError) as err:
        raise EngineError(f'{fp32_path}: NNCF cannot quantize it: '
                          f'{err}') from err
    openvino.save_model(quantized, int8_path, compress_to_fp16=False)
    return dict(library=f'nncf {nncf.__version__} quantize (OpenVINO IR)',
                format='FakeQuantize', weights='int8, per channel',
                activations='8-bit, per tensor',
                calibration=f'min/max over {len(batches)} images',
                preset='performance')
