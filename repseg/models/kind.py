"""What kind of model a model is: the one place repseg decides it.

Three kinds, each called its own way at inference:

* ``'segmentor'``: an mmseg segmentor (``EncoderDecoder`` and its kind,
  an engine model standing in for one): ``model(x, mode='tensor')`` gives
  the decode head's logits, ``test_step`` gives ``SegDataSample`` s;
* ``'classifier'``: any other mmengine model (``RepVGGClassifier``, an
  engine model standing in for one): ``model(x, mode='tensor')`` gives
  the logits;
* ``'backbone'``: any other module (a bare ``RepVGG``): ``model(x)``.

``model_kind`` tells a built model, ``config_kind`` the model config it is
built from; the two agree.
"""
from typing import List

from torch import nn

SEGMENTOR = 'segmentor'
CLASSIFIER = 'classifier'
BACKBONE = 'backbone'
KINDS = (SEGMENTOR, CLASSIFIER, BACKBONE)


def model_kind(model: nn.Module) -> str:
    """``'segmentor'``, ``'classifier'`` or ``'backbone'`` (see above)."""
    if hasattr(model, 'decode_head') and hasattr(model, 'extract_feat'):
        return SEGMENTOR
    # mmengine's BaseModel: forward(inputs, data_samples, mode).
    if hasattr(model, 'data_preprocessor'):
        return CLASSIFIER
    return BACKBONE


def config_kind(model_cfg: dict) -> str:
    """The ``model_kind`` of the model that ``model_cfg`` (a config's
    ``model``) builds: a segmentor has a decode head, a classifier a
    backbone of its own; any other config builds a bare backbone."""
    if 'decode_head' in model_cfg:
        return SEGMENTOR
    if 'backbone' in model_cfg:
        return CLASSIFIER
    return BACKBONE


def auxiliary_heads(model: nn.Module) -> List[nn.Module]:
    """A segmentor's auxiliary heads (none, one or a ModuleList), as a
    list; none for the other kinds."""
    heads = getattr(model, 'auxiliary_head', None)
    if heads is None:
        return []
    return list(heads) if isinstance(heads, nn.ModuleList) else [heads]
