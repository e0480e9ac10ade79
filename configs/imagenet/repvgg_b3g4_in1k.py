# RepVGG-B3g4 on ImageNet-1k, the paper's 200-epoch recipe (the paper reports
# 80.21 top-1, Sec. 4.1).
_base_ = './repvgg_b3_in1k.py'
model = dict(backbone=dict(arch='B3g4'))
