"""Train a segmentor or a classifier from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options KEY=VALUE ...]
                                 [--launcher none|pytorch|slurm]

Several processes: tools/dist_train.sh CONFIG NUM_PROCESSES (torchrun; on a
machine without CUDA the processes train on the CPU with gloo).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from repseg.engine.config import (adapt_to_device, check_datasets,
                                  check_pretrained, init_cpu_process_group)
from repseg.engine.resume import find_resumable_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CKPT',
        help='resume from CKPT, or without a value from the last complete '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, KEY=VALUE')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args) -> Config:
    if not osp.isfile(args.config):
        raise SystemExit(f'train.py: config {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume:
        cfg.load_from = (find_resumable_checkpoint(cfg.work_dir)
                         if args.resume == 'auto' else args.resume)
        cfg.resume = cfg.load_from is not None
    adapt_to_device(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    # Data and weights are checked before any model is built.
    check_datasets(cfg)
    if not cfg.get('resume'):
        check_pretrained(cfg)
    init_cpu_process_group(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
