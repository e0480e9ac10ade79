# PSPNet-RepVGG-B1g2-fast: only the last 5 layers dilated.
_base_ = './pspnet_repvgg_b1g2.py'
model = dict(backbone=dict(num_dilated_blocks=(None, None, 4, None)))
