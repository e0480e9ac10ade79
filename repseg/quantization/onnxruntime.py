"""ONNX Runtime's static (calibrated) INT8 quantization.

Weights are quantized per output channel (int8), activations per tensor
(uint8) with scales from the calibration images' min/max, in the QDQ
format ONNX Runtime fuses into integer kernels. ``reduce_range`` keeps the
weights to 7 bits: ONNX Runtime's U8S8 kernels on x86 CPUs without VNNI
(AVX2's VPMADDUBSW pairs) can saturate otherwise, as its quantization guide
says; with VNNI's dot products they cannot, and the 8th bit is kept.
"""
from typing import Iterable, Optional, Sequence

import numpy as np

from ..backends.base import BackendNotAvailable
from ..processor import detect_processor, has_native_units


def _quantization():
    try:
        from onnxruntime import quantization
    except ImportError as err:
        raise BackendNotAvailable('INT8 quantization with ONNX Runtime needs '
                                  'it: pip install -e .[onnx]') from err
    return quantization


def quantize_onnx(fp32_path: str, int8_path: str,
                  batches: Sequence[np.ndarray], per_channel: bool = True,
                  reduce_range: Optional[bool] = None) -> dict:
    """Quantize ``fp32_path`` into ``int8_path``, calibrating on
    ``batches`` (model inputs, as the fp32 model takes them); what was done,
    for the report. ``reduce_range`` None: 7-bit weights unless this
    processor has VNNI (``repseg.processor.has_native_units``)."""
    quantization = _quantization()
    if reduce_range is None:
        reduce_range = has_native_units(detect_processor(), 'int8') is not True
    input_name = 'input'

    class Reader(quantization.CalibrationDataReader):

        def __init__(self, arrays: Iterable[np.ndarray]):
            self.arrays = iter(arrays)

        def get_next(self):
            array = next(self.arrays, None)
            return None if array is None else {input_name: array}

    quantization.quantize_static(
        fp32_path, int8_path, Reader(batches),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=per_channel, reduce_range=reduce_range,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
        calibrate_method=quantization.CalibrationMethod.MinMax)
    return dict(library='onnxruntime.quantization.quantize_static',
                format='QDQ', weights='int8, per channel' if per_channel else
                'int8, per tensor', activations='uint8, per tensor',
                calibration='min/max', reduce_range=reduce_range)
