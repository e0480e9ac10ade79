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
