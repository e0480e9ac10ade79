"""Classification transforms that mmcv and mmseg lack.

The ImageNet pipelines otherwise use what the stack provides:
``LoadImageFromFile``, ``RandomFlip``, ``CenterCrop`` (mmcv) and
``ResizeShortestEdge`` (mmseg). Images are BGR uint8 (H, W, 3) as mmcv
loads them; normalisation happens in the model's data preprocessor.
"""
import math
from typing import Callable, NamedTuple, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, RandomApply, RandomChoice
from mmcv.transforms.formatting import to_tensor
from mmcv.transforms.utils import cache_randomness
from mmengine.structures import BaseDataElement
from mmseg.registry import TRANSFORMS


def _to_size(scale: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    """An int or a (w, h) pair as (w, h)."""
    size = (scale, scale) if isinstance(scale, int) else tuple(scale)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'{name}: scale must be a positive int or (w, h), '
                         f'got {scale!r}')
    return size


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area with a random aspect ratio, resize it to ``scale``
    (Inception-style cropping, the ImageNet training augmentation).

    Up to ``max_attempts`` boxes are drawn (area fraction uniform in
    ``crop_ratio_range``, aspect ratio log-uniform in
    ``aspect_ratio_range``); when none fits in the image, the largest
    centred box whose aspect ratio is in range is used.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``.

    Args:
        scale (int | tuple[int, int]): Output size, an int or (w, h).
        crop_ratio_range (tuple[float, float]): Range of the crop area as a
            fraction of the image area. Defaults to (0.08, 1.0).
        aspect_ratio_range (tuple[float, float]): Range of the crop's
            width / height. Defaults to (3 / 4, 4 / 3).
        max_attempts (int): Boxes drawn before the fallback. Defaults to 10.
        interpolation (str): Resize interpolation (mmcv names).
            Defaults to 'bilinear'.
        backend (str): Resize backend, 'cv2' or 'pillow'. Defaults to 'cv2'.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3 / 4, 4 / 3),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2'):
        super().__init__()
        self.scale = _to_size(scale, 'RandomResizedCrop')
        if not 0 < crop_ratio_range[0] <= crop_ratio_range[1] <= 1:
            raise ValueError('RandomResizedCrop: crop_ratio_range must be '
                             f'0 < low <= high <= 1, got {crop_ratio_range}')
        if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
            raise ValueError('RandomResizedCrop: aspect_ratio_range must be '
                             f'0 < low <= high, got {aspect_ratio_range}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation
        self.backend = backend

    @cache_randomness
    def sample_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """A random crop box (top, left, h, w) in a height x width image."""
        log_ratios = np.log(self.aspect_ratio_range)
        for _ in range(self.max_attempts):
            area = np.random.uniform(*self.crop_ratio_range) * height * width
            ratio = math.exp(np.random.uniform(*log_ratios))
            w = int(round(math.sqrt(area * ratio)))
            h = int(round(math.sqrt(area / ratio)))
            if 0 < w <= width and 0 < h <= height:
                top = np.random.randint(0, height - h + 1)
                left = np.random.randint(0, width - w + 1)
                return top, left, h, w
        return self._central_box(height, width)

    def _central_box(self, height: int, width: int):
        low, high = self.aspect_ratio_range
        ratio = min(max(width / height, low), high)
        w = min(width, int(round(height * ratio)))
        h = min(height, int(round(w / ratio)))
        return (height - h) // 2, (width - w) // 2, h, w

    def transform(self, results: dict) -> dict:
        img = results['img']
        top, left, h, w = self.sample_box(*img.shape[:2])
        img = mmcv.imresize(img[top:top + h, left:left + w], self.scale,
                            interpolation=self.interpolation,
                            backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, crop_ratio_range='
                f'{self.crop_ratio_range}, aspect_ratio_range='
                f'{self.aspect_ratio_range})')


class _Op(NamedTuple):
    apply: Callable  # (img, value, pad_val) -> img
    max_value: Optional[float]  # value at level 10; None: no magnitude
    signed: bool  # the value's sign is drawn at random


def _shear(direction):
    return lambda img, v, pad: mmcv.imshear(img, v, direction,
                                            border_value=pad)


def _translate(direction, axis):
    # The value is a fraction of the image side (the paper's 150 px of 331).
    return lambda img, v, pad: mmcv.imtranslate(
        img, v * img.shape[axis], direction, border_value=pad)


def _enhance(adjust):
    # Enhancement factors are 1 + value: [0.1, 1.9] over the signed range.
    return lambda img, v, pad: adjust(img, 1 + v)


# The AutoAugment operations and magnitude ranges (Cubuk et al., CVPR 2019,
# arXiv 1805.09501, appendix); a level in 0..10 maps linearly onto the range.
# Every operation grows stronger with its level, Posterize and Solarize too
# (fewer bits, a lower threshold), as in torchvision's reading of the paper.
AUTOAUGMENT_OPS = {
    'ShearX': _Op(_shear('horizontal'), 0.3, True),
    'ShearY': _Op(_shear('vertical'), 0.3, True),
    'TranslateX': _Op(_translate('horizontal', 1), 150 / 331, True),
    'TranslateY': _Op(_translate('vertical', 0), 150 / 331, True),
    'Rotate': _Op(lambda img, v, pad: mmcv.imrotate(img, v, border_value=pad),
                  30, True),
    'Color': _Op(_enhance(mmcv.adjust_color), 0.9, True),
    'Contrast': _Op(_enhance(mmcv.adjust_contrast), 0.9, True),
    'Brightness': _Op(_enhance(mmcv.adjust_brightness), 0.9, True),
    'Sharpness': _Op(_enhance(mmcv.adjust_sharpness), 0.9, True),
    'Posterize': _Op(lambda img, v, pad: mmcv.posterize(img, 8 - round(v)),
                     4, False),
    'Solarize': _Op(lambda img, v, pad: mmcv.solarize(img, 256 - v), 256,
                    False),
    'AutoContrast': _Op(lambda img, v, pad: mmcv.auto_contrast(img), None,
                        False),
    'Equalize': _Op(lambda img, v, pad: mmcv.imequalize(img), None, False),
    'Invert': _Op(lambda img, v, pad: mmcv.iminvert(img), None, False),
}

# AutoAugment's ImageNet policy (same paper): 25 sub-policies of two
# (operation, probability, magnitude level) steps.
IMAGENET_POLICY = (
    (('Posterize', 0.4, 8), ('Rotate', 0.6, 9)),
    (('Solarize', 0.6, 5), ('AutoContrast', 0.6, None)),
    (('Equalize', 0.8, None), ('Equalize', 0.6, None)),
    (('Posterize', 0.6, 7), ('Posterize', 0.6, 6)),
    (('Equalize', 0.4, None), ('Solarize', 0.2, 4)),
    (('Equalize', 0.4, None), ('Rotate', 0.8, 8)),
    (('Solarize', 0.6, 3), ('Equalize', 0.6, None)),
    (('Posterize', 0.8, 5), ('Equalize', 1.0, None)),
    (('Rotate', 0.2, 3), ('Solarize', 0.6, 8)),
    (('Equalize', 0.6, None), ('Posterize', 0.4, 6)),
    (('Rotate', 0.8, 8), ('Color', 0.4, 0)),
    (('Rotate', 0.4, 9), ('Equalize', 0.6, None)),
    (('Equalize', 0.0, None), ('Equalize', 0.8, None)),
    (('Invert', 0.6, None), ('Equalize', 1.0, None)),
    (('Color', 0.6, 4), ('Contrast', 1.0, 8)),
    (('Rotate', 0.8, 8), ('Color', 1.0, 2)),
    (('Color', 0.8, 8), ('Solarize', 0.8, 7)),
    (('Sharpness', 0.4, 7), ('Invert', 0.6, None)),
    (('ShearX', 0.6, 5), ('Equalize', 1.0, None)),
    (('Color', 0.4, 0), ('Equalize', 0.6, None)),
    (('Equalize', 0.4, None), ('Solarize', 0.2, 4)),
    (('Solarize', 0.6, 5), ('AutoContrast', 0.6, None)),
    (('Invert', 0.6, None), ('Equalize', 1.0, None)),
    (('Color', 0.6, 4), ('Contrast', 1.0, 8)),
    (('Equalize', 0.8, None), ('Equalize', 0.6, None)),
)


@TRANSFORMS.register_module()
class AutoAugmentOp(BaseTransform):
    """One AutoAugment operation at a magnitude level, always applied.

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        op (str): A name from ``AUTOAUGMENT_OPS``.
        level (float, optional): Magnitude level in 0..10; ignored (may be
            None) for operations without magnitude. Defaults to None.
        pad_val (int): Fill value of pixels that geometric operations
            uncover. Defaults to 128.
    """

    def __init__(self, op: str, level: Optional[float] = None,
                 pad_val: int = 128):
        super().__init__()
        if op not in AUTOAUGMENT_OPS:
            raise KeyError(f'AutoAugmentOp: unknown op {op!r}; choose from '
                           f'{sorted(AUTOAUGMENT_OPS)}')
        self.op = op
        self.spec = AUTOAUGMENT_OPS[op]
        if self.spec.max_value is not None and (level is None
                                                or not 0 <= level <= 10):
            raise ValueError(f'AutoAugmentOp: {op} needs a level in 0..10, '
                             f'got {level!r}')
        self.level = level
        self.pad_val = pad_val

    @cache_randomness
    def sample_value(self) -> float:
        """The op's value: its level mapped onto its range, random sign."""
        if self.spec.max_value is None:
            return 0.0
        value = self.level / 10 * self.spec.max_value
        if self.spec.signed and np.random.rand() < 0.5:
            value = -value
        return value

    def transform(self, results: dict) -> dict:
        results['img'] = self.spec.apply(results['img'], self.sample_value(),
                                         self.pad_val)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.op}, level={self.level})'


@TRANSFORMS.register_module()
class AutoAugment(RandomChoice):
    """AutoAugment: one sub-policy drawn uniformly per image, each of its
    steps applied with its own probability (mmcv's ``RandomChoice`` of
    ``RandomApply`` s around ``AutoAugmentOp`` s).

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        policies (str | list): 'imagenet' for the paper's ImageNet policy, or
            a list of sub-policies, each a list of ``(op, probability,
            level)`` steps.
        pad_val (int): Fill value of pixels that geometric operations
            uncover. Defaults to 128.
    """

    def __init__(self, policies: Union[str, Sequence] = 'imagenet',
                 pad_val: int = 128):
        if isinstance(policies, str):
            if policies != 'imagenet':
                raise KeyError(f'AutoAugment: unknown policy {policies!r}; '
                               "use 'imagenet' or a list of sub-policies")
            policies = IMAGENET_POLICY
        if not policies:
            raise ValueError('AutoAugment: policies is empty')
        # Built as objects, not config dicts, so that no registry scope is
        # needed to find AutoAugmentOp.
        super().__init__([[
            RandomApply([AutoAugmentOp(op, level, pad_val)], prob=prob)
            for op, prob, level in sub_policy
        ] for sub_policy in policies])
        self.policies = policies

    def __repr__(self) -> str:
        return f'{type(self).__name__}({len(self.policies)} sub-policies)'


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its label for a classifier.

    Output: ``inputs``, the image as a (C, H, W) uint8 tensor, and
    ``data_samples``, a ``BaseDataElement`` with ``gt_label`` (0-dim long
    tensor, when the input has one) and the ``meta_keys`` present as
    metainfo.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo when present.
            Defaults to ('img_path', 'ori_shape', 'img_shape', 'flip',
            'flip_direction').
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'ori_shape',
                                             'img_shape', 'flip',
                                             'flip_direction')):
        super().__init__()
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = to_tensor(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={
            k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            sample.gt_label = torch.tensor(int(results['gt_label']))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
