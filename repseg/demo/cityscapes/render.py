"""Rendering: a scene is laid out, its label maps are made from its
annotation by cityscapesscripts, and the photo is painted through the same
PIL polygon rasterizer, so photo, JSON and label maps agree pixel for pixel.
"""
import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label
from PIL import Image, ImageDraw

from .builder import SceneBuilder
from .labels import (annotation_dict, colour_map, instance_id_map,
                     label_id_map, to_annotation)
from .painters import Grid

MAX_TRIES = 50


def paint_photo(objects, width, height, rng):
    """Paint the photo: each object's texture where it is visible."""
    # The same PIL rasterizer as cityscapesscripts' createLabelImage, with
    # the same drawing order, so each pixel shows the object it is labelled.
    index = Image.new('I', (width, height), 0)
    draw = ImageDraw.Draw(index)
    for k, obj in enumerate(objects, 1):
        draw.polygon(obj.points, fill=k)
    index = np.asarray(index)
    canvas = np.full((height, width, 3), 0.5, np.float32)
    for k, obj in enumerate(objects, 1):
        xs, ys = zip(*obj.points)
        box = (max(min(xs), 0), max(min(ys), 0), min(max(xs) + 1, width),
               min(max(ys) + 1, height))
        if box[0] >= box[2] or box[1] >= box[3]:
            continue
        visible = index[box[1]:box[3], box[0]:box[2]] == k
        if visible.any():
            rgb = obj.paint(Grid(obj, box, rng))
            canvas[box[1]:box[3], box[0]:box[2]][visible] = rgb[visible]
    return canvas, index


def develop(canvas, rng):
    """Camera look: exposure and white balance jitter, lens blur, noise."""
    gain = rng.uniform(0.75, 1.15) * (1 + rng.uniform(-0.06, 0.06, 3))
    image = cv2.GaussianBlur(canvas * gain.astype(np.float32), (3, 3), 0.6)
    image += rng.normal(0, 0.015, image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_scene(rng, width, height, required):
    """Draw one scene holding the ``required`` classes, each on at least a
    few pixels (layouts where one is hidden are drawn again).

    Returns:
        tuple: the annotation dict (Cityscapes JSON), the RGB image (uint8
        HxWx3) and the labelIds, instanceIds and colour maps made from the
        annotation by cityscapesscripts.
    """
    min_pixels = max(4, round(2e-4 * width * height))
    for _ in range(MAX_TRIES):
        objects = SceneBuilder(rng, width, height).build(required)
        annotation = to_annotation(objects, width, height)
        label_ids = label_id_map(annotation)
        counts = np.bincount(label_ids.ravel(), minlength=256)
        if all(counts[name2label[name].id] >= min_pixels
               for name in required):
            break
    else:
        raise RuntimeError(
            f'could not draw a {width}x{height} scene showing all of '
            f'{sorted(required)} in {MAX_TRIES} tries; use a larger size')
    canvas, index = paint_photo(objects, width, height, rng)
    ids_of_index = np.array([0] + [name2label[o.label].id for o in objects],
                            np.uint8)
    if not np.array_equal(ids_of_index[index], label_ids):
        raise RuntimeError('photo and cityscapesscripts label map disagree')
    return (annotation_dict(objects, width, height), develop(canvas, rng),
            label_ids, instance_id_map(annotation), colour_map(annotation))
