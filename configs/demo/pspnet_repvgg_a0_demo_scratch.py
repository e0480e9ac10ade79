# PSPNet-RepVGG-A0 on the built-in Cityscapes-format demo data from random
# weights: ./pspnet_repvgg_a0_demo.py without its pretrained backbone, the
# same data and schedule, so that the demo shows what the classification
# pretraining adds.
_base_ = './pspnet_repvgg_a0_demo.py'
model = dict(backbone=dict(init_cfg=None))
