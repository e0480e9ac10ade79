"""``RepVGG(identity_init=True)``: from scratch, every block that has an
identity branch starts as that branch alone, and still fuses exactly once
trained."""
import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fusion_exact

from repseg.models.backbones import RepVGG
from repseg.models.backbones.repvgg import BLOCK_TYPES

TINY = dict(num_blocks=(1, 2, 2, 1), width_factor=(0.25, 0.25, 0.25, 0.5))


def _blocks(backbone):
    return [m for m in backbone.modules() if isinstance(m, tuple(
        BLOCK_TYPES.values()))]


def _identity_branch(block, x):
    """The identity branch alone, as the block's sum sees it."""
    if block.block_type == 'repvgg':
        return block.branch_norm(x)
    return block.post_norm(x)  # QARepVGG: the bare identity, then its BN


def _initialized(block_type, **kwargs):
    torch.manual_seed(0)
    backbone = RepVGG(TINY, block_type=block_type, **kwargs)
    backbone.init_weights()
    return backbone


@pytest.mark.parametrize('block_type', sorted(BLOCK_TYPES))
@pytest.mark.parametrize('train', [False, True])
def test_block_with_identity_starts_as_relu_of_that_branch(block_type, train):
    backbone = _initialized(block_type).train(train)
    with_identity = [b for b in _blocks(backbone) if b.has_identity]
    assert with_identity  # the tiny arch has some
    for block in with_identity:
        x = torch.randn(2, block.in_channels, 9, 11)
        with torch.no_grad():
            expected = F.relu(_identity_branch(block, x))
            assert torch.allclose(block(x), expected, atol=1e-6)


@pytest.mark.parametrize('block_type', sorted(BLOCK_TYPES))
def test_blocks_without_identity_and_the_reference_start_are_untouched(
        block_type):
    def scales(backbone, with_identity):
        return [block.branch_3x3.norm.weight for block in _blocks(backbone)
                if block.has_identity == with_identity]

    default = _initialized(block_type)
    for weight in scales(default, with_identity=False):
        assert torch.equal(weight, torch.ones_like(weight))
    reference = _initialized(block_type, identity_init=False)
    for weight in scales(reference, True) + scales(reference, False):
        assert torch.equal(weight, torch.ones_like(weight))
    for weight in scales(default, with_identity=True):
        assert torch.equal(weight, torch.zeros_like(weight))


@pytest.mark.parametrize('block_type', sorted(BLOCK_TYPES))
def test_a_pretrained_backbone_keeps_its_weights(block_type, tmp_path):
    source = _initialized(block_type, identity_init=False)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.1)
    path = tmp_path / 'backbone.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    loaded = _initialized(block_type, init_cfg=[
        dict(type='Pretrained', checkpoint=str(path))])
    for (name, a), b in zip(source.state_dict().items(),
                            loaded.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize('block_type', sorted(BLOCK_TYPES))
def test_fuses_exactly_after_training_steps(block_type):
    backbone = _initialized(block_type).train()
    optimizer = torch.optim.SGD(backbone.parameters(), lr=0.05)
    torch.manual_seed(1)
    for _ in range(3):
        loss = sum(out.square().mean()
                   for out in backbone(torch.randn(2, 3, 32, 48)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # The zeroed branches learned: they are no longer zero.
    for block in _blocks(backbone):
        if block.has_identity:
            assert block.branch_3x3.norm.weight.abs().sum() > 0
    assert_fusion_exact(backbone, torch.randn(1, 3, 32, 48))
