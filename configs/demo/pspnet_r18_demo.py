# The ResNet baseline of the demo: mmsegmentation's PSPNet R-18 (its
# pspnet_r18-d8 model) on the demo data and schedule of
# configs/demo/pspnet_repvgg_a0_demo.py, so that tools/analysis_tools/benchmark.py compares
# like with like: the same 128x256 crops and test size, the same output
# stride 16 (stage 4 dilated 2, as the demo's RepVGG-A0; mmseg's D8 dilates
# stages 3 and 4), BN instead of SyncBN, and no ImageNet download. The PSP
# head (128 channels) and the FCN auxiliary head (64) are mmseg's R-18 ones,
# which is what the demo's RepVGG heads use too.
#
# tools/run_demo.py trains it on the demo's schedule with `python
# tools/train.py configs/demo/pspnet_r18_demo.py` (from scratch: there is no
# pretrained backbone), evaluates it fused and times it (with random
# weights: speed does not depend on them).
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py',
    '../_base_/datasets/demo_cityscapes.py',
    '../_base_/schedules/demo_300i.py', '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 256)),
    pretrained=None,
    backbone=dict(
        depth=18,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=norm_cfg),
    # The demo's hard example mining and class weights
    # (configs/demo/pspnet_repvgg_a0_demo.py).
    decode_head=dict(
        in_channels=512,
        channels=128,
        norm_cfg=norm_cfg,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=20000),
        loss_decode=dict(type='ClassWeightedCrossEntropyLoss',
                         class_weight={{_base_.class_weight}})),
    auxiliary_head=dict(
        in_channels=256,
        channels=64,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='ClassWeightedCrossEntropyLoss',
                         class_weight={{_base_.class_weight}})))
