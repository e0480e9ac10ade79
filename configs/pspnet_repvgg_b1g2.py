# PSPNet-RepVGG-B1g2, output stride 8 with full dilation; the data and
# schedule of pspnet_repvgg_b2.py.
_base_ = [
    './_base_/models/pspnet_repvgg_b1g2.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_80k.py'
]
