# The RepVGG paper's 200-epoch schedule: 5 linear warm-up epochs, then cosine
# decay (with AutoAugment, label smoothing 0.1 and mixup 0.2: see
# configs/imagenet/repvgg_b3_in1k.py).
_base_ = './imagenet_120e.py'
max_epochs = 200
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=warmup_epochs,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0, begin=warmup_epochs, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
