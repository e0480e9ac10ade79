# PSPNet with a RepVGG backbone at output stride 8 (full dilation scheme):
# mmsegmentation's PSPNet (pyramid bins 1, 2, 3, 6 on stage 4; FCN auxiliary
# head on stage 3 with loss weight 0.4) where only the backbone changes.
_base_ = 'mmseg::_base_/models/pspnet_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # Pads training batches to the crop size of mmseg's Cityscapes pipeline.
    data_preprocessor=dict(size=(512, 1024)),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='RepVGG',
        arch='B2',
        out_indices=(0, 1, 2, 3),
        strides=(2, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False),
    decode_head=dict(in_channels=2560),
    auxiliary_head=dict(in_channels=640))
