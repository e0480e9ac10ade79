"""Post-training INT8 quantization of a trained model.

    python tools/quantize.py CONFIG CKPT OUT_DIR [--calib-images N]
        [--calib-dir DIR] [--backend onnxruntime|openvino] [--shape H W]
        [--min-agreement A]

Deploys the model for the engine (as tools/deploy.py --backend does, checked
against the trained model), calibrates on N images (default 32) spread over
DIR, or over the config's training set, each run through the config's own
test pipeline, and writes the INT8 model (OUT_DIR/deploy.int8.onnx:
ONNX Runtime's static quantization, int8 weights per channel, QDQ format;
OUT_DIR/deploy.int8.xml with --backend openvino: NNCF's) and
OUT_DIR/quantize.json (what was done, and how
far the INT8 outputs are from the fp32 ones). tools/test.py, tools/infer.py
and repseg.apis.init_model take the INT8 file like any exported model. The
INT8 model must pick the trained model's class on at least --min-agreement
of the calibration images' output positions (default 0.9); an untrained
model, whose logits lie close together, may need less.
Nothing is written if a step fails. See repseg.apis.quantize.
"""
import sys

from repseg.apis.quantize import INT8_FILES, quantize
from repseg.cli import doc_parser, fraction, positive_int
from repseg.errors import RepSegError


def parse_args(argv=None):
    parser = doc_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument('--calib-images', type=positive_int, default=32,
                        metavar='N', help='calibration images (default 32)')
    parser.add_argument('--calib-dir', metavar='DIR',
                        help='calibrate on the images of DIR (default: the '
                        'config\'s training set)')
    parser.add_argument('--backend', default='onnxruntime',
                        choices=sorted(INT8_FILES))
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        metavar=('H', 'W'), help='export size (default: '
                        'what the test pipeline gives the calibration '
                        'images)')
    parser.add_argument('--min-agreement', type=fraction, metavar='A',
                        help="smallest share of output positions where the "
                        "INT8 model picks the trained model's class "
                        '(default 0.9)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        report = quantize(args.config, args.checkpoint, args.out_dir,
                          args.calib_images, args.calib_dir, args.backend,
                          args.shape, args.min_agreement)
    except RepSegError as err:
        sys.exit(f'quantize.py: {err}')
    print(f'calibrated on {report.calibration_images} images '
          f'({report.calibration_source}) at input '
          f'{"x".join(map(str, report.input_shape))}')
    print(f'{report.backend}: {report.fp32_file} vs trained '
          f'{report.fp32_max_rel_diff:.3e}; {report.int8_file} vs '
          f'{report.fp32_file}: {report.int8_max_rel_diff:.3e} of the '
          f'largest output, same class on {100 * report.int8_agreement:.2f}%')
    print(f'wrote {args.out_dir}/{report.int8_file}, quantize.json (and the '
          'deploy files)')


if __name__ == '__main__':
    main()
