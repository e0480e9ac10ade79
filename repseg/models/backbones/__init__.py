from .rdrnet import RPPM, RDRBlock, RDRHead, RDRNet, RepParallelConv
from .repvgg import (BLOCK_TYPES, BlockTypeMismatch, DeployFormMismatch,
                     QARepVGGBlock, RepVGG, RepVGGBlock, ReparamBlock)

__all__ = [
    'BLOCK_TYPES', 'BlockTypeMismatch', 'DeployFormMismatch', 'QARepVGGBlock',
    'RDRBlock', 'RDRHead', 'RDRNet', 'RPPM', 'RepParallelConv', 'RepVGG',
    'RepVGGBlock', 'ReparamBlock'
]
