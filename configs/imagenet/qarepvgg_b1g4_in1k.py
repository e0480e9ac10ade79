# QARepVGG-B1g4 on ImageNet-1k: RepVGG-B1g4's config and 120-epoch recipe
# (./repvgg_b1g4_in1k.py) with the QARepVGG block (Chu et al., arXiv
# 2212.01593). The authors' own training recipe is not reproduced here.
_base_ = './repvgg_b1g4_in1k.py'
model = dict(backbone=dict(block_type='qarepvgg'))
