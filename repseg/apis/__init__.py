"""repseg's public face: build a model from a config, deploy it.

``init_model`` is the one way repseg's tools build models from configs;
``deploy`` writes the inference form and proves it equal to the trained
model."""
from .deploy import DeployError, deploy, deploy_config
from .model import (CheckpointMismatch, ConfigError, build_model, init_model,
                    load_model_config)

__all__ = [
    'CheckpointMismatch', 'ConfigError', 'DeployError', 'build_model',
    'deploy', 'deploy_config', 'init_model', 'load_model_config'
]
