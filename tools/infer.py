"""Segment your own images and videos.

    python tools/infer.py CONFIG CHECKPOINT INPUT [--out DIR]
        [--backend pytorch|onnxruntime|ncnn|openvino] [--device cpu|cuda]
        [--precision fp32|bf16|int8] [--fp16] [--batch-size N] [--opacity A] [--threads N] [--save-labels]
        [--max-frames N] [--json FILE] [--show]

CONFIG and CHECKPOINT: a training config and checkpoint (the model is fused
first), or tools/deploy.py output (deploy.py with the OUT_DIR of deploy.py --auto,
which stands for the fastest path recorded there, or with deploy.pth, or with
deploy.onnx for ONNX Runtime, deploy.ncnn.param for ncnn, deploy.xml for
OpenVINO, deploy.int8.onnx / deploy.int8.xml for INT8). --precision bf16
runs the PyTorch model under bf16 autocast, or an OpenVINO file in bf16
(the processor's AVX512-BF16 / AMX units); int8 takes an INT8 file (the
default for one). INPUT: an image, a folder (searched recursively), a glob
('photos/*.jpg', quoted), a video file or a camera index. For images, DIR
gets labels/<relative path>.png (Cityscapes labelIds for Cityscapes models,
the model's class indices otherwise) and overlays/<relative path>.png (the
input's size); a classifier writes predictions.json (top-5). For a video,
DIR gets <name>_overlay.<ext> (the input's frame rate and size) and, with
--save-labels, <name>_labels/. --json writes the summary
(repseg.results.InferenceReport). A run with failed inputs lists them and
exits with status 1.
"""
import os.path as osp
import sys

import torch

from repseg.apis import RepSegInferencer, init_model, run_inference
from repseg.engines import BACKENDS, backend_for_file
from repseg.cli import doc_parser, fraction, positive_int
from repseg.errors import RepSegError
from repseg.precision import PRECISIONS


def parse_args(argv=None):
    parser = doc_parser(__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='image, folder, glob, video or camera')
    parser.add_argument('--out', metavar='DIR',
                        help='where label maps and overlays go')
    parser.add_argument('--backend', choices=['pytorch', *BACKENDS],
                        help='default: from the checkpoint\'s ending')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--precision', choices=PRECISIONS,
                        help='what the network computes in (default: the '
                        'checkpoint\'s own: fp32, int8 for an INT8 file)')
    parser.add_argument('--fp16', action='store_true',
                        help='half precision (CUDA, PyTorch backend)')
    parser.add_argument('--batch-size', type=positive_int, default=1)
    parser.add_argument('--opacity', type=fraction, default=0.5,
                        help='weight of the class colours (default 0.5)')
    parser.add_argument('--threads', type=positive_int,
                        help='CPU threads (default: torch\'s)')
    parser.add_argument('--save-labels', action='store_true',
                        help='for a video, also each frame\'s label map')
    parser.add_argument('--max-frames', type=positive_int,
                        help='stop a video or camera after this many frames')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the summary to this JSON file')
    parser.add_argument('--show', action='store_true',
                        help='show the overlays in a window')
    args = parser.parse_args(argv)
    engine = backend_for_file(args.checkpoint) or 'pytorch'
    if osp.isdir(args.checkpoint):  # deploy.py --auto: checked when loaded
        engine = args.backend or engine
    if args.backend and args.backend != engine:
        parser.error(f'--backend {args.backend}: {args.checkpoint} is a '
                     f'{engine} file')
    if args.fp16 and (args.device != 'cuda' or engine != 'pytorch'):
        parser.error('--fp16 needs --device cuda and the pytorch backend')
    if args.fp16 and args.precision:
        parser.error('--fp16 and --precision: choose one')
    if engine != 'pytorch' and args.device != 'cpu':
        parser.error(f'--device {args.device}: the {engine} backend runs '
                     'on the CPU here')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('infer.py: --device cuda but CUDA is not available')
    try:
        model = init_model(args.config, args.checkpoint, args.device,
                           precision=args.precision)
        inferencer = RepSegInferencer(model, args.batch_size, args.opacity,
                                      args.show, fp16=args.fp16)
        summary = run_inference(inferencer, args.input, args.out,
                                args.save_labels, args.max_frames)
    except RepSegError as err:
        sys.exit(f'infer.py: {err}')
    print('\n'.join(summary.lines()))
    if args.out:
        print(f'wrote {args.out}')
    if args.json:
        summary.dump(args.json)
    if summary.failures:
        sys.exit(1)


if __name__ == '__main__':
    main()
