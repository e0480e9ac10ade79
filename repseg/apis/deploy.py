"""Deployment: a trained model written in its inference form, rebuilt from
the written files and proved equal to the trained one before it appears."""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..engine.config import default_input_shape
from ..engines import ENGINES, Engine
from ..equivalence import (FP16_TOLERANCE, TOLERANCE, max_abs_difference,
                           relative_difference)
from ..errors import RepSegError
from ..fileio import atomic_output
from ..models.fusion import InferenceFormReport, to_inference_form
from ..models.tensor_forward import TensorForward
from ..results import DeployReport, EngineCheck
from ..rewrites import apply_rewrites
from .model import (CheckpointMismatch, ConfigType, config_name, init_model,
                    load_model_config)

# Top-level parts of a model whose config takes ``norm_cfg``.
HEAD_KEYS = ('decode_head', 'auxiliary_head', 'neck')


class DeployError(RepSegError, ValueError):
    """A model that cannot be deployed, or whose deployed form is not equal
    to it; nothing was written."""


def norms_left(model: nn.Module) -> Dict[str, int]:
    """BN layers per top-level part of ``model`` (parts with none left out)."""
    left = {}
    for name, child in model.named_children():
        count = sum(isinstance(m, _BatchNorm) for m in child.modules())
        if count:
            left[name] = count
    return left


def deploy_config(cfg: Config, fused: nn.Module,
                  form: InferenceFormReport) -> Config:
    """``cfg`` describing ``fused``, the inference form of its model: a
    fused backbone (``deploy=True``), ``norm_cfg=None`` for every head whose
    BN layers were all folded (``fold_conv_bn_pairs`` leaves the state dict
    of a norm-free ConvModule), no pretrained initialization."""
    left = norms_left(fused)
    if form.folded.get('backbone') or left.get('backbone'):
        raise DeployError(
            f'config {config_name(cfg)!r}: the backbone has BN layers outside '
            'RepVGG blocks, which a config cannot describe as folded; '
            'deploy takes RepVGG backbones')
    cfg = copy.deepcopy(cfg)
    model = cfg.model
    model.pop('pretrained', None)
    model.backbone.pop('init_cfg', None)
    model.backbone.deploy = True
    for key in HEAD_KEYS:
        if form.folded.get(key) and not left.get(key) and model.get(key):
            heads = model[key] if isinstance(model[key], list) else [
                model[key]]
            for head in heads:
                head.norm_cfg = None
    return cfg


def tensor_outputs(model: nn.Module, inputs: Tensor) -> Tuple[Tensor, ...]:
    """The model's inference outputs (``TensorForward``), without grad."""
    with torch.no_grad():
        return TensorForward(model)(inputs)


def check_equal(what: str, outputs: Sequence[Tensor],
                expected: Sequence[Tensor],
                tolerance: float = TOLERANCE) -> float:
    """``relative_difference``, or ``DeployError`` above ``tolerance``."""
    rel = relative_difference(outputs, expected)
    if rel > tolerance:
        raise DeployError(f'{what} differs from the trained model by '
                          f'{rel:.3e} of the largest output (> {tolerance:g})'
                          '; nothing written')
    return rel


def deploy_file(engine: Engine) -> str:
    """The name of ``engine``'s file in the deploy folder."""
    return 'deploy' + engine.suffix


#: Each engine's file in the deploy folder.
ENGINE_FILES = {name: deploy_file(engine)
                for name, engine in ENGINES.items()}


def check_engine(engine: str, path: str, model: nn.Module, inputs: Tensor,
                 expected: Sequence[Tensor], dynamic_size: bool,
                 fp16: bool) -> EngineCheck:
    """The engine's largest difference from ``model``: on the traced
    ``inputs`` (``model``'s outputs ``expected``), at another batch size,
    and at another image size when the export claims a dynamic one; above
    the bound (``TOLERANCE``, ``FP16_TOLERANCE`` with ``fp16``) a
    ``DeployError``."""
    tolerance = FP16_TOLERANCE if fp16 else TOLERANCE
    backend = ENGINES[engine].backend(path, torch.get_num_threads(),
                                      **({'fp16': True} if fp16 else {}))
    n, c, h, w = inputs.shape
    generator = torch.Generator().manual_seed(1)
    others = [torch.randn(n + 1, c, h, w, generator=generator)]
    if dynamic_size:
        others.append(torch.randn(n, c, h + 32, w + 64, generator=generator))
    what = f'the {engine} model'
    worst = max([check_equal(what, backend(inputs), expected, tolerance)] + [
        check_equal(what, backend(x), tensor_outputs(model, x), tolerance)
        for x in others
    ])
    return EngineCheck(file=osp.basename(path), max_rel_diff=worst,
                       tolerance=tolerance, fp16=fp16,
                       dynamic_image_size=dynamic_size)


def load_trained(cfg: Config, checkpoint: str) -> nn.Module:
    """The trained (multi-branch) model of ``cfg`` with ``checkpoint``."""
    if cfg.model.get('backbone', {}).get('deploy'):
        raise DeployError(f'{config_name(cfg)} already describes a fused '
                          'model (backbone deploy=True); nothing to do')
    try:
        return init_model(cfg, checkpoint, fused=False)
    except CheckpointMismatch as err:
        if err.is_form_mismatch:
            raise DeployError(f'{checkpoint} is already fused: '
                              f'{err.__cause__}') from err
        raise


def deploy(config: ConfigType, checkpoint: str, out_dir: str,
           shape: Optional[Sequence[int]] = None,
           engines: Sequence[str] = (), fp16: bool = False) -> DeployReport:
    """Write ``out_dir`` with ``deploy.py`` (the config of the inference
    form), ``deploy.pth`` (its weights), ``deploy.json`` (the returned
    report) and each engine's file (``deploy_file``: ``deploy.onnx`` for
    ``onnxruntime``, ``deploy.ncnn.param`` and ``.bin`` for ``ncnn``,
    ``deploy.xml`` and ``.bin`` for ``openvino``).

    Before ``out_dir`` appears, the model is rebuilt from the written config
    and weights (strict loading) and compared with the trained model in eval
    mode on one random input of ``shape`` (H, W; by default the model
    kind's, ``default_input_shape``), and each engine's model likewise in
    its engine; above ``TOLERANCE`` a ``DeployError`` is raised and nothing
    is written. Each engine's model is exported with the engine's rewrites
    (``Engine.rewrites``: ncnn's factorized PSP head and space-to-batch).
    Engine weights stay fp32 unless ``fp16`` (ncnn only; the bound is then
    ``FP16_TOLERANCE``).
    """
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise DeployError(f'unknown engine(s) {unknown}; choose from '
                          f'{sorted(ENGINES)}')
    cfg = load_model_config(config)
    trained = load_trained(cfg, checkpoint)
    fused, form = to_inference_form(trained)
    torch.manual_seed(0)
    height, width = shape or default_input_shape(cfg.model)
    in_channels = cfg.model.backbone.get('in_channels', 3)
    inputs = torch.randn(1, in_channels, height, width)
    expected = tensor_outputs(trained, inputs)
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        config_path, weights_path = tmp / 'deploy.py', tmp / 'deploy.pth'
        deploy_config(cfg, fused, form).dump(str(config_path))
        meta = dict(deployed_from=osp.abspath(checkpoint))
        if getattr(trained, 'dataset_meta', None):
            meta['dataset_meta'] = trained.dataset_meta
        torch.save(dict(meta=meta, state_dict=fused.state_dict()),
                   weights_path)
        rebuilt = init_model(config_path, weights_path, fused=False)
        got = tensor_outputs(rebuilt, inputs)
        report = DeployReport(
            max_abs_diff=max_abs_difference(got, expected),
            max_rel_diff=check_equal('the fused model', got, expected),
            input_shape=list(inputs.shape), folded=form.folded,
            before=form.before, after=form.after)
        for engine in dict.fromkeys(engines):
            description = ENGINES[engine]
            path = str(tmp / deploy_file(description))
            rewrites = list(description.rewrites)
            exported = apply_rewrites(copy.deepcopy(rebuilt), rewrites)
            dynamic_size = description.model_exporter(exported, inputs, path,
                                                      fp16)
            report.engines[engine] = check_engine(
                engine, path, trained, inputs, expected, dynamic_size, fp16)
            report.engines[engine].rewrites = rewrites
        report.dump(tmp / 'deploy.json')
    return report

