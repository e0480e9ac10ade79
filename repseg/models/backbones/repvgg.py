"""RepVGG backbone (Ding et al., CVPR 2021, arXiv 2101.03697) for dense
prediction: every variant of the paper, groupwise and SE ones included, with
training-time dilation for output stride 8 (the full and the "fast" scheme),
built from the original RepVGG block or the QARepVGG block (``block_type``,
``BLOCK_TYPES``).
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule, Sequential
from mmseg.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...errors import RepSegError
from ..fusion import fold_bn_into_kernel, identity_kernel, pad_kernel
from ..init_cfg import pretrained_init


class DeployFormMismatch(RepSegError, RuntimeError):
    """A state dict of one form (multi-branch / fused) met a model of the other."""


class SqueezeExcitation(nn.Module):
    """The SE block of RepVGG-D2se: global pool, 1x1 down, ReLU, 1x1 up, sigmoid.

    Written here rather than taken from mmseg, whose ``SELayer`` rounds the
    hidden width to a multiple of 8; the published D2se weights use exactly
    ``channels // ratio``.
    """

    def __init__(self, channels: int, ratio: int = 16):
        super().__init__()
        hidden = channels // ratio
        self.down = nn.Conv2d(channels, hidden, 1, bias=True)
        self.up = nn.Conv2d(hidden, channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        weight = F.adaptive_avg_pool2d(x, 1)
        weight = torch.sigmoid(self.up(F.relu(self.down(weight))))
        return x * weight


class BlockTypeMismatch(RepSegError, RuntimeError):
    """A multi-branch state dict of one block type (``RepVGG.block_types``)
    met a multi-branch model of another."""


class ReparamBlock(BaseModule):
    """What every re-parameterizable block type shares: its arguments, its
    fused form ``act(se(conv3x3(x) + bias))`` (``branch_reparam``, then
    ``se_layer`` if any, then ``act``), ``with_cp``, ``reparameterize`` and
    the refusal of state dicts of the other form or block type.

    A subclass builds its training-time branches in ``_build_branches``,
    computes their sum in ``_branches`` and their fused kernel and bias in
    ``fused_kernel_and_bias``; ``branch_names`` are the submodules fusion
    removes, ``signature_key`` a key that only its multi-branch state dict
    has (relative to the block's prefix).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the 3x3 and the 1x1 branch. Defaults to 1.
        dilation (int): Dilation of the 3x3 branch; its padding equals it.
            Defaults to 1.
        groups (int): Groups of the 3x3 and the 1x1 branch. Defaults to 1.
        se_ratio (int, optional): Channel reduction of a squeeze-excitation
            layer applied before the activation; None for no SE.
        conv_cfg (dict, optional): Conv layer config. Defaults to None (Conv2d).
        norm_cfg (dict): Norm layer config; any BatchNorm (BN, SyncBN).
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        with_cp (bool): Recompute the block in backward to save memory.
        deploy (bool): Build the fused form (one 3x3 conv with bias).
        init_cfg (dict, optional): Initialization config.
    """

    block_type = ''  # the key of RepVGG.block_types
    display_name = ''  # how messages name the block type
    branch_names = ()
    signature_key = ''

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 groups: int = 1,
                 se_ratio: Optional[int] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.dilation = dilation
        self.groups = groups
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp
        self.deploy = deploy
        # The identity branch exists only where it preserves the shape.
        self.has_identity = in_channels == out_channels and stride == 1

        if deploy:
            self.branch_reparam = self._conv(3, bias=True)
        else:
            self._build_branches()
        self.se_layer = (SqueezeExcitation(out_channels, se_ratio)
                         if se_ratio else None)
        self.act = build_activation_layer(act_cfg)

    def _build_branches(self) -> None:
        raise NotImplementedError

    def _branches(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def start_as_identity(self) -> None:
        """Zero the branches beside the identity, so that the block starts
        as ``act(identity branch)``; they still get gradients and learn.
        Only for blocks with an identity branch, in the multi-branch form."""
        raise NotImplementedError

    def fused_kernel_and_bias(self):
        raise NotImplementedError

    def _conv(self, kernel_size: int, bias: bool) -> nn.Module:
        dilation = self.dilation if kernel_size == 3 else 1
        return build_conv_layer(
            self.conv_cfg,
            self.in_channels,
            self.out_channels,
            kernel_size=kernel_size,
            stride=self.stride,
            padding=dilation * (kernel_size // 2),
            dilation=dilation,
            groups=self.groups,
            bias=bias)

    def _conv_norm(self, kernel_size: int) -> Sequential:
        return Sequential(
            OrderedDict(
                conv=self._conv(kernel_size, bias=False),
                norm=build_norm_layer(self.norm_cfg, self.out_channels)[1]))

    def _forward(self, x: Tensor) -> Tensor:
        if self.deploy:
            out = self.branch_reparam(x)
        else:
            out = self._branches(x)
        if self.se_layer is not None:
            out = self.se_layer(out)
        return self.act(out)

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches into ``branch_reparam``, in place; idempotent."""
        if self.deploy:
            return
        kernel, bias = self.fused_kernel_and_bias()
        reparam = self._conv(3, bias=True).to(kernel.device, kernel.dtype)
        reparam.weight.copy_(kernel)
        reparam.bias.copy_(bias)
        for name in self.branch_names:
            delattr(self, name)
        self.branch_reparam = reparam
        self.deploy = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Refuse the other form or block type outright: with strict=False
        # (as in init_cfg=Pretrained) it would otherwise be dropped silently.
        fused_key = prefix + 'branch_reparam.weight'
        branch_key = prefix + 'branch_3x3.conv.weight'
        name, block_type = self.display_name, self.block_type
        source = _block_type_in(state_dict, prefix)
        if self.deploy and branch_key in state_dict:
            held = f'{source.display_name} ' if source is not None else ''
            raise DeployFormMismatch(
                f'{branch_key!r}: the state dict holds training-time '
                f'(multi-branch) {held}weights but the model is built with '
                f'deploy=True (fused {name} blocks). Build it with '
                'deploy=False, or fuse the checkpoint first with '
                'tools/deploy.py.')
        if not self.deploy and fused_key in state_dict:
            raise DeployFormMismatch(
                f'{fused_key!r}: the state dict holds fused (deploy) weights '
                'but the model is built with deploy=False (multi-branch '
                f'{name} blocks, block_type={block_type!r}). Build it with '
                'deploy=True (backbone deploy=True in the config); a fused '
                'model cannot be turned back into the multi-branch form.')
        if not self.deploy and source not in (None, type(self)):
            raise BlockTypeMismatch(
                f'{prefix + source.signature_key!r}: the state dict holds '
                f'multi-branch {source.display_name} weights but the model '
                f'is built with {name} blocks (block_type={block_type!r}). '
                f'Build it with block_type={source.block_type!r}.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class RepVGGBlock(ReparamBlock):
    """``act(se(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x)))``, or after fusion
    ``act(se(conv3x3(x) + bias))``; the identity branch ``BN(x)`` only when
    ``in_channels == out_channels`` and stride 1 (``block_type='repvgg'``).

    Arguments: see ``ReparamBlock``.
    """

    block_type = 'repvgg'
    display_name = 'RepVGG'
    branch_names = ('branch_3x3', 'branch_1x1', 'branch_norm')
    signature_key = 'branch_1x1.conv.weight'

    def _build_branches(self) -> None:
        self.branch_3x3 = self._conv_norm(3)
        self.branch_1x1 = self._conv_norm(1)
        self.branch_norm = build_norm_layer(
            self.norm_cfg, self.in_channels)[1] if self.has_identity else None

    def _branches(self, x: Tensor) -> Tensor:
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.branch_norm is not None:
            out = out + self.branch_norm(x)
        return out

    @torch.no_grad()
    def start_as_identity(self) -> None:
        # BN scale 0: each conv branch outputs its BN shift (0 at init).
        nn.init.zeros_(self.branch_3x3.norm.weight)
        nn.init.zeros_(self.branch_1x1.norm.weight)

    def fused_kernel_and_bias(self):
        """The kernel and bias of the single 3x3 conv equal to the three
        branches in eval mode (BN running statistics)."""
        kernel, bias = fold_bn_into_kernel(self.branch_3x3.conv.weight,
                                           self.branch_3x3.norm)
        kernel_1x1, bias_1x1 = fold_bn_into_kernel(
            self.branch_1x1.conv.weight, self.branch_1x1.norm)
        kernel = kernel + pad_kernel(kernel_1x1, 3)
        bias = bias + bias_1x1
        if self.branch_norm is not None:
            eye = identity_kernel(self.in_channels, self.groups, 3, kernel)
            kernel_id, bias_id = fold_bn_into_kernel(eye, self.branch_norm)
            kernel = kernel + kernel_id
            bias = bias + bias_id
        return kernel, bias


class QARepVGGBlock(ReparamBlock):
    """The quantization-aware block of QARepVGG (Chu et al., "Make RepVGG
    Greater Again: A Quantization-aware Approach", arXiv 2212.01593; the
    authors' ``QARepVGGBlockV2``, ``block_type='qarepvgg'``):
    ``act(se(BN_post(BN(conv3x3(x)) + conv1x1(x) + x)))``, or after fusion
    ``act(se(conv3x3(x) + bias))``, the same fused form as ``RepVGGBlock``.

    Only the 3x3 branch keeps its BN (``branch_3x3``); the 1x1 branch
    (``branch_1x1``) is a bare conv and the identity branch (only when
    ``in_channels == out_channels`` and stride 1) has no BN; one BN
    (``post_norm``) follows the sum and is folded into the fused conv too.

    SE, when ``se_ratio`` is set, comes after ``post_norm`` (so that the
    block fuses exactly); the authors' code puts it before that BN, which no
    single conv can reproduce. Arguments: see ``ReparamBlock``.
    """

    block_type = 'qarepvgg'
    display_name = 'QARepVGG'
    branch_names = ('branch_3x3', 'branch_1x1', 'post_norm')
    signature_key = 'branch_1x1.weight'

    def _build_branches(self) -> None:
        self.branch_3x3 = self._conv_norm(3)
        self.branch_1x1 = self._conv(1, bias=False)
        self.post_norm = build_norm_layer(self.norm_cfg, self.out_channels)[1]

    def _branches(self, x: Tensor) -> Tensor:
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.has_identity:
            out = out + x
        return self.post_norm(out)

    @torch.no_grad()
    def start_as_identity(self) -> None:
        # The 1x1 branch has no BN to zero: its kernel starts at 0 instead.
        nn.init.zeros_(self.branch_3x3.norm.weight)
        nn.init.zeros_(self.branch_1x1.weight)

    def fused_kernel_and_bias(self):
        """The kernel and bias of the single 3x3 conv equal to the branches
        and the post-sum BN in eval mode (BN running statistics)."""
        kernel, bias = fold_bn_into_kernel(self.branch_3x3.conv.weight,
                                           self.branch_3x3.norm)
        kernel = kernel + pad_kernel(self.branch_1x1.weight, 3)
        if self.has_identity:
            kernel = kernel + identity_kernel(self.in_channels, self.groups,
                                              3, kernel)
        return fold_bn_into_kernel(kernel, self.post_norm, bias)


# block_type -> block class: the one table RepVGG builds its blocks from.
BLOCK_TYPES = {cls.block_type: cls for cls in (RepVGGBlock, QARepVGGBlock)}


def _block_type_in(state_dict, prefix: str):
    """The block class whose multi-branch weights ``state_dict`` holds under
    ``prefix``; None for none (fused weights, or no weights there)."""
    for cls in BLOCK_TYPES.values():
        if prefix + cls.signature_key in state_dict:
            return cls
    return None


def _groupwise_map(groups: int) -> Dict[int, int]:
    """Blocks 2, 4, ..., 26 (numbered from 1 at the first block of stage 1)
    use ``groups``: every second block of stages 1-3 of the B models."""
    return {index: groups for index in range(2, 27, 2)}


def stage_widths(width_factor, base_channels: int = 64):
    """Stage widths ``base * 2**i * factor_i``: 64a, 128a, 256a, 512b."""
    return [int(base_channels * 2**i * f) for i, f in enumerate(width_factor)]


def _arch(num_blocks, width_factor, group_layer_map=None, se_ratio=None):
    return dict(num_blocks=num_blocks, width_factor=width_factor,
                group_layer_map=group_layer_map, se_ratio=se_ratio)


_A_BLOCKS = (2, 4, 14, 1)
_B_BLOCKS = (4, 6, 16, 1)


@MODELS.register_module()
class RepVGG(BaseModule):
    """RepVGG backbone.

    Five stages: a stem block (``stem``, stride 2) and four stages
    (``stage_1`` ... ``stage_4``) whose first block has the stage stride.

    Args:
        arch (str | dict): A name from ``arch_settings`` (A0 A1 A2 B0 B1 B1g2
            B1g4 B2 B2g2 B2g4 B3 B3g2 B3g4 D2se) or a dict with keys
            ``num_blocks`` (4 ints), ``width_factor`` (4 floats: stage ``i``
            has ``int(base_channels * 2**i * factor)`` channels), ``group_layer_map`` (dict
            block number -> groups, blocks numbered from 1 at the first block
            of stage 1, or None) and ``se_ratio`` (int or None).
        in_channels (int): Input image channels. Defaults to 3.
        base_channels (int): Width before the factors; the stem has
            ``min(base_channels, int(base_channels * width_factor[0]))``
            channels. Defaults to 64.
        out_indices (Sequence[int]): Stages (0-3 for stage_1-stage_4) whose
            outputs are returned. Defaults to (0, 1, 2, 3).
        strides (Sequence[int]): Stride of the first block of each of the
            four stages. Defaults to (2, 2, 2, 2).
        dilations (Sequence[int]): Dilation of the 3x3 convs of each stage.
            Defaults to (1, 1, 1, 1).
        num_dilated_blocks (Sequence[int | None], optional): Per stage, how
            many of its last blocks use the stage dilation; the others use
            dilation 1. None (for the whole argument or one stage) dilates
            every block. The paper's "fast" output-stride-8 scheme is
            ``strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
            num_dilated_blocks=(None, None, 4, None)``.
        frozen_stages (int): Freeze (no grad, BN in eval) the stem and the
            first ``frozen_stages`` stages; -1 freezes nothing, 0 the stem
            only. Defaults to -1.
        norm_eval (bool): Keep every BN in eval mode during training
            (frozen running statistics). Defaults to False.
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config (BN or SyncBN).
            Defaults to ``dict(type='BN', requires_grad=True)``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        deploy (bool): Build the fused (inference) form. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``.
            None (training from scratch) is mmpretrain's RepVGG default:
            Kaiming-normal convs (fan-out) and BN scales of 1, as mmseg's
            ResNet.
        identity_init (bool): When training from scratch (``init_cfg``
            without ``Pretrained``), start every block that has an identity
            branch as that branch alone: the BN scales of its 3x3 and 1x1
            branches at 0 (QARepVGG: the 3x3 branch's BN scale and the bare
            1x1 kernel), as mmseg's ResNet starts its residual blocks with
            ``zero_init_residual``. The plain stack then starts close to the
            identity and trains as fast as a ResNet; the fused form is the
            same either way. False starts every branch at full strength, as
            the reference code and mmpretrain do. Defaults to True.
        block_type (str): The block of every stage, the stem included: a key
            of ``block_types``, ``'repvgg'`` (``RepVGGBlock``, the default)
            or ``'qarepvgg'`` (``QARepVGGBlock``). Both fuse into the same
            form, so fused (``deploy=True``) weights load into either.
    """

    # block_type -> block class (the table is BLOCK_TYPES, above).
    block_types = BLOCK_TYPES

    arch_settings = {
        'A0': _arch(_A_BLOCKS, (0.75, 0.75, 0.75, 2.5)),
        'A1': _arch(_A_BLOCKS, (1, 1, 1, 2.5)),
        'A2': _arch(_A_BLOCKS, (1.5, 1.5, 1.5, 2.75)),
        'B0': _arch(_B_BLOCKS, (1, 1, 1, 2.5)),
        'B1': _arch(_B_BLOCKS, (2, 2, 2, 4)),
        'B1g2': _arch(_B_BLOCKS, (2, 2, 2, 4), _groupwise_map(2)),
        'B1g4': _arch(_B_BLOCKS, (2, 2, 2, 4), _groupwise_map(4)),
        'B2': _arch(_B_BLOCKS, (2.5, 2.5, 2.5, 5)),
        'B2g2': _arch(_B_BLOCKS, (2.5, 2.5, 2.5, 5), _groupwise_map(2)),
        'B2g4': _arch(_B_BLOCKS, (2.5, 2.5, 2.5, 5), _groupwise_map(4)),
        'B3': _arch(_B_BLOCKS, (3, 3, 3, 5)),
        'B3g2': _arch(_B_BLOCKS, (3, 3, 3, 5), _groupwise_map(2)),
        'B3g4': _arch(_B_BLOCKS, (3, 3, 3, 5), _groupwise_map(4)),
        'D2se': _arch((8, 14, 24, 1), (2.5, 2.5, 2.5, 5), se_ratio=16),
    }

    def __init__(self,
                 arch='A0',
                 in_channels: int = 3,
                 base_channels: int = 64,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 num_dilated_blocks: Optional[Sequence[Optional[int]]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg=None,
                 block_type: str = 'repvgg',
                 identity_init: bool = True):
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
            ]
        super().__init__(init_cfg)
        self.arch = self._parse_arch(arch)
        if block_type not in self.block_types:
            raise KeyError(f'RepVGG: unknown block_type {block_type!r}; '
                           f'choose from {sorted(self.block_types)}')
        self.block_type = block_type
        self.identity_init = identity_init
        block = self.block_types[block_type]
        num_stages = len(self.arch['num_blocks'])
        if num_dilated_blocks is None:
            num_dilated_blocks = (None, ) * num_stages
        for name, value in (('strides', strides), ('dilations', dilations),
                            ('num_dilated_blocks', num_dilated_blocks)):
            if len(value) != num_stages:
                raise ValueError(f'RepVGG: {name} must have {num_stages} '
                                 f'entries (one per stage), got {value!r}')
        for index in out_indices:
            if not 0 <= index < num_stages:
                raise ValueError(f'RepVGG: out_indices entry {index} is out '
                                 f'of range 0..{num_stages - 1}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'RepVGG: frozen_stages must be in -1..'
                             f'{num_stages}, got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy
        block_cfg = dict(se_ratio=self.arch['se_ratio'], conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp,
                         deploy=deploy)

        widths = stage_widths(self.arch['width_factor'], base_channels)
        stem_channels = min(base_channels, widths[0])
        self.stem = block(in_channels, stem_channels, stride=2, **block_cfg)
        group_layer_map = self.arch['group_layer_map'] or {}
        block_number = 1
        channels = stem_channels
        self.stage_names = []
        for i, num_blocks in enumerate(self.arch['num_blocks']):
            dilated = num_dilated_blocks[i]
            first_dilated = 0 if dilated is None else num_blocks - dilated
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    block(
                        channels,
                        widths[i],
                        stride=strides[i] if j == 0 else 1,
                        dilation=dilations[i] if j >= first_dilated else 1,
                        groups=group_layer_map.get(block_number, 1),
                        **block_cfg))
                channels = widths[i]
                block_number += 1
            name = f'stage_{i + 1}'
            self.add_module(name, Sequential(*blocks))
            self.stage_names.append(name)
        self.out_channels = [widths[i] for i in self.out_indices]
        self._freeze_stages()

    def _parse_arch(self, arch) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(f'RepVGG: unknown arch {arch!r}; choose from '
                               f'{sorted(self.arch_settings)} or give a dict')
            return dict(self.arch_settings[arch])
        if not isinstance(arch, dict):
            raise TypeError(f'RepVGG: arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        required = {'num_blocks', 'width_factor'}
        known = required | {'group_layer_map', 'se_ratio'}
        if not required <= set(arch) or not set(arch) <= known:
            raise KeyError(f'RepVGG: a custom arch needs keys {sorted(required)}'
                           f' and may have {sorted(known - required)}; got '
                           f'{sorted(arch)}')
        arch = _arch(**arch)
        if len(arch['num_blocks']) != len(arch['width_factor']):
            raise ValueError('RepVGG: arch num_blocks and width_factor must '
                             'have the same length, got '
                             f'{arch["num_blocks"]!r} and '
                             f'{arch["width_factor"]!r}')
        return arch

    def forward(self, x: Tensor):
        x = self.stem(x)
        outs = []
        for i, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def init_weights(self) -> None:
        super().init_weights()
        if (self.identity_init and not self.deploy
                and pretrained_init(self.init_cfg) is None):
            for module in self.modules():
                if isinstance(module, ReparamBlock) and module.has_identity:
                    module.start_as_identity()

    def reparameterize(self) -> None:
        """Fuse every block in place (see ``repseg.reparameterize_model``)."""
        for module in self.modules():
            if isinstance(module, ReparamBlock):
                module.reparameterize()
        self.deploy = True

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        stages = [getattr(self, n) for n in self.stage_names[:self.frozen_stages]]
        for module in [self.stem] + stages:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
