"""Fuse a trained model into its inference form, and prove it equivalent.

    python tools/deploy.py CONFIG CKPT OUT_DIR [--shape H W]
        [--backend onnxruntime ncnn openvino] [--onnx] [--fp16]

Writes OUT_DIR/deploy.py (the config of the fused model: RepVGG backbone with
deploy=True, heads with conv+BN folded), OUT_DIR/deploy.pth (its weights) and
OUT_DIR/deploy.json (what was checked), which tools/test.py and
tools/analysis_tools/benchmark.py take as they are. Before OUT_DIR appears,
the fused model is rebuilt from those files, loaded strictly, and compared
with the trained model in eval mode on the same input; above 1e-4 of the
largest output nothing is written. --backend also exports the model for
each engine and checks it the same way, also at another batch size (and
image size where the file takes any): onnxruntime writes OUT_DIR/deploy.onnx
(opset 18, dynamic batch; dynamic image size too unless the model pools to a
fixed grid, as PSPNet's pyramid does; --onnx is short for --backend
onnxruntime), ncnn writes OUT_DIR/deploy.ncnn.param and .bin (via pnnx, for
the verification input's size), openvino writes OUT_DIR/deploy.xml and
deploy.bin (OpenVINO IR, converted from that ONNX export: same dynamic
dims). Engine weights stay fp32 unless --fp16 (ncnn), which holds them to
1e-2 instead. See repseg.apis.deploy.
"""
import argparse
import sys

from repseg.apis import deploy
from repseg.apis.deploy import ENGINE_FILES
from repseg.cli import positive_int
from repseg.errors import RepSegError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        metavar=('H', 'W'),
                        help='verification input size (default: 512 1024 for '
                        'segmentors, 224 224 for classifiers)')
    parser.add_argument('--backend', nargs='+', default=[],
                        choices=sorted(ENGINE_FILES), metavar='ENGINE',
                        help='also export and check for these engines: '
                        f'{", ".join(sorted(ENGINE_FILES))}')
    parser.add_argument('--onnx', action='store_true',
                        help='short for --backend onnxruntime')
    parser.add_argument('--fp16', action='store_true',
                        help='half-precision engine weights (ncnn)')
    args = parser.parse_args(argv)
    if args.onnx:
        args.backend = ['onnxruntime'] + args.backend
    if args.fp16 and not args.backend:
        parser.error('--fp16 is for the engines of --backend')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        report = deploy(args.config, args.checkpoint, args.out_dir,
                        args.shape, args.backend, args.fp16)
    except RepSegError as err:
        sys.exit(f'deploy.py: {err}')
    before, after = report.before, report.after
    print(f'fused vs trained: max |diff| {report.max_abs_diff:.3e} '
          f'({report.max_rel_diff:.3e} of the largest output) at input '
          f'{tuple(report.input_shape)}')
    for engine, check in report.engines.items():
        size = 'dynamic' if check.dynamic_image_size else 'fixed'
        precision = 'fp16' if check.fp16 else 'fp32'
        print(f'{engine} ({check.file}, {precision}) vs trained: '
              f'{check.max_rel_diff:.3e} of the largest output (bound '
              f'{check.tolerance:g}); {size} image size')
    print(f'folded conv+BN pairs: {report.folded}')
    print(f'parameters {before["params"]:,} -> {after["params"]:,}, '
          f'convs {before["convs"]} -> {after["convs"]}, '
          f'BN layers {before["norms"]} -> {after["norms"]}')
    files = ['deploy.py', 'deploy.pth'] + [
        c.file for c in report.engines.values()] + ['deploy.json']
    print(f'wrote {args.out_dir}/' + ', '.join(files))


if __name__ == '__main__':
    main()
