# mmsegmentation's Cityscapes pipeline with 1024x1024 crops (scaled 0.5-2.0
# from 2048x1024, flipped, photometric distortion), 6 images per GPU (the
# RDRNet recipe: 2 GPUs x 6), evaluated with per-class IoU in the results.
_base_ = 'mmseg::_base_/datasets/cityscapes_1024x1024.py'
train_dataloader = dict(batch_size=6, num_workers=4)
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
