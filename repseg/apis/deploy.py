"""Deployment: a trained model written in its inference form, rebuilt from
the written files and proved equal to the trained one before it appears."""
import copy
import dataclasses
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..engine.config import default_input_shape
from ..engines import ENGINES, Engine
from ..equivalence import (FP16_TOLERANCE, TOLERANCE, OutputMismatch,
                           PrecisionBound, bound_for, check_within_bound,
                           max_abs_difference, relative_difference)
from ..errors import RepSegError
from ..fileio import atomic_output
from ..models.fusion import InferenceFormReport, to_inference_form
from ..models.tensor_forward import TensorForward
from ..precision import UnknownPrecision, autocast, check_precision_name
from ..results import DeployReport, EngineCheck, FastestPath
from ..rewrites import apply_rewrites
from .calibration import calibration_images, model_inputs
from .inferencer import InputError
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
    # A part whose deploy=True form is its folded inference form
    # (``deploy_folds_conv_bn``, e.g. RDRNet) is described by deploy=True.
    folds = {key for key, part in fused.named_children()
             if getattr(part, 'deploy_folds_conv_bn', False)}
    if 'backbone' not in folds and (form.folded.get('backbone')
                                    or left.get('backbone')):
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
        if key in folds and model.get(key):
            model[key].deploy = True
        elif form.folded.get(key) and not left.get(key) and model.get(key):
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


def check_key(engine: str, precision: str) -> str:
    """The name a check has in ``DeployReport.engines``: the engine for
    fp32, ``ENGINE:PRECISION`` otherwise."""
    return engine if precision == 'fp32' else f'{engine}:{precision}'


def check_outputs(what: str, run, model: nn.Module,
                  batches: Sequence[Tensor], bound: PrecisionBound):
    """``(relative difference, argmax agreement)`` of ``run`` (a batch ->
    outputs callable) against ``model`` over ``batches``, the worst of
    each; ``DeployError`` beyond ``bound``."""
    outputs, references = [], []
    for batch in batches:
        outputs += list(run(batch))
        references += list(tensor_outputs(model, batch))
    try:
        return check_within_bound(what, outputs, references, bound,
                                  'the trained model')
    except OutputMismatch as err:
        raise DeployError(f'{err}; nothing written') from err


def check_engine(engine: str, path: str, model: nn.Module, inputs: Tensor,
                 dynamic_size: bool, fp16: bool, precision: str = 'fp32',
                 bound: Optional[PrecisionBound] = None,
                 batches: Sequence[Tensor] = ()) -> EngineCheck:
    """The engine's file against ``model`` (the trained one) when it
    computes in ``precision``: on ``inputs``, another batch size and, when
    the export claims a dynamic one, another image size (INT8: on the
    calibration ``batches`` instead, the images its scales were fitted
    to); beyond ``bound`` (``bound_for(precision)``; ``FP16_TOLERANCE``
    with ``fp16``) a ``DeployError``."""
    if bound is None:
        bound = (PrecisionBound(FP16_TOLERANCE) if fp16 else
                 bound_for(precision))
    backend = ENGINES[engine].backend(path, torch.get_num_threads(),
                                      precision=precision,
                                      **({'fp16': True} if fp16 else {}))
    if precision == 'int8':
        checked = list(batches)
    else:
        n, c, h, w = inputs.shape
        generator = torch.Generator().manual_seed(1)
        checked = [inputs, torch.randn(n + 1, c, h, w, generator=generator)]
        if dynamic_size:
            checked.append(torch.randn(n, c, h + 32, w + 64,
                                       generator=generator))
    what = f'the {engine} model' + (
        '' if precision == 'fp32' else f' in {precision}')
    rel, agreement = check_outputs(what, backend, model, checked, bound)
    return EngineCheck(file=osp.basename(path), max_rel_diff=rel,
                       tolerance=bound.tolerance, fp16=fp16,
                       dynamic_image_size=dynamic_size, precision=precision,
                       argmax_agreement=agreement,
                       min_agreement=bound.min_agreement,
                       options=dict(backend.options),
                       checked_on='calibration images' if precision == 'int8'
                       else 'random')


def check_pytorch_bf16(model: nn.Module, trained: nn.Module, inputs: Tensor,
                       bound: PrecisionBound) -> EngineCheck:
    """The deployed PyTorch model under bf16 autocast (oneDNN's bf16
    kernels) against the trained one, on ``inputs``."""
    def run(batch):
        with torch.no_grad(), autocast('bf16', batch.device):
            return TensorForward(model)(batch)
    rel, agreement = check_outputs('the PyTorch model in bf16', run,
                                   trained, [inputs], bound)
    return EngineCheck(file='deploy.pth', max_rel_diff=rel,
                       tolerance=bound.tolerance, fp16=False,
                       dynamic_image_size=True, precision='bf16',
                       argmax_agreement=agreement,
                       min_agreement=bound.min_agreement,
                       options=dict(autocast='torch.autocast(cpu, bfloat16)'))


def check_precisions(precisions: Sequence[str],
                     engines: Sequence[str]) -> None:
    """``DeployError`` for a precision that none of ``engines`` (and, for
    bf16, PyTorch) computes in, before any work."""
    for precision in precisions:
        try:
            check_precision_name(precision)
        except UnknownPrecision as err:
            raise DeployError(str(err)) from err
        if precision == 'bf16':
            continue  # PyTorch's autocast computes in it
        if precision == 'int8':
            able = [e for e in engines if ENGINES[e].quantizer]
            if not able:
                raise DeployError(
                    'precision int8: none of the engines '
                    f'{list(engines) or "(none given)"} has an INT8 '
                    'quantizer; choose from --backend '
                    f'{sorted(e for e, d in ENGINES.items() if d.quantizer)}')


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
           engines: Sequence[str] = (), fp16: bool = False,
           precisions: Sequence[str] = ('fp32', ), calib_images: int = 32,
           calib_dir: Optional[str] = None,
           min_agreement: Optional[float] = None,
           fastest: Optional[FastestPath] = None) -> DeployReport:
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

    ``precisions`` adds reduced-precision paths, each checked against the
    trained model to its bound (``repseg.equivalence.BOUNDS``: relative
    difference and argmax agreement, ``min_agreement`` replacing the
    latter's default) and recorded as ``ENGINE:PRECISION`` (``check_key``)
    with the engine options it ran with: ``bf16`` on each engine that
    computes in it from the fp32 file (OpenVINO) and in PyTorch
    (``pytorch:bf16``, autocast); ``int8`` as a quantized file
    (``deploy.int8.onnx``, ``deploy.int8.xml``) for each engine with a
    quantizer, calibrated on ``calib_images`` images of ``calib_dir`` or
    the config's training set through the config's test pipeline
    (``repseg.apis.calibration``), at the size that pipeline gives.

    ``fastest`` (``repseg.benchmark.auto``'s choice) is recorded in the
    report with its ``file`` set, for ``init_model`` to run when given the
    folder; its engine and precision must be among those deployed.
    """
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise DeployError(f'unknown engine(s) {unknown}; choose from '
                          f'{sorted(ENGINES)}')
    engines = list(dict.fromkeys(engines))
    precisions = list(dict.fromkeys(precisions))
    check_precisions(precisions, engines)
    cfg = load_model_config(config)
    trained = load_trained(cfg, checkpoint)
    batches = []
    if 'int8' in precisions:
        paths = calibration_images(cfg, calib_images, calib_dir)
        batches = [torch.from_numpy(b)
                   for b in model_inputs(trained, paths)]
        calibration_shape = tuple(batches[0].shape[2:])
        if shape is not None and tuple(shape) != calibration_shape:
            raise InputError(
                f'--shape {shape[0]} {shape[1]}: the test pipeline gives the '
                'calibration images '
                f'{calibration_shape[0]}x{calibration_shape[1]}, the size an '
                'INT8 model is exported for; leave --shape out')
        shape = calibration_shape
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
        if 'bf16' in precisions:
            report.engines[check_key('pytorch', 'bf16')] = check_pytorch_bf16(
                rebuilt, trained, inputs, bound_for('bf16', min_agreement))
        for engine in engines:
            description = ENGINES[engine]
            path = str(tmp / deploy_file(description))
            rewrites = list(description.rewrites)
            exported = apply_rewrites(copy.deepcopy(rebuilt), rewrites)
            dynamic_size = description.model_exporter(exported, inputs, path,
                                                      fp16)
            checks = {'fp32': check_engine(engine, path, trained, inputs,
                                           dynamic_size, fp16)}
            if 'bf16' in precisions and 'bf16' in description.precisions:
                checks['bf16'] = check_engine(
                    engine, path, trained, inputs, dynamic_size, False,
                    'bf16', bound_for('bf16', min_agreement))
            if 'int8' in precisions and description.quantizer:
                int8_path = str(tmp / ('deploy' + description.int8_suffix))
                settings = description.quantizer(
                    path, int8_path, [b.numpy() for b in batches])
                checks['int8'] = check_engine(
                    engine, int8_path, trained, inputs, dynamic_size, False,
                    'int8', bound_for('int8', min_agreement), batches)
                checks['int8'].options.update(quantizer=settings,
                                              calibration_images=len(batches))
            for precision, check in checks.items():
                check.rewrites = rewrites
                report.engines[check_key(engine, precision)] = check
        if fastest is not None:
            report.fastest = fastest_with_file(fastest, report)
        report.dump(tmp / 'deploy.json')
    return report


def fastest_with_file(fastest: FastestPath,
                      report: DeployReport) -> FastestPath:
    """``fastest`` with the deploy folder's file of its path; a
    ``DeployError`` if its engine and precision were not deployed."""
    if fastest.engine == 'pytorch':
        if fastest.precision not in ('fp32', 'bf16'):
            raise DeployError(f'fastest path {fastest.mode}: PyTorch runs '
                              'fp32 and bf16')
        return dataclasses.replace(fastest, file='deploy.pth')
    key = check_key(fastest.engine, fastest.precision)
    if key not in report.engines:
        raise DeployError(f'fastest path {fastest.mode}: {key} was not '
                          'deployed; nothing written')
    return dataclasses.replace(fastest, file=report.engines[key].file)
