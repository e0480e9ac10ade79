# mmsegmentation's 80k-iteration schedule (SGD lr 0.01, momentum 0.9,
# wd 5e-4, poly lr); validation and test report the fused model.
_base_ = 'mmseg::_base_/schedules/schedule_80k.py'
val_cfg = dict(type='ReparamValLoop')
test_cfg = dict(type='ReparamTestLoop')
