"""Running a model on images, as mmseg's ``inference_model`` does, for
every repseg model: PyTorch in any form, or an exported one in an engine."""
import copy
from pathlib import Path
from typing import List, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose
from torch import nn

from ..errors import RepSegError

ImageType = Union[str, Path, np.ndarray]


class ImageReadError(RepSegError, ValueError):
    """A file that is not a readable image, or an array that is no image."""


def to_bgr_uint8(image: np.ndarray, source: str = 'image') -> np.ndarray:
    """``image`` as the 8-bit, 3-channel BGR array the models take.

    Grey images are repeated over the channels, 16-bit ones scaled to 8 bits
    (65535 -> 255), and the alpha channel of BGRA images dropped.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ImageReadError(f'{source}: expected an H x W or H x W x C '
                             f'array, got {getattr(image, "shape", image)!r}')
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) / 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f'{source}: 8- or 16-bit images only, got '
                             f'{image.dtype}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] != 3:
        raise ImageReadError(f'{source}: 1, 3 or 4 channels only, got '
                             f'{image.shape[2]}')
    return np.ascontiguousarray(image)


def read_image(path) -> np.ndarray:
    """The image file ``path`` as ``to_bgr_uint8`` gives it.

    OpenCV decodes a truncated JPEG or PNG without an error (it fills the
    rest), so the file is first checked whole with Pillow, which does not.
    """
    from PIL import Image
    path = str(path)
    try:
        with Image.open(path) as image:
            image.load()
    except FileNotFoundError as err:
        raise ImageReadError(f'{path}: no such image file') from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f'{path}: not a readable image ({err})') from err
    # PIL read it whole; OpenCV keeps 16-bit depth and channel order.
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(f'{path}: not an image OpenCV can read')
    return to_bgr_uint8(image, path)


def test_pipeline(cfg) -> Compose:
    """The config's test pipeline for in-memory images: no annotations, the
    image given as an array (``LoadImageFromNDArray``); ``cfg`` unchanged."""
    steps = [copy.deepcopy(t) for t in cfg.test_pipeline
             if t.get('type') != 'LoadAnnotations']
    if not steps or 'LoadImage' not in steps[0].get('type', ''):
        raise ValueError('the config\'s test_pipeline must start by loading '
                         f'the image, got {steps[:1]}')
    steps[0] = dict(type='LoadImageFromNDArray')
    return Compose(steps)


def inference_model(model: nn.Module, images):
    """Predictions of ``model`` (from ``repseg.apis.init_model``) for one
    image or a list: file paths or BGR arrays as OpenCV reads them (grey,
    16-bit and BGRA arrays are converted, ``to_bgr_uint8``).

    The config's test pipeline and ``test_cfg`` (whole or slide) are run as
    mmseg's ``inference_model`` runs them, so a segmentor gives
    ``SegDataSample``s with ``pred_sem_seg`` and ``seg_logits`` at each
    image's own size; a classifier gives data samples with ``pred_score``,
    ``pred_label`` and the top-5 classes (``pred_topk_labels``,
    ``pred_topk_scores``). One image in, one sample out; a list in, a list
    out.
    """
    single = not isinstance(images, (list, tuple))
    images = [images] if single else list(images)
    arrays = [read_image(i) if isinstance(i, (str, Path)) else
              to_bgr_uint8(i) for i in images]
    results = predict_arrays(model, arrays)
    return results[0] if single else results


def predict_arrays(model: nn.Module, arrays: Sequence[np.ndarray],
                   topk: int = 5) -> List:
    """``inference_model`` on BGR uint8 arrays. Images that the pipeline
    brings to the same size run as one batch (mmseg's test-time data
    preprocessor takes one size per batch); results keep the input order."""
    pipeline = test_pipeline(model.cfg)
    packed = [pipeline(dict(img=array)) for array in arrays]
    by_shape = {}
    for index, item in enumerate(packed):
        by_shape.setdefault(tuple(item['inputs'].shape), []).append(index)
    results = [None] * len(packed)
    for indices in by_shape.values():
        batch = dict(inputs=[packed[i]['inputs'] for i in indices],
                     data_samples=[packed[i]['data_samples'] for i in indices])
        with torch.no_grad():
            for index, sample in zip(indices, model.test_step(batch)):
                results[index] = sample
    for sample in results:
        if 'pred_score' in sample:
            scores, labels = sample.pred_score.topk(
                min(topk, sample.pred_score.numel()))
            sample.pred_topk_scores, sample.pred_topk_labels = scores, labels
    return results
