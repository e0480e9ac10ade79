"""repseg.rewrites.space_to_batch: dilated RepVGG and ResNet stages as
undilated convs on a mosaic of polyphase sub-images, exact for every input
size."""
import pytest
import torch
from helpers import max_rel_diff, randomize_bn

from repseg.models import reparameterize_model
from repseg.models.backbones import RepVGG
from repseg.rewrites import (SpaceToBatchChain, from_phase_mosaic,
                             to_phase_mosaic, use_space_to_batch)

pytestmark = pytest.mark.usefixtures('one_thread')
# Blocks 2 and 4 (of stages 1 and 2... counting from stage 1) grouped.
ARCH = dict(num_blocks=(1, 2, 3, 1), width_factor=(0.25, 0.25, 0.25, 0.5))
SCHEMES = {'full': None, 'fast': (None, None, 2, None)}


def fused_backbone(scheme, groups, seed=0):
    torch.manual_seed(seed)
    arch = dict(ARCH, group_layer_map={2: groups, 4: groups, 5: groups}
                if groups > 1 else None)
    model = RepVGG(arch, strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
                   num_dilated_blocks=SCHEMES[scheme])
    return reparameterize_model(randomize_bn(model, seed)).eval()


def test_phase_mosaic_round_trips_and_places_phases():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float).reshape(2, 3, 4, 6) + 1
    mosaic = to_phase_mosaic(x, 2)
    assert mosaic.shape == (2, 3, 6, 8)  # tiles 2x3, each + a zero row/col
    assert torch.equal(mosaic[:, :, 0:2, 4:7], x[:, :, 0::2, 1::2])  # (0, 1)
    assert torch.equal(mosaic[:, :, 3:5, 0:3], x[:, :, 1::2, 0::2])  # (1, 0)
    assert not mosaic[:, :, 2::3].any() and not mosaic[:, :, :, 3::4].any()
    assert torch.equal(from_phase_mosaic(mosaic, 2), x)
    x = torch.randn(1, 2, 12, 8)
    assert torch.equal(from_phase_mosaic(to_phase_mosaic(x, 4), 4), x)


@pytest.mark.parametrize('scheme', ['full', 'fast'])
@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('size', [(64, 64), (72, 88), (40, 56)])
@torch.no_grad()
def test_rewritten_backbone_is_the_same_function(scheme, groups, size):
    """(64, 64): stages 3-4 at 8x8, divisible by 2 and 4; (72, 88): 9x11,
    divisible by neither; (40, 56): 5x7."""
    model = fused_backbone(scheme, groups)
    x = torch.randn(2, 3, *size)
    expected = model(x)
    rewritten = use_space_to_batch(model)
    assert rewritten == (4 if scheme == 'full' else 3)
    chains = [m for m in model.modules() if isinstance(m, SpaceToBatchChain)]
    assert sorted(c.dilation for c in chains) == [2, 4]
    assert not any(m.dilation != (1, 1) for m in model.modules()
                   if isinstance(m, torch.nn.Conv2d))
    for out, ref in zip(model(x), expected):
        assert out.shape == ref.shape
        assert max_rel_diff(out, ref) <= 1e-5


@torch.no_grad()
def test_padding_rows_do_not_leak_into_the_next_layer():
    """Large positive biases make the padded cells large after bias + ReLU:
    unmasked, they would reach valid outputs through the next conv."""
    model = fused_backbone('full', 1)
    for stage in (model.stage_3, model.stage_4):
        for block in stage:
            block.branch_reparam.bias.add_(5.0)
    x = torch.randn(1, 3, 72, 88)  # 9x11 at stages 3-4: not divisible
    expected = model(x)
    use_space_to_batch(model)
    chain = model.stage_3[0]
    assert isinstance(chain, SpaceToBatchChain) and len(chain.blocks) == 3
    for out, ref in zip(model(x), expected):
        assert max_rel_diff(out, ref) <= 1e-5


def test_only_fused_dilated_blocks_are_rewritten():
    multi_branch = RepVGG(ARCH, strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4))
    assert use_space_to_batch(multi_branch) == 0  # not fused: left alone
    plain = reparameterize_model(RepVGG(ARCH))  # no dilation
    assert use_space_to_batch(plain) == 0


@pytest.mark.parametrize('size', [(64, 64), (72, 88)])
@torch.no_grad()
def test_dilated_resnet_stages_are_rewritten_exactly(size):
    """mmseg's ResNetV1c-D8 (contract_dilation: each stage's first block has
    half the dilation) with its conv+BN pairs folded: stage 3's blocks 2-6
    (d 2), stage 4's block 1 (d 2) and blocks 2-3 (d 4) become three chains;
    stage 3's block 1 (d 1) stays."""
    from mmseg.models.backbones import ResNetV1c

    from repseg.models import to_inference_form
    torch.manual_seed(0)
    model = ResNetV1c(depth=50, stem_channels=16, base_channels=8,
                      strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                      contract_dilation=True)
    model.eval()  # mmseg's ResNet.train returns None
    randomize_bn(model)
    x = torch.randn(1, 3, *size)
    model = to_inference_form(model, x)[0]
    expected = model(x)
    assert use_space_to_batch(model) == 5 + 1 + 2
    chains = [m for m in model.modules() if isinstance(m, SpaceToBatchChain)]
    assert [c.dilation for c in chains] == [2, 2, 4]
    for out, ref in zip(model(x), expected):
        assert max_rel_diff(out, ref) <= 1e-5


def test_benchmark_rows_with_space_to_batch(tmp_path):
    from repseg.benchmark import ModelSpec, RowBuilder, build_rows
    torch.manual_seed(0)
    model = randomize_bn(RepVGG(ARCH, strides=(2, 2, 1, 1),
                                dilations=(1, 1, 2, 4))).eval()
    spec = ModelSpec('os8', model, 'backbone', (72, 88))
    rows = build_rows([spec], ['fused', 'fused+s2b', 'fused+s2b+wino2'],
                      RowBuilder(torch.randn(1, 3, 72, 88), str(tmp_path)))
    assert [r.name for r in rows] == ['os8:fused', 'os8:fused+s2b',
                                      'os8:fused+s2b+wino2']
    assert all(r.max_rel_diff <= 1e-5 for r in rows)


@pytest.mark.parametrize('engine, packages', [
    ('onnx', ['onnxruntime']), ('ncnn', ['ncnn', 'pnnx']),
    ('openvino', ['openvino', 'onnxscript'])])
def test_engines_run_the_rewrite(engine, packages, tmp_path):
    """The mosaic keeps one image per image (ncnn has no batch axis) and
    uses only ops the engines convert; 9x11 at stages 3-4 needs padding."""
    from repseg.benchmark import ModelSpec, RowBuilder, build_rows
    for package in packages:
        pytest.importorskip(package)
    torch.manual_seed(0)
    model = randomize_bn(RepVGG(ARCH, strides=(2, 2, 1, 1),
                                dilations=(1, 1, 2, 4))).eval()
    spec = ModelSpec('os8', model, 'backbone', (72, 88))
    rows = build_rows([spec], [f'fused+s2b+{engine}'],
                      RowBuilder(torch.randn(2, 3, 72, 88), str(tmp_path)))
    assert rows[0].max_rel_diff <= 1e-5
