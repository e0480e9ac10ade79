# RepVGG-B1g2 on ImageNet-1k, the paper's 120-epoch recipe (the paper reports
# 77.78 top-1, Table 4).
_base_ = './repvgg_a0_in1k.py'
model = dict(backbone=dict(arch='B1g2'))
