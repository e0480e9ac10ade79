import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import load_tool, max_rel_diff, randomize_bn
from mmengine.runner.checkpoint import _load_checkpoint
from reference_repvgg import ReferenceRepVGG

import repseg  # noqa: F401
from repseg.convert import (CheckpointConversionError, convert_checkpoint,
                            infer_arch)
from repseg.models.backbones import DeployFormMismatch, RepVGG

ROOT = Path(__file__).resolve().parents[1]
A0 = dict(num_blocks=(2, 4, 14, 1), widths=(48, 96, 192, 1280))
B1G2 = dict(num_blocks=(4, 6, 16, 1), widths=(128, 256, 512, 2048),
            group_map={n: 2 for n in range(2, 27, 2)})


def reference_model(spec, seed=0, **kwargs):
    torch.manual_seed(seed)
    return randomize_bn(ReferenceRepVGG(**spec, **kwargs), seed).eval()


def repseg_features(arch, checkpoint_path, deploy, x):
    backbone = RepVGG(arch, deploy=deploy).eval()
    state = _load_checkpoint(str(checkpoint_path), 'cpu')['state_dict']
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()
                              if k.startswith('backbone.')}, strict=True)
    with torch.no_grad():
        return backbone(x)


def to_mmpretrain_layout(state):
    """repseg keys -> mmpretrain keys (differ only in the SE layer)."""
    return {re.sub(r'se_layer\.down\.', 'se_layer.conv1.conv.',
                   re.sub(r'se_layer\.up\.', 'se_layer.conv2.conv.', k)): v
            for k, v in state.items()}


convert_tool = load_tool('model_converters/convert_checkpoint')


def run_tool(*args):
    """The command line, in a subprocess: exit status and output."""
    return subprocess.run(
        [sys.executable, str(ROOT / 'tools/model_converters/convert_checkpoint.py'), *args],
        capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize('wrap,deploy_source,module_prefix', [
    ('bare', False, False), ('state_dict', False, True),
    ('model', True, False), ('bare', True, True)])
def test_reference_checkpoints_give_the_same_features(
        tmp_path, capsys, wrap, deploy_source, module_prefix):
    ref = reference_model(A0)
    state = ref.deploy_state_dict() if deploy_source else ref.state_dict()
    if module_prefix:
        state = {f'module.{k}': v for k, v in state.items()}
    saved = state if wrap == 'bare' else {wrap: state}
    src, dst = tmp_path / 'ref.pth', tmp_path / 'out.pth'
    torch.save(saved, src)
    convert_tool.main([str(src), str(dst)])
    assert 'RepVGG-A0' in capsys.readouterr().out
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['deploy'] is deploy_source
    assert {'head.fc.weight', 'head.fc.bias'} <= set(checkpoint['state_dict'])

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = ref.features(x)
    got = repseg_features('A0', dst, deploy_source, x)
    for a, b in zip(got, expected):
        assert max_rel_diff(a, b) <= 1e-5


def test_groupwise_and_se_reference_checkpoints_convert():
    ref = reference_model(B1G2)
    state, arch, deploy = convert_checkpoint(ref.state_dict())
    assert (arch, deploy) == ('B1g2', False)
    se_ref = reference_model(
        dict(num_blocks=(8, 14, 24, 1), widths=(160, 320, 640, 2560)),
        use_se=True)
    state, arch, deploy = convert_checkpoint({'model': se_ref.deploy_state_dict()})
    assert (arch, deploy) == ('D2se', True)
    backbone = RepVGG('D2se', deploy=True).eval()
    backbone.load_state_dict({k[9:]: v for k, v in state.items()
                              if k.startswith('backbone.')})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert max_rel_diff(backbone(x)[3], se_ref.features(x)[3]) <= 1e-5


def test_mmpretrain_checkpoint_converts_unchanged_but_se():
    ref = reference_model(A0)
    repseg_state, _, _ = convert_checkpoint(ref.state_dict())
    mmpretrain_state = {'state_dict': to_mmpretrain_layout(repseg_state)}
    state, arch, _ = convert_checkpoint(mmpretrain_state)
    assert arch == 'A0'
    assert state.keys() == repseg_state.keys()
    se_state, _, _ = convert_checkpoint(reference_model(
        dict(num_blocks=(8, 14, 24, 1), widths=(160, 320, 640, 2560)),
        use_se=True).state_dict())
    state, arch, _ = convert_checkpoint(to_mmpretrain_layout(se_state))
    assert arch == 'D2se' and state.keys() == se_state.keys()


def test_segmentor_backbone_init_from_converted_checkpoint(tmp_path):
    ref = reference_model(A0)
    src, dst = tmp_path / 'ref.pth', tmp_path / 'a0.pth'
    torch.save(ref.state_dict(), src)
    convert_tool.main([str(src), str(dst)])
    backbone = RepVGG('A0', init_cfg=dict(type='Pretrained',
                                          checkpoint=str(dst),
                                          prefix='backbone.'))
    backbone.init_weights()
    backbone.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(backbone(x), ref.features(x)):
            assert max_rel_diff(a, b) <= 1e-5

    fused_src, fused_dst = tmp_path / 'fused.pth', tmp_path / 'fused_out.pth'
    torch.save(ref.deploy_state_dict(), fused_src)
    convert_tool.main([str(fused_src), str(fused_dst)])
    multi_branch = RepVGG('A0', init_cfg=dict(
        type='Pretrained', checkpoint=str(fused_dst), prefix='backbone.'))
    with pytest.raises(DeployFormMismatch, match='deploy=True'):
        multi_branch.init_weights()


def test_arch_inference_and_mismatch():
    state, _, _ = convert_checkpoint(reference_model(A0).state_dict())
    assert infer_arch(state) == 'A0'
    with pytest.raises(CheckpointConversionError, match='RepVGG-A1'):
        convert_checkpoint(reference_model(A0).state_dict(), arch='A1')


@pytest.mark.parametrize('checkpoint,match', [
    ({'conv1.weight': torch.zeros(1)}, 'not a RepVGG checkpoint'),
    ({}, 'no state dict'),
    ({'stage0.rbr_dense.conv.weight': torch.zeros(48, 3, 3, 3),
      'stage0.extra.weight': torch.zeros(1)}, "'stage0.extra.weight'"),
])
def test_bad_checkpoints(checkpoint, match):
    with pytest.raises(CheckpointConversionError, match=match):
        convert_checkpoint(checkpoint)


def test_tool_errors_leave_nothing_behind(tmp_path):
    src, dst = tmp_path / 'bad.pth', tmp_path / 'out.pth'
    torch.save({'fc.weight': torch.zeros(2)}, src)
    result = run_tool(str(src), str(dst))
    assert result.returncode != 0
    assert 'not a RepVGG checkpoint' in result.stderr
    with pytest.raises(SystemExit, match='missing.pth'):
        convert_tool.main([str(tmp_path / 'missing.pth'), str(dst)])
    assert list(tmp_path.iterdir()) == [src]
