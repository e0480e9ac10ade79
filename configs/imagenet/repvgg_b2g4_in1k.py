# RepVGG-B2g4 on ImageNet-1k, the paper's 200-epoch recipe (the paper reports
# 79.38 top-1, Sec. 4.1).
_base_ = './repvgg_b3_in1k.py'
model = dict(backbone=dict(arch='B2g4'))
