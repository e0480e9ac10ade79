# RepVGG-B3 on ImageNet-1k, the paper's 200-epoch recipe (80.52 top-1):
# AutoAugment, label smoothing 0.1, mixup 0.2, 5 warm-up epochs, cosine.
# RepVGG-B2g4 and B3g4 inherit this file and change the arch.
_base_ = [
    '../_base_/datasets/imagenet_autoaug.py',
    '../_base_/schedules/imagenet_200e.py'
]
model = dict(
    type='RepVGGClassifier',
    backbone=dict(type='RepVGG', arch='B3', out_indices=(3, )),
    num_classes=1000,
    label_smoothing=0.1,
    mixup_alpha=0.2)
