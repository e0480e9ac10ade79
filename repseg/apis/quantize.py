"""Post-training INT8: a trained model deployed to an engine, calibrated on
images through the config's own test pipeline, and quantized."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from ..engines import ENGINES
from ..fileio import atomic_output
from ..results import QuantizeReport
from .deploy import DeployError, deploy, deploy_file
from .inference import read_image, test_pipeline
from .inferencer import InputError, find_inputs
from .model import ConfigType, config_name, init_model, load_model_config

#: Each engine that has a quantizer (``Engine.quantizer``): its INT8 file
#: in the output folder.
INT8_FILES = {name: 'deploy.int8' + engine.suffix
              for name, engine in ENGINES.items() if engine.quantizer}


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


def int8_agreement(fp32: nn.Module, int8: nn.Module,
                   batches: Sequence[np.ndarray]):
    """Largest |int8 - fp32| logit over the largest |fp32| logit, and the
    share of positions of the engine's output (the decode head's logits,
    before resizing to the image; images for a classifier) where both pick
    the same class."""
    worst, same, total = 0.0, 0, 0
    for batch in batches:
        x = torch.from_numpy(batch)
        a, b = fp32.backend(x)[0], int8.backend(x)[0]
        worst = max(worst, ((a - b).abs().max() /
                            a.abs().max().clamp_min(1e-12)).item())
        same += (a.argmax(1) == b.argmax(1)).sum().item()
        total += a.argmax(1).numel()
    return worst, same / total


def quantize(config: ConfigType, checkpoint: str, out_dir: str,
             calib_images: int = 32, calib_dir: Optional[str] = None,
             backend: str = 'onnxruntime',
             shape: Optional[Sequence[int]] = None) -> QuantizeReport:
    """Write ``out_dir`` with what ``deploy`` writes for ``backend``
    (checked against the trained model) and its INT8 form
    (``INT8_FILES``) with ``quantize.json`` (the returned report).

    Calibration runs ``calib_images`` images (``calibration_images``)
    through the config's test pipeline; the engine's model is exported at
    the size that gives, unless ``shape`` (H, W) says otherwise. Nothing is
    written if any step fails.
    """
    if backend not in INT8_FILES:
        raise DeployError(f'no INT8 quantizer for backend {backend!r}; '
                          f'choose from {sorted(INT8_FILES)}')
    cfg = load_model_config(config)
    paths = calibration_images(cfg, calib_images, calib_dir)
    reference = init_model(cfg, checkpoint)
    batches = model_inputs(reference, paths)
    if shape is not None and tuple(shape) != tuple(batches[0].shape[2:]):
        raise InputError(
            f'--shape {shape[0]} {shape[1]}: the test pipeline gives the '
            f'calibration images {batches[0].shape[2]}x{batches[0].shape[3]}'
            ', the size the exported model must take; leave --shape out')
    shape = tuple(batches[0].shape[2:])
    with atomic_output(out_dir) as tmp:
        deployed = deploy(cfg, checkpoint, tmp, shape, [backend])
        fp32_path = tmp / deploy_file(ENGINES[backend])
        int8_path = tmp / INT8_FILES[backend]
        settings = ENGINES[backend].quantizer(str(fp32_path), str(int8_path),
                                              batches)
        fp32 = init_model(tmp / 'deploy.py', fp32_path)
        int8 = init_model(tmp / 'deploy.py', int8_path)
        rel, agreement = int8_agreement(fp32, int8, batches)
        report = QuantizeReport(
            backend=backend, fp32_file=fp32_path.name,
            int8_file=int8_path.name, input_shape=list(batches[0].shape),
            calibration_images=len(paths),
            calibration_source=osp.abspath(calib_dir) if calib_dir else
            'the config\'s training set', settings=settings,
            fp32_max_rel_diff=deployed.engines[backend].max_rel_diff,
            int8_max_rel_diff=rel, int8_agreement=agreement)
        report.dump(tmp / 'quantize.json')
    return report
