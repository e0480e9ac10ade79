"""Inference speed of a model's forms and runtimes, side by side.

    python tools/analysis_tools/benchmark.py CONFIG [CKPT]
        [--modes multi-branch fused ...]
        [--baselines CONFIG ...] [--shape H W] [--batch-size N]
        [--device cpu|cuda] [--repeat N] [--warmup N] [--fp16]
        [--channels-last] [--threads N] [--tolerance T]
        [--min-agreement A] [--reference ROW] [--json FILE]
        [--profile [ROW ...]] [--keep-going] [--auto [PRECISION ...]]
    python tools/analysis_tools/benchmark.py --arch A0 [same options]

Every model (CONFIG or the bare RepVGG backbone of --arch, then each
--baselines config) runs in every mode of --modes, on one random input,
timed interleaved so that noise on a shared machine hits all rows alike.
A mode is FORM[+OPTION...]: FORM 'multi-branch' (as built; 'unfused' is an
old spelling) or 'fused' (RepVGG blocks fused, every conv+BN folded,
baselines included); options 'cl' (channels-last), 'psp' (PSP head
bottleneck factorized, exact), 's2b' (dilated RepVGG and ResNet stages as
undilated convs on a mosaic of polyphase sub-images, space-to-batch,
exact), 'wino2' or 'wino4' (3x3 stride-1 convs by Winograd F(2x2,3x3) /
F(4x4,3x3)) and one runtime of 'jit' (TorchScript frozen), 'compile'
(torch.compile, inductor with freezing), 'onnx' (ONNX Runtime, needs `pip
install -e .[onnx]`), 'ncnn' (ncnn through pnnx, needs `pip install -e
.[deploy]`), 'openvino' (OpenVINO's CPU plugin, fp32, on the ONNX export
converted to its IR; needs both extras), and 'bf16' to compute in bfloat16
where the runtime does: eager and compile (torch.autocast; add 'cl' for
channels-last) and openvino (its bf16 precision hint); fp32 is the default.
Aliases: jit, compile, onnx, ncnn, openvino = fused+jit etc.; fast = the
model tools/deploy.py writes for ncnn (with its rewrites) on ncnn, the
segmentors' deployment path on a CPU (--help names it; docs/benchmark.md
compares the modes).

Weights are random unless CKPT is given (timing does not depend on them). A
config whose backbone is already fused (deploy=True, tools/deploy.py
output) is taken as it is, without the 'multi-branch' mode. Segmentors run
``model(x, mode='tensor')`` (decode-head logits), classifiers give logits,
--arch the four stage outputs. Before timing, every row is compared with
the model's eager fused output, and one that differs by more than
--tolerance (largest |diff| / largest |output|) stops the run; a bf16 row
must instead pick the fp32 model's class at --min-agreement of the output
positions (default 0.99; random weights give close logits, so an untrained
model may need less) and differ by at most 5e-2. The processor (model, AVX2
/ AVX-512 / VNNI / BF16 / AMX) and the peak multiply rate of each precision
(fp32 GEMM, bf16 and int8 matmul) are measured and reported; each row shows
its multiplications under its Winograd tiles and their rate against the
peak of its precision (a bf16 row on a processor without bf16 units is
marked emulated); --profile times a row part by part (stem, stages, decode
head). --keep-going leaves out the rows an engine cannot take (or that are
refused) and lists them with the reason, instead of stopping. --auto times
every path repseg deploys (ncnn, OpenVINO, ONNX Runtime, PyTorch
channels-last) in each of the precisions given (default fp32 bf16; add
int8) that this processor computes natively, goes on past failures, and
prints each model's fastest verified path and the runners-up
(repseg.benchmark.auto); on a processor without bf16 / VNNI units only the
fp32 paths are candidates.
"""
import sys

import torch

from repseg.benchmark import (FAST_MODE, benchmark, build_specs,
                              format_machine, format_profile, format_table)
from repseg.benchmark.auto import candidate_modes, fastest_paths
from repseg.cli import (benchmark_mode, doc_parser, fraction, non_negative_int,
                        positive_int)
from repseg.equivalence import (BF16_MIN_AGREEMENT, FP16_TOLERANCE,
                                INT8_MIN_AGREEMENT, TOLERANCE)
from repseg.errors import RepSegError
from repseg.precision import PRECISIONS

def parse_args(argv=None):
    parser = doc_parser(__doc__)
    parser.add_argument('config', nargs='?',
                        help='segmentor or classifier config (a file, or '
                        'e.g. mmseg::pspnet/...py)')
    parser.add_argument('checkpoint', nargs='?',
                        help='weights for CONFIG (default: random)')
    parser.add_argument('--arch', help='benchmark the bare RepVGG backbone '
                        'of this variant (e.g. A0) instead of a config')
    parser.add_argument('--modes', nargs='+', type=benchmark_mode,
                        default=['multi-branch', 'fused'],
                        help='modes to run each model in (default: '
                        'multi-branch fused); e.g. fused+cl fused+cl+bf16 '
                        f'fused+jit onnx openvino+bf16 fast (= {FAST_MODE})')
    parser.add_argument('--baselines', nargs='+', default=[],
                        metavar='CONFIG',
                        help='more configs to run in the same modes, e.g. '
                        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-'
                        '512x1024.py')
    parser.add_argument('--shape', nargs=2, type=positive_int,
                        metavar=('H', 'W'),
                        help='input size (default: 512 1024 for segmentors,'
                        ' 224 224 otherwise)')
    parser.add_argument('--batch-size', type=positive_int, default=1,
                        help='images per call (default: 1)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--repeat', type=positive_int, default=10,
                        help='timed calls per row (default: 10)')
    parser.add_argument('--warmup', type=non_negative_int, default=2,
                        help='untimed calls per row first (default: 2)')
    parser.add_argument('--fp16', action='store_true',
                        help='half precision (CUDA only); the default '
                        f'tolerance becomes {FP16_TOLERANCE:g}')
    parser.add_argument('--channels-last', action='store_true',
                        help='add the cl option to every mode')
    parser.add_argument('--threads', type=positive_int,
                        help='CPU threads for torch and the engines '
                        '(default: torch\'s default)')
    parser.add_argument('--tolerance', type=float,
                        help=f'largest accepted output difference relative '
                        f'to the largest output, fp32 rows (default: '
                        f'{TOLERANCE:g})')
    parser.add_argument('--min-agreement', type=fraction, metavar='A',
                        help='smallest share of output positions where a '
                        'bf16 or int8 row picks the class the fp32 model '
                        f'picks (default: {BF16_MIN_AGREEMENT:g} in bf16, '
                        f'{INT8_MIN_AGREEMENT:g} in int8)')
    parser.add_argument('--reference', metavar='ROW',
                        help='row the speed-ups are relative to, as '
                        'LABEL:MODE or MODE (default: the first row)')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the results to this JSON file')
    parser.add_argument('--profile', nargs='*', metavar='ROW',
                        help='after the timing, time these rows (named as '
                        'for --reference; none: the first model\'s fastest '
                        'row) part by part: stem, stages, decode head, each '
                        'with its multiplications and %% of the GEMM rate')
    parser.add_argument('--keep-going', action='store_true',
                        help='leave out rows that cannot run, with why')
    parser.add_argument('--auto', nargs='*', choices=PRECISIONS,
                        metavar='PRECISION',
                        help='time every deployable path in these '
                        'precisions (default fp32 bf16) and name each '
                        'model\'s fastest; replaces --modes')
    args = parser.parse_args(argv)
    if args.auto is not None:
        args.modes = candidate_modes(precisions=args.auto or ('fp32', 'bf16'))
        args.keep_going = True
    if (args.config is None) == (args.arch is None):
        parser.error('give either CONFIG or --arch')
    if args.arch and args.checkpoint:
        parser.error('CKPT goes with CONFIG, not with --arch')
    return args


def announce(env: dict, rows) -> None:
    print(', '.join(f'{k}: {v}' for k, v in env.items()))
    print(f'timing {len(rows)} rows, {env["warmup"]} warm-up + '
          f'{env["repeat"]} timed calls each, interleaved ...', flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        if not torch.cuda.is_available():
            sys.exit('benchmark.py: --device cuda but CUDA is not available')
        # Let cuDNN pick the fastest algorithm for the fixed input shape.
        torch.backends.cudnn.benchmark = True
    try:
        specs = build_specs(args.config, args.checkpoint, args.arch,
                            args.baselines)
        report = benchmark(specs, args.modes, args.shape, args.batch_size,
                           args.device, args.fp16, args.channels_last,
                           args.repeat, args.warmup, args.tolerance,
                           args.reference, on_timing=announce,
                           profile=args.profile,
                           min_agreement=args.min_agreement,
                           keep_going=args.keep_going)
    except RepSegError as err:
        sys.exit(f'benchmark.py: {err}')
    print(format_table(report.rows, report.reference))
    print(format_machine(report.processor, report.peak_macs_per_s))
    for name, why in report.failures.items():
        print(f'not run: {name}: {why}')
    if args.auto is not None:
        for choice in fastest_paths(report):
            print('\n'.join(choice.lines()))
    medians = {r.row: r.median_ms for r in report.rows}
    for name, parts in report.profiles.items():
        print(format_profile(name, parts, medians[name]))
    if args.json:
        report.dump(args.json)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
