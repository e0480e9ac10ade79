# The ResNet baseline of the demo: mmsegmentation's PSPNet R-18-D8, sized like
# configs/demo/pspnet_repvgg_a0_demo.py so that tools/benchmark.py compares
# like with like: the same 128x256 crops and test size, the same output
# stride 16 (stage 4 dilated 2, as the demo's RepVGG-A0; mmseg's D8 dilates
# stages 3 and 4), BN instead of SyncBN, and no ImageNet download. The PSP
# head (128 channels) and the FCN auxiliary head (64) stay as mmseg has them,
# which is what the demo's RepVGG heads use too.
#
# tools/run_demo.py only times this model (untrained); it trains like the
# demo with `python tools/train.py configs/demo/pspnet_r18_demo.py` (from
# scratch: there is no pretrained backbone).
_base_ = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
data_root = 'data/demo_cityscapes'
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (128, 256)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))

# The demo's data pipelines (see configs/demo/pspnet_repvgg_a0_demo.py).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(512, 256), ratio_range=(0.4, 0.8),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# The demo's 300-iteration schedule.
max_iters = 300
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=50, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=150)
default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=2))
randomness = dict(seed=0)
