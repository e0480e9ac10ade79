"""Calibration images for post-training INT8: spread over a folder or the
config's training set, each run through the config's own test pipeline and
the model's data preprocessor, as the exported model takes it."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .inference import read_image, test_pipeline
from .inferencer import InputError, find_inputs
from .model import config_name


def training_images(cfg: Config) -> List[str]:
    """The image files of the config's training set, in its order."""
    from mmseg.registry import DATASETS
    dataset_cfg = (cfg.get('train_dataloader') or {}).get('dataset')
    if not dataset_cfg:
        raise InputError(f'config {config_name(cfg)!r} has no '
                         'train_dataloader.dataset to calibrate on; give '
                         'a folder of images (--calib-dir)')
    dataset_cfg = dict(dataset_cfg, pipeline=[], lazy_init=False)
    try:
        dataset = DATASETS.build(dataset_cfg)
    except (FileNotFoundError, OSError, TypeError, ValueError) as err:
        raise InputError(f'the training set of {config_name(cfg)!r} cannot '
                         f'be read to calibrate on ({err}); give a folder '
                         'of images (--calib-dir)') from err
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def calibration_images(cfg: Config, count: int,
                       folder: Optional[str] = None) -> List[str]:
    """``count`` images spread evenly over ``folder`` (searched recursively)
    or, without one, over the config's training set."""
    if count < 1:
        raise InputError(f'calibration needs at least one image, got {count}')
    if folder is not None:
        if not osp.isdir(folder):
            raise InputError(f'{folder}: no such calibration folder')
        paths = [path for path, _ in find_inputs(folder).images]
    else:
        paths = training_images(cfg)
        if not paths:
            raise InputError(f'the training set of {config_name(cfg)!r} is '
                             'empty')
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def model_inputs(model: nn.Module, paths: Sequence[str]) -> List[np.ndarray]:
    """Each image as the exported model takes it: the config's test
    pipeline, then the model's data preprocessor (normalization)."""
    pipeline = test_pipeline(model.cfg)
    batches = []
    for path in paths:
        packed = pipeline(dict(img=read_image(path)))
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=[packed['inputs']],
                     data_samples=[packed['data_samples']]), False)
        batches.append(data['inputs'].float().cpu().numpy())
    shapes = {b.shape for b in batches}
    if len(shapes) > 1:
        raise InputError('the test pipeline gives the calibration images '
                         f'different sizes {sorted(shapes)}; the engine takes '
                         'one: resize to a fixed scale (keep_ratio=False) or '
                         'calibrate on images of one size')
    return batches
