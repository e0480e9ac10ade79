# ImageNet-1k with AutoAugment (ImageNet policy) after crop and flip: the
# augmentation of the paper's 200-epoch recipe.
_base_ = './imagenet.py'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AutoAugment', policies='imagenet'),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
