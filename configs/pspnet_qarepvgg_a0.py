# PSPNet-QARepVGG-A0, output stride 8 with full dilation; the data and
# schedule of pspnet_repvgg_b2.py. (The QARepVGG authors' segmentation
# configs use A0 and B1g4.)
_base_ = [
    './_base_/models/pspnet_qarepvgg_a0.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_80k.py'
]
