"""PyTorch's own graph runtimes, which take a module rather than a file:
TorchScript (traced and frozen) and inductor (``torch.compile``)."""
from typing import Callable, Optional

import torch
from torch import Tensor, nn


@torch.no_grad()
def trace_and_freeze(module: nn.Module,
                     inputs: Tensor) -> torch.jit.ScriptModule:
    """TorchScript of ``module`` (traced on ``inputs``, so for their shape),
    frozen (weights become constants) and optimized for inference: on CPU
    that prepacks conv weights for oneDNN and fuses conv with the ReLU (and
    the residual add) that follows it."""
    traced = torch.jit.trace(module.eval(), inputs, check_trace=False)
    return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


def compile_module(module: nn.Module, inputs: Tensor,
                   autocast: Optional[torch.dtype] = None) -> Callable:
    """``torch.compile`` (inductor) with weight freezing, compiled now for
    ``inputs``' shape: freezing lets inductor prepack the conv weights for
    oneDNN and fuse conv with bias and ReLU, as TorchScript freezing does.
    ``autocast`` (e.g. ``torch.bfloat16``): compiled under ``torch.autocast``
    in that dtype, as the caller must then call it."""
    import torch._inductor.config as inductor_config
    compiled = torch.compile(module, dynamic=False)
    with inductor_config.patch(freezing=True), torch.inference_mode(), \
            torch.autocast(inputs.device.type, dtype=autocast,
                           enabled=autocast is not None):
        compiled(inputs)
    return compiled
