"""Fuse a trained model into its inference form, and prove it equivalent.

    python tools/deploy.py CONFIG CKPT OUT_DIR [--shape H W]
        [--backend onnxruntime ncnn openvino] [--onnx] [--fp16]
        [--precision fp32 bf16 int8] [--calib-images N] [--calib-dir DIR]
        [--min-agreement F] [--auto [PRECISION ...]]

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
1e-2 instead.

--precision adds reduced-precision paths, each checked against the trained
model (the relative difference and the share of output positions whose
class agrees, both recorded in deploy.json with the engine options they
ran with): bf16 in PyTorch (autocast) and on the engines that compute the
fp32 file in it (OpenVINO), held to 5e-2 and 99% agreement; int8 as
OUT_DIR/deploy.int8.onnx (ONNX Runtime's static quantization) and
OUT_DIR/deploy.int8.xml (OpenVINO's, through NNCF), calibrated on N images
(default 32) of DIR or of the config's training set through the config's
test pipeline, held to 90% agreement on those images (and a difference
no larger than the largest logit)
(--min-agreement replaces the agreement bound).

--auto first times, with the checkpoint's weights at --shape, every path
repseg deploys (ncnn, OpenVINO, ONNX Runtime, PyTorch channels-last) in
the precisions given (default fp32 bf16; add int8) that this processor
computes natively, in one interleaved run; prints the fastest verified
path and the runners-up; then deploys that path (its engine and
precision, besides fp32) and records the choice in deploy.json, so that
tools/infer.py and tools/test.py run it when given OUT_DIR as CKPT (see
repseg.benchmark.auto). --backend and --precision go with the plain form.
See repseg.apis.deploy.
"""
import argparse
import sys

from repseg.apis import deploy
from repseg.apis.deploy import ENGINE_FILES
from repseg.benchmark.auto import deploy_fastest
from repseg.cli import fraction, positive_int
from repseg.precision import PRECISIONS
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
    parser.add_argument('--precision', nargs='+', default=['fp32'],
                        choices=PRECISIONS, metavar='PRECISION',
                        help='paths to write and check: '
                        f'{", ".join(PRECISIONS)} (default fp32)')
    parser.add_argument('--calib-images', type=positive_int, default=32,
                        metavar='N', help='int8: calibration images')
    parser.add_argument('--calib-dir', metavar='DIR',
                        help='int8: calibrate on the images of DIR')
    parser.add_argument('--min-agreement', type=fraction, metavar='F',
                        help='bf16/int8: the share of positions whose class '
                        'must agree with the trained model')
    parser.add_argument('--auto', nargs='*', choices=PRECISIONS,
                        metavar='PRECISION',
                        help='deploy the fastest verified path in these '
                        'precisions (default fp32 bf16)')
    parser.add_argument('--repeat', type=positive_int, default=5,
                        help='--auto: timed calls per path (default 5)')
    args = parser.parse_args(argv)
    if args.auto is not None and (args.backend or args.onnx
                                  or args.precision != ['fp32']):
        parser.error('--auto chooses the engine and precision: leave out '
                     '--backend, --onnx and --precision')
    if args.onnx:
        args.backend = ['onnxruntime'] + args.backend
    if args.fp16 and not args.backend:
        parser.error('--fp16 is for the engines of --backend')
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.auto is not None:
            report, _ = deploy_fastest(
                args.config, args.checkpoint, args.out_dir, args.shape,
                args.auto or ('fp32', 'bf16'), args.repeat,
                calib_images=args.calib_images, calib_dir=args.calib_dir,
                min_agreement=args.min_agreement)
            print('\n'.join(report.fastest.lines()))
        else:
            report = deploy(args.config, args.checkpoint, args.out_dir,
                            args.shape, args.backend, args.fp16,
                            args.precision, args.calib_images,
                            args.calib_dir, args.min_agreement)
    except RepSegError as err:
        sys.exit(f'deploy.py: {err}')
    before, after = report.before, report.after
    print(f'fused vs trained: max |diff| {report.max_abs_diff:.3e} '
          f'({report.max_rel_diff:.3e} of the largest output) at input '
          f'{tuple(report.input_shape)}')
    for key, check in report.engines.items():
        size = 'dynamic' if check.dynamic_image_size else 'fixed'
        precision = 'fp16 weights' if check.fp16 else check.precision
        agreement = ('' if check.argmax_agreement is None else
                     f', same class on {100 * check.argmax_agreement:.2f}%')
        bound = f'{check.tolerance:g}' + (
            '' if check.min_agreement is None else
            f', {100 * check.min_agreement:g}%')
        print(f'{key} ({check.file}, {precision}) vs trained: '
              f'{check.max_rel_diff:.3e} of the largest output{agreement} '
              f'(bound {bound}; {check.checked_on} inputs); {size} image '
              'size')
    print(f'folded conv+BN pairs: {report.folded}')
    print(f'parameters {before["params"]:,} -> {after["params"]:,}, '
          f'convs {before["convs"]} -> {after["convs"]}, '
          f'BN layers {before["norms"]} -> {after["norms"]}')
    files = list(dict.fromkeys(['deploy.py', 'deploy.pth'] + [
        c.file for c in report.engines.values()] + ['deploy.json']))
    print(f'wrote {args.out_dir}/' + ', '.join(files))


if __name__ == '__main__':
    main()
