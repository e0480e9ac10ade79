# PSPNet-RepVGG-A0, output stride 8 with full dilation.
_base_ = './pspnet_repvgg_b2.py'
pretrained_checkpoint = 'checkpoints/repvgg_a0_in1k.pth'
model = dict(
    backbone=dict(
        arch='A0',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=1280),
    auxiliary_head=dict(in_channels=192))
