# PSPNet-RepVGG-B1-fast: B1g2-fast without groups (every 3x3 conv dense),
# the same network, data and schedule otherwise; beside B1g2-fast it times
# grouped against dense convs.
_base_ = [
    './_base_/models/pspnet_repvgg_b1.py', './_base_/datasets/cityscapes.py',
    './_base_/default_runtime.py', './_base_/schedules/seg_80k.py'
]
model = dict(backbone=dict(num_dilated_blocks=(None, None, 4, None)))
