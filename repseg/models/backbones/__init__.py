from .repvgg import (BLOCK_TYPES, BlockTypeMismatch, DeployFormMismatch,
                     QARepVGGBlock, RepVGG, RepVGGBlock, ReparamBlock)

__all__ = [
    'BLOCK_TYPES', 'BlockTypeMismatch', 'DeployFormMismatch', 'QARepVGGBlock',
    'RepVGG', 'RepVGGBlock', 'ReparamBlock'
]
