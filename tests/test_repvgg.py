import copy

import pytest
import torch
from helpers import (BLOCK_FUSION_CASES, FUSION_TOL, assert_fusion_exact,
                     max_rel_diff, randomize_bn)
from mmengine.runner.checkpoint import load_state_dict
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import repseg  # noqa: F401  (registers RepVGG)
from repseg import reparameterize_model
from repseg.models.backbones import (DeployFormMismatch, RepVGG, RepVGGBlock,
                                     ReparamBlock)
from repseg.models.backbones.repvgg import BLOCK_TYPES

TOL = FUSION_TOL
# The tests of what every block type shares run once per type.
BLOCK_TYPE_NAMES = sorted(BLOCK_TYPES)

STAGE_CHANNELS = {
    'A0': (48, 96, 192, 1280), 'A1': (64, 128, 256, 1280),
    'A2': (96, 192, 384, 1408), 'B0': (64, 128, 256, 1280),
    'B1': (128, 256, 512, 2048), 'B1g2': (128, 256, 512, 2048),
    'B1g4': (128, 256, 512, 2048), 'B2': (160, 320, 640, 2560),
    'B2g2': (160, 320, 640, 2560), 'B2g4': (160, 320, 640, 2560),
    'B3': (192, 384, 768, 2560), 'B3g2': (192, 384, 768, 2560),
    'B3g4': (192, 384, 768, 2560), 'D2se': (160, 320, 640, 2560),
}
NUM_BLOCKS = {'A': (2, 4, 14, 1), 'B': (4, 6, 16, 1), 'D': (8, 14, 24, 1)}
FAST_OS8 = dict(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
                num_dilated_blocks=(None, None, 4, None))
FULL_OS8 = dict(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4))
TINY = dict(num_blocks=(1, 2, 3, 1), width_factor=(0.25, 0.25, 0.25, 0.5))
# The fast scheme on TINY's 3 stage-3 blocks: the last 2 dilated.
TINY_FAST_OS8 = dict(FAST_OS8, num_dilated_blocks=(None, None, 2, None))


def assert_fused_exactly(model, x):
    """``helpers.assert_fusion_exact``, and no BN left: every block type
    folds all of its BN layers into the fused conv."""
    fused = assert_fusion_exact(model, x)
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    return fused


@pytest.mark.parametrize('block_type', BLOCK_TYPE_NAMES)
@pytest.mark.parametrize('arch', sorted(STAGE_CHANNELS))
def test_every_variant_widths_depths_and_exact_fusion(arch, block_type):
    """The paper's widths and depths; exact fusion of every variant's
    depths, groups and SE at a quarter of its widths (``base_channels=16``;
    the full widths only cost time here), at 32x32."""
    with torch.device('meta'):  # the structure only: no weights computed
        full = RepVGG(arch, block_type=block_type)
    assert full.out_channels == list(STAGE_CHANNELS[arch])
    assert full.stem.out_channels == min(64, STAGE_CHANNELS[arch][0])
    depths = tuple(len(getattr(full, f'stage_{i}')) for i in range(1, 5))
    assert depths == NUM_BLOCKS[arch[0]]
    torch.manual_seed(0)
    model = RepVGG(arch, base_channels=16, block_type=block_type)
    fused = assert_fused_exactly(model, torch.randn(1, 3, 32, 32))
    blocks = [b for b in fused.modules() if isinstance(b, ReparamBlock)]
    assert {type(b) for b in blocks} == {BLOCK_TYPES[block_type]}
    assert fused.deploy and all(b.deploy for b in blocks)


@pytest.mark.parametrize('arch,groups', [('B1g2', 2), ('B2g4', 4)])
def test_groupwise_rule(arch, groups):
    model = RepVGG(arch)
    blocks = [model.stem] + [b for i in range(1, 5)
                             for b in getattr(model, f'stage_{i}')]
    grouped = [n for n, b in enumerate(blocks) if b.groups != 1]
    assert grouped == list(range(2, 27, 2))
    assert all(blocks[n].groups == groups for n in grouped)
    assert blocks[2].branch_1x1.conv.groups == groups
    assert all(b.groups == 1 for b in model.stage_4)


def test_d2se_has_se_everywhere_and_reference_width():
    model = RepVGG('D2se', out_indices=(3, ))
    blocks = [m for m in model.modules() if isinstance(m, RepVGGBlock)]
    assert all(b.se_layer is not None for b in blocks)
    assert model.stem.se_layer.down.out_channels == 64 // 16
    assert model.stage_4[0].se_layer.down.out_channels == 2560 // 16


@pytest.mark.parametrize('block_type', BLOCK_TYPE_NAMES)
@pytest.mark.parametrize('cfg', BLOCK_FUSION_CASES)
@pytest.mark.parametrize('channels', [(16, 16), (8, 16)])
def test_block_fusion_exact(cfg, channels, block_type):
    torch.manual_seed(1)
    block = BLOCK_TYPES[block_type](*channels, **cfg)
    has_identity = channels[0] == channels[1] and cfg.get('stride', 1) == 1
    assert block.has_identity == has_identity
    if block_type == 'repvgg':  # its identity branch is a BN layer
        assert (block.branch_norm is not None) == has_identity
    x = torch.randn(2, channels[0], 19, 26)  # non-square, odd size
    fused = assert_fused_exactly(block, x)
    assert set(dict(fused.named_children())) <= {
        'branch_reparam', 'se_layer', 'act'}
    conv = fused.branch_reparam
    dilation = cfg.get('dilation', 1)
    assert conv.dilation == (dilation, dilation)
    assert conv.padding == (dilation, dilation)
    assert conv.groups == cfg.get('groups', 1)
    assert conv.bias is not None


def test_dilated_block_keeps_the_shape():
    block = RepVGGBlock(8, 8, dilation=4).eval()
    assert block.branch_3x3.conv.padding == (4, 4)
    assert block.branch_1x1.conv.padding == (0, 0)
    assert block(torch.randn(1, 8, 13, 9)).shape == (1, 8, 13, 9)


@pytest.mark.parametrize('scheme,dilated_stage3', [
    (FULL_OS8, [2] * 14), (FAST_OS8, [1] * 10 + [2] * 4),
    (dict(), [1] * 14)])
def test_output_strides_and_dilation_schemes(scheme, dilated_stage3):
    model = RepVGG('A0', **scheme).eval()
    stage3 = [b.dilation for b in model.stage_3]
    assert stage3 == dilated_stage3
    assert model.stage_4[0].dilation == (4 if scheme else 1)
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    strides = (4, 8, 8, 8) if scheme else (4, 8, 16, 32)
    for out, channels, stride in zip(outs, STAGE_CHANNELS['A0'], strides):
        assert out.shape == (1, channels, 64 // stride, 96 // stride)


@pytest.mark.parametrize('block_type', BLOCK_TYPE_NAMES)
@pytest.mark.parametrize('scheme', [FULL_OS8, TINY_FAST_OS8],
                         ids=['full', 'fast'])
def test_os8_backbone_fusion_exact_nonsquare(scheme, block_type):
    model = RepVGG(TINY, **scheme, block_type=block_type)
    assert [b.dilation for b in model.stage_3] == (
        [2, 2, 2] if scheme is FULL_OS8 else [1, 2, 2])
    assert_fused_exactly(model, torch.randn(1, 3, 48, 80))


def test_deploy_model_loads_fused_state_strictly():
    model = randomize_bn(RepVGG(TINY, **FAST_OS8)).eval()
    fused = reparameterize_model(model)
    deploy = RepVGG(TINY, deploy=True, **FAST_OS8).eval()
    deploy.load_state_dict(fused.state_dict(), strict=True)
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        for a, b in zip(deploy(x), model(x)):
            assert max_rel_diff(a, b) <= TOL


@pytest.mark.parametrize('strict', [True, False])
def test_form_mismatch_is_an_error_never_a_silent_drop(strict):
    train_form = RepVGG(TINY)
    deploy_form = RepVGG(TINY, deploy=True)
    with pytest.raises(DeployFormMismatch, match='deploy=True'):
        load_state_dict(deploy_form, train_form.state_dict(), strict=strict)
    fused_state = reparameterize_model(train_form).state_dict()
    with pytest.raises(DeployFormMismatch, match='deploy=False'):
        load_state_dict(train_form, fused_state, strict=strict)
    with pytest.raises(DeployFormMismatch, match='stem.branch_reparam'):
        train_form.load_state_dict(fused_state, strict=strict)


def test_reparameterize_model_copy_inplace_idempotent_nested():
    torch.manual_seed(0)
    net = nn.Sequential(RepVGG(TINY, out_indices=(3, )))
    net.eval()
    randomize_bn(net)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)[0]
        fused = reparameterize_model(net)
        assert not net[0].deploy and net[0].stem.branch_norm is None
        assert hasattr(net[0].stem, 'branch_3x3')  # original untouched
        again = reparameterize_model(fused)
        assert max_rel_diff(again(x)[0], ref) <= TOL
        same = reparameterize_model(net, inplace=True)
        assert same is net and net[0].deploy
        assert max_rel_diff(net(x)[0], ref) <= TOL


def test_reparameterize_under_syncbn():
    model = RepVGG(TINY, norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    assert_fusion_exact(model, torch.randn(2, 3, 32, 48))


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(arch='C7'), KeyError, 'unknown arch'),
    (dict(arch=dict(num_blocks=(1, 1, 1, 1))), KeyError, 'width_factor'),
    (dict(arch=dict(TINY, extra=1)), KeyError, 'extra'),
    (dict(arch=dict(num_blocks=(1, 1), width_factor=(1, 1, 1))), ValueError,
     'same length'),
    (dict(arch=3), TypeError, 'str or a dict'),
    (dict(strides=(2, 2, 2)), ValueError, 'strides'),
    (dict(dilations=(1, 1, 2, 4, 1)), ValueError, 'dilations'),
    (dict(num_dilated_blocks=(None, 4)), ValueError, 'num_dilated_blocks'),
    (dict(out_indices=(4, )), ValueError, 'out_indices'),
    (dict(out_indices=(-1, )), ValueError, 'out_indices'),
    (dict(frozen_stages=5), ValueError, 'frozen_stages'),
])
def test_bad_arguments(kwargs, error, match):
    kwargs.setdefault('arch', TINY)
    with pytest.raises(error, match=match):
        RepVGG(**kwargs)


def test_frozen_stages_and_norm_eval():
    model = RepVGG(TINY, frozen_stages=1)
    model.train()
    for module in (model.stem, model.stage_1):
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules())
    assert all(p.requires_grad for p in model.stage_2.parameters())
    assert model.stage_2.training
    assert model.stage_2[0].branch_3x3.norm.training

    model = RepVGG(TINY, norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not bn.training for bn in bns)
    assert model.stage_2[0].training
    before = model.stem.branch_3x3.norm.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(model.stem.branch_3x3.norm.running_mean, before)

    model = RepVGG(TINY, frozen_stages=0)
    assert all(not p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.stage_1.parameters())


@pytest.mark.parametrize('block_type', BLOCK_TYPE_NAMES)
def test_with_cp_gives_the_same_output_and_gradients(block_type):
    torch.manual_seed(0)
    plain = RepVGG(TINY, out_indices=(3, ), block_type=block_type)
    ckpt = copy.deepcopy(plain)
    for block in ckpt.modules():
        if isinstance(block, ReparamBlock):
            block.with_cp = True
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    outs, grads = [], []
    for model in (plain, ckpt):
        model.train()
        out = model(x)[0]
        out.square().mean().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    assert torch.allclose(outs[0], outs[1], rtol=1e-5, atol=1e-7)
    for plain_grad, ckpt_grad in zip(*grads):
        assert torch.allclose(plain_grad, ckpt_grad, rtol=1e-5, atol=1e-7)
    assert RepVGG(TINY, with_cp=True,
                  block_type=block_type).stage_1[0].with_cp


def test_registered_in_mmseg_scope_and_custom_imports():
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config(dict(custom_imports=dict(imports=['repseg']),
                      model=dict(type='RepVGG', arch='A0', out_indices=(3, ))))
    model = MODELS.build(cfg.model)
    assert isinstance(model, RepVGG)
    assert MODELS.get('RepVGG') is RepVGG
    assert MODELS.scope == 'mmseg'


@pytest.mark.parametrize('block_type', BLOCK_TYPE_NAMES)
def test_default_init_is_kaiming_fan_out(block_type):
    """From scratch (init_cfg None), every conv is Kaiming-normal with
    fan-out (mmpretrain's RepVGG default), not PyTorch's uniform init."""
    torch.manual_seed(0)
    backbone = RepVGG('A0', block_type=block_type)
    backbone.init_weights()
    conv = backbone.stage_3[1].branch_3x3.conv
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    expected = (2 / fan_out)**0.5
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
    # PyTorch's default (kaiming_uniform, a=sqrt(5)) would be 1/sqrt(3 fan_in).
    fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert conv.weight.std().item() > 2 * (1 / (3 * fan_in))**0.5
