from .backbones import *  # noqa: F401,F403
from .fusion import fold_conv_bn, fuse_conv_bn, reparameterize_model

__all__ = ['fold_conv_bn', 'fuse_conv_bn', 'reparameterize_model']
