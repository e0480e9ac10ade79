"""repseg.rewrites.space_to_batch: dilated RepVGG stages as undilated convs
on polyphase sub-images, exact for every input size."""
import pytest
import torch
from helpers import max_rel_diff, randomize_bn

from repseg.models import reparameterize_model
from repseg.models.backbones import RepVGG
from repseg.rewrites import (SpaceToBatchChain, batch_to_space,
                             space_to_batch, use_space_to_batch)

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


def test_space_to_batch_round_trips_and_orders_phases():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float).reshape(2, 3, 4, 6)
    phases = space_to_batch(x, 2)
    assert phases.shape == (8, 3, 2, 3)
    assert torch.equal(phases[1], x[0, :, 0::2, 1::2])  # image 0, phase (0, 1)
    assert torch.equal(phases[6], x[1, :, 1::2, 0::2])  # image 1, phase (1, 0)
    assert torch.equal(batch_to_space(phases, 2), x)


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
    assert isinstance(chain, SpaceToBatchChain) and len(chain.convs) == 3
    for out, ref in zip(model(x), expected):
        assert max_rel_diff(out, ref) <= 1e-5


def test_only_fused_dilated_blocks_are_rewritten():
    multi_branch = RepVGG(ARCH, strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4))
    assert use_space_to_batch(multi_branch) == 0  # not fused: left alone
    plain = reparameterize_model(RepVGG(ARCH))  # no dilation
    assert use_space_to_batch(plain) == 0


def test_benchmark_rows_with_space_to_batch():
    from repseg.benchmark import ModelSpec, RowBuilder, build_rows
    torch.manual_seed(0)
    model = randomize_bn(RepVGG(ARCH, strides=(2, 2, 1, 1),
                                dilations=(1, 1, 2, 4))).eval()
    spec = ModelSpec('os8', model, 'backbone', (72, 88))
    rows = build_rows([spec], ['fused', 'fused+s2b', 'fused+s2b+wino2'],
                      RowBuilder(torch.randn(1, 3, 72, 88)))
    assert [r.name for r in rows] == ['os8:fused', 'os8:fused+s2b',
                                      'os8:fused+s2b+wino2']
    assert all(r.max_rel_diff <= 1e-5 for r in rows)
