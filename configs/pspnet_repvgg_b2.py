# PSPNet-RepVGG-B2, output stride 8, every 3x3 layer of stage 3 dilated 2
# and of stage 4 dilated 4. Cityscapes 512x1024, 4 GPUs x 2, 80k iterations.
_base_ = [
    './_base_/models/pspnet_repvgg.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_80k.py'
]
# ImageNet-pretrained backbone: a repseg ImageNet checkpoint
# (configs/imagenet/repvgg_b2_in1k.py) or tools/model_converters/convert_checkpoint.py output.
pretrained_checkpoint = 'checkpoints/repvgg_b2_in1k.pth'
model = dict(
    backbone=dict(
        arch='B2',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=2560),
    auxiliary_head=dict(in_channels=640))
