"""repseg's public face: build a model from a config, run it on images,
deploy it.

``init_model`` is the one way repseg's tools build models from configs (an
exported file gives an engine model, ``EngineSegmentor`` or
``EngineClassifier``, that behaves the same);
``inference_model`` and ``RepSegInferencer`` run it on a user's images and
videos; ``deploy`` writes the inference form and proves it equal to the
trained model; ``quantize`` adds its post-training INT8 form."""
from .deploy import DeployError, deploy, deploy_config
from .engine_model import EngineClassifier, EngineSegmentor
from .inference import ImageReadError, inference_model, read_image
from .inferencer import (InputError, RepSegInferencer, find_inputs,
                         run_inference)
from .model import (CheckpointMismatch, ConfigError, build_model, init_model,
                    load_model_config)
from .quantize import quantize

__all__ = [
    'CheckpointMismatch', 'ConfigError', 'DeployError', 'EngineClassifier',
    'EngineSegmentor', 'ImageReadError', 'InputError', 'RepSegInferencer',
    'build_model',
    'deploy', 'deploy_config', 'find_inputs', 'inference_model',
    'init_model', 'load_model_config', 'quantize', 'read_image',
    'run_inference'
]
