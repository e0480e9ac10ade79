"""Shared test helpers (pytest puts this folder on sys.path)."""
import torch
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def randomize_bn(model, seed=0):
    """Give every BN non-trivial running stats and affine parameters: fresh
    BN stats (mean 0, var 1, weight 1, bias 0) hide fusion mistakes."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if module.affine:
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.5)
    return model


def max_rel_diff(a, b):
    """Largest absolute difference relative to the largest magnitude of b."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def load_tool(name):
    """Import ``tools/<name>.py`` as a module, to call its ``main(argv)``
    in-process (a subprocess would pay the torch/mmseg import each time)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location('tools_' + name.replace('/', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
