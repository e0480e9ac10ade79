"""Fuse a trained model into its inference form, and prove it equivalent.

    python tools/deploy.py CONFIG CKPT OUT_DIR [--shape H W] [--onnx]

Writes OUT_DIR/deploy.py (the config of the fused model: RepVGG backbone with
deploy=True, heads with conv+BN folded), OUT_DIR/deploy.pth (its weights) and
OUT_DIR/deploy.json (what was checked), which tools/test.py and
tools/analysis_tools/benchmark.py take as they are. Before OUT_DIR appears,
the fused model is rebuilt from those files, loaded strictly, and compared
with the trained model in eval mode on the same input; above 1e-4 of the
largest output nothing is written. --onnx also exports OUT_DIR/deploy.onnx
(opset 18, dynamic batch; dynamic image size too unless the model pools to a
fixed grid, as PSPNet's pyramid does) and checks ONNX Runtime the same way,
also at another batch size (and image size). See repseg.apis.deploy.
"""
import argparse
import sys

from repseg.apis import CheckpointMismatch, ConfigError, DeployError, deploy
from repseg.backends import BackendNotAvailable
from repseg.checkpoint import CheckpointError
from repseg.cli import positive_int


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


def main(argv=None):
    args = parse_args(argv)
    try:
        report = deploy(args.config, args.checkpoint, args.out_dir,
                        args.shape, args.onnx)
    except (BackendNotAvailable, CheckpointError, CheckpointMismatch,
            ConfigError, DeployError) as err:
        sys.exit(f'deploy.py: {err}')
    before, after = report.before, report.after
    print(f'fused vs trained: max |diff| {report.max_abs_diff:.3e} '
          f'({report.max_rel_diff:.3e} of the largest output) at input '
          f'{tuple(report.input_shape)}')
    if args.onnx:
        size = 'dynamic' if report.onnx_dynamic_image_size else 'fixed'
        print(f'ONNX Runtime vs trained: {report.onnx_max_rel_diff:.3e} of '
              f'the largest output; dynamic batch, {size} image size')
    print(f'folded conv+BN pairs: {report.folded}')
    print(f'parameters {before["params"]:,} -> {after["params"]:,}, '
          f'convs {before["convs"]} -> {after["convs"]}, '
          f'BN layers {before["norms"]} -> {after["norms"]}')
    print(f'wrote {args.out_dir}/deploy.py, deploy.pth'
          f'{", deploy.onnx" if args.onnx else ""}, deploy.json')


if __name__ == '__main__':
    main()
