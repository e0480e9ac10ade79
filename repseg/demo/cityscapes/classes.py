"""Which classes there are, and which ones every demo scene must show."""
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

# The 19 classes Cityscapes trains and evaluates on, in trainId order.
TRAIN_CLASSES = tuple(
    label.name
    for label in sorted(CITYSCAPES_LABELS, key=lambda item: item.trainId)
    if 0 <= label.trainId < 255)

# Every scene contains these; the rarer classes are scheduled so that each
# run of three consecutive scenes of a split shows all 19 (and random extras
# make most classes appear in most scenes).
ALWAYS = ('road', 'sidewalk', 'building', 'sky', 'vegetation', 'pole',
          'traffic sign', 'car', 'person')
SCHEDULE = (('truck', 'motorcycle', 'rider', 'wall', 'traffic light'),
            ('bus', 'bicycle', 'rider', 'fence', 'terrain'),
            ('train', 'bicycle', 'motorcycle', 'terrain', 'wall', 'fence',
             'traffic light'))
