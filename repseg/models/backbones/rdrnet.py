"""RDRNet backbone (Yang, Wang and Shi, "Reparameterizable Dual-Resolution
Network for Real-time Semantic Segmentation"; code: gyyang23/RDRNet, on
mmsegmentation): DDRNet's two branches, a semantic one that halves the
resolution stage by stage and a detail one kept at 1/8, exchanging features
by bilateral fusion, built from re-parameterizable blocks (``RDRBlock``),
with Bottleneck blocks in the last stage and a re-parameterizable pyramid
pooling module (``RPPM``) at the end of the semantic branch.

Every re-parameterizable part is a ``ReparamBlock``, so
``repseg.models.to_inference_form`` fuses the whole network: each
``RDRBlock`` into one 3x3 conv, the parallel 3x3 convs of the RPPM into
one grouped 3x3 conv, and every other conv+BN pair (bilateral fusion,
Bottlenecks, the head) by data flow.
"""
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import (ConvModule, build_activation_layer, build_conv_layer,
                      build_norm_layer)
from mmengine.model import BaseModule, Sequential
from mmseg.models.decode_heads import DDRHead
from mmseg.models.utils import PAPPM
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..fusion import (compose_pointwise, fold_bn_into_kernel, identity_kernel,
                      pad_kernel)
from .repvgg import RepVGGBlock, ReparamBlock

# The BN of the authors' recipe: momentum 0.03, eps 1e-3.
RDRNET_NORM_CFG = dict(type='BN', requires_grad=True, momentum=0.03,
                       eps=1e-3)


class RDRBlock(ReparamBlock):
    """The authors' reparameterizable block ``RB``:
    ``act(BN(conv3x3(x)) + BN(conv1x1(BN(conv1x1(x)))) + BN(x))``, or after
    fusion ``act(conv3x3(x) + bias)``.

    The 1x1 path (``branch_1x1``) is two 1x1 conv+BN in a row, the first
    with the block's stride, both convs with a bias (as the authors build
    them); the identity branch ``BN(x)`` (``branch_norm``) exists only when
    ``in_channels == out_channels`` and stride 1. ``act_cfg=None`` leaves
    the activation out (the last block of a stage).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the 3x3 conv and of the first 1x1 conv.
            Defaults to 1.
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config; any BatchNorm.
        act_cfg (dict, optional): Activation after the sum; None for none.
            Defaults to ``dict(type='ReLU', inplace=True)``.
        deploy (bool): Build the fused form (one 3x3 conv with bias).
        init_cfg (dict, optional): Initialization config.
    """

    block_type = 'rdrnet'
    display_name = 'RDRNet RB'
    branch_names = ('branch_3x3', 'branch_1x1', 'branch_norm')
    signature_key = 'branch_1x1.0.conv.weight'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = RDRNET_NORM_CFG,
                 act_cfg: Optional[dict] = dict(type='ReLU', inplace=True),
                 deploy: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(in_channels, out_channels, stride=stride,
                         conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         act_cfg=act_cfg or dict(type='ReLU'), deploy=deploy,
                         init_cfg=init_cfg)
        if act_cfg is None:
            self.act = nn.Identity()

    def _build_branches(self) -> None:
        self.branch_3x3 = self._conv_norm(3)
        second = build_conv_layer(self.conv_cfg, self.out_channels,
                                  self.out_channels, kernel_size=1, bias=True)
        self.branch_1x1 = Sequential(
            Sequential(OrderedDict(
                conv=self._conv(1, bias=True),
                norm=build_norm_layer(self.norm_cfg, self.out_channels)[1])),
            Sequential(OrderedDict(
                conv=second,
                norm=build_norm_layer(self.norm_cfg, self.out_channels)[1])))
        self.branch_norm = build_norm_layer(
            self.norm_cfg, self.in_channels)[1] if self.has_identity else None

    # The three branches are summed as in RepVGG's block.
    _branches = RepVGGBlock._branches

    @torch.no_grad()
    def start_as_identity(self) -> None:
        # BN scale 0 at the end of the 3x3 and of the 1x1 path.
        nn.init.zeros_(self.branch_3x3.norm.weight)
        nn.init.zeros_(self.branch_1x1[1].norm.weight)

    def fused_kernel_and_bias(self):
        """The kernel and bias of the single 3x3 conv equal to the three
        branches in eval mode (BN running statistics)."""
        kernel, bias = fold_bn_into_kernel(self.branch_3x3.conv.weight,
                                           self.branch_3x3.norm)
        first, second = [
            fold_bn_into_kernel(part.conv.weight, part.norm, part.conv.bias)
            for part in self.branch_1x1]
        kernel_1x1, bias_1x1 = compose_pointwise(*first, *second)
        kernel = kernel + pad_kernel(kernel_1x1, 3)
        bias = bias + bias_1x1
        if self.branch_norm is not None:
            eye = identity_kernel(self.in_channels, 1, 3, kernel)
            kernel_id, bias_id = fold_bn_into_kernel(eye, self.branch_norm)
            kernel = kernel + kernel_id
            bias = bias + bias_id
        return kernel, bias


class RepParallelConv(ReparamBlock):
    """Two grouped 3x3 conv+BN side by side, summed
    (``BN(conv3x3(x)) + BN'(conv3x3'(x))``, no activation), or after fusion
    one grouped 3x3 conv with bias: the re-parameterizable part of the RPPM.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        groups (int): Groups of both convs. Defaults to 1.
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config; any BatchNorm.
        deploy (bool): Build the fused form.
        init_cfg (dict, optional): Initialization config.
    """

    block_type = 'rdrnet_parallel'
    display_name = 'RDRNet parallel 3x3'
    branch_names = ('branch_3x3', 'branch_3x3_parallel')
    signature_key = 'branch_3x3_parallel.conv.weight'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 groups: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = RDRNET_NORM_CFG,
                 deploy: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(in_channels, out_channels, groups=groups,
                         conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         deploy=deploy, init_cfg=init_cfg)
        self.has_identity = False  # two conv branches, no identity
        self.act = nn.Identity()

    def _build_branches(self) -> None:
        self.branch_3x3 = self._conv_norm(3)
        self.branch_3x3_parallel = self._conv_norm(3)

    def _branches(self, x: Tensor) -> Tensor:
        return self.branch_3x3(x) + self.branch_3x3_parallel(x)

    def fused_kernel_and_bias(self):
        kernel, bias = fold_bn_into_kernel(self.branch_3x3.conv.weight,
                                           self.branch_3x3.norm)
        kernel_2, bias_2 = fold_bn_into_kernel(
            self.branch_3x3_parallel.conv.weight,
            self.branch_3x3_parallel.norm)
        return kernel + kernel_2, bias + bias_2


class RPPM(PAPPM):
    """The reparameterizable pyramid pooling module: mmseg's ``PAPPM``
    (PIDNet's parallel aggregation PPM) whose grouped 3x3 conv over the
    pooled scales is ``BN``, activation, then a ``RepParallelConv``
    (``processes.norm``, ``processes.act``, ``processes.parallel``).

    Args:
        in_channels (int): Input channels.
        branch_channels (int): Channels of each scale.
        out_channels (int): Output channels.
        num_scales (int): Scales: the input itself, ``num_scales - 2``
            average poolings and a global one. Defaults to 5.
        kernel_sizes, strides, paddings (Sequence[int]): The average
            poolings. Default to (5, 9, 17), (2, 4, 8), (2, 4, 8).
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='ReLU', inplace=True)``.
        deploy (bool): Build the fused form of ``processes.parallel``.
    """

    def __init__(self,
                 in_channels: int,
                 branch_channels: int,
                 out_channels: int,
                 num_scales: int = 5,
                 kernel_sizes: Sequence[int] = (5, 9, 17),
                 strides: Sequence[int] = (2, 4, 8),
                 paddings: Sequence[int] = (2, 4, 8),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = RDRNET_NORM_CFG,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 deploy: bool = False):
        # Pre-activation ConvModules (BN, activation, conv), as in PAPPM.
        module_cfg = dict(order=('norm', 'act', 'conv'), bias=False,
                          conv_cfg=conv_cfg)
        super().__init__(in_channels, branch_channels, out_channels,
                         num_scales, list(kernel_sizes), list(strides),
                         list(paddings), norm_cfg=norm_cfg, act_cfg=act_cfg,
                         conv_cfg=module_cfg)
        channels = branch_channels * (num_scales - 1)
        self.processes = Sequential(OrderedDict(
            norm=build_norm_layer(norm_cfg, channels)[1],
            act=build_activation_layer(act_cfg),
            parallel=RepParallelConv(channels, channels,
                                     groups=num_scales - 1,
                                     conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                     deploy=deploy)))


class Bottleneck(BaseModule):
    """The residual Bottleneck of the last stage (mmseg's
    ``models.utils.Bottleneck``, with ``conv_cfg``):
    ``act_out(conv3(conv2(conv1(x))) + downsample(x))``, 1x1, 3x3 (the
    stride), 1x1 to ``channels * expansion``.

    Args:
        in_channels (int): Input channels.
        channels (int): Middle channels; the output has twice as many.
        stride (int): Stride of the 3x3 conv. Defaults to 1.
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation after conv1 and conv2.
        act_cfg_out (dict, optional): Activation after the sum; None for
            none (the first and the last Bottleneck of an RDRNet stage).
        deploy (bool): Build the folded form: every BN folded into its
            conv (convs with bias, no norm).
        init_cfg (dict, optional): Initialization config.
    """

    expansion = 2

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = RDRNET_NORM_CFG,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 act_cfg_out: Optional[dict] = None,
                 deploy: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        out_channels = channels * self.expansion
        common = dict(conv_cfg=conv_cfg, norm_cfg=None if deploy else norm_cfg)
        self.conv1 = ConvModule(in_channels, channels, 1, act_cfg=act_cfg,
                                **common)
        self.conv2 = ConvModule(channels, channels, 3, stride, 1,
                                act_cfg=act_cfg, **common)
        self.conv3 = ConvModule(channels, out_channels, 1, act_cfg=None,
                                **common)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            conv = build_conv_layer(conv_cfg, in_channels, out_channels, 1,
                                    stride=stride, bias=deploy)
            # Folded: the BN's place (index 1) holds nothing.
            self.downsample = Sequential(conv) if deploy else Sequential(
                conv, build_norm_layer(norm_cfg, out_channels)[1])
        self.act = (build_activation_layer(act_cfg_out)
                    if act_cfg_out else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.act(self.conv3(self.conv2(self.conv1(x))) + residual)


def _arch(channels, num_blocks, ppm_channels=128):
    return dict(channels=channels, num_blocks=num_blocks,
                ppm_channels=ppm_channels)


@MODELS.register_module()
class RDRNet(BaseModule):
    """RDRNet backbone (RDRNet-S, -M, -L), for mmseg's ``DDRHead``.

    Stages 1-3 (``stem``, one ``Sequential``): a stride-2 ``RDRBlock`` to
    ``c`` channels; stage 2, a stride-2 block and ``n2`` more; stage 3, a
    stride-2 block to ``2c`` and ``n3`` more (1/8 resolution). Then two
    branches: the semantic one (``semantic_branch_layers``) goes to 1/16
    (``4c``), 1/32 (``8c``) and 1/64 (Bottlenecks, ``16c``), each stage a
    stride-2 block and ``s`` more; the detail one
    (``detail_branch_layers``) stays at 1/8 with ``2c``, ``d`` blocks a
    stage, Bottlenecks (``4c``) last. The last ``RDRBlock`` of a branch
    stage has no activation. After stages 4 and 5 the branches exchange
    features (DDRNet's bilateral fusion): the semantic one, compressed by a
    1x1 conv+BN (``compression_*``) and upsampled, is added to the detail
    one; the detail one, downsampled by stride-2 3x3 conv+BN
    (``down_*``), to the semantic one. The RPPM (``spp``) turns the
    semantic features to ``4c`` channels; upsampled, they are added to the
    detail features.

    Output: in eval mode the 1/8 feature map (``4c`` channels); in training
    mode ``(detail features after stage 4, that map)``, what ``DDRHead``
    takes (its auxiliary loss reads the first).

    Args:
        arch (str | dict): A name from ``arch_settings`` (S, M, L) or a dict
            with keys ``channels`` (``c``), ``num_blocks`` (``(n2, n3,
            (s4, d4), (s5, d5), (s6, d6))``: stride-1 blocks after each
            stage's first, and Bottlenecks per branch in stage 6) and
            ``ppm_channels`` (channels of each RPPM scale).
        in_channels (int): Input image channels. Defaults to 3.
        align_corners (bool): ``align_corners`` of the bilinear upsampling
            in the fusions. Defaults to False.
        conv_cfg (dict, optional): Conv layer config. Defaults to None.
        norm_cfg (dict): Norm layer config. Defaults to the authors' BN
            (momentum 0.03, eps 1e-3).
        act_cfg (dict): Activation config of every block, Bottleneck, RPPM
            and fusion (the fusions build theirs without ``inplace``: the
            tensors they activate are used again). Defaults to
            ``dict(type='ReLU', inplace=True)``.
        deploy (bool): Build the fused (inference) form, what
            ``repseg.models.to_inference_form`` makes of the multi-branch
            one: every block fused and every BN that follows a conv (the
            fusions', the Bottlenecks') folded into it; the RPPM's BNs,
            which precede their convs, stay. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
            None is the authors': Kaiming-normal convs (fan-out), BN
            scales 1 and shifts 0.
    """

    # deploy=True is the whole inference form, folded conv+BN pairs included,
    # so a deploy config describes what to_inference_form makes.
    deploy_folds_conv_bn = True

    arch_settings = {
        'S': _arch(32, (4, 3, (5, 4), (5, 4), (1, 1))),
        'M': _arch(64, (4, 3, (5, 4), (5, 4), (1, 1))),
        'L': _arch(64, (6, 5, (7, 6), (7, 6), (2, 2))),
    }

    def __init__(self,
                 arch='S',
                 in_channels: int = 3,
                 align_corners: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = RDRNET_NORM_CFG,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 deploy: bool = False,
                 init_cfg=None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(init_cfg)
        self.arch = self._parse_arch(arch)
        self.align_corners = align_corners
        self.deploy = deploy
        self._layer_cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self._act_cfg = act_cfg
        c = self.arch['channels']
        n2, n3, stage4, stage5, stage6 = self.arch['num_blocks']

        self.stem = Sequential(
            self._block(in_channels, c, stride=2),
            *self._stage(c, c, n2, last_act=True),
            *self._stage(c, 2 * c, n3, last_act=True))
        self.semantic_branch_layers = nn.ModuleList([
            Sequential(*self._stage(2 * c, 4 * c, stage4[0])),
            Sequential(*self._stage(4 * c, 8 * c, stage5[0])),
            self._bottlenecks(8 * c, 8 * c, stage6[0], stride=2)])
        self.detail_branch_layers = nn.ModuleList([
            Sequential(*self._stage(2 * c, 2 * c, stage4[1], stride=1)),
            Sequential(*self._stage(2 * c, 2 * c, stage5[1], stride=1)),
            self._bottlenecks(2 * c, 2 * c, stage6[1], stride=1)])

        self.compression_1 = self._conv_bn(4 * c, 2 * c, 1)
        self.down_1 = self._conv_bn(2 * c, 4 * c, 3, stride=2)
        self.compression_2 = self._conv_bn(8 * c, 2 * c, 1)
        self.down_2 = Sequential(
            self._conv_bn(2 * c, 4 * c, 3, stride=2, act_cfg=act_cfg),
            self._conv_bn(4 * c, 8 * c, 3, stride=2))
        self.spp = RPPM(16 * c, self.arch['ppm_channels'], 4 * c,
                        act_cfg=act_cfg, deploy=deploy, **self._layer_cfg)
        fusion_act = {k: v for k, v in act_cfg.items() if k != 'inplace'}
        self.act = build_activation_layer(fusion_act)
        self.out_channels = 4 * c

    def _parse_arch(self, arch) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(f'RDRNet: unknown arch {arch!r}; choose from '
                               f'{sorted(self.arch_settings)} or give a dict')
            return dict(self.arch_settings[arch])
        if not isinstance(arch, dict):
            raise TypeError(f'RDRNet: arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        if set(arch) - {'ppm_channels'} != {'channels', 'num_blocks'}:
            raise KeyError('RDRNet: a custom arch has keys channels, '
                           f'num_blocks and ppm_channels; got {sorted(arch)}')
        return _arch(**arch)

    def _block(self, in_channels, out_channels, stride=1, act=True):
        return RDRBlock(in_channels, out_channels, stride=stride,
                        act_cfg=self._act_cfg if act else None,
                        deploy=self.deploy, **self._layer_cfg)

    def _stage(self, in_channels, out_channels, num_blocks, stride=2,
               last_act=False):
        """A stride-``stride`` block then ``num_blocks`` stride-1 blocks
        (stride 1: ``num_blocks`` blocks in all); the last one without
        activation unless ``last_act``."""
        strides = ([stride] if stride != 1 else []) + [1] * num_blocks
        blocks = []
        for i, block_stride in enumerate(strides):
            act = last_act or i < len(strides) - 1
            blocks.append(self._block(in_channels, out_channels,
                                      block_stride, act))
            in_channels = out_channels
        return blocks

    def _bottlenecks(self, in_channels, channels, num_blocks, stride):
        """As the authors' ``_make_layer``: an activation after the sum only
        in the blocks between the first and the last."""
        blocks = []
        for i in range(num_blocks):
            act_out = self._act_cfg if 0 < i < num_blocks - 1 else None
            blocks.append(Bottleneck(in_channels, channels,
                                     stride=stride if i == 0 else 1,
                                     act_cfg=self._act_cfg,
                                     act_cfg_out=act_out,
                                     deploy=self.deploy, **self._layer_cfg))
            in_channels = channels * Bottleneck.expansion
        return Sequential(*blocks)

    def _conv_bn(self, in_channels, out_channels, kernel_size, stride=1,
                 act_cfg=None):
        """Conv+BN; in the fused form the conv alone, with bias."""
        return ConvModule(in_channels, out_channels, kernel_size,
                          stride=stride, padding=kernel_size // 2,
                          conv_cfg=self._layer_cfg['conv_cfg'],
                          norm_cfg=None if self.deploy else
                          self._layer_cfg['norm_cfg'], act_cfg=act_cfg)

    def _upsample(self, x: Tensor, like: Tensor) -> Tensor:
        return F.interpolate(x, size=like.shape[2:], mode='bilinear',
                             align_corners=self.align_corners)

    def _fuse(self, index: int, semantic: Tensor, detail: Tensor):
        """Bilateral fusion after stage ``index + 4``."""
        compression = (self.compression_1, self.compression_2)[index]
        down = (self.down_1, self.down_2)[index]
        compressed = compression(self.act(semantic))
        semantic = semantic + down(self.act(detail))
        detail = detail + self._upsample(compressed, detail)
        return semantic, detail

    def forward(self, x: Tensor):
        x = self.stem(x)
        semantic = self.semantic_branch_layers[0](x)
        detail = self.detail_branch_layers[0](x)
        semantic, detail = self._fuse(0, semantic, detail)
        context = detail
        semantic = self.semantic_branch_layers[1](self.act(semantic))
        detail = self.detail_branch_layers[1](self.act(detail))
        semantic, detail = self._fuse(1, semantic, detail)
        detail = self.detail_branch_layers[2](self.act(detail))
        semantic = self.spp(self.semantic_branch_layers[2](
            self.act(semantic)))
        out = detail + self._upsample(semantic, detail)
        return (context, out) if self.training else out

    def reparameterize(self) -> None:
        """Fuse every block in place (see ``repseg.reparameterize_model``)."""
        for module in self.modules():
            if isinstance(module, ReparamBlock):
                module.reparameterize()
        self.deploy = True


@MODELS.register_module()
class RDRHead(DDRHead):
    """mmseg's ``DDRHead`` (the RDRNet authors' head, same arguments and
    weights) with a fused form: ``deploy=True`` builds what
    ``repseg.models.to_inference_form`` makes of it, the BN after the
    inference path's 3x3 conv folded into that conv (``head.0.conv`` with
    bias, ``head.1`` empty). The auxiliary path, used in training only,
    keeps its layers.

    Args:
        deploy (bool): Build the fused form. Defaults to False.
        **kwargs: ``DDRHead``'s arguments.
    """

    deploy_folds_conv_bn = True

    def __init__(self, *args, deploy: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.deploy = deploy
        if deploy:
            conv = self.head[0].conv
            self.head[0].conv = build_conv_layer(
                self.conv_cfg, conv.in_channels, conv.out_channels,
                kernel_size=3, padding=1, bias=True)
            self.head[1] = nn.Identity()
