"""RDRNet: each block kind and the whole segmentor fuse exactly, the deploy
config loads the fused weights, the authors' checkpoints (training and
deploy form) convert to an equal model, the configs build and the demo
config trains."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import (assert_fusion_exact, load_tool, max_rel_diff,
                     randomize_bn, save_as_trained)
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.config import Config
from mmseg.models.decode_heads import DDRHead
from mmseg.models.utils import DAPPM
from mmseg.models.utils import Bottleneck as AuthorsBottleneck
from torch import nn

import repseg  # noqa: F401
from repseg.apis import build_model, init_model, load_model_config
from repseg.convert import (RDRNetFormMismatch, RDRNetSizeMismatch,
                            convert_rdrnet_checkpoint)
from repseg.engine import loops
from repseg.engine.loops import fused_copy
from repseg.equivalence import TOLERANCE
from repseg.models import to_inference_form
from repseg.models.backbones import (RPPM, RDRBlock, RDRHead, RDRNet,
                                     RepParallelConv)

ROOT = Path(__file__).resolve().parents[1]
convert_tool = load_tool('model_converters/convert_checkpoint')
deploy_tool = load_tool('deploy')
train_tool = load_tool('train')

# Tiny: 8 base channels; three Bottlenecks in the semantic branch, so that
# the middle one (with an activation after its sum) is there too.
TINY_ARCH = dict(channels=8, num_blocks=(1, 1, (2, 1), (1, 2), (3, 1)),
                 ppm_channels=8)
AUTHORS_NORM = dict(type='BN', requires_grad=True, momentum=0.03, eps=0.001)


# ---------------------------------------------------------------------------
# A minimal copy of the authors' modules (gyyang23/RDRNet,
# mmsegmentation/mmseg/models/backbones/rdrnet.py and models/utils/ppm.py):
# their module names, forward and switch_to_deploy arithmetic, to build
# checkpoints of both their forms and the outputs they compute.

def _authors_fuse_bn(kernel, bn):
    std = (bn.running_var + bn.eps).sqrt()
    return (kernel * (bn.weight / std).reshape(-1, 1, 1, 1),
            bn.bias - bn.running_mean * bn.weight / std)


class Block1x1(nn.Module):

    def __init__(self, in_channels, out_channels, stride, norm_cfg):
        super().__init__()
        self.conv1 = ConvModule(in_channels, out_channels, 1, stride=stride,
                                bias=True, norm_cfg=norm_cfg, act_cfg=None)
        self.conv2 = ConvModule(out_channels, out_channels, 1, bias=True,
                                norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x):
        return self.conv2(self.conv1(x))

    def fused(self):
        def fuse(m):  # their Block1x1._fuse_bn_tensor: the conv has a bias
            std = (m.bn.running_var + m.bn.eps).sqrt()
            return (m.conv.weight * (m.bn.weight / std).reshape(-1, 1, 1, 1),
                    m.bn.bias + (m.conv.bias - m.bn.running_mean) *
                    m.bn.weight / std)
        (k1, b1), (k2, b2) = fuse(self.conv1), fuse(self.conv2)
        kernel = torch.matmul(k2.transpose(1, 3),
                              k1.squeeze(3).squeeze(2)).transpose(1, 3)
        return kernel, b2 + (b1.view(1, -1, 1, 1) * k2).sum(3).sum(2).sum(1)


class RB(nn.Module):

    def __init__(self, in_channels, out_channels, stride=1,
                 norm_cfg=AUTHORS_NORM, act=True):
        super().__init__()
        self.in_channels = in_channels
        self.relu = nn.ReLU(inplace=True) if act else nn.Identity()
        self.path_residual = (build_norm_layer(norm_cfg, in_channels)[1]
                              if in_channels == out_channels and stride == 1
                              else None)
        self.path_3x3 = ConvModule(in_channels, out_channels, 3, stride, 1,
                                   bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.path_1x1 = Block1x1(in_channels, out_channels, stride, norm_cfg)

    def forward(self, x):
        if hasattr(self, 'reparam_3x3'):
            return self.relu(self.reparam_3x3(x))
        out = self.path_3x3(x) + self.path_1x1(x)
        if self.path_residual is not None:
            out = out + self.path_residual(x)
        return self.relu(out)

    @torch.no_grad()
    def switch_to_deploy(self):
        kernel, bias = _authors_fuse_bn(self.path_3x3.conv.weight,
                                        self.path_3x3.bn)
        k1, b1 = self.path_1x1.fused()
        kernel, bias = kernel + F.pad(k1, [1, 1, 1, 1]), bias + b1
        if self.path_residual is not None:
            eye = torch.zeros_like(kernel)
            for i in range(self.in_channels):
                eye[i, i, 1, 1] = 1
            k, b = _authors_fuse_bn(eye, self.path_residual)
            kernel, bias = kernel + k, bias + b
        conv = self.path_3x3.conv
        self.reparam_3x3 = nn.Conv2d(conv.in_channels, conv.out_channels, 3,
                                     conv.stride, 1, bias=True)
        self.reparam_3x3.weight.data, self.reparam_3x3.bias.data = kernel, bias
        for name in ('path_3x3', 'path_1x1', 'path_residual'):
            delattr(self, name)


class RepParallel(nn.Module):

    def __init__(self, channels, groups, norm_cfg):
        super().__init__()
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.parallel1, self.parallel2 = [
            ConvModule(channels, channels, 3, padding=1, groups=groups,
                       bias=False, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(2)]

    def forward(self, x):
        x = self.relu(self.norm(x))
        if hasattr(self, 'reparam_parallel'):
            return self.reparam_parallel(x)
        return self.parallel1(x) + self.parallel2(x)

    @torch.no_grad()
    def switch_to_deploy(self):
        (k1, b1), (k2, b2) = [_authors_fuse_bn(p.conv.weight, p.bn)
                              for p in (self.parallel1, self.parallel2)]
        conv = self.parallel1.conv
        self.reparam_parallel = nn.Conv2d(conv.in_channels, conv.out_channels,
                                          3, padding=1, groups=conv.groups,
                                          bias=True)
        self.reparam_parallel.weight.data = k1 + k2
        self.reparam_parallel.bias.data = b1 + b2
        del self.parallel1, self.parallel2


class AuthorsRPPM(DAPPM):

    def __init__(self, in_channels, branch_channels, out_channels, norm_cfg):
        super().__init__(in_channels, branch_channels, out_channels, 5,
                         norm_cfg=norm_cfg)
        self.processes = RepParallel(branch_channels * 4, 4, norm_cfg)

    def forward(self, inputs):
        x_ = self.scales[0](inputs)
        feats = [F.interpolate(self.scales[i](inputs), size=inputs.shape[2:],
                               mode='bilinear', align_corners=False) + x_
                 for i in range(1, self.num_scales)]
        scale_out = self.processes(torch.cat(feats, dim=1))
        return self.compression(torch.cat([x_, scale_out], dim=1)) + \
            self.shortcut(inputs)


class AuthorsRDRNet(nn.Module):

    def __init__(self, channels=32, ppm_channels=128,
                 num_blocks_per_stage=(4, 3, (5, 4), (5, 4), (1, 1)),
                 norm_cfg=AUTHORS_NORM):
        super().__init__()
        c, n = channels, num_blocks_per_stage
        self.norm_cfg = norm_cfg

        def rbs(cin, cout, count, act=True):
            return [RB(cin, cout, act=act) for _ in range(count)]

        self.stem = nn.Sequential(
            RB(3, c, 2), RB(c, c, 2), *rbs(c, c, n[0]),
            RB(c, 2 * c, 2), *rbs(2 * c, 2 * c, n[1]))
        self.relu = nn.ReLU()
        self.semantic_branch_layers = nn.ModuleList([
            nn.Sequential(RB(2 * c, 4 * c, 2), *rbs(4 * c, 4 * c, n[2][0] - 1),
                          RB(4 * c, 4 * c, act=False)),
            nn.Sequential(RB(4 * c, 8 * c, 2), *rbs(8 * c, 8 * c, n[3][0] - 1),
                          RB(8 * c, 8 * c, act=False)),
            nn.Sequential(self._make_layer(8 * c, 8 * c, n[4][0], 2))])
        conv_bn = dict(norm_cfg=norm_cfg, act_cfg=None)
        self.compression_1 = ConvModule(4 * c, 2 * c, 1, **conv_bn)
        self.down_1 = ConvModule(2 * c, 4 * c, 3, 2, 1, **conv_bn)
        self.compression_2 = ConvModule(8 * c, 2 * c, 1, **conv_bn)
        self.down_2 = nn.Sequential(
            ConvModule(2 * c, 4 * c, 3, 2, 1, norm_cfg=norm_cfg),
            ConvModule(4 * c, 8 * c, 3, 2, 1, **conv_bn))
        self.detail_branch_layers = nn.ModuleList([
            nn.Sequential(*rbs(2 * c, 2 * c, n[2][1] - 1),
                          RB(2 * c, 2 * c, act=False)),
            nn.Sequential(*rbs(2 * c, 2 * c, n[3][1] - 1),
                          RB(2 * c, 2 * c, act=False)),
            self._make_layer(2 * c, 2 * c, n[4][1])])
        self.spp = AuthorsRPPM(16 * c, ppm_channels, 4 * c, norm_cfg)

    def _make_layer(self, inplanes, planes, num_blocks, stride=1):
        downsample = None
        if stride != 1 or inplanes != planes * 2:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 2, 1, stride, bias=False),
                build_norm_layer(self.norm_cfg, planes * 2)[1])
        layers = [AuthorsBottleneck(inplanes, planes, stride,
                                    norm_cfg=self.norm_cfg,
                                    downsample=downsample)]
        for i in range(1, num_blocks):
            layers.append(AuthorsBottleneck(
                planes * 2, planes, 1, norm_cfg=self.norm_cfg,
                act_cfg_out=None if i == num_blocks - 1 else dict(
                    type='ReLU', inplace=True)))
        return nn.Sequential(*layers)

    def forward(self, x):
        size = (-(-x.shape[-2] // 8), -(-x.shape[-1] // 8))

        def up(t):
            return F.interpolate(t, size=size, mode='bilinear',
                                 align_corners=False)

        x = self.stem(x)
        x_s = self.semantic_branch_layers[0](x)
        x_d = self.detail_branch_layers[0](x)
        comp_c = self.compression_1(self.relu(x_s))
        x_s = x_s + self.down_1(self.relu(x_d))
        x_d = x_d + up(comp_c)
        temp_context = x_d.clone()
        x_s = self.semantic_branch_layers[1](self.relu(x_s))
        x_d = self.detail_branch_layers[1](self.relu(x_d))
        comp_c = self.compression_2(self.relu(x_s))
        x_s = x_s + self.down_2(self.relu(x_d))
        x_d = x_d + up(comp_c)
        x_d = self.detail_branch_layers[2](self.relu(x_d))
        x_s = up(self.spp(self.semantic_branch_layers[2](self.relu(x_s))))
        return (temp_context, x_d + x_s) if self.training else x_d + x_s

    def switch_to_deploy(self):
        for m in self.modules():
            if isinstance(m, (RB, RepParallel)):
                m.switch_to_deploy()


class Segmentor(nn.Module):
    """backbone + decode_head: the key prefixes of an mmseg segmentor."""

    def __init__(self, backbone, decode_head):
        super().__init__()
        self.backbone, self.decode_head = backbone, decode_head

    def forward(self, x):
        return self.decode_head(self.backbone(x))


def authors_segmentor(channels=32, head_channels=128, seed=0, **kwargs):
    """The authors' RDRNet (default: -S) and DDRHead, BN stats randomized,
    in eval mode."""
    torch.manual_seed(seed)
    model = Segmentor(
        AuthorsRDRNet(channels, **kwargs),
        DDRHead(in_channels=4 * channels, channels=head_channels,
                num_classes=19, norm_cfg=dict(type='BN', requires_grad=True)))
    return randomize_bn(model, seed).eval()


def repseg_segmentor(arch, state, deploy, head_channels=128):
    backbone = RDRNet(arch=arch, deploy=deploy)
    head = RDRHead(in_channels=backbone.out_channels, channels=head_channels,
                   num_classes=19, deploy=deploy,
                   norm_cfg=dict(type='BN', requires_grad=True))
    model = Segmentor(backbone, head)
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------
# Fusion

@pytest.mark.parametrize('kwargs', [
    dict(in_channels=8, out_channels=8),                      # identity
    dict(in_channels=8, out_channels=16),                     # no identity
    dict(in_channels=8, out_channels=8, stride=2),
    dict(in_channels=8, out_channels=16, stride=2),
    dict(in_channels=8, out_channels=8, act_cfg=None),        # no activation
])
def test_rdr_block_fuses_exactly(kwargs):
    torch.manual_seed(0)
    block = RDRBlock(**kwargs)
    assert (block.branch_norm is not None) == (
        kwargs['in_channels'] == kwargs['out_channels']
        and kwargs.get('stride', 1) == 1)
    x = torch.randn(2, 8, 15, 17)
    if kwargs.get('act_cfg', 'default') is None:
        assert isinstance(block.act, nn.Identity)
    fused = assert_fusion_exact(block, x)
    assert fused.deploy and not hasattr(fused, 'branch_1x1')
    assert fused.branch_reparam.kernel_size == (3, 3)


@pytest.mark.parametrize('groups', [1, 4])
def test_rep_parallel_conv_fuses_exactly(groups):
    torch.manual_seed(0)
    block = RepParallelConv(16, 16, groups=groups)
    fused = assert_fusion_exact(block, torch.randn(2, 16, 9, 11))
    assert fused.branch_reparam.groups == groups


def tiny_model_config(path, **overrides):
    """configs/rdrnet_s.py with the tiny arch, 64x64 inputs and no data."""
    settings = dict(deploy=False)
    settings.update(overrides)
    path.write_text(f'''
_base_ = {str(ROOT / 'configs/rdrnet_s.py')!r}
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(arch=dict(_delete_=True, **{TINY_ARCH!r}),
                  deploy={settings['deploy']}),
    decode_head=dict(in_channels=32, channels=16, deploy={settings['deploy']},
                     num_classes=19))
''')
    return path


def test_whole_segmentor_fuses_exactly_and_folds_every_bn_after_a_conv(
        tmp_path):
    cfg = load_model_config(tiny_model_config(tmp_path / 'tiny.py'))
    torch.manual_seed(0)
    model = randomize_bn(build_model(cfg)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x, mode='tensor')
    fused, report = to_inference_form(model)
    blocks = sum(isinstance(m, (RDRBlock, RepParallelConv))
                 for m in model.modules())
    assert report.blocks_fused == blocks
    # Left: the pre-activation BNs (RPPM, the head's first, the aux head).
    assert report.after['norms'] < report.before['norms']
    with torch.no_grad():
        got = fused(x, mode='tensor')
    assert got.shape == expected.shape == (2, 19, 8, 8)
    assert max_rel_diff(got, expected) <= TOLERANCE

    # deploy=True describes exactly that form: its state dict loads strictly.
    with torch.device('meta'):
        deploy = build_model(load_model_config(
            tiny_model_config(tmp_path / 'deploy.py', deploy=True)))
    deploy.load_state_dict(fused.state_dict(), strict=True, assign=True)
    with torch.no_grad():
        assert max_rel_diff(deploy.eval()(x, mode='tensor'), expected) <= \
            TOLERANCE


def test_training_output_feeds_both_head_losses():
    torch.manual_seed(0)
    backbone = RDRNet(arch=TINY_ARCH).train()
    context, out = backbone(torch.randn(2, 3, 64, 64))
    assert context.shape == (2, 16, 8, 8) and out.shape == (2, 32, 8, 8)
    # The middle of three Bottlenecks alone has an activation after its sum.
    acts = [type(b.act).__name__ for b in backbone.semantic_branch_layers[2]]
    assert acts == ['Identity', 'ReLU', 'Identity']


def test_deploy_tool_writes_a_config_whose_model_loads_the_fused_weights(
        tmp_path, capsys):
    config = tiny_model_config(tmp_path / 'tiny.py')
    trained = save_as_trained(config, tmp_path / 'trained.pth')
    out = tmp_path / 'deployed'
    deploy_tool.main([str(config), str(tmp_path / 'trained.pth'), str(out),
                      '--shape', '64', '64'])
    report = json.loads((out / 'deploy.json').read_text())
    assert report['max_rel_diff'] <= TOLERANCE
    cfg = Config.fromfile(out / 'deploy.py')
    assert cfg.model.backbone.deploy is True
    assert cfg.model.decode_head.deploy is True
    fused = init_model(out / 'deploy.py', out / 'deploy.pth', fused=False)
    assert fused.backbone.deploy and isinstance(fused.decode_head, RDRHead)
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        assert max_rel_diff(fused(x, mode='tensor'),
                            trained(x, mode='tensor')) <= TOLERANCE


# ---------------------------------------------------------------------------
# The authors' checkpoints

@pytest.fixture(scope='module')
def authors_s():
    """The authors' RDRNet-S + DDRHead, its training-form state dict, its
    deploy-form state dict, an input and the output of each form."""
    model = authors_segmentor()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        train_state = {k: v.clone() for k, v in model.state_dict().items()}
        model.backbone.switch_to_deploy()
        deploy_out = model(x)
    assert max_rel_diff(deploy_out, out) <= TOLERANCE  # their fusion
    return train_state, model.state_dict(), x, out


def test_authors_training_form_converts_to_an_equal_model(authors_s):
    train_state, _, x, out = authors_s
    assert 'backbone.semantic_branch_layers.2.0.0.conv1.conv.weight' in \
        train_state
    state, arch, deploy = convert_rdrnet_checkpoint(train_state)
    assert (arch, deploy) == ('S', False)
    model = repseg_segmentor('S', state, deploy=False)
    with torch.no_grad():
        assert max_rel_diff(model(x), out) <= TOLERANCE
        # Training mode: both outputs (BN on batch statistics) agree too.
        authors = authors_segmentor()
        authors.load_state_dict(train_state)
        authors.backbone.train(), model.backbone.train()
        batch = torch.randn(2, 3, 64, 64)
        for got, expected in zip(model.backbone(batch),
                                 authors.backbone(batch)):
            assert max_rel_diff(got, expected) <= TOLERANCE


def test_authors_deploy_form_converts_with_its_bns_folded(authors_s):
    _, deploy_state, x, out = authors_s
    # Their deploy form keeps the BNs outside the blocks ...
    assert 'backbone.compression_1.bn.weight' in deploy_state
    assert 'backbone.stem.0.reparam_3x3.weight' in deploy_state
    state, arch, deploy = convert_rdrnet_checkpoint(
        {'state_dict': deploy_state}, arch='S', fused=True)
    assert (arch, deploy) == ('S', True)
    # ... which repseg's deploy=True folds.
    assert not any(k.endswith('.bn.weight') and 'spp' not in k
                   and 'head.0' not in k for k in state)
    model = repseg_segmentor('S', state, deploy=True)
    with torch.no_grad():
        assert max_rel_diff(model(x), out) <= TOLERANCE


def test_converter_tool_round_trip_into_the_config(authors_s, tmp_path,
                                                   capsys):
    train_state, deploy_state, x, out = authors_s
    src, dst = tmp_path / 'authors.pth', tmp_path / 'repseg.pth'
    torch.save({'state_dict': train_state, 'meta': {}}, src)
    convert_tool.main([str(src), str(dst), '--arch', 'S',
                       '--form', 'multi-branch'])
    assert 'RDRNet-S, multi-branch' in capsys.readouterr().out
    model = init_model(ROOT / 'configs/rdrnet_s.py', str(dst), fused=True)
    with torch.no_grad():
        assert max_rel_diff(model(x, mode='tensor'), out) <= TOLERANCE
    # repseg's own checkpoint passes through unchanged.
    converted = torch.load(dst, weights_only=False)
    again, arch, deploy = convert_rdrnet_checkpoint(converted)
    assert (arch, deploy) == ('S', False)
    assert again.keys() == converted['state_dict'].keys()

    # Their deploy form: into the config with deploy=True parts.
    src, dst = tmp_path / 'authors_deploy.pth', tmp_path / 'fused.pth'
    torch.save({'state_dict': deploy_state}, src)
    convert_tool.main([str(src), str(dst), '--form', 'fused'])
    assert 'RDRNet-S, fused (deploy=True)' in capsys.readouterr().out
    fused = init_model(ROOT / 'configs/rdrnet_s.py', str(dst), fused=False,
                       cfg_options={'model.backbone.deploy': True,
                                    'model.decode_head.deploy': True})
    with torch.no_grad():
        assert max_rel_diff(fused(x, mode='tensor'), out) <= TOLERANCE


def test_wrong_form_or_size_is_refused_naming_the_file(authors_s, tmp_path,
                                                       capsys):
    train_state, deploy_state, _, _ = authors_s
    with pytest.raises(RDRNetFormMismatch, match='src.pth.*multi-branch'):
        convert_rdrnet_checkpoint(train_state, fused=True, source='src.pth')
    with pytest.raises(RDRNetFormMismatch, match='src.pth.*fused'):
        convert_rdrnet_checkpoint(deploy_state, fused=False, source='src.pth')
    with pytest.raises(RDRNetSizeMismatch, match='src.pth.*RDRNet-S.*not '
                       'RDRNet-M'):
        convert_rdrnet_checkpoint(train_state, arch='M', source='src.pth')
    # A stem block removed: no RDRNet size has that many.
    renumbered = {}
    for key, value in train_state.items():
        parts = key.split('.')
        if key.startswith('backbone.stem.'):
            index = int(parts[2])
            if index == 3:
                continue
            parts[2] = str(index - 1 if index > 3 else index)
        renumbered['.'.join(parts)] = value
    with pytest.raises(RDRNetSizeMismatch, match='src.pth: no RDRNet size'):
        convert_rdrnet_checkpoint(renumbered, source='src.pth')
    # The tool: the same refusals, naming the file.
    src = tmp_path / 'authors_deploy.pth'
    torch.save({'state_dict': deploy_state}, src)
    with pytest.raises(SystemExit, match='authors_deploy.pth.*fused'):
        convert_tool.main([str(src), str(tmp_path / 'x.pth'),
                           '--form', 'multi-branch'])
    with pytest.raises(SystemExit, match='authors_deploy.pth.*RDRNet-L'):
        convert_tool.main([str(src), str(tmp_path / 'x.pth'), '--arch', 'L'])
    assert not (tmp_path / 'x.pth').exists()


# ---------------------------------------------------------------------------
# Configs

# The authors' README (gyyang23/RDRNet) gives the parameters (M) of RDRNet-S,
# -M and -L on Cityscapes: 7.3, 26.0, 36.9 (the fused models: 7.27, 26.02,
# 36.95; the multi-branch ones have 8.95, 30.87, 43.35).
PAPER_PARAMS = {'s': 7.3, 'm': 26.0, 'l': 36.9}


@pytest.mark.parametrize('size', ['s', 'm', 'l'])
def test_configs_build_with_head_widths_of_their_backbone(size):
    cfg = load_model_config(ROOT / f'configs/rdrnet_{size}.py')
    with torch.device('meta'):
        model = build_model(cfg)
    backbone, head = model.backbone, model.decode_head
    assert isinstance(backbone, RDRNet) and isinstance(head, RDRHead)
    assert backbone.arch == RDRNet.arch_settings[size.upper()]
    assert head.in_channels == backbone.out_channels
    assert head.aux_head[0].conv.in_channels == backbone.out_channels // 2
    assert head.channels == {'s': 128, 'm': 128, 'l': 256}[size]
    assert [loss.loss_weight for loss in head.loss_decode] == [1.0, 0.4]
    norm = backbone.stem[0].branch_3x3.norm
    assert (norm.momentum, norm.eps) == (0.03, 1e-3)
    assert isinstance(backbone.spp, RPPM)
    # The README's figure is that of the fused model (auxiliary head in).
    cfg.model.backbone.deploy = cfg.model.decode_head.deploy = True
    with torch.device('meta'):
        fused = build_model(cfg)
    params = sum(p.numel() for p in fused.parameters()) / 1e6
    assert params == pytest.approx(PAPER_PARAMS[size], abs=0.05)
    cfg = Config.fromfile(ROOT / f'configs/rdrnet_{size}.py')
    assert cfg.train_dataloader.batch_size == 6
    assert cfg.crop_size == (1024, 1024)
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_cfg.max_iters == 120000


def test_demo_config_trains_and_validates_the_fused_model(demo_cityscapes,
                                                          tmp_path):
    config = tmp_path / 'demo.py'
    config.write_text(f'''
_base_ = {str(ROOT / 'configs/demo/rdrnet_s_demo.py')!r}
data_root = {str(demo_cityscapes)!r}
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=2,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(loader, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=-1))
''')
    work_dir = tmp_path / 'work'
    validated = []

    def spy(model):
        validated.append(fused_copy(model))
        return validated[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loops, 'fused_copy', spy)
        train_tool.main([str(config), '--work-dir', str(work_dir)])
    assert len(validated) == 1 and validated[0].backbone.deploy
    assert not any(isinstance(m, (RDRBlock, RepParallelConv))
                   and not m.deploy for m in validated[0].modules())
    checkpoint = torch.load(work_dir / 'iter_2.pth', weights_only=False)
    assert any('.branch_1x1.' in k for k in checkpoint['state_dict'])
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs and 'mIoU' in logs[-1].read_text()
