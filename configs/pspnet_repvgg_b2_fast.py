# PSPNet-RepVGG-B2-fast: output stride 8, but only the last 5 layers dilated
# (the last 4 blocks of stage 3 and the block of stage 4), the paper's
# "fast" scheme (Ding et al., RepVGG, CVPR 2021, arXiv 2101.03697, Sec. 4.3).
_base_ = './pspnet_repvgg_b2.py'
model = dict(backbone=dict(num_dilated_blocks=(None, None, 4, None)))
