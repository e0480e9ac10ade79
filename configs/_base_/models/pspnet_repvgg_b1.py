# PSPNet-RepVGG-B1: B1g2's widths with dense 3x3 convs (no groups). The head
# input widths follow from the arch (tests/test_seg_configs.py checks them
# against the built backbone).
_base_ = './pspnet_repvgg.py'
# ImageNet-pretrained backbone: a repseg ImageNet checkpoint
# (configs/imagenet/repvgg_b1_in1k.py) or
# tools/model_converters/convert_checkpoint.py output.
pretrained_checkpoint = 'checkpoints/repvgg_b1_in1k.pth'
model = dict(
    backbone=dict(
        arch='B1',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=2048),
    auxiliary_head=dict(in_channels=512))
