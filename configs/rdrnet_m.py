# RDRNet-M on Cityscapes, the authors' recipe: 1024x1024 crops, 2 GPUs x 6
# images, 120k iterations of SGD with poly lr, from scratch.
_base_ = [
    './_base_/models/rdrnet_m.py', './_base_/datasets/cityscapes_1024x1024.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_120k.py'
]
