# PSPNet-QARepVGG-A0 on the built-in Cityscapes-format demo data: the data,
# output stride, crops and schedule of ./pspnet_repvgg_a0_demo.py with the
# QARepVGG block. The backbone starts from the QARepVGG classification
# demo's checkpoint (configs/demo/qarepvgg_a0_demo_cls.py).
_base_ = './pspnet_repvgg_a0_demo.py'
pretrained_checkpoint = 'work_dirs/qarepvgg_a0_demo_cls/epoch_24.pth'
model = dict(
    backbone=dict(
        block_type='qarepvgg',
        init_cfg=dict(checkpoint=pretrained_checkpoint)))
