# ImageNet-1k, the RepVGG paper's augmentation (Ding et al., RepVGG, CVPR
# 2021, arXiv 2101.03697, Sec. 4.1): train RandomResizedCrop 224 + horizontal
# flip; test resize the shorter edge to 256, centre crop 224. Batch 32 per
# GPU: 256 on 8 GPUs. The normalisation is in _base_/models/repvgg_cls.py.
# Layout: data/imagenet/{train,val}/<class>/*.JPEG. For ImageNet's flat val
# folder use ann_file='meta/val.txt' ("<file> <label>" lines) in val_dataset.
dataset_type = 'ImageNetDataset'
data_root = 'data/imagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # max_size never binds: only the shorter edge is fixed, as in the paper.
    dict(type='ResizeShortestEdge', scale=256, max_size=1 << 16),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val'),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
