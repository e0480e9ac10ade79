# RepVGG-B3 on ImageNet-1k, the paper's 200-epoch recipe (the paper reports
# 80.52 top-1: Ding et al., RepVGG, CVPR 2021, arXiv 2101.03697, Sec. 4.1):
# AutoAugment, label smoothing 0.1, mixup 0.2, 5 warm-up epochs, cosine.
# RepVGG-B2g4 and B3g4 inherit this file and change the arch.
_base_ = [
    '../_base_/models/repvgg_cls.py', '../_base_/datasets/imagenet_autoaug.py',
    '../_base_/schedules/imagenet_200e.py'
]
model = dict(backbone=dict(arch='B3'), label_smoothing=0.1, mixup_alpha=0.2)
