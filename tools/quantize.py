"""Post-training INT8 quantization of a trained model.

    python tools/quantize.py CONFIG CKPT OUT_DIR [--calib-images N]
        [--calib-dir DIR] [--backend onnxruntime] [--shape H W]

Deploys the model for the engine (as tools/deploy.py --backend does, checked
against the trained model), calibrates on N images (default 32) spread over
DIR, or over the config's training set, each run through the config's own
test pipeline, and writes the INT8 model (OUT_DIR/deploy.int8.onnx:
ONNX Runtime's static quantization, int8 weights per channel, uint8
activations, QDQ format) and OUT_DIR/quantize.json (what was done, and how
far the INT8 outputs are from the fp32 ones). tools/test.py, tools/infer.py
and repseg.apis.init_model take the INT8 file like any exported model.
Nothing is written if a step fails. See repseg.apis.quantize.
"""
import sys

from repseg.apis.quantize import INT8_FILES, quantize
from repseg.cli import doc_parser, positive_int
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        report = quantize(args.config, args.checkpoint, args.out_dir,
                          args.calib_images, args.calib_dir, args.backend,
                          args.shape)
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
