# PSPNet-RepVGG-B1g2, output stride 8 with full dilation.
_base_ = './pspnet_repvgg_b2.py'
pretrained_checkpoint = 'checkpoints/repvgg_b1g2_in1k.pth'
model = dict(
    backbone=dict(
        arch='B1g2',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=2048),
    auxiliary_head=dict(in_channels=512))
