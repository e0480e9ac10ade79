# The RepVGG paper's segmentation recipe (Ding et al., RepVGG, CVPR 2021,
# arXiv 2101.03697, Sec. 4.3): poly lr (base 0.01, power 0.9), weight decay
# 1e-4, global batch 16 (8 GPUs x 2), 40 epochs of Cityscapes train (2975
# images) = 7440 iterations.
_base_ = 'mmseg::_base_/schedules/schedule_80k.py'
max_iters = 7440
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=744)
default_hooks = dict(checkpoint=dict(interval=744))
val_cfg = dict(type='ReparamValLoop')
test_cfg = dict(type='ReparamTestLoop')
