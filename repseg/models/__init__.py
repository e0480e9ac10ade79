from .backbones import *  # noqa: F401,F403
from .classifier import RepVGGClassifier
from .fusion import fold_conv_bn, fuse_conv_bn, reparameterize_model

__all__ = ['RepVGGClassifier', 'fold_conv_bn', 'fuse_conv_bn', 'reparameterize_model']
