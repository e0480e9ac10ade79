# PSPNet with a RepVGG backbone at output stride 8 (full dilation scheme):
# mmsegmentation's PSPNet (pyramid bins 1, 2, 3, 6 on stage 4; FCN auxiliary
# head on stage 3 with loss weight 0.4) where only the backbone changes.
# No variant here: pspnet_repvgg_<variant>.py adds the arch, the head input
# widths that follow from it and the ImageNet checkpoint.
_base_ = 'mmseg::_base_/models/pspnet_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # Pads training batches to the crop size of mmseg's Cityscapes pipeline.
    data_preprocessor=dict(size=(512, 1024)),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='RepVGG',
        out_indices=(0, 1, 2, 3),
        # Every 3x3 layer of stage 3 dilated 2 and of stage 4 dilated 4 (the
        # "fast" scheme dilates fewer: see pspnet_repvgg_b2_fast.py).
        strides=(2, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False))
