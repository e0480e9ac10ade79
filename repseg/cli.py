"""Command-line pieces the tools share: argparse types and the options of
Runner-based tools. Only tools import this module."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from .engine.config import read_config


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The options every Runner-based tool takes, as mmseg's tools do."""
    parser.add_argument('--work-dir', help='where logs (and checkpoints) go '
                        '(default: the config\'s work_dir, else '
                        'work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, KEY=VALUE')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def doc_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the tool's docstring's first line and
    whose epilog is the rest of it, as written."""
    return argparse.ArgumentParser(
        description=doc.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split('\n', 1)[1])


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1] (``--opacity``)."""
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f'must be in [0, 1], got {text!r}')
    return value


def benchmark_mode(text: str) -> str:
    """argparse type: a benchmark mode (``fused+psp+onnx``), as written."""
    from .benchmark.modes import BenchmarkError, parse_mode
    try:
        parse_mode(text)
    except BenchmarkError as err:
        raise argparse.ArgumentTypeError(str(err))
    return text


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (``--shape``, ``--batch-size`` ...)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f'must be a positive integer, got {text!r}')
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (``--warmup``)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(
            f'must be a non-negative integer, got {text!r}')
    return int(text)


def load_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``--cfg-options``, launcher and work dir set;
    ``ConfigError`` when it cannot be found or read."""
    cfg = read_config(args.config)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
