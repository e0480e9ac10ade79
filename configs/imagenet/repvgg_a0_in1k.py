# RepVGG-A0 on ImageNet-1k, the paper's 120-epoch recipe (72.41 top-1).
# The other 120-epoch variants inherit this file and change the arch.
_base_ = [
    '../_base_/datasets/imagenet.py', '../_base_/schedules/imagenet_120e.py'
]
model = dict(
    type='RepVGGClassifier',
    backbone=dict(type='RepVGG', arch='A0', out_indices=(3, )),
    num_classes=1000)
