"""An exported model in a deployment engine, standing where the PyTorch
model stood: the same config, data preprocessing, ``test_cfg`` and result
types, so ``inference_model`` and ``tools/test.py`` run it unchanged."""
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..backends import Backend
from ..models.fusion import is_segmentor
from .model import ConfigError, build_model, config_name


class ImageAsFeatures(nn.Module):
    """Stands in for the backbone: hands the preprocessed image on."""

    def forward(self, image: Tensor) -> Tuple[Tensor]:
        return (image, )


class EngineCall(nn.Module):
    """Stands in for the network the engine computes (the exported
    ``TensorForward``): the image batch in, the logits out."""

    def __init__(self, backend: Backend):
        super().__init__()
        self.backend = backend

    def forward(self, image) -> Tensor:
        if isinstance(image, (list, tuple)):
            image = image[0]
        return self.backend(image)[0].to(image.device)


def engine_model(cfg: Config, backend: Backend) -> nn.Module:
    """``cfg``'s model with its network replaced by ``backend``.

    The exported file computes what ``model(x, mode='tensor')`` computes:
    a segmentor's decode-head logits, a classifier's logits. So the model
    keeps what surrounds that call (data preprocessor, whole or slide
    inference, resizing, ``predict_by_feat``, result packing) and loses
    its layers. The engine is ``model.backend``.
    """
    model = build_model(cfg)
    call = EngineCall(backend)
    if is_segmentor(model):
        model.backbone = ImageAsFeatures()
        if getattr(model, 'with_neck', False):
            del model.neck
        head = model.decode_head
        for name, _ in list(head.named_children()):
            delattr(head, name)  # its layers run in the engine
        head.engine = call
        # An instance attribute wins over the class's method: the head's
        # predict() now takes the engine's logits.
        head.forward = call.forward
        model.auxiliary_head = None
    elif hasattr(model, 'head') and hasattr(model, 'backbone'):
        model.backbone = ImageAsFeatures()
        model.head = call
    else:
        raise ConfigError(f'config {config_name(cfg)!r}: '
                          f'{type(model).__name__} is neither a segmentor '
                          'nor a classifier; an engine cannot stand in for '
                          'it')
    model.backend = backend
    return model.eval()


@MODELS.register_module(name='EngineModel')
def build_engine_model(model: dict, file: str, default_scope: str = 'mmseg',
                       data_preprocessor: Optional[dict] = None
                       ) -> nn.Module:
    """``dict(type='EngineModel', model=<model config>, file=<exported
    file>)``: the registry's way to the engine model, so that a Runner
    (``tools/test.py``) builds and evaluates it like any model. (A Runner
    hands its config's ``data_preprocessor`` to every model it builds.)"""
    if data_preprocessor is not None:
        model = dict(model)
        model.setdefault('data_preprocessor', data_preprocessor)
    from ..backends import backend_for_file, load_backend
    engine = backend_for_file(file)
    if engine is None:
        raise ConfigError(f'{file}: not an exported model file of any '
                          'engine repseg runs')
    cfg = Config(dict(model=model, default_scope=default_scope))
    return engine_model(cfg, load_backend(engine, file,
                                          torch.get_num_threads()))
