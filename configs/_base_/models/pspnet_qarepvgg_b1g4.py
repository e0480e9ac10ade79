# PSPNet-QARepVGG-B1g4: PSPNet-RepVGG-B1g4 (./pspnet_repvgg_b1g4.py: arch, head
# widths) with the QARepVGG block (Chu et al., arXiv 2212.01593) in every
# stage of the backbone.
_base_ = './pspnet_repvgg_b1g4.py'
# ImageNet-pretrained QARepVGG backbone: a repseg ImageNet checkpoint
# (configs/imagenet/qarepvgg_b1g4_in1k.py) or
# tools/model_converters/convert_checkpoint.py output of the authors' code.
pretrained_checkpoint = 'checkpoints/qarepvgg_b1g4_in1k.pth'
model = dict(
    backbone=dict(
        block_type='qarepvgg',
        init_cfg=dict(checkpoint=pretrained_checkpoint)))
