"""A small ImageNet-style dataset cut from the demo's own street scenes.

Each image is a square window of a scene drawn by ``repseg.demo.cityscapes``
(from seeds the segmentation demo does not use), labelled with the class
that covers at least half of it. The 19 classes are Cityscapes' training
classes, so the classifier learns the textures, colours and outlines the
segmentation demo must tell apart, and its backbone transfers (as ImageNet
features transfer to Cityscapes). Windows are as large as the class allows
(from 96 px down to 8 px of the 512x256 scene, for thin poles), resized to
the dataset's image size. The layout is ImageNet's: ``train/<class>/*.JPEG``,
``val/<class>/*.JPEG``, a folder per class (spaces written as ``_``).
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from ..datasets.cityscapes import label_id_to_train_id
from ..fileio import atomic_output
from .cityscapes import ALWAYS, SCHEDULE, TRAIN_CLASSES, render_scene

#: Class folder names, in trainId order.
CLASSES: Tuple[str, ...] = tuple(name.replace(' ', '_')
                                 for name in TRAIN_CLASSES)
SCENE_SIZE = (512, 256)  # the segmentation demo's image size (W, H)
WINDOW_SIDES = (96, 64, 48, 32, 24, 16, 12, 8)  # largest first
MIN_SHARE = 0.5  # of a window's pixels in its class
TRIES_PER_CLASS = 8  # random centre pixels tried per class and scene
WINDOWS_PER_SCENE = 2  # at most, per class: images from many scenes
# The segmentation demo's scenes use the split codes 0 (train) and 1 (val)
# of repseg.demo.cityscapes.writer; these scenes are drawn apart from them.
SPLIT_CODES = {'train': 2, 'val': 3}
MAX_SCENES = 400  # per split: a class that is still short raises
# Written last into the dataset root: the demo remakes a root without it
# (one drawn by an older version of this module, with other classes).
MARKER = 'demo_imagenet.json'


def _window_share(integral: np.ndarray, y0: int, x0: int, side: int) -> float:
    total = (integral[y0 + side, x0 + side] - integral[y0, x0 + side] -
             integral[y0 + side, x0] + integral[y0, x0])
    return total / (side * side)


def find_windows(train_ids: np.ndarray, class_index: int, rng,
                 limit: int) -> List[Tuple[int, int, int]]:
    """Up to ``limit`` windows ``(y0, x0, side)`` of the scene whose pixels
    are at least ``MIN_SHARE`` ``class_index``: around random pixels of the
    class, the largest side that qualifies."""
    mask = (train_ids == class_index).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return []
    height, width = mask.shape
    integral = cv2.integral(mask)
    windows = []
    for k in rng.integers(0, len(ys), TRIES_PER_CLASS):
        for side in WINDOW_SIDES:
            y0 = int(np.clip(ys[k] - side // 2, 0, height - side))
            x0 = int(np.clip(xs[k] - side // 2, 0, width - side))
            if _window_share(integral, y0, x0, side) >= MIN_SHARE:
                windows.append((y0, x0, side))
                break
        if len(windows) == limit:
            break
    return windows


def _draw_split(split: str, count: int, seed: int, image_size: int,
                progress: ProgressBar) -> Dict[str, List[np.ndarray]]:
    """``count`` BGR images per class, cut from as many scenes as needed."""
    lut = label_id_to_train_id()
    images: Dict[str, List[np.ndarray]] = {name: [] for name in CLASSES}
    for scene_index in range(MAX_SCENES):
        if all(len(found) == count for found in images.values()):
            return images
        # One generator per scene: a scene depends on (seed, split, index).
        rng = np.random.default_rng([seed, SPLIT_CODES[split], scene_index])
        required = set(ALWAYS) | set(SCHEDULE[scene_index % len(SCHEDULE)])
        _, rgb, label_ids, _, _ = render_scene(rng, *SCENE_SIZE, required)
        train_ids = lut[label_ids]
        for class_index, name in enumerate(CLASSES):
            wanted = min(WINDOWS_PER_SCENE, count - len(images[name]))
            if wanted <= 0:
                continue
            for y0, x0, side in find_windows(train_ids, class_index, rng,
                                             wanted):
                window = rgb[y0:y0 + side, x0:x0 + side, ::-1]
                interpolation = (cv2.INTER_AREA if side > image_size else
                                 cv2.INTER_LINEAR)
                images[name].append(cv2.resize(
                    window, (image_size, image_size),
                    interpolation=interpolation))
                progress.update()
    short = {name: len(found) for name, found in images.items()
             if len(found) < count}
    raise RuntimeError(f'make_demo_imagenet: {MAX_SCENES} {split} scenes '
                       f'hold too few windows of {short} (wanted {count})')


def make_demo_imagenet(out_dir,
                       seed: int = 0,
                       num_train_per_class: int = 40,
                       num_val_per_class: int = 15,
                       image_size: int = 40) -> Path:
    """Cut the demo dataset into ``out_dir`` (replaced only on success).

    Args:
        out_dir (str | Path): Dataset root to create, e.g.
            ``data/demo_imagenet``.
        seed (int): Seed; the same seed gives the same files. Defaults to 0.
        num_train_per_class (int): Training images per class. Defaults to 40.
        num_val_per_class (int): Validation images per class. Defaults to 15.
        image_size (int): Side of the square images. Defaults to 40.

    Returns:
        Path: ``out_dir``.
    """
    if image_size < 16:
        raise ValueError(f'make_demo_imagenet: image_size must be >= 16, got '
                         f'{image_size}')
    counts = {'train': num_train_per_class, 'val': num_val_per_class}
    out_dir = Path(out_dir)
    bar = ProgressBar(sum(counts.values()) * len(CLASSES))
    with atomic_output(out_dir) as tmp:
        for split, count in counts.items():
            drawn = _draw_split(split, count, seed, image_size, bar)
            for name, images in drawn.items():
                (tmp / split / name).mkdir(parents=True)
                for i, img in enumerate(images):
                    path = tmp / split / name / f'{name}_{split}_{i:04d}.JPEG'
                    if not cv2.imwrite(str(path), img,
                                       [cv2.IMWRITE_JPEG_QUALITY, 90]):
                        raise OSError(
                            f'make_demo_imagenet: cannot write {path}')
        (tmp / MARKER).write_text(json.dumps(dict(
            classes=list(CLASSES), seed=seed, image_size=image_size,
            num_train_per_class=num_train_per_class,
            num_val_per_class=num_val_per_class)))
    print(f'\nmake_demo_imagenet: {out_dir}: {len(CLASSES)} classes, '
          f'{num_train_per_class} train and {num_val_per_class} val images '
          f'each, {image_size}x{image_size}, cut from demo street scenes')
    return out_dir
