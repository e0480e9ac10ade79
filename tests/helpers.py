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


#: Fused vs. multi-branch, relative to the largest output (fp32).
FUSION_TOL = 1e-5
#: Block settings both RepVGG and QARepVGG blocks must fuse exactly under.
BLOCK_FUSION_CASES = [
    dict(groups=2), dict(groups=4), dict(stride=2), dict(dilation=2),
    dict(dilation=4), dict(groups=4, dilation=2), dict(stride=2, groups=2),
    dict(se_ratio=4), dict(dilation=2, se_ratio=4),
]


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out, )


def assert_fusion_exact(model, x):
    """Randomize ``model``'s BN layers, re-parameterize it and check the
    fused copy computes the same outputs on ``x``; returns the fused copy."""
    from repseg import reparameterize_model
    model.eval()
    randomize_bn(model)
    with torch.no_grad():
        before = _as_tuple(model(x))
        fused = reparameterize_model(model)
        after = _as_tuple(fused(x))
    for b, a in zip(before, after):
        assert a.shape == b.shape
        assert max_rel_diff(a, b) <= FUSION_TOL
    return fused


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


def save_as_trained(config, path, seed=0):
    """Save the config's model, with randomized BN statistics, as if it had
    been trained (a checkpoint with a state dict); the model, eval mode."""
    from repseg.apis import build_model, load_model_config
    torch.manual_seed(seed)
    model = randomize_bn(build_model(load_model_config(config)), seed)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model.eval()


def check_segmentor_trains_and_predicts(model, optim_cfg, weight):
    """One optimizer step on two random 64x96 samples gives a finite loss
    and changes ``weight()`` (a parameter of the model); then a prediction
    comes out at the input's size. The config must pad to (64, 96)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    model.train()
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 96),
                                             ori_shape=(64, 96)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, 64, 96)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8)
                        for _ in range(2)], data_samples=samples)
    before = weight().detach().clone()
    losses = model.train_step(data, optim_wrapper)
    assert torch.isfinite(losses['loss'])
    assert not torch.equal(before, weight())
    model.eval()
    with torch.no_grad():
        outputs = model.test_step(dict(inputs=data['inputs'],
                                       data_samples=samples))
    assert outputs[0].pred_sem_seg.data.shape == (1, 64, 96)


def write_pretrained_config(path, base_config, checkpoint):
    """A config file: ``base_config`` with its backbone started from the
    Pretrained ``checkpoint``."""
    path.write_text(
        f"_base_ = {str(base_config)!r}\n"
        "model = dict(backbone=dict(init_cfg=dict(_delete_=True, "
        f"type='Pretrained', checkpoint={str(checkpoint)!r})))\n")
    return path
