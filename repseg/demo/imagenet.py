"""A small ImageNet-style dataset of procedurally drawn, learnable classes.

Each class is a shape or texture family drawn in its own hue (hues 36
degrees apart). Every image jitters what does not define the class (hue by
up to 20 degrees, so that neighbouring hues nearly meet and shape matters;
saturation, size, position, rotation, background, noise), so a model must
learn the family rather than memorize pixels. The layout is ImageNet's:
``train/<class>/*.JPEG``, ``val/<class>/*.JPEG``.
"""
import math
from pathlib import Path
from typing import Callable, Dict

import cv2
import numpy as np
from mmengine.utils import track_iter_progress

from ..fileio import atomic_output

# Painters draw the class pattern in ``colour`` onto ``img`` (in place).
# ``centre``, ``size`` (pixels) and ``angle`` (radians) are jittered per image.


def _polygon(img, centre, size, angle, colour, corners, inner=None):
    """A filled regular polygon, or a star when ``inner`` (radius ratio)."""
    steps = corners * (2 if inner else 1)
    radii = [size if i % 2 == 0 or not inner else size * inner
             for i in range(steps)]
    points = [(centre[0] + r * math.cos(angle + 2 * math.pi * i / steps),
               centre[1] + r * math.sin(angle + 2 * math.pi * i / steps))
              for i, r in enumerate(radii)]
    cv2.fillPoly(img, [np.round(points).astype(np.int32)], colour,
                 cv2.LINE_AA)


def _disc(img, centre, size, angle, colour, rng):
    cv2.circle(img, centre, int(size), colour, -1, cv2.LINE_AA)


def _ring(img, centre, size, angle, colour, rng):
    thickness = max(2, int(size * rng.uniform(0.2, 0.35)))
    cv2.circle(img, centre, int(size), colour, thickness, cv2.LINE_AA)


def _square(img, centre, size, angle, colour, rng):
    _polygon(img, centre, size, angle, colour, 4)


def _triangle(img, centre, size, angle, colour, rng):
    _polygon(img, centre, size, angle, colour, 3)


def _star(img, centre, size, angle, colour, rng):
    _polygon(img, centre, size, angle, colour, 5, inner=0.45)


def _cross(img, centre, size, angle, colour, rng):
    thickness = max(2, int(size * rng.uniform(0.3, 0.45)))
    for bar_angle in (angle, angle + math.pi / 2):
        dx, dy = size * math.cos(bar_angle), size * math.sin(bar_angle)
        cv2.line(img, (int(centre[0] - dx), int(centre[1] - dy)),
                 (int(centre[0] + dx), int(centre[1] + dy)), colour,
                 thickness, cv2.LINE_AA)


def _texture(img, colour, mask):
    img[mask] = colour


def _stripes(img, centre, size, angle, colour, rng):
    y, x = np.mgrid[:img.shape[0], :img.shape[1]]
    period = size * rng.uniform(0.3, 0.5)
    phase = (x * math.cos(angle) + y * math.sin(angle)) / period
    _texture(img, colour, (phase % 1) < 0.5)


def _checker(img, centre, size, angle, colour, rng):
    y, x = np.mgrid[:img.shape[0], :img.shape[1]]
    cell = size * rng.uniform(0.25, 0.4)
    _texture(img, colour, ((x // cell + y // cell) % 2).astype(bool))


def _dots(img, centre, size, angle, colour, rng):
    radius = max(2, int(size * rng.uniform(0.1, 0.15)))
    for _ in range(rng.integers(8, 16)):
        dot = tuple(int(v) for v in rng.integers(0, img.shape[1], 2))
        cv2.circle(img, dot, radius, colour, -1, cv2.LINE_AA)


def _waves(img, centre, size, angle, colour, rng):
    y, x = np.mgrid[:img.shape[0], :img.shape[1]]
    distance = np.hypot(x - centre[0], y - centre[1])
    _texture(img, colour, (distance / (size * 0.3)) % 1 < 0.5)


# class name -> (painter, hue in degrees); hues 36 degrees apart.
CLASSES: Dict[str, tuple] = {
    'disc': (_disc, 0),
    'square': (_square, 36),
    'triangle': (_triangle, 72),
    'ring': (_ring, 108),
    'cross': (_cross, 144),
    'stripes': (_stripes, 180),
    'checker': (_checker, 216),
    'dots': (_dots, 252),
    'star': (_star, 288),
    'waves': (_waves, 324),
}


def _bgr(hue: float, saturation: float, value: float) -> tuple:
    hsv = np.uint8([[[int(hue / 2) % 180, int(saturation * 255),
                      int(value * 255)]]])  # OpenCV hue is degrees / 2
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _background(rng, image_size: int) -> np.ndarray:
    """A random two-colour vertical or horizontal gradient."""
    start, end = rng.uniform(0, 255, (2, 3)) * rng.uniform(0.3, 0.8)
    ramp = np.linspace(0, 1, image_size)[:, None]
    rows = start + ramp * (end - start)
    img = np.repeat(rows[:, None, :], image_size, axis=1)
    return img.transpose(1, 0, 2) if rng.random() < 0.5 else img


def draw_image(painter: Callable, hue: float, rng,
               image_size: int) -> np.ndarray:
    """One BGR uint8 image of a class (painter + hue) with random jitter."""
    img = np.ascontiguousarray(_background(rng, image_size).astype(np.uint8))
    colour = _bgr(hue + rng.uniform(-20, 20), rng.uniform(0.6, 1.0),
                  rng.uniform(0.7, 1.0))
    size = image_size * rng.uniform(0.22, 0.38)
    margin = int(size * 0.8)
    centre = tuple(int(v) for v in rng.integers(margin, image_size - margin,
                                                2))
    painter(img, centre, size, rng.uniform(0, 2 * math.pi), colour, rng)
    noise = rng.normal(0, rng.uniform(3, 12), img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def make_demo_imagenet(out_dir,
                       seed: int = 0,
                       num_train_per_class: int = 60,
                       num_val_per_class: int = 30,
                       image_size: int = 80) -> Path:
    """Draw the demo dataset into ``out_dir`` (replaced only on success).

    Args:
        out_dir (str | Path): Dataset root to create, e.g.
            ``data/demo_imagenet``.
        seed (int): Seed; the same seed gives the same files. Defaults to 0.
        num_train_per_class (int): Training images per class. Defaults to 60.
        num_val_per_class (int): Validation images per class. Defaults to 30.
        image_size (int): Side of the square images. Defaults to 80.

    Returns:
        Path: ``out_dir``.
    """
    if image_size < 16:
        raise ValueError(f'make_demo_imagenet: image_size must be >= 16, got '
                         f'{image_size}')
    counts = {'train': num_train_per_class, 'val': num_val_per_class}
    jobs = [(split, split_index, name, class_index, i)
            for split_index, (split, count) in enumerate(counts.items())
            for class_index, name in enumerate(CLASSES)
            for i in range(count)]
    out_dir = Path(out_dir)
    with atomic_output(out_dir) as tmp:
        for split in counts:
            for name in CLASSES:
                (tmp / split / name).mkdir(parents=True)
        for split, split_index, name, class_index, i in track_iter_progress(
                jobs):
            # One generator per image: files do not depend on drawing order.
            rng = np.random.default_rng([seed, split_index, class_index, i])
            painter, hue = CLASSES[name]
            img = draw_image(painter, hue, rng, image_size)
            path = tmp / split / name / f'{name}_{split}_{i:04d}.JPEG'
            if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90]):
                raise OSError(f'make_demo_imagenet: cannot write {path}')
    print(f'make_demo_imagenet: {out_dir}: {len(CLASSES)} classes, '
          f'{num_train_per_class} train and {num_val_per_class} val images '
          f'each, {image_size}x{image_size}')
    return out_dir
