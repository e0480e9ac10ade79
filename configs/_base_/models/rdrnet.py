# RDRNet (the authors' segmentor): an RDRNet backbone and mmseg's DDRHead
# (as RDRHead: the same head and weights, with a fused form to deploy),
# whose two OHEM cross-entropy losses (pixels under 0.9 confidence, at least
# 131072 a batch, Cityscapes class weights) read the final 1/8 features
# (weight 1.0) and the detail branch after stage 4 (weight 0.4). BN momentum
# 0.03, eps 1e-3 in the backbone. No size here: rdrnet_<size>.py adds the
# arch and the head widths that follow from it.
rdrnet_norm_cfg = dict(type='BN', requires_grad=True, momentum=0.03, eps=1e-3)
ohem_class_weight = [
    0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786,
    1.0023, 0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529,
    1.0507
]
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        size=(1024, 1024),
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='RDRNet',
        norm_cfg=rdrnet_norm_cfg,
        align_corners=False),
    decode_head=dict(
        type='RDRHead',
        dropout_ratio=0.,
        num_classes=19,
        align_corners=False,
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=[
            dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072,
                 class_weight=ohem_class_weight, loss_weight=1.0),
            dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072,
                 class_weight=ohem_class_weight, loss_weight=0.4),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
