"""Train a segmentor or a classifier from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options KEY=VALUE ...]
                                 [--launcher none|pytorch|slurm]

Several processes: tools/dist_train.sh CONFIG NUM_PROCESSES (torchrun; on a
machine without CUDA the processes train on the CPU with gloo).
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner

from repseg.cli import add_runner_args, load_config
from repseg.engine.config import (adapt_to_device, check_datasets,
                                  check_pretrained, init_cpu_process_group)
from repseg.engine.resume import find_resumable_checkpoint
from repseg.errors import RepSegError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CKPT',
        help='resume from CKPT, or without a value from the last complete '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training')
    add_runner_args(parser)
    return parser.parse_args(argv)


def build_config(args) -> Config:
    cfg = load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume not in (None, 'auto') and not osp.isfile(args.resume):
        raise SystemExit(f'train.py: --resume: checkpoint {args.resume!r} '
                         'does not exist')
    if args.resume:
        cfg.load_from = (find_resumable_checkpoint(cfg.work_dir)
                         if args.resume == 'auto' else args.resume)
        cfg.resume = cfg.load_from is not None
    adapt_to_device(cfg)
    return cfg


def train(args) -> None:
    cfg = build_config(args)
    # Data and weights are checked before any model is built.
    check_datasets(cfg)
    if not cfg.get('resume'):
        check_pretrained(cfg)
    init_cpu_process_group(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()


def main(argv=None):
    args = parse_args(argv)
    try:
        train(args)
    except RepSegError as err:  # a config, dataset or checkpoint at fault
        raise SystemExit(f'train.py: {err}') from err


if __name__ == '__main__':
    main()
