# PSPNet-RepVGG-B2, output stride 8, every 3x3 layer of stage 3 dilated 2
# and of stage 4 dilated 4. Cityscapes 512x1024, 4 GPUs x 2, 80k iterations.
_base_ = [
    './_base_/models/pspnet_repvgg_b2.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_80k.py'
]
