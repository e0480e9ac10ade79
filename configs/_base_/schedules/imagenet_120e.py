# The RepVGG paper's ImageNet schedule (Ding et al., RepVGG, CVPR 2021,
# arXiv 2101.03697, Sec. 4.1): 120 epochs, SGD lr 0.1 (global batch 256),
# momentum 0.9, cosine decay, weight decay 1e-4 on conv and linear kernels
# only (none on BN parameters and biases).
# Also the classification runtime: the shared runtime is segmentation's
# (iteration-based logs, SegLocalVisualizer), classification runs by epoch.
_base_ = '../default_runtime.py'
max_epochs = 120
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, begin=0,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The lr above is for 8 GPUs x 32 images; --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=256)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
visualizer = dict(type='Visualizer')
