# PSPNet-QARepVGG-A0: PSPNet-RepVGG-A0 (./pspnet_repvgg_a0.py: arch, head
# widths) with the QARepVGG block (Chu et al., arXiv 2212.01593) in every
# stage of the backbone.
_base_ = './pspnet_repvgg_a0.py'
# ImageNet-pretrained QARepVGG backbone: a repseg ImageNet checkpoint
# (configs/imagenet/qarepvgg_a0_in1k.py) or
# tools/model_converters/convert_checkpoint.py output of the authors' code.
pretrained_checkpoint = 'checkpoints/qarepvgg_a0_in1k.pth'
model = dict(
    backbone=dict(
        block_type='qarepvgg',
        init_cfg=dict(checkpoint=pretrained_checkpoint)))
