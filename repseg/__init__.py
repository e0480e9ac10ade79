"""repseg: RepVGG for semantic segmentation on the OpenMMLab stack.

Importing repseg registers its models into mmsegmentation's registries
(scope ``mmseg``) and makes mmengine load checkpoints safely under
``torch.load(weights_only=True)`` (see ``repseg.checkpoint``).
"""
from . import checkpoint  # noqa: F401  (registers the safe loader)
from . import datasets  # noqa: F401  (registers datasets and transforms)
from . import engine  # noqa: F401  (registers the loops)
from . import evaluation  # noqa: F401  (registers the metrics)
from .models import *  # noqa: F401,F403
from .models.fusion import reparameterize_model, to_inference_form

__version__ = '0.1.0'
__all__ = ['reparameterize_model', 'to_inference_form']
