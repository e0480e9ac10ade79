# mmsegmentation's Cityscapes pipeline (512x1024 crops, 2 images per GPU),
# evaluated with per-class IoU in the results.
_base_ = 'mmseg::_base_/datasets/cityscapes.py'
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
