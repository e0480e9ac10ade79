# The RDRNet (and DDRNet / PIDNet) schedule: 120k iterations of SGD (lr
# 0.01, momentum 0.9, wd 5e-4), poly lr to 0; validation every 12k on the
# fused model, seed 304.
_base_ = './seg_80k.py'
max_iters = 120000
interval = 12000
param_scheduler = [
    dict(type='PolyLR', eta_min=0., power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=interval)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=interval))
randomness = dict(seed=304)
