"""ncnn (Tencent's inference engine): Winograd F(6,3)/F(4,3)/F(2,3) kernels
for 3x3 stride-1 undilated convolutions on x86 AVX2/FMA and Arm."""
import re
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from .base import (Backend, BackendNotAvailable, EngineError,
                   check_input_shape)


def winograd_tile(conv: nn.Conv2d) -> Optional[int]:
    """The output tile of the Winograd kernel ncnn's x86 build runs ``conv``
    with (F(6x6, 3x3) or F(4x4, 3x3)), None where it runs no Winograd: its
    choice for a model without shape hints, as pnnx writes them
    (``Convolution_x86::create_pipeline``; grouped convs run as one conv
    per group). For the benchmark's rate against the machine."""
    d_in = conv.in_channels // conv.groups
    d_out = conv.out_channels // conv.groups
    if (conv.kernel_size != (3, 3) or conv.stride != (1, 1)
            or conv.dilation != (1, 1) or (d_in <= 8 and d_out <= 8)):
        return None
    return 6 if d_in <= 32 and d_out <= 32 else 4


def input_shape(param_path: str) -> Tuple[Optional[int], ...]:
    """(N, C, H, W) the model takes, N free, from the ``Input`` layer's
    params (``repseg.export.ncnn.record_input_shape`` writes them)."""
    with open(param_path, encoding='utf-8') as f:
        for line in f:
            fields = line.split()
            if fields[:1] == ['Input']:
                params = dict(t.split('=', 1) for t in fields if '=' in t)
                if {'0', '1', '2'} <= set(params):
                    return (None, int(params['2']), int(params['1']),
                            int(params['0']))
    return (None, None, None, None)


def output_blobs(param_path: str) -> List[str]:
    """The model's output blob names (``out0``, ``out1`` ... as pnnx names
    them), in order, read from the ``.param`` file."""
    with open(param_path, encoding='utf-8') as f:
        text = f.read()
    names = set(re.findall(r'\bout(\d+)\b', text))
    return [f'out{i}' for i in sorted(int(n) for n in names)]


class NcnnBackend(Backend):
    """An ncnn ``.ncnn.param`` (with its ``.ncnn.bin``) on the CPU.

    ncnn runs one image at a time (its tensors have no batch axis), so a
    batch is run image by image. fp32 throughout unless ``fp16``: ncnn's
    own ``Option`` defaults turn fp16 storage and arithmetic on, so every
    fp16 and bf16 flag is set here (``options``), and Winograd on.

    Args:
        path (str): The ``.ncnn.param`` file.
        num_threads (int): Threads.
        precision (str): ``'fp32'``, the one ncnn computes in on x86.
        fp16 (bool): Let ncnn store (and, where the processor can,
            compute) in half precision.
    """
    name = 'ncnn'
    suffix = '.ncnn.param'

    def __init__(self, path: str, num_threads: int, precision: str = 'fp32',
                 fp16: bool = False):
        super().__init__(path, num_threads, precision)
        try:
            import ncnn
        except ImportError as err:
            raise BackendNotAvailable('the ncnn backend needs ncnn: pip '
                                      'install -e .[deploy]') from err
        self.ncnn = ncnn
        net = ncnn.Net()
        opt = net.opt
        self.options = dict(
            num_threads=num_threads,
            **{flag: fp16 and 'fp16' in flag
               for flag in ('use_fp16_storage', 'use_fp16_packed',
                            'use_fp16_arithmetic', 'use_bf16_storage',
                            'use_bf16_packed')},
            use_winograd_convolution=True)
        # Before loading, as ncnn requires.
        for flag, value in self.options.items():
            setattr(opt, flag, value)
        if net.load_param(self.path) != 0 or net.load_model(
                self.path[:-len('.param')] + '.bin') != 0:
            raise EngineError(f'{self.path}: ncnn cannot load it (or the '
                              '.bin beside it): a layer pnnx wrote that '
                              'this ncnn does not have?')
        self.net = net
        self.outputs = output_blobs(self.path)
        self.input_shape = input_shape(self.path)

    def _run_one(self, image: np.ndarray) -> Tuple[np.ndarray, ...]:
        extractor = self.net.create_extractor()
        extractor.input('in0', self.ncnn.Mat(image))
        results = []
        for name in self.outputs:
            ret, out = extractor.extract(name)
            if ret != 0:
                raise EngineError(f'{self.path}: ncnn failed on {name}')
            results.append(np.array(out))
        return tuple(results)

    def __call__(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        check_input_shape(self.path, self.input_shape, tuple(inputs.shape))
        images = inputs.detach().float().cpu().contiguous().numpy()
        per_image = [self._run_one(np.ascontiguousarray(image))
                     for image in images]
        return tuple(torch.from_numpy(np.stack(outs))
                     for outs in zip(*per_image))
