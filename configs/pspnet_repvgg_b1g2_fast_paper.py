# PSPNet-RepVGG-B1g2-fast with the paper's recipe (8 GPUs x 2, wd 1e-4,
# 7440 iterations): the model of pspnet_repvgg_b1g2_fast.py, the schedule of
# pspnet_repvgg_b2_paper.py.
_base_ = [
    './_base_/models/pspnet_repvgg_b1g2.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_paper_7k.py'
]
# The fast scheme (see pspnet_repvgg_b2_fast.py).
model = dict(backbone=dict(num_dilated_blocks=(None, None, 4, None)))
