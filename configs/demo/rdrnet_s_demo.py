# RDRNet-S on the built-in Cityscapes-format demo data, with the data, crops
# and schedule of configs/demo/pspnet_repvgg_a0_demo.py, from scratch. The
# two OHEM losses keep at least 20000 of a batch's 131072 pixels (as the
# PSPNet demo's sampler) and weigh the classes with the demo's weights.
_base_ = [
    '../_base_/models/rdrnet_s.py', '../_base_/datasets/demo_cityscapes.py',
    '../_base_/schedules/demo_300i.py', '../_base_/default_runtime.py'
]
demo_loss = dict(type='OhemCrossEntropy', thres=0.9, min_kept=20000,
                 class_weight={{_base_.class_weight}})
model = dict(
    data_preprocessor=dict(size=(128, 256)),
    decode_head=dict(loss_decode=[
        dict(demo_loss, loss_weight=1.0),
        dict(demo_loss, loss_weight=0.4),
    ]))
