from .backbones import *  # noqa: F401,F403
from .classifier import RepVGGClassifier
from .fusion import (InferenceFormReport, fold_bn_into_kernel, fold_conv_bn,
                     reparameterize_model, to_inference_form)
from .kind import config_kind, model_kind
from .losses import ClassWeightedCrossEntropyLoss
from .tensor_forward import TensorForward

__all__ = [
    'ClassWeightedCrossEntropyLoss', 'InferenceFormReport',
    'RepVGGClassifier', 'TensorForward', 'config_kind',
    'fold_bn_into_kernel', 'fold_conv_bn', 'model_kind',
    'reparameterize_model', 'to_inference_form'
]
