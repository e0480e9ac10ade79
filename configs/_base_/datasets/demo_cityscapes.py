# The built-in Cityscapes-format demo data
# (python tools/dataset_converters/make_demo_data.py cityscapes data/demo_cityscapes, then
# python tools/dataset_converters/cityscapes.py data/demo_cityscapes), sized for a
# 2-core CPU: 128x256 crops from images scaled to 40-80% of 512x256, tested
# at 256x128. Models using it set data_preprocessor size=(128, 256).
data_root = 'data/demo_cityscapes'
crop_size = (128, 256)
# Per-class loss weights of the demo's train split, from
# `python tools/analysis_tools/class_weights.py data/demo_cityscapes` (ENet's
# 1 / ln(1.10 + pixel share)): the demo models' ClassWeightedCrossEntropyLoss
# reads them. Without them the parts the vehicles share go to the most
# frequent one (the lower half of a bus to car); the weights lift the
# rarer classes.
class_weight = [
    2.71, 7.88, 3.18, 8.81, 8.35, 9.71, 10.34, 10.09, 6.25, 9.24, 7.48, 9.53,
    9.84, 6.99, 8.56, 9.08, 8.89, 9.17, 9.55
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(512, 256), ratio_range=(0.4, 0.8),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    # No PhotoMetricDistortion: the demo's classes differ by their colour
    # ranges, which its hue and saturation jitter blurs.
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
dataset = dict(type='CityscapesDataset', data_root=data_root)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        dataset,
        data_prefix=dict(img_path='leftImg8bit/train',
                         seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
