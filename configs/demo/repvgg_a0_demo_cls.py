# RepVGG-A0 classification pretraining on the built-in demo dataset
# (python tools/dataset_converters/make_demo_data.py imagenet data/demo_imagenet:
# windows of demo street scenes labelled with the 19 Cityscapes classes, 760
# training and 285 validation images of 40x40), 32x32 crops, on a 2-core
# CPU: 24 epochs of 24 iterations.
# Its last checkpoint, work_dirs/repvgg_a0_demo_cls/epoch_24.pth, initialises
# the backbone of the segmentation demo
# (configs/demo/pspnet_repvgg_a0_demo.py).
_base_ = '../imagenet/repvgg_a0_in1k.py'
data_root = 'data/demo_imagenet'
work_dir = 'work_dirs/repvgg_a0_demo_cls'
crop_size = 32
max_epochs = 24
model = dict(num_classes=19)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # A milder minimum area than ImageNet's 8%: at least half of each
    # image is its class, which smaller crops could miss.
    dict(type='RandomResizedCrop', scale=crop_size,
         crop_ratio_range=(0.5, 1.0)),
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
# Loading 40 px JPEGs is cheap next to the model: the main process does it,
# leaving the cores to torch.
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

# AdamW: in so short a schedule it ends more accurate than SGD (lr 0.02,
# momentum 0.9), and so does the segmentation model its backbone starts.
# fused=True: torch's one-kernel AdamW, quicker on a CPU than the default
# per-tensor loop.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=2, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=0, begin=2,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=12)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
