# RepVGG-A0 classification pretraining on the built-in demo dataset
# (python tools/dataset_converters/make_demo_data.py imagenet data/demo_imagenet: 10 classes,
# 600 training and 300 validation images of 80x80), 32x32 crops, on a 2-core
# CPU: 570 iterations. Its time and accuracy are in README.md ("ImageNet
# pretraining").
# Its last checkpoint, work_dirs/repvgg_a0_demo_cls/epoch_30.pth, initialises
# the backbone of the segmentation demo
# (configs/demo/pspnet_repvgg_a0_demo.py).
_base_ = '../imagenet/repvgg_a0_in1k.py'
data_root = 'data/demo_imagenet'
work_dir = 'work_dirs/repvgg_a0_demo_cls'
crop_size = 32
max_epochs = 30
model = dict(num_classes=10)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # A milder minimum area than ImageNet's 8%: the 80 px images hold one
    # object, which smaller crops would often miss.
    dict(type='RandomResizedCrop', scale=crop_size,
         crop_ratio_range=(0.35, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # 36 / 32, close to ImageNet's 256 / 224 test ratio.
    dict(type='ResizeShortestEdge', scale=36, max_size=1 << 16),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='PackClsInputs'),
]
# Loading 80 px JPEGs is cheap next to the model: the main process does it,
# leaving both cores to torch.
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# The paper's 0.1 per 256 images would be 0.0125 for batch 32; 0.05 learned
# faster but its loss blew up a few epochs in, and both this model and the
# segmentation demo started from it ended less accurate; 0.02 trains
# smoothly.
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=2, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=0, begin=2,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
