# RDRNet-S. The head input width follows from the arch: DDRHead reads the
# backbone's 4c-channel output (tests/test_rdrnet.py checks it against the
# built backbone). Trained from scratch (the authors use no ImageNet
# pretraining).
_base_ = './rdrnet.py'
model = dict(
    backbone=dict(arch='S'),
    decode_head=dict(in_channels=128, channels=128))
