"""An exported model in a deployment engine, standing where the PyTorch
model stood: the same config, data preprocessing, ``test_cfg`` and result
types, so ``inference_model`` and ``tools/test.py`` run it unchanged.

The exported file computes what ``model(x, mode='tensor')`` computes
(``TensorForward``): a segmentor's decode-head logits, a classifier's
logits. ``EngineSegmentor`` and ``EngineClassifier`` hold what surrounds
that call and ask the engine (``model.backend``) for the logits. The one
way to build them is the registry's ``EngineModel``
(``engine_model_cfg``), which ``init_model`` and a Runner both take.
"""
from typing import List, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmseg.models.segmentors import BaseSegmentor, EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..backends import Backend
from ..engines import backend_for_file, load_backend
from ..engine.config import ConfigError
from ..models.classifier import RepVGGClassifier
from ..models.kind import CLASSIFIER, SEGMENTOR, config_kind

#: The registry name of the engine model.
ENGINE_MODEL = 'EngineModel'


def engine_model_cfg(model_cfg: dict, file: str,
                     precision: Optional[str] = None) -> dict:
    """The model config of the engine model running the exported ``file``
    of ``model_cfg``'s model in ``precision`` (None: the file's own; what
    ``tools/test.py`` writes too)."""
    return dict(type=ENGINE_MODEL, model=model_cfg, file=str(file),
                precision=precision)


def engine_logits(backend: Backend, image: Tensor) -> Tensor:
    """The exported network's output for an image batch, on its device."""
    return backend(image)[0].to(image.device)


def head_without_weights(head_cfg: dict) -> nn.Module:
    """The decode head of ``head_cfg`` built on the meta device: its
    ``predict_by_feat``, ``align_corners``, ``out_channels`` and
    ``threshold`` as mmseg sets them, and no weights."""
    with torch.device('meta'):
        return MODELS.build(head_cfg)


class EngineSegmentor(BaseSegmentor):
    """An mmseg ``EncoderDecoder`` whose network runs in an engine.

    Whole and slide inference, resizing to each image's original shape and
    the ``SegDataSample`` s (``pred_sem_seg``, ``seg_logits``) are mmseg's
    own; the decode head's ``predict_by_feat`` turns the engine's logits
    into the segmentation logits of each window.

    Args:
        model_cfg (dict): The config's segmentor (``EncoderDecoder``).
        backend (Backend): The exported file, loaded in its engine.
    """
    # EncoderDecoder's inference around ``encode_decode``; the result
    # packing (``postprocess_result``) is BaseSegmentor's.
    predict = EncoderDecoder.predict
    inference = EncoderDecoder.inference
    whole_inference = EncoderDecoder.whole_inference
    slide_inference = EncoderDecoder.slide_inference
    aug_test = EncoderDecoder.aug_test

    def __init__(self, model_cfg: dict, backend: Backend):
        super().__init__(
            data_preprocessor=model_cfg.get('data_preprocessor'))
        head = model_cfg.get('decode_head')
        if not isinstance(head, dict):
            raise ConfigError('an engine model takes a segmentor with one '
                              f'decode head, got {head!r}')
        head = head_without_weights(head)
        # Not a submodule: moving the model to a device, its state dict
        # and its parameters never meet the weightless head.
        self.__dict__['decode_head'] = head
        self.align_corners = head.align_corners
        self.num_classes = head.num_classes
        self.out_channels = head.out_channels
        test_cfg = model_cfg.get('test_cfg')
        self.test_cfg = None if test_cfg is None else ConfigDict(test_cfg)
        self.backend = backend

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """What the exported file computes: the decode head's logits."""
        return engine_logits(self.backend, inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        return self.decode_head.predict_by_feat(self._forward(inputs),
                                                batch_img_metas)

    def extract_feat(self, inputs: Tensor):
        raise NotImplementedError('an engine model computes its network '
                                  'whole: it has no features to extract')

    def loss(self, inputs: Tensor, data_samples) -> dict:
        raise NotImplementedError('an engine model only predicts')


class EngineClassifier(BaseModel):
    """A ``RepVGGClassifier`` whose network runs in an engine:
    ``mode='tensor'`` gives the engine's logits, ``mode='predict'`` the
    data samples with ``pred_score`` and ``pred_label``, packed by
    ``RepVGGClassifier.predict`` itself.

    Args:
        model_cfg (dict): The config's classifier.
        backend (Backend): The exported file, loaded in its engine.
    """
    predict = RepVGGClassifier.predict

    def __init__(self, model_cfg: dict, backend: Backend):
        super().__init__(
            data_preprocessor=model_cfg.get('data_preprocessor'))
        self.backend = backend

    def forward(self, inputs: Tensor, data_samples=None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return engine_logits(self.backend, inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'EngineClassifier: mode {mode!r}: an engine '
                         "model only predicts ('tensor' or 'predict')")


#: The engine model of each model kind, and the model class it stands for.
ENGINE_MODELS = {
    SEGMENTOR: (EngineSegmentor, EncoderDecoder),
    CLASSIFIER: (EngineClassifier, RepVGGClassifier),
}


@MODELS.register_module(name=ENGINE_MODEL)
def build_engine_model(model: dict, file: str,
                       data_preprocessor: Optional[dict] = None,
                       precision: Optional[str] = None) -> nn.Module:
    """``dict(type='EngineModel', model=<model config>, file=<exported
    file>, precision=None)``: ``file`` loaded in its engine (on the CPU,
    with torch's thread count, computing in ``precision``, None for the
    file's own) inside the engine model of ``model``'s kind, in eval
    mode. A Runner hands its config's ``data_preprocessor`` to every model
    it builds; the model's own wins."""
    model = dict(model)
    if data_preprocessor is not None:
        model.setdefault('data_preprocessor', data_preprocessor)
    kind = config_kind(model)
    model_class = MODELS.get(model.get('type'))
    if kind not in ENGINE_MODELS or model_class is None or not issubclass(
            model_class, ENGINE_MODELS[kind][1]):
        raise ConfigError(
            f'{model.get("type")!r} is neither an EncoderDecoder segmentor '
            'nor a RepVGGClassifier; an engine cannot stand in for it')
    engine = backend_for_file(file)
    if engine is None:
        raise ConfigError(f'{file}: not an exported model file of any '
                          'engine repseg runs')
    backend = load_backend(engine, file, torch.get_num_threads(), precision)
    return ENGINE_MODELS[kind][0](model, backend).eval()
