# RepVGG-A0 on ImageNet-1k, the paper's 120-epoch recipe (the paper reports
# 72.41 top-1: Ding et al., RepVGG, CVPR 2021, arXiv 2101.03697, Table 4).
# The other 120-epoch variants inherit this file and change the arch.
_base_ = [
    '../_base_/models/repvgg_cls.py', '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_120e.py'
]
model = dict(backbone=dict(arch='A0'))
