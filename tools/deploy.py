"""Fuse a trained model into its inference form, and prove it equivalent.

    python tools/deploy.py CONFIG CKPT OUT_DIR [--shape H W] [--onnx]

Writes OUT_DIR/deploy.py (the config of the fused model: RepVGG backbone with
deploy=True, heads with conv+BN folded) and OUT_DIR/deploy.pth (its weights),
which tools/test.py and tools/analysis_tools/benchmark.py take as they are. Before OUT_DIR
appears, the fused model is rebuilt from those two files, loaded strictly,
and compared with the trained model in eval mode on the same input: the
largest difference is printed, and above 1e-4 of the largest output nothing
is written. --onnx also exports OUT_DIR/deploy.onnx (opset 18, dynamic batch; dynamic
image size too unless the model pools to a fixed grid, as PSPNet's pyramid
does) and checks ONNX Runtime against PyTorch the same way, also at another
batch size (and image size).
"""
import argparse
import copy
import json
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.registry import MODELS

from repseg.deploy import (TOLERANCE, count_layers, deploy_config,
                           deploy_model, relative_difference)
from repseg.engine.config import (default_input_shape, positive_int,
                                  read_config)
from repseg.fileio import atomic_output
from repseg.inference import OnnxRuntimeModule, TensorForward, export_onnx
from repseg.models.backbones import DeployFormMismatch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        metavar=('H', 'W'),
                        help='verification input size (default: 512 1024 for '
                        'segmentors, 224 224 for classifiers)')
    parser.add_argument('--onnx', action='store_true',
                        help='also export and check an ONNX model')
    return parser.parse_args(argv)


def build_model(cfg: Config) -> torch.nn.Module:
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    return model.eval()


def load_trained(cfg: Config, checkpoint: str) -> torch.nn.Module:
    """The trained model, its weights loaded strictly from ``checkpoint``."""
    cfg = copy.deepcopy(cfg)  # Config.copy is shallow: keep the caller's
    cfg.model.backbone.pop('init_cfg', None)
    if cfg.model.backbone.get('deploy'):
        raise SystemExit(f'deploy.py: {cfg.filename} already describes a '
                         'fused model (backbone deploy=True); nothing to do')
    model = build_model(cfg)
    try:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    except DeployFormMismatch as err:
        raise SystemExit(f'deploy.py: {checkpoint} is already fused: {err}')
    except RuntimeError as err:
        raise SystemExit(f'deploy.py: {checkpoint} does not match '
                         f'{cfg.filename}: {err}')
    return model


def forward(model, inputs):
    """The model's inference outputs (a tuple of tensors)."""
    with torch.no_grad():
        return TensorForward(model)(inputs)


def spatial_size_is_dynamic(model) -> bool:
    """Whether the ONNX model may take any image size: adaptive pooling to a
    grid other than 1x1 (PSPNet's bins 2, 3, 6) is exported for the traced
    size only, so such models keep a fixed image size."""
    return all(
        m.output_size in (1, (1, 1))
        for m in model.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d))


def export_dynamic_onnx(model, inputs, path) -> bool:
    """Export with dynamic batch, and dynamic image size where the model
    allows it; returns whether the size is dynamic."""
    import onnxruntime  # noqa: F401  (fail before exporting if missing)
    from torch.export import Dim
    dynamic_size = spatial_size_is_dynamic(model)
    dims = {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO} if dynamic_size else {
        0: Dim.AUTO}
    export_onnx(TensorForward(model), inputs, str(path), dynamic_dims=dims)
    return dynamic_size


def onnx_difference(path, model, inputs, expected, dynamic_size) -> float:
    """Largest relative difference of ONNX Runtime from ``model``: on the
    traced ``inputs`` (``model``'s outputs ``expected``), another batch size,
    and another image size when the export claims a dynamic one."""
    session = OnnxRuntimeModule(str(path), torch.get_num_threads())
    n, c, h, w = inputs.shape
    others = [torch.randn(n + 1, c, h, w)]
    if dynamic_size:
        others.append(torch.randn(n, c, h + 32, w + 64))
    return max([relative_difference(session(inputs), expected)] + [
        relative_difference(session(x), forward(model, x)) for x in others])


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = read_config(args.config)
    except ValueError as err:
        sys.exit(f'deploy.py: {err}')
    if not osp.isfile(args.checkpoint):
        sys.exit(f'deploy.py: checkpoint {args.checkpoint!r} does not exist')
    trained = load_trained(cfg, args.checkpoint)
    fused, folded = deploy_model(trained)
    before, after = count_layers(trained), count_layers(fused)

    torch.manual_seed(0)
    shape = args.shape or default_input_shape(cfg.model)
    inputs = torch.randn(1, 3, *shape)
    expected = forward(trained, inputs)
    with atomic_output(args.out_dir) as tmp:
        tmp.mkdir()
        config_path, weights_path = tmp / 'deploy.py', tmp / 'deploy.pth'
        deploy_cfg = deploy_config(cfg, folded)
        deploy_cfg.dump(str(config_path))
        torch.save(dict(meta=dict(deployed_from=osp.abspath(args.checkpoint)),
                        state_dict=fused.state_dict()), weights_path)
        rebuilt = build_model(Config.fromfile(str(config_path)))
        load_checkpoint(rebuilt, str(weights_path), map_location='cpu',
                        strict=True)
        got = forward(rebuilt, inputs)
        max_abs = max((g - e).abs().max().item()
                      for g, e in zip(got, expected))
        rel = relative_difference(got, expected)
        print(f'fused vs trained: max |diff| {max_abs:.3e} '
              f'({rel:.3e} of the largest output) at input '
              f'{tuple(inputs.shape)}')
        if rel > TOLERANCE:
            sys.exit(f'deploy.py: the fused model differs by {rel:.3e} '
                     f'(> {TOLERANCE}); nothing written')
        report = dict(max_abs_diff=max_abs, max_rel_diff=rel,
                      input_shape=list(inputs.shape), folded=folded,
                      before=before, after=after)
        if args.onnx:
            onnx_path = tmp / 'deploy.onnx'
            dynamic_size = export_dynamic_onnx(rebuilt, inputs, onnx_path)
            onnx_rel = onnx_difference(onnx_path, trained, inputs, expected,
                                       dynamic_size)
            print(f'ONNX Runtime vs trained: {onnx_rel:.3e} of the largest '
                  'output; dynamic batch, '
                  f'{"dynamic" if dynamic_size else "fixed"} image size')
            if onnx_rel > TOLERANCE:
                sys.exit(f'deploy.py: ONNX output differs by {onnx_rel:.3e} '
                         f'(> {TOLERANCE}); nothing written')
            report.update(onnx_max_rel_diff=onnx_rel,
                          onnx_dynamic_image_size=dynamic_size)
        (tmp / 'deploy.json').write_text(json.dumps(report, indent=2))
    print(f'folded conv+BN pairs: {folded}')
    print(f'parameters {before["params"]:,} -> {after["params"]:,}, '
          f'convs {before["convs"]} -> {after["convs"]}, '
          f'BN layers {before["norms"]} -> {after["norms"]}')
    print(f'wrote {args.out_dir}/deploy.py, deploy.pth'
          f'{", deploy.onnx" if args.onnx else ""}, deploy.json')


if __name__ == '__main__':
    main()
