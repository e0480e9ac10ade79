# QARepVGG-A0 classification pretraining on the built-in demo dataset: the
# data, crops and schedule of ./repvgg_a0_demo_cls.py with the QARepVGG
# block. Its last checkpoint, work_dirs/qarepvgg_a0_demo_cls/epoch_24.pth,
# initialises the backbone of configs/demo/pspnet_qarepvgg_a0_demo.py (a
# RepVGG-block checkpoint would not load into it: BlockTypeMismatch).
_base_ = './repvgg_a0_demo_cls.py'
work_dir = 'work_dirs/qarepvgg_a0_demo_cls'
model = dict(backbone=dict(block_type='qarepvgg'))
