# PSPNet-RepVGG-A0 on the built-in Cityscapes-format demo data: trains on a
# 2-core CPU in a few minutes, so at output stride 16 (stage 4 dilated 2)
# on 128x256 crops. The backbone starts from the classification demo's
# checkpoint (configs/demo/repvgg_a0_demo_cls.py).
_base_ = [
    '../_base_/models/pspnet_repvgg_a0.py',
    '../_base_/datasets/demo_cityscapes.py',
    '../_base_/schedules/demo_300i.py', '../_base_/default_runtime.py'
]
pretrained_checkpoint = 'work_dirs/repvgg_a0_demo_cls/epoch_30.pth'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 256)),
    backbone=dict(
        strides=(2, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=norm_cfg,
        # Set again: the base read its own pretrained_checkpoint.
        init_cfg=dict(checkpoint=pretrained_checkpoint)),
    decode_head=dict(channels=128, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, norm_cfg=norm_cfg))
