# PSPNet-RepVGG-A0 on the built-in Cityscapes-format demo data: sized to
# train on a small CPU, so at output stride 16 (stage 4 dilated 2) on
# 128x256 crops. The backbone starts from the classification demo's
# checkpoint (configs/demo/repvgg_a0_demo_cls.py).
_base_ = [
    '../_base_/models/pspnet_repvgg_a0.py',
    '../_base_/datasets/demo_cityscapes.py',
    '../_base_/schedules/demo_300i.py', '../_base_/default_runtime.py'
]
pretrained_checkpoint = 'work_dirs/repvgg_a0_demo_cls/epoch_24.pth'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 256)),
    backbone=dict(
        strides=(2, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=norm_cfg,
        # Set again: the base read its own pretrained_checkpoint.
        init_cfg=dict(checkpoint=pretrained_checkpoint)),
    # Online hard example mining (the loss on the hardest pixels, at least
    # 20000 of a batch's 131072) and per-class weights (the dataset's
    # class_weight) lift the smaller classes that plain cross-entropy
    # leaves to the road, the buildings and the cars in so short a
    # schedule. configs/demo/pspnet_r18_demo.py trains the same way.
    decode_head=dict(
        channels=128,
        norm_cfg=norm_cfg,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=20000),
        loss_decode=dict(type='ClassWeightedCrossEntropyLoss',
                         class_weight={{_base_.class_weight}})),
    auxiliary_head=dict(
        channels=64,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='ClassWeightedCrossEntropyLoss',
                         class_weight={{_base_.class_weight}})))
