"""The QARepVGG block (``block_type='qarepvgg'``): its branches, the
authors' variants at full width, the backbone options on its post-sum BN,
form and block-type mismatches, parity with the authors' key layout through
the converter, the inference form and space-to-batch. What every block type
shares (each variant, each block config, output stride 8 and ``with_cp``
fusing exactly) is tested once per type in test_repvgg.py."""
from pathlib import Path

import pytest
import torch
from helpers import FUSION_TOL, load_tool, max_rel_diff
from helpers import assert_fusion_exact as assert_fusion_exact_and_fused
from helpers import randomize_bn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.runner.checkpoint import load_state_dict
from mmseg.registry import MODELS
from reference_repvgg import ReferenceRepVGG
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import repseg  # noqa: F401  (registers RepVGG)
from repseg import reparameterize_model, to_inference_form
from repseg.apis import build_model
from repseg.convert import (CheckpointConversionError, block_type_of,
                            convert_checkpoint, detect_layout)
from repseg.models.backbones import (BLOCK_TYPES, BlockTypeMismatch,
                                     DeployFormMismatch, QARepVGGBlock,
                                     RepVGG, RepVGGBlock)
from repseg.rewrites import SpaceToBatchChain, use_space_to_batch

pytestmark = pytest.mark.usefixtures('one_thread')
CONFIGS = Path(__file__).resolve().parents[1] / 'configs'

TOL = FUSION_TOL
QA = dict(block_type='qarepvgg')
TINY = dict(num_blocks=(1, 2, 3, 1), width_factor=(0.25, 0.25, 0.25, 0.5))
FAST_OS8 = dict(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
                num_dilated_blocks=(None, None, 2, None))
FULL_OS8 = dict(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4))
A0 = dict(num_blocks=(2, 4, 14, 1), widths=(48, 96, 192, 1280))
B1G4 = dict(num_blocks=(4, 6, 16, 1), widths=(128, 256, 512, 2048),
            group_map={n: 4 for n in range(2, 27, 2)})

convert_tool = load_tool('model_converters/convert_checkpoint')


def assert_fusion_exact(model, x):
    """``helpers.assert_fusion_exact``, and no BN left: QARepVGG's post-sum
    BN folds too."""
    fused = assert_fusion_exact_and_fused(model, x)
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    return fused


def test_block_type_is_a_documented_backbone_argument_from_one_table():
    assert RepVGG.block_types is BLOCK_TYPES
    assert BLOCK_TYPES == {'repvgg': RepVGGBlock, 'qarepvgg': QARepVGGBlock}
    assert 'block_type' in RepVGG.__doc__
    model = RepVGG(TINY, **QA)
    blocks = [model.stem] + [b for i in range(1, 5)
                             for b in getattr(model, f'stage_{i}')]
    assert all(type(b) is QARepVGGBlock for b in blocks)  # the stem too
    assert all(type(b) is RepVGGBlock for b in RepVGG(TINY).modules()
               if isinstance(b, (RepVGGBlock, QARepVGGBlock)))
    with pytest.raises(KeyError, match='unknown block_type'):
        RepVGG(TINY, block_type='acnet')


def test_the_block_has_the_authors_branches():
    block = QARepVGGBlock(8, 8)
    assert set(dict(block.named_children())) == {
        'branch_3x3', 'branch_1x1', 'post_norm', 'act'}
    assert isinstance(block.branch_3x3.norm, nn.BatchNorm2d)
    assert isinstance(block.branch_1x1, nn.Conv2d)  # a bare conv, no BN
    assert block.branch_1x1.bias is None
    assert block.has_identity  # a parameter-free identity branch
    assert not QARepVGGBlock(8, 16).has_identity
    assert not QARepVGGBlock(8, 8, stride=2).has_identity
    keys = set(QARepVGGBlock(8, 8).state_dict())
    assert {'branch_1x1.weight', 'post_norm.running_var',
            'branch_3x3.conv.weight', 'branch_3x3.norm.weight'} <= keys


@pytest.mark.parametrize('arch', ['A0', 'B1g4'])
def test_the_authors_segmentation_variants_fuse_exactly_at_full_width(arch):
    torch.manual_seed(0)
    assert_fusion_exact(RepVGG(arch, **QA), torch.randn(1, 3, 32, 32))


def test_syncbn_config_builds_reverted_to_bn_and_fuses_exactly():
    cfg = dict(type='RepVGG', arch=TINY, norm_cfg=dict(type='SyncBN',
                                                       requires_grad=True),
               **QA)
    model = MODELS.build(cfg)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    assert isinstance(model.stem.post_norm, nn.SyncBatchNorm)
    model = revert_sync_batchnorm(model)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    assert_fusion_exact(model, torch.randn(2, 3, 32, 48))


def test_frozen_stages_and_norm_eval_cover_the_post_norm():
    model = RepVGG(TINY, frozen_stages=1, norm_eval=True, **QA)
    model.train()
    assert all(not p.requires_grad for p in model.stem.parameters())
    assert not model.stage_2[0].post_norm.training
    assert model.stage_2[0].training


def test_deploy_models_of_either_block_type_load_the_fused_state_strictly():
    """A fused QARepVGG state dict is one 3x3 conv with bias per block, the
    same keys and function as a fused RepVGG one: both deploy backbones load
    it strictly and compute the same features."""
    model = randomize_bn(RepVGG(TINY, **FAST_OS8, **QA)).eval()
    fused_state = reparameterize_model(model).state_dict()
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        expected = model(x)
    for block_type in ('qarepvgg', 'repvgg'):
        deploy = RepVGG(TINY, deploy=True, block_type=block_type,
                        **FAST_OS8).eval()
        assert set(deploy.state_dict()) == set(fused_state)
        deploy.load_state_dict(fused_state, strict=True)
        with torch.no_grad():
            for a, b in zip(deploy(x), expected):
                assert max_rel_diff(a, b) <= TOL


@pytest.mark.parametrize('strict', [True, False])
def test_form_mismatch_names_the_block_type(strict):
    train_form = RepVGG(TINY, **QA)
    deploy_form = RepVGG(TINY, deploy=True, **QA)
    with pytest.raises(DeployFormMismatch,
                       match=r'multi-branch\) QARepVGG weights.*deploy=True '
                             r'\(fused QARepVGG blocks\)'):
        load_state_dict(deploy_form, train_form.state_dict(), strict=strict)
    fused_state = reparameterize_model(train_form).state_dict()
    with pytest.raises(DeployFormMismatch,
                       match=r"deploy=False \(multi-branch QARepVGG blocks, "
                             r"block_type='qarepvgg'\)"):
        load_state_dict(train_form, fused_state, strict=strict)
    with pytest.raises(DeployFormMismatch, match='stem.branch_reparam'):
        train_form.load_state_dict(fused_state, strict=strict)
    # A RepVGG deploy model names the QARepVGG weights it was given.
    with pytest.raises(DeployFormMismatch, match='QARepVGG weights'):
        RepVGG(TINY, deploy=True).load_state_dict(train_form.state_dict(),
                                                  strict=strict)


@pytest.mark.parametrize('strict', [True, False])
def test_block_type_mismatch_is_an_error_never_a_silent_drop(strict):
    qa, original = RepVGG(TINY, **QA), RepVGG(TINY)
    with pytest.raises(BlockTypeMismatch,
                       match=r"multi-branch RepVGG weights.*QARepVGG blocks "
                             r"\(block_type='qarepvgg'\).*"
                             r"block_type='repvgg'"):
        load_state_dict(qa, original.state_dict(), strict=strict)
    with pytest.raises(BlockTypeMismatch,
                       match=r"'stem.branch_1x1.weight'.*QARepVGG weights.*"
                             r"block_type='qarepvgg'"):
        load_state_dict(original, qa.state_dict(), strict=strict)
    assert not issubclass(BlockTypeMismatch, DeployFormMismatch)


def reference_model(spec, seed=0, **kwargs):
    torch.manual_seed(seed)
    return randomize_bn(ReferenceRepVGG(**spec, qa=True, **kwargs),
                        seed).eval()


@pytest.mark.parametrize('deploy_source', [False, True],
                         ids=['training', 'fused'])
def test_authors_layout_converts_to_the_same_logits(tmp_path, capsys,
                                                    deploy_source):
    """Reference model in the authors' layout -> state dict -> the converter
    tool -> strict load into a repseg classifier -> the same logits."""
    ref = reference_model(A0, num_classes=1000)
    state = ref.deploy_state_dict() if deploy_source else ref.state_dict()
    if not deploy_source:
        assert 'stage0.rbr_1x1.weight' in state and 'stage0.bn.weight' in state
        assert 'stage1.1.bn.running_mean' in state
        assert detect_layout(state) == 'qarepvgg'
    src, dst = tmp_path / 'qa.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': {f'module.{k}': v for k, v in state.items()}},
               src)
    convert_tool.main([str(src), str(dst)])
    out = capsys.readouterr().out
    assert ('RepVGG-A0, fused' if deploy_source else
            "QARepVGG-A0, multi-branch, block_type='qarepvgg'") in out
    checkpoint = torch.load(dst, weights_only=True)
    assert checkpoint['meta']['deploy'] is deploy_source
    assert checkpoint['meta']['block_type'] == (
        None if deploy_source else 'qarepvgg')

    cfg = Config.fromfile(CONFIGS / 'imagenet/qarepvgg_a0_in1k.py')
    cfg.model.backbone.deploy = deploy_source
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert max_rel_diff(model(x), ref(x)) <= TOL
        for a, b in zip(model.backbone(x), ref.features(x)[3:]):
            assert max_rel_diff(a, b) <= TOL
    if not deploy_source:  # and the repseg fusion equals the authors'
        fused = reparameterize_model(model)
        with torch.no_grad():
            assert max_rel_diff(fused(x), ref(x)) <= TOL


def test_groupwise_authors_checkpoint_converts_with_its_arch():
    ref = reference_model(B1G4)
    state, arch, deploy = convert_checkpoint(ref.state_dict())
    assert (arch, deploy, block_type_of(state)) == ('B1g4', False, 'qarepvgg')
    backbone = RepVGG('B1g4', **QA).eval()
    backbone.load_state_dict({k[9:]: v for k, v in state.items()
                              if k.startswith('backbone.')}, strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(backbone(x), ref.features(x)):
            assert max_rel_diff(a, b) <= TOL
    state, arch, deploy = convert_checkpoint(ref.deploy_state_dict())
    assert (arch, deploy, block_type_of(state)) == ('B1g4', True, None)


def test_authors_checkpoint_with_se_or_the_wrong_arch_is_refused():
    state = reference_model(A0).state_dict()
    with_se = dict(state)
    with_se['stage0.se.down.weight'] = torch.zeros(3, 48, 1, 1)
    with pytest.raises(CheckpointConversionError, match='SE before'):
        convert_checkpoint(with_se)
    with pytest.raises(CheckpointConversionError,
                       match='RepVGG-A1 .multi-branch qarepvgg form'):
        convert_checkpoint(state, arch='A1')


def tiny_segmentor_config():
    """The QARepVGG demo config with a tiny backbone and heads."""
    cfg = Config.fromfile(CONFIGS / 'demo/pspnet_qarepvgg_a0_demo.py')
    cfg.model.backbone.arch = TINY
    cfg.model.decode_head.update(in_channels=256, channels=16)
    cfg.model.auxiliary_head.update(in_channels=64, channels=8)
    return cfg


def test_to_inference_form_folds_every_bn_of_a_qarepvgg_segmentor():
    torch.manual_seed(0)
    model = randomize_bn(build_model(tiny_segmentor_config())).eval()
    assert model.backbone.block_type == 'qarepvgg'
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = model(x, mode='tensor')
    fused, report = to_inference_form(model)
    assert report.blocks_fused == 1 + sum(TINY['num_blocks'])
    assert report.after['norms'] == 0
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    with torch.no_grad():
        assert max_rel_diff(fused(x, mode='tensor'), expected) <= 1e-5


@pytest.mark.parametrize('scheme', [FULL_OS8, FAST_OS8], ids=['full', 'fast'])
@pytest.mark.parametrize('groups', [1, 2])
@torch.no_grad()
def test_space_to_batch_on_a_fused_dilated_backbone_is_exact(scheme, groups):
    torch.manual_seed(0)
    arch = dict(TINY, group_layer_map={2: groups, 4: groups, 5: groups}
                if groups > 1 else None)
    model = randomize_bn(RepVGG(arch, **scheme, **QA))
    model = reparameterize_model(model).eval()
    x = torch.randn(2, 3, 72, 88)  # 9x11 at stages 3-4: not divisible
    expected = model(x)
    rewritten = use_space_to_batch(model)
    assert rewritten == (4 if scheme is FULL_OS8 else 3)
    chains = [m for m in model.modules() if isinstance(m, SpaceToBatchChain)]
    assert sorted(c.dilation for c in chains) == [2, 4]
    for out, ref in zip(model(x), expected):
        assert max_rel_diff(out, ref) <= 1e-5
    multi_branch = RepVGG(arch, **scheme, **QA)
    assert use_space_to_batch(multi_branch) == 0  # not fused: left alone
