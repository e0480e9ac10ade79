# PSPNet-RepVGG-B2 with the paper's recipe: global batch 16 (8 GPUs x 2),
# weight decay 1e-4, 40 epochs (7440 iterations). The model is
# pspnet_repvgg_b2.py's; only the schedule differs.
_base_ = [
    './_base_/models/pspnet_repvgg_b2.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_paper_7k.py'
]
