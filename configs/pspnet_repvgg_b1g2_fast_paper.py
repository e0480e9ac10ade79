# PSPNet-RepVGG-B1g2-fast with the paper's recipe (8 GPUs x 2, wd 1e-4,
# 7440 iterations).
_base_ = './pspnet_repvgg_b2_paper.py'
pretrained_checkpoint = 'checkpoints/repvgg_b1g2_in1k.pth'
model = dict(
    backbone=dict(
        arch='B1g2',
        num_dilated_blocks=(None, None, 4, None),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=2048),
    auxiliary_head=dict(in_channels=512))
