"""The dataset writer: ``make_demo_cityscapes`` spreads the scenes over the
splits and cities and writes each in the exact Cityscapes layout, the whole
folder at once."""
import json
import time
from functools import partial
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import numpy as np
from mmengine.utils import track_progress

from repseg.fileio import atomic_output
from .classes import ALWAYS, SCHEDULE
from .labels import write_gt
from .render import render_scene

CITIES = {'train': ('aachen', 'bremen', 'zurich'),
          'val': ('frankfurt', 'lindau', 'munster')}
SPLIT_CODES = {'train': 0, 'val': 1}
FRAME = 19  # gtFine annotates the 20th frame of each 30-frame snippet.
MARKER = 'demo_cityscapes.json'  # marks a folder this module may overwrite


class _Sample(NamedTuple):
    split: str
    city: str
    sequence: int
    index: int  # within the split

    @property
    def stem(self):
        return f'{self.city}_{self.sequence:06d}_{FRAME:06d}'


def _samples(split, count):
    """Spread ``count`` scenes over the split's cities."""
    cities = CITIES[split][:max(2, min(len(CITIES[split]), count))]
    samples, next_sequence = [], dict.fromkeys(cities, 0)
    for index in range(count):
        city = cities[index * len(cities) // count]
        samples.append(_Sample(split, city, next_sequence[city], index))
        next_sequence[city] += 1
    return samples


def _write_sample(sample, root, seed, size):
    width, height = size
    # One generator per scene: a scene depends on (seed, split, index) only.
    rng = np.random.default_rng([seed, SPLIT_CODES[sample.split],
                                 sample.index])
    required = set(ALWAYS) | set(SCHEDULE[sample.index % len(SCHEDULE)])
    annotation, image, label_ids, instance_ids, colour = render_scene(
        rng, width, height, required)
    image_dir = Path(root, 'leftImg8bit', sample.split, sample.city)
    label_dir = Path(root, 'gtFine', sample.split, sample.city)
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(image_dir / f'{sample.stem}_leftImg8bit.png'),
                image[..., ::-1])
    write_gt(label_dir / f'{sample.stem}_gtFine', annotation, label_ids,
             instance_ids, colour)
    return np.bincount(label_ids.ravel(), minlength=256)


def _check_out_dir(out_dir):
    """Refuse to replace a folder this module did not make (e.g. the real
    Cityscapes): the demo replaces its output folder as a whole."""
    if out_dir.exists() and (not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / MARKER).is_file())):
        raise FileExistsError(
            f"'{out_dir}' exists and is not a demo made by "
            'make_demo_cityscapes (no ' + MARKER + '); remove it or choose '
            'another folder')


def _check_args(num_train, num_val, size):
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) for v in size)
            or size[0] < 64 or size[1] < 32):
        raise ValueError('size must be (width, height) ints of at least '
                         f'(64, 32), got {size!r}')


def make_demo_cityscapes(out_dir, seed=0, num_train=48, num_val=16,
                         size=(512, 256)):
    """Draw a small Cityscapes-format dataset of street-like scenes.

    Writes ``leftImg8bit/{train,val}/{city}/{stem}_leftImg8bit.png`` and
    ``gtFine/{split}/{city}/{stem}_gtFine_{polygons.json,labelIds.png,
    instanceIds.png,color.png}`` with stems ``{city}_{seq:06d}_000019``,
    exactly like Cityscapes; run ``tools/dataset_converters/cityscapes.py``
    on it next.
    All 19 training classes occur in every split of three or more scenes;
    'ego vehicle' and 'static' polygons give void (ignored) pixels. The
    whole folder is written under a temporary name and renamed at the end.

    Args:
        out_dir (str | Path): dataset root to create. An existing folder is
            replaced only if it is a previous demo.
        seed (int): random seed; a scene depends only on the seed, its split
            and its index, so the output is identical for a given seed.
        num_train (int): number of training scenes. Defaults to 48.
        num_val (int): number of validation scenes. Defaults to 16.
        size (tuple[int, int]): (width, height) of the images, at least
            (64, 32). Defaults to (512, 256).

    Returns:
        dict: ``{split: per-label-id pixel counts (array of 256)}``.
    """
    _check_args(num_train, num_val, size)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    samples = _samples('train', num_train) + _samples('val', num_val)
    start = time.perf_counter()
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        with open(tmp / MARKER, 'w') as f:
            json.dump(dict(generator='repseg.demo.make_demo_cityscapes',
                           seed=seed, num_train=num_train, num_val=num_val,
                           size=list(size)), f, indent=4)
        counts = track_progress(
            partial(_write_sample, root=tmp, seed=seed, size=tuple(size)),
            samples)
    pixels = {split: sum(c for s, c in zip(samples, counts)
                         if s.split == split) for split in SPLIT_CODES}
    print(f'make_demo_cityscapes: {num_train} train + {num_val} val scenes '
          f'of {size[0]}x{size[1]} in {out_dir} '
          f'({time.perf_counter() - start:.1f} s); next: python '
          f'tools/dataset_converters/cityscapes.py {out_dir}')
    return pixels
