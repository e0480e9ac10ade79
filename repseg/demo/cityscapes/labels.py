"""The Cityscapes annotation of a scene: its polygon JSON, the labelIds,
instanceIds and colour maps that cityscapesscripts makes from it (as for
the real dataset), and the four ``*_gtFine_*`` files that hold them."""
import json

import cv2
import numpy as np
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from PIL import Image


def annotation_dict(objects, width, height):
    """The Cityscapes polygon JSON of a scene (a dict)."""
    return {'imgHeight': height, 'imgWidth': width,
            'objects': [{'label': obj.label,
                         'polygon': [list(p) for p in obj.points]}
                        for obj in objects]}


def to_annotation(objects, width, height):
    """The scene as cityscapesscripts' ``Annotation``, read from its JSON
    like a real ``*_gtFine_polygons.json``."""
    annotation = Annotation()
    annotation.fromJsonText(json.dumps(annotation_dict(objects, width,
                                                       height)))
    return annotation


def label_id_map(annotation):
    """labelIds (uint8 HxW), by cityscapesscripts' rasterizer."""
    return np.asarray(createLabelImage(annotation, 'ids'))


def instance_id_map(annotation):
    """instanceIds (class * 1000 + k for instance classes, else the
    labelId), by cityscapesscripts."""
    return np.asarray(createInstanceImage(annotation, 'ids'))


def colour_map(annotation):
    """The colour map (a PIL RGBA image), by cityscapesscripts."""
    return createLabelImage(annotation, 'color')


def write_gt(prefix, annotation, label_ids, instance_ids, colour):
    """Write ``{prefix}_polygons.json``, ``_labelIds.png``,
    ``_instanceIds.png`` and ``_color.png`` as Cityscapes stores them."""
    with open(f'{prefix}_polygons.json', 'w') as f:
        json.dump(annotation, f, indent=4)
    Image.fromarray(label_ids).save(f'{prefix}_labelIds.png')
    # Cityscapes stores instance ids (class * 1000 + k) as 16-bit PNGs; PIL
    # cannot write its 32-bit 'I' images as PNG, so cv2 writes the uint16.
    cv2.imwrite(f'{prefix}_instanceIds.png', instance_ids.astype(np.uint16))
    colour.save(f'{prefix}_color.png')
