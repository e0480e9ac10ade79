# PSPNet-RepVGG-B2 with the paper's recipe: global batch 16 (8 GPUs x 2),
# weight decay 1e-4, 40 epochs (7440 iterations).
_base_ = [
    './_base_/models/pspnet_repvgg.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_paper_7k.py'
]
pretrained_checkpoint = 'checkpoints/repvgg_b2_in1k.pth'
model = dict(
    backbone=dict(
        arch='B2',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint,
                      prefix='backbone.')),
    decode_head=dict(in_channels=2560),
    auxiliary_head=dict(in_channels=640))
