"""Speed-accuracy leaderboard of repseg's and mmsegmentation's segmentors
on this CPU.

    python tools/analysis_tools/leaderboard.py --out DIR
        [--shapes 512x1024 1024x2048] [--threads N] [--repeat N]
        [--warmup N] [--models LABEL ...]
        [--precisions fp32 bf16 int8 | --modes MODE ...]
        [--min-agreement A] [--list]

For each shape, one interleaved benchmark run (as
tools/analysis_tools/benchmark.py) times every model of --models (default:
all of repseg/benchmark/published.py) in the candidate modes of
benchmark.py --auto: the fused model (RepVGG blocks fused, every conv+BN
folded) as each engine deploys it (ONNX Runtime, OpenVINO, ncnn) and in
eager PyTorch, channels-last, in each of --precisions this processor
computes natively (bf16: AVX512-BF16 or AMX; int8: VNNI or AMX), without
the exact rewrites that do not change the model (psp without a PSP head,
s2b without dilated stages it takes). --modes replaces the candidates by
the modes given, for every model. Every row is checked
against the eager fused model before timing; a mode that cannot be
exported, run or checked is left out with its reason. Per model the
fastest verified row is kept, next to its published Cityscapes val mIoU,
parameters and multiply-adds. Weights are random (timing does not depend
on them). Writes DIR/leaderboard.md (a table per shape, the Pareto front
in bold, every failed mode's reason), DIR/leaderboard.json and
DIR/leaderboard.png (latency on a log axis against mIoU, the Pareto front
drawn, repseg's models marked apart). Reduced-precision rows are held to
their precision's relative bound and ranked in a table of their own;
their argmax agreement with the fp32 model is recorded, and refused below
--min-agreement (default 0: with random weights it measures the logits'
margins, not the engine).

Example (a short run):

    python tools/analysis_tools/leaderboard.py --out work_dirs/leaderboard \\
        --shapes 512x1024 --models PSPNet-RepVGG-B1g2-fast PIDNet-S \\
        --modes fused+psp+onnx fused+psp+openvino --repeat 3 --warmup 1 \\
        --threads 2
"""
import argparse
import sys

from repseg.benchmark.leaderboard import (DEFAULT_SHAPES, LeaderboardError,
                                          format_markdown,
                                          parse_shape, run_leaderboard,
                                          select_models, write_leaderboard)
from repseg.benchmark.published import LEADERBOARD_MODELS
from repseg.cli import (benchmark_mode, doc_parser, fraction, non_negative_int,
                        positive_int)
from repseg.errors import RepSegError
from repseg.precision import PRECISIONS


def shape(text: str):
    try:
        return parse_shape(text)
    except LeaderboardError as err:
        raise argparse.ArgumentTypeError(str(err))


def parse_args(argv=None):
    parser = doc_parser(__doc__)
    parser.add_argument('--out', help='folder for leaderboard.md, '
                        'leaderboard.json and leaderboard.png')
    parser.add_argument('--shapes', nargs='+', type=shape,
                        default=list(DEFAULT_SHAPES), metavar='HxW',
                        help='input sizes, one run each (default: 512x1024 '
                        '1024x2048)')
    parser.add_argument('--threads', type=positive_int,
                        help="CPU threads for torch and the engines "
                        "(default: torch's default)")
    parser.add_argument('--repeat', type=positive_int, default=5,
                        help='timed calls per row (default: 5)')
    parser.add_argument('--warmup', type=non_negative_int, default=1,
                        help='untimed calls per row first (default: 1)')
    parser.add_argument('--models', nargs='+', metavar='LABEL',
                        help='only these models, by label (--list names '
                        'them)')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                       default=['fp32'], help='default: fp32')
    which.add_argument('--modes', nargs='+', type=benchmark_mode, metavar='MODE',
                       help='these benchmark modes for every model instead '
                       'of the candidates')
    parser.add_argument('--min-agreement', type=fraction, metavar='A',
                        default=0.0,
                        help="bf16/int8 rows: smallest share of output "
                        "positions picking the fp32 model's class (default: "
                        "0, recorded only: the weights are random)")
    parser.add_argument('--list', action='store_true',
                        help='print the models and their published mIoU, '
                        'then stop')
    args = parser.parse_args(argv)
    if not args.list and not args.out:
        parser.error('--out is required')
    return args


def announce(env: dict, rows) -> None:
    print(f"{env['input_shape']}: timing {len(rows)} rows, "
          f"{env['warmup']} warm-up + {env['repeat']} timed calls each, "
          'interleaved ...', flush=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        models = select_models(args.models)
        if args.list:
            for m in LEADERBOARD_MODELS if not args.models else models:
                miou = '—' if m.miou is None else f'{m.miou:.2f}'
                print(f'{m.label:<26} {miou:>6}  {m.config}  ({m.source})')
            return
        entries, runs = run_leaderboard(
            models, args.shapes, args.threads, args.repeat, args.warmup,
            args.precisions, args.modes, min_agreement=args.min_agreement,
            on_timing=announce)
        paths = write_leaderboard(entries, runs, args.out)
    except RepSegError as err:
        sys.exit(f'leaderboard.py: {err}')
    print(format_markdown(entries, runs))
    for path in paths.values():
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
