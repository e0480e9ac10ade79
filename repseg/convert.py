"""Conversion of RepVGG checkpoints people already have into repseg keys.

Recognized layouts:
- the reference implementation, training form (``stage0.rbr_dense.conv``,
  ``rbr_1x1``, ``rbr_identity``) or inference form (``rbr_reparam``), head
  ``linear``, SE ``se.down``/``se.up``;
- the QARepVGG authors' code (``QARepVGGBlockV2``), training form
  (``stage0.rbr_dense.conv``/``.bn``, a bare ``rbr_1x1`` conv, the post-sum
  BN ``stage0.bn``) -> ``block_type='qarepvgg'`` keys (``branch_1x1.weight``,
  ``post_norm``); its inference form is the reference's (``rbr_reparam``);
- mmpretrain (``backbone.stem``, ``backbone.stage_1``, ``branch_3x3.norm``,
  ``se_layer.conv1.conv``, head ``head.fc``);
- repseg's own classifier keys (returned unchanged).
The result has the keys of a repseg classifier: ``backbone.*`` and, when the
source has a head, ``head.fc.*``.

RDRNet segmentor checkpoints (``convert_rdrnet_checkpoint``): the authors'
(gyyang23/RDRNet, mmseg ``backbone.``/``decode_head.`` keys, training form
``path_3x3``/``path_1x1``/``path_residual`` or deploy form ``reparam_3x3``)
-> repseg's ``RDRNet`` keys; the deploy form, which fuses the blocks only,
has its other conv+BN pairs folded (``fold_rdrnet_conv_bn``) into repseg's
``deploy=True`` form; repseg's own are checked and returned as they are.
"""
import re
from typing import Dict, Optional, Tuple

from torch import Tensor

from .errors import RepSegError
from .models.backbones.repvgg import BLOCK_TYPES, RepVGG, stage_widths

# (pattern, replacement) applied in order to each key of a reference file.
_REFERENCE_RULES = [
    (r'^stage0\.', 'backbone.stem.'),
    (r'^stage(\d)\.', r'backbone.stage_\1.'),
    (r'\.rbr_dense\.bn\.', '.branch_3x3.norm.'),
    (r'\.rbr_dense\.conv\.', '.branch_3x3.conv.'),
    (r'\.rbr_1x1\.bn\.', '.branch_1x1.norm.'),
    (r'\.rbr_1x1\.conv\.', '.branch_1x1.conv.'),
    # QARepVGG: a bare 1x1 conv and the BN after the sum of the branches.
    (r'\.rbr_1x1\.weight$', '.branch_1x1.weight'),
    (r'^(backbone\.(?:stem|stage_\d+\.\d+))\.bn\.', r'\1.post_norm.'),
    (r'\.rbr_identity\.', '.branch_norm.'),
    (r'\.rbr_reparam\.', '.branch_reparam.'),
    (r'\.se\.(down|up)\.', r'.se_layer.\1.'),
    (r'^linear\.', 'head.fc.'),
]
_MMPRETRAIN_RULES = [
    (r'\.se_layer\.conv1\.conv\.', '.se_layer.down.'),
    (r'\.se_layer\.conv2\.conv\.', '.se_layer.up.'),
]
_REPSEG_KEY = re.compile(
    r'^(backbone\.(stem|stage_\d+\.\d+)\.(branch_3x3\.(conv|norm)|'
    r'branch_1x1(\.(conv|norm))?|branch_norm|post_norm|branch_reparam|'
    r'se_layer\.(down|up))'
    r'\.\w+|head\.fc\.(weight|bias))$')


class CheckpointConversionError(RepSegError, ValueError):
    """The source checkpoint is not a RepVGG layout repseg understands."""


def unwrap_state_dict(checkpoint, source: str = 'checkpoint') -> Dict[str, Tensor]:
    """The bare state dict of a file that may wrap it in ``state_dict`` or
    ``model`` and prefix its keys with ``module.`` (DataParallel/DDP)."""
    state = checkpoint
    for wrapper in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict) or not state:
        raise CheckpointConversionError(f'{source}: no state dict found (a '
                                        'dict of tensors, possibly under '
                                        '"state_dict" or "model")')
    return {k[len('module.'):] if k.startswith('module.') else k: v
            for k, v in state.items()}


def detect_layout(state: Dict[str, Tensor]) -> str:
    """'reference', 'qarepvgg' (the QARepVGG authors' training form),
    'mmpretrain' or 'repseg'."""
    if any(k.startswith('stage0.') for k in state):
        if any(re.match(r'stage\d\.(\d+\.)?(rbr_1x1\.weight|bn\.)', k)
               for k in state):
            return 'qarepvgg'
        return 'reference'
    if any(k.startswith('backbone.stem.') for k in state):
        if any('.se_layer.conv1.' in k for k in state):
            return 'mmpretrain'
        return 'repseg'
    raise CheckpointConversionError(
        'not a RepVGG checkpoint: expected keys starting with "stage0." '
        '(reference implementation) or "backbone.stem." (mmpretrain, repseg);'
        f' the first keys are {list(state)[:3]}')


def _rename(key: str, rules) -> str:
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


def to_repseg_keys(state: Dict[str, Tensor], source: str = 'checkpoint'
                   ) -> Dict[str, Tensor]:
    """Rename a RepVGG state dict of any recognized layout to repseg keys.
    Every key must map; an unknown one is an error, never dropped."""
    layout = detect_layout(state)
    if layout == 'qarepvgg' and any('.se.' in k for k in state):
        raise CheckpointConversionError(
            f'{source}: a QARepVGG checkpoint with SE layers: the authors\' '
            'block applies SE before its post-sum BN, which no fused conv '
            'reproduces; repseg\'s QARepVGG block (SE after that BN) computes '
            'another function, so these weights are not converted')
    rules = {'reference': _REFERENCE_RULES, 'qarepvgg': _REFERENCE_RULES,
             'mmpretrain': _MMPRETRAIN_RULES, 'repseg': []}[layout]
    converted = {}
    for key, value in state.items():
        new_key = _rename(key, rules)
        if not _REPSEG_KEY.match(new_key):
            raise CheckpointConversionError(
                f'{source}: key {key!r} is not part of a RepVGG classifier '
                'and has no repseg equivalent')
        converted[new_key] = value
    return converted


def is_deploy_form(state: Dict[str, Tensor]) -> bool:
    """True for fused weights (``branch_reparam``), False for multi-branch."""
    fused = any('.branch_reparam.' in k for k in state)
    branches = any('.branch_3x3.' in k for k in state)
    if fused and branches:
        raise CheckpointConversionError(
            'the checkpoint mixes fused (branch_reparam) and multi-branch '
            '(branch_3x3) blocks')
    return fused


def block_type_of(state: Dict[str, Tensor]) -> Optional[str]:
    """The ``RepVGG.block_types`` key of a multi-branch repseg-keyed state
    dict ('repvgg' or 'qarepvgg'); None for fused weights, which load into a
    backbone of either block type (the fused forms are the same)."""
    found = {cls.block_type for cls in BLOCK_TYPES.values()
             if any(k.endswith('.' + cls.signature_key) for k in state)}
    if len(found) > 1:
        raise CheckpointConversionError(
            f'the checkpoint mixes blocks of types {sorted(found)}')
    return found.pop() if found else None


def _conv_weight(state, block: str) -> Tensor:
    for name in ('branch_reparam.weight', 'branch_3x3.conv.weight'):
        if f'backbone.{block}.{name}' in state:
            return state[f'backbone.{block}.{name}']
    raise CheckpointConversionError(f'no 3x3 kernel for block {block!r}')


def infer_arch(state: Dict[str, Tensor]) -> str:
    """The ``RepVGG.arch_settings`` name whose blocks, widths, groups and SE
    match a repseg-keyed backbone state dict."""
    blocks = {}
    for key in state:
        match = re.match(r'backbone\.stage_(\d+)\.(\d+)\.', key)
        if match:
            stage, index = int(match[1]), int(match[2])
            blocks[stage] = max(blocks.get(stage, 0), index + 1)
    num_blocks = tuple(blocks[s] for s in sorted(blocks))
    widths, groups = [], {}
    in_channels = _conv_weight(state, 'stem').shape[0]
    number = 1
    for stage, count in enumerate(num_blocks, 1):
        for i in range(count):
            weight = _conv_weight(state, f'stage_{stage}.{i}')
            if weight.shape[1] != in_channels:
                groups[number] = in_channels // weight.shape[1]
            in_channels = weight.shape[0]
            number += 1
        widths.append(in_channels)
    has_se = any('.se_layer.' in k for k in state)
    for name, arch in RepVGG.arch_settings.items():
        expected = stage_widths(arch['width_factor'])
        if (tuple(arch['num_blocks']) == num_blocks and expected == widths
                and (arch['group_layer_map'] or {}) == groups
                and bool(arch['se_ratio']) == has_se):
            return name
    raise CheckpointConversionError(
        f'no RepVGG variant has {num_blocks} blocks, stage widths {widths}'
        f' and groupwise blocks {groups}; pass the arch explicitly')


def convert_checkpoint(checkpoint, arch: Optional[str] = None,
                       source: str = 'checkpoint'
                       ) -> Tuple[Dict[str, Tensor], str, bool]:
    """Convert a loaded checkpoint to a repseg classifier state dict.

    The backbone part is checked by loading it strictly into a repseg
    ``RepVGG`` of ``arch`` (inferred when None) in the matching form and,
    for multi-branch weights, of the matching ``block_type``
    (``block_type_of``).

    Returns:
        (state_dict, arch, deploy): the converted weights, the arch name,
        and whether they are the fused form.
    """
    state = to_repseg_keys(unwrap_state_dict(checkpoint, source), source)
    deploy = is_deploy_form(state)
    inferred = infer_arch(state) if arch is None else arch
    block_type = block_type_of(state) or 'repvgg'
    backbone = RepVGG(arch=inferred, out_indices=(3, ), deploy=deploy,
                      block_type=block_type)
    backbone_state = {k[len('backbone.'):]: v for k, v in state.items()
                      if k.startswith('backbone.')}
    try:
        backbone.load_state_dict(backbone_state, strict=True)
    except RuntimeError as err:
        raise CheckpointConversionError(
            f'{source}: the weights do not fit RepVGG-{inferred} '
            f'({"fused" if deploy else f"multi-branch {block_type}"} form): '
            f'{err}') from err
    return state, inferred, deploy


# RDRNet: the authors' mmseg checkpoints (gyyang23/RDRNet), whose module
# tree is repseg's but for the names inside the re-parameterizable blocks
# and one extra level around the semantic branch's Bottlenecks.
_RDRNET_RULES = [
    (r'\.path_3x3\.conv\.', '.branch_3x3.conv.'),
    (r'\.path_3x3\.bn\.', '.branch_3x3.norm.'),
    (r'\.path_1x1\.conv1\.conv\.', '.branch_1x1.0.conv.'),
    (r'\.path_1x1\.conv1\.bn\.', '.branch_1x1.0.norm.'),
    (r'\.path_1x1\.conv2\.conv\.', '.branch_1x1.1.conv.'),
    (r'\.path_1x1\.conv2\.bn\.', '.branch_1x1.1.norm.'),
    (r'\.path_residual\.', '.branch_norm.'),
    (r'\.reparam_3x3\.', '.branch_reparam.'),
    (r'\.processes\.parallel1\.conv\.',
     '.processes.parallel.branch_3x3.conv.'),
    (r'\.processes\.parallel1\.bn\.', '.processes.parallel.branch_3x3.norm.'),
    (r'\.processes\.parallel2\.conv\.',
     '.processes.parallel.branch_3x3_parallel.conv.'),
    (r'\.processes\.parallel2\.bn\.',
     '.processes.parallel.branch_3x3_parallel.norm.'),
    (r'\.processes\.reparam_parallel\.',
     '.processes.parallel.branch_reparam.'),
    (r'^backbone\.semantic_branch_layers\.2\.0\.(\d+)\.',
     r'backbone.semantic_branch_layers.2.\1.'),
]
_RDRNET_AUTHOR_MARKS = ('.path_3x3.', '.reparam_3x3.', '.parallel1.',
                        '.reparam_parallel.')


class RDRNetFormMismatch(CheckpointConversionError):
    """An RDRNet checkpoint of one form (multi-branch / fused) where the
    other was asked for."""


class RDRNetSizeMismatch(CheckpointConversionError):
    """An RDRNet checkpoint of another size (S, M, L) than the one asked
    for, or of none of them."""


def is_rdrnet_state(state: Dict[str, Tensor]) -> bool:
    """True for the state dict of an RDRNet segmentor (either layout)."""
    return any(k.startswith('backbone.semantic_branch_layers.')
               for k in state)


def rdrnet_layout(state: Dict[str, Tensor]) -> str:
    """'authors' (gyyang23/RDRNet) or 'repseg'."""
    if any(mark in k for k in state for mark in _RDRNET_AUTHOR_MARKS):
        return 'authors'
    return 'repseg'


def rdrnet_to_repseg_keys(state: Dict[str, Tensor],
                          source: str = 'checkpoint') -> Dict[str, Tensor]:
    """Rename an RDRNet segmentor state dict of either layout to repseg
    keys; every key must be the backbone's or the decode head's."""
    rules = _RDRNET_RULES if rdrnet_layout(state) == 'authors' else []
    converted = {}
    for key, value in state.items():
        if not key.startswith(('backbone.', 'decode_head.')):
            raise CheckpointConversionError(
                f'{source}: key {key!r} is neither the backbone\'s nor the '
                'decode head\'s of an RDRNet segmentor')
        converted[_rename(key, rules)] = value
    return converted


def _rdrnet_block_width(state, prefix: str) -> int:
    for name in ('branch_reparam.weight', 'branch_3x3.conv.weight'):
        if f'{prefix}.{name}' in state:
            return state[f'{prefix}.{name}'].shape[0]
    raise CheckpointConversionError(f'no 3x3 kernel for block {prefix!r}')


def _rdrnet_indices(state, prefix: str):
    indices = {int(m[1]) for k in state
               for m in [re.match(re.escape(prefix) + r'\.(\d+)\.', k)] if m}
    return sorted(indices)


def infer_rdrnet_arch(state: Dict[str, Tensor]) -> dict:
    """The ``RDRNet`` arch dict (channels, num_blocks, ppm_channels) of a
    repseg-keyed RDRNet segmentor state dict."""
    stem = _rdrnet_indices(state, 'backbone.stem')
    widths = [_rdrnet_block_width(state, f'backbone.stem.{i}') for i in stem]
    channels = widths[0]
    # Stage 1 and stage 2's first block at c, stage 3's first at 2c.
    n2 = widths.count(channels) - 2
    n3 = widths.count(2 * channels) - 1

    def count(branch, stage):
        return len(_rdrnet_indices(state, f'backbone.{branch}.{stage}'))

    semantic, detail = 'semantic_branch_layers', 'detail_branch_layers'
    num_blocks = (n2, n3, (count(semantic, 0) - 1, count(detail, 0)),
                  (count(semantic, 1) - 1, count(detail, 1)),
                  (count(semantic, 2), count(detail, 2)))
    ppm = state.get('backbone.spp.scales.0.conv.weight')
    if ppm is None:
        raise CheckpointConversionError('no RPPM (backbone.spp) weights')
    return dict(channels=channels, num_blocks=num_blocks,
                ppm_channels=ppm.shape[0])


def rdrnet_arch_name(arch: dict) -> Optional[str]:
    """The ``RDRNet.arch_settings`` name of an arch dict; None for none."""
    from .models.backbones.rdrnet import RDRNet
    for name, setting in RDRNet.arch_settings.items():
        if setting == arch:
            return name
    return None


def convert_rdrnet_checkpoint(checkpoint, arch: Optional[str] = None,
                              fused: Optional[bool] = None,
                              source: str = 'checkpoint'
                              ) -> Tuple[Dict[str, Tensor], str, bool]:
    """Convert an RDRNet segmentor checkpoint (the authors' layout, train
    or deploy form, or repseg's own, which is only checked) to repseg keys.

    The size (``arch``: S, M or L; inferred when None) and form (``fused``:
    True for the fused, False for the multi-branch form, None for either)
    are checked against the weights (``RDRNetSizeMismatch``,
    ``RDRNetFormMismatch``). A fused checkpoint that kept the BNs outside
    its blocks (the authors' deploy form) has them folded
    (``fold_rdrnet_conv_bn``). The backbone part is then loaded strictly
    into a repseg ``RDRNet`` of that size and form, the decode head part
    into an ``RDRHead`` of its widths.

    Returns:
        (state_dict, arch, deploy): the converted weights, the size name
        and whether they are the fused form.
    """
    import torch

    from .models.backbones.rdrnet import RDRNet
    state = rdrnet_to_repseg_keys(unwrap_state_dict(checkpoint, source),
                                  source)
    fused_keys = any('.branch_reparam.' in k for k in state)
    branch_keys = any('.branch_3x3.' in k for k in state)
    if not (fused_keys or branch_keys):
        raise CheckpointConversionError(
            f'{source}: no RDRNet block weights (path_3x3 / reparam_3x3 of '
            'the authors\' code, branch_3x3 / branch_reparam of repseg\'s); '
            'a DDRNet or PIDNet checkpoint has the same branch names but '
            'other blocks')
    if fused_keys and branch_keys:
        raise RDRNetFormMismatch(f'{source}: the checkpoint mixes fused and '
                                 'multi-branch RDRNet blocks')
    deploy = fused_keys
    form = 'fused' if deploy else 'multi-branch'
    if fused is not None and fused != deploy:
        wanted = 'fused' if fused else 'multi-branch'
        raise RDRNetFormMismatch(
            f'{source}: a {form} RDRNet checkpoint, not the {wanted} form '
            'asked for' + (' (a fused model cannot be turned back into the '
                           'multi-branch form)' if deploy else
                           ' (fuse it with tools/deploy.py)'))
    found = infer_rdrnet_arch(state)
    name = rdrnet_arch_name(found)
    if name is None:
        raise RDRNetSizeMismatch(
            f'{source}: no RDRNet size has {found["channels"]} channels, '
            f'blocks {found["num_blocks"]} and {found["ppm_channels"]} RPPM '
            f'channels (sizes: {sorted(RDRNet.arch_settings)})')
    if arch is not None and arch != name:
        raise RDRNetSizeMismatch(
            f'{source}: an RDRNet-{name} checkpoint, not RDRNet-{arch}')
    head = state.get('decode_head.head.0.conv.weight')
    if head is not None and head.shape[1] != 4 * found['channels']:
        raise RDRNetSizeMismatch(
            f'{source}: the decode head takes {head.shape[1]} channels, '
            f'RDRNet-{name} gives {4 * found["channels"]}')
    if deploy and any(k.startswith(_BLOCKS_ONLY_FUSED) for k in state):
        state = fold_rdrnet_conv_bn(state, name, source)
    with torch.device('meta'):
        backbone = RDRNet(arch=name, deploy=deploy)
    backbone_state = {k[len('backbone.'):]: v for k, v in state.items()
                      if k.startswith('backbone.')}
    try:
        backbone.load_state_dict(backbone_state, strict=True, assign=True)
    except RuntimeError as err:
        raise CheckpointConversionError(
            f'{source}: the weights do not fit RDRNet-{name} ({form} form): '
            f'{err}') from err
    if any(k.startswith('decode_head.') for k in state):
        _load_rdrnet_head(state, deploy, source)
    return state, name, deploy


# Keys that only a fused checkpoint whose conv+BN pairs outside the blocks
# are not folded has: the authors' deploy form (their switch_to_deploy
# fuses the RBs and the RPPM's parallel convs, nothing else).
_BLOCKS_ONLY_FUSED = ('backbone.compression_1.bn.', 'backbone.down_1.bn.',
                      'decode_head.head.1.')


def _part(state: Dict[str, Tensor], prefix: str) -> Dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def _load_strict(module, state, what: str, source: str) -> None:
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise CheckpointConversionError(
            f'{source}: the weights do not fit {what}: {err}') from err


def _rdrnet_head(state: Dict[str, Tensor], deploy: bool, source: str):
    """An ``RDRHead`` (meta device) of the widths of the decode head
    weights in ``state`` (``decode_head.*`` keys stripped)."""
    from .models.backbones.rdrnet import RDRHead
    try:
        conv = state['head.0.conv.weight']
        classes = state['conv_seg.weight'].shape[0]
    except KeyError as err:
        raise CheckpointConversionError(
            f'{source}: no decode head weight decode_head.{err.args[0]}'
        ) from err
    import torch
    with torch.device('meta'):
        return RDRHead(in_channels=conv.shape[1], channels=conv.shape[0],
                       num_classes=classes, deploy=deploy,
                       norm_cfg=dict(type='BN', requires_grad=True))


def _load_rdrnet_head(state: Dict[str, Tensor], deploy: bool,
                      source: str) -> None:
    """Load the decode head weights strictly into an ``RDRHead`` of their
    widths and form (``CheckpointConversionError`` where they do not fit)."""
    head_state = _part(state, 'decode_head.')
    head = _rdrnet_head(head_state, deploy, source)
    form = 'fused' if deploy else 'multi-branch'
    _load_strict(head, head_state, f'an RDRHead ({form} form)', source)


def fold_rdrnet_conv_bn(state: Dict[str, Tensor], arch: str,
                        source: str = 'checkpoint') -> Dict[str, Tensor]:
    """Fold the BNs that a fused RDRNet checkpoint keeps outside its blocks
    (the authors' deploy form: bilateral fusion, Bottlenecks, the head's
    3x3 conv) into their convs, giving the state dict of repseg's
    ``RDRNet(deploy=True)`` and ``RDRHead(deploy=True)``.

    The folding is ``to_inference_form``'s: the weights are loaded into
    repseg's backbone with its blocks fused and its BNs kept, and into an
    ``RDRHead`` of their widths, and each is folded there (checked to
    ``repseg.equivalence.TOLERANCE``). The BN eps are the configs' (the
    authors'): 1e-3 in the backbone, 1e-5 in the head.
    """
    import torch

    from .models.backbones.rdrnet import RDRNet
    from .models.fusion import reparameterize_model, to_inference_form
    with torch.device('meta'):
        backbone = reparameterize_model(RDRNet(arch=arch), inplace=True)
    _load_strict(backbone, _part(state, 'backbone.'),
                 f'RDRNet-{arch} with fused blocks and unfolded BNs', source)
    to_inference_form(backbone, inplace=True)
    folded = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    head_state = _part(state, 'decode_head.')
    if head_state:
        head = _rdrnet_head(head_state, False, source)
        _load_strict(head, head_state, 'an RDRHead (unfolded BNs)', source)
        example = torch.zeros(1, head.in_channels, 8, 8)
        to_inference_form(head, example, inplace=True)
        folded.update({f'decode_head.{k}': v
                       for k, v in head.state_dict().items()})
    return folded
