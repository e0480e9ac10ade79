"""Cityscapes on disk: turning the polygon annotations into the label maps
mmseg's ``CityscapesDataset`` reads, and checking that a root is ready.

The layout is the official one (the demo from
``tools/dataset_converters/make_demo_data.py`` has it too)::

    ROOT/leftImg8bit/{train,val,test}/CITY/CITY_SEQ_FRAME_leftImg8bit.png
    ROOT/gtFine/{train,val,test}/CITY/CITY_SEQ_FRAME_gtFine_polygons.json

``convert_cityscapes`` adds ``*_gtFine_labelTrainIds.png`` beside every
polygon file and the split lists ``ROOT/{train,val,test}.txt``, as
mmsegmentation's own ``tools/dataset_converters/cityscapes.py`` does.
``label_id_to_train_id`` and ``train_id_colours_bgr`` map labelIds to
trainIds and trainIds to the Cityscapes palette, e.g. to show predictions.
"""
import os
from pathlib import Path

import mmcv
import mmengine
import numpy as np
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from mmengine.utils import track_parallel_progress, track_progress

from repseg.datasets.imagenet import DatasetLayoutError
from repseg.errors import RepSegError
from repseg.fileio import atomic_output

__all__ = ['DatasetArgumentError', 'DatasetLayoutError',
           'DatasetNotReadyError', 'IGNORE_INDEX', 'check_cityscapes',
           'class_weights', 'convert_cityscapes', 'label_id_to_train_id',
           'train_id_colours_bgr', 'write_split_lists']

SPLITS = ('train', 'val', 'test')
# The suffixes mmseg's CityscapesDataset expects by default.
IMG_SUFFIX = '_leftImg8bit.png'
POLYGON_SUFFIX = '_gtFine_polygons.json'
TRAIN_IDS_SUFFIX = '_gtFine_labelTrainIds.png'
# The trainId of pixels that are not evaluated (mmseg's ignore_index).
IGNORE_INDEX = 255
# class_weights' default ENet offset (see there).
CLASS_WEIGHT_OFFSET = 1.10


class DatasetNotReadyError(RepSegError, FileNotFoundError):
    """A dataset is missing or not converted; the message names the path
    and the command that fixes it."""


class DatasetArgumentError(RepSegError, ValueError):
    """An argument of the dataset tools out of its range; the message
    names it (``nproc``, ``offset``)."""


def _make_hint(root):
    return ('run `python tools/dataset_converters/make_demo_data.py '
            f'cityscapes {root}` for the demo, or see data/README.md to '
            'get Cityscapes')


def _convert_hint(root):
    return f'run `python tools/dataset_converters/cityscapes.py {root}`'


def _polygon_files(split_dir):
    """Polygon annotation paths under split_dir, relative to it, sorted."""
    return sorted(mmengine.scandir(str(split_dir), POLYGON_SUFFIX,
                                   recursive=True))


def _load_annotation(json_path):
    """Read a polygon file; ``DatasetLayoutError`` naming the file when it
    is not one: cityscapesscripts itself raises bare KeyErrors, or exits the
    process on unknown labels."""
    annotation = Annotation()
    try:
        with open(json_path) as f:
            annotation.fromJsonText(f.read())
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise DatasetLayoutError(f"'{json_path}' is not a Cityscapes "
                                 f'polygon annotation: {error!r}') from error
    for obj in annotation.objects:
        name = obj.label
        if name not in name2label and name.endswith('group'):
            name = name[:-len('group')]  # e.g. 'cargroup' counts as 'car'
        if name not in name2label:
            raise DatasetLayoutError(
                f"'{json_path}': unknown Cityscapes label '{obj.label}'")
    return annotation


def json_to_train_ids(json_path):
    """Write ``*_gtFine_labelTrainIds.png`` beside one polygon file (under a
    temporary name, renamed when complete)."""
    json_path = str(json_path)
    label = createLabelImage(_load_annotation(json_path), 'trainIds')
    out_path = json_path[:-len(POLYGON_SUFFIX)] + TRAIN_IDS_SUFFIX
    with atomic_output(out_path) as tmp:
        label.save(tmp, format='PNG')


def write_split_lists(data_root):
    """Write ``{split}.txt`` in data_root for every split folder of gtFine
    holding polygon files: one ``city/city_seq_frame`` stem per line, sorted.

    Returns:
        dict: ``{split: number of stems}``.
    """
    root = Path(data_root)
    counts = {}
    for split in SPLITS:
        split_dir = root / 'gtFine' / split
        stems = [path[:-len(POLYGON_SUFFIX)]
                 for path in _polygon_files(split_dir)] \
            if split_dir.is_dir() else []
        if not stems:
            continue
        with atomic_output(root / f'{split}.txt') as tmp:
            tmp.write_text(''.join(f'{stem}\n' for stem in stems))
        counts[split] = len(stems)
    return counts


def convert_cityscapes(data_root, nproc=1):
    """Convert every ``gtFine/**/*_gtFine_polygons.json`` under data_root
    into ``*_gtFine_labelTrainIds.png`` (the 19 training classes as 0..18,
    everything else 255) and write the split lists (see
    :func:`write_split_lists`).

    Args:
        data_root (str | Path): the Cityscapes root (holds ``gtFine``).
        nproc (int): worker processes. Defaults to 1.

    Returns:
        dict: ``{split: number of stems}`` of the split lists written.
    """
    root = Path(data_root)
    gt_dir = root / 'gtFine'
    if not root.is_dir():
        raise DatasetNotReadyError(
            f"Cityscapes root '{root}' not found: {_make_hint(root)}")
    if not isinstance(nproc, int) or nproc < 1:
        raise DatasetArgumentError(
            f'nproc must be a positive int, got {nproc!r}')
    files = ([str(gt_dir / path) for path in _polygon_files(gt_dir)]
             if gt_dir.is_dir() else [])
    if not files:
        raise DatasetNotReadyError(
            f"no '*{POLYGON_SUFFIX}' annotations under '{gt_dir}': "
            f'{_make_hint(root)}')
    if nproc > 1:
        track_parallel_progress(json_to_train_ids, files, nproc)
    else:
        track_progress(json_to_train_ids, files)
    counts = write_split_lists(root)
    lists = ', '.join(f'{split}.txt ({n})' for split, n in counts.items())
    print(f"convert_cityscapes: wrote {len(files)} '*{TRAIN_IDS_SUFFIX}' "
          f"under '{gt_dir}'; split lists in '{root}': {lists}")
    return counts


def check_cityscapes(data_root, splits=('train', 'val')):
    """Check that data_root is a converted Cityscapes root, before any model
    is built: every ``leftImg8bit/{split}/*/*_leftImg8bit.png`` has its
    ``gtFine/{split}/*/*_gtFine_labelTrainIds.png``.

    Args:
        data_root (str | Path): the Cityscapes root.
        splits (Sequence[str] | str): the splits to check.

    Returns:
        dict: ``{split: number of images}``.

    Raises:
        DatasetNotReadyError: naming the missing path and the command that
            makes it (the demo maker, or the converter).
    """
    root = Path(data_root)
    if not root.is_dir():
        raise DatasetNotReadyError(
            f"Cityscapes root '{root}' not found: {_make_hint(root)}")
    counts = {}
    for split in (splits, ) if isinstance(splits, str) else splits:
        img_dir = root / 'leftImg8bit' / split
        ann_dir = root / 'gtFine' / split
        images = sorted(img_dir.glob(f'*/*{IMG_SUFFIX}'))
        if not images:
            raise DatasetNotReadyError(
                f"no '*{IMG_SUFFIX}' images in '{img_dir}/<city>/': "
                f'{_make_hint(root)}')
        missing = [ann_dir / image.parent.name /
                   (image.name[:-len(IMG_SUFFIX)] + TRAIN_IDS_SUFFIX)
                   for image in images]
        missing = [path for path in missing if not path.is_file()]
        if missing:
            first = str(missing[0])[:-len(TRAIN_IDS_SUFFIX)] + POLYGON_SUFFIX
            if not os.path.isfile(first):
                raise DatasetNotReadyError(
                    f"no annotation '{first}' for an image of '{img_dir}': "
                    f'{_make_hint(root)}')
            raise DatasetNotReadyError(
                f'{len(missing)} of {len(images)} label maps missing in '
                f"'{ann_dir}' (e.g. '{missing[0]}'): {_convert_hint(root)}")
        counts[split] = len(images)
    return counts


def class_weights(data_root, split='train', num_classes=19,
                  offset=CLASS_WEIGHT_OFFSET):
    """Per-class loss weights from a converted split's label maps, ENet's
    rule ``1 / ln(offset + p)`` with ``p`` the class's share of the labelled
    pixels (arXiv:1606.02147; 1.02 there, which spreads Cityscapes' weights
    over ~15x: 1.10 keeps them within ~4x, like mmseg's Cityscapes weights
    for CGNet). A class with no pixel gets the largest weight, ``1/ln(offset)``.

    Returns:
        list[float]: ``num_classes`` weights, rounded to 2 decimals, for a
        config's ``class_weight``.
    """
    if offset <= 1:
        raise DatasetArgumentError(f'offset must be > 1 (1/ln(offset) '
                                   f'bounds the weights), got {offset!r}')
    ann_dir = Path(data_root) / 'gtFine' / split
    label_maps = sorted(ann_dir.glob(f'*/*{TRAIN_IDS_SUFFIX}'))
    if not label_maps:
        raise DatasetNotReadyError(
            f"no '*{TRAIN_IDS_SUFFIX}' label maps in '{ann_dir}/<city>/': "
            f'{_convert_hint(data_root)}')
    counts = np.zeros(256, dtype=np.int64)
    for path in label_maps:
        label = mmcv.imread(str(path), flag='unchanged')
        if label is None or label.ndim != 2:
            raise DatasetLayoutError(
                f"'{path}' is not a single-channel label map")
        counts += np.bincount(label.ravel(), minlength=256)
    share = counts[:num_classes] / max(1, counts[:num_classes].sum())
    return [round(float(w), 2) for w in 1 / np.log(offset + share)]


def label_id_to_train_id() -> np.ndarray:
    """A lookup table from Cityscapes labelIds to trainIds (IGNORE_INDEX:
    not evaluated), from cityscapesscripts' own label definitions."""
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if 0 <= label.id < 256 and 0 <= label.trainId < IGNORE_INDEX:
            table[label.id] = label.trainId
    return table


def train_id_colours_bgr() -> np.ndarray:
    """The colour of every trainId as BGR (cv2's order), from mmseg's
    Cityscapes palette; IGNORE_INDEX and unused ids black."""
    from mmseg.datasets import CityscapesDataset
    palette = np.zeros((256, 3), dtype=np.uint8)
    rgb = np.array(CityscapesDataset.METAINFO['palette'], dtype=np.uint8)
    palette[:len(rgb)] = rgb[:, ::-1]
    return palette


def train_id_to_label_id() -> np.ndarray:
    """A lookup table from trainIds to Cityscapes labelIds, the ids the
    official evaluation and benchmark read (IGNORE_INDEX and unused ids go
    to 0, 'unlabeled'), from cityscapesscripts' label definitions."""
    table = np.zeros(256, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if 0 <= label.trainId < IGNORE_INDEX and not label.ignoreInEval:
            table[label.trainId] = label.id
    return table


def is_cityscapes_model(dataset_meta) -> bool:
    """Whether a model's ``dataset_meta`` has Cityscapes' 19 classes."""
    from mmseg.datasets import CityscapesDataset
    classes = (dataset_meta or {}).get('classes')
    return classes is not None and tuple(classes) == tuple(
        CityscapesDataset.METAINFO['classes'])
