"""Convert a RepVGG or RDRNet checkpoint people already have into repseg's keys.

    python tools/model_converters/convert_checkpoint.py SRC DST [--arch NAME]
        [--form {multi-branch,fused}]

SRC: a RepVGG reference-implementation checkpoint (training or inference
form; bare, under "state_dict" or "model", keys with or without "module."),
a checkpoint of the QARepVGG authors' code (the same, training form ->
block_type='qarepvgg') or an mmpretrain RepVGG checkpoint. DST: an mmengine-format checkpoint with
the keys of a repseg classifier (backbone.*, head.fc.* when SRC has a head);
a segmentor loads its backbone with
init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.').

SRC may also be an RDRNet segmentor checkpoint of the authors' code
(gyyang23/RDRNet: training or deploy form) or of repseg (then only checked):
DST has repseg's RDRNet segmentor keys (backbone.*, decode_head.*), for a
config of that size (configs/rdrnet_<size>.py; backbone and decode_head
deploy=True for the fused form). --arch names the size (S, M, L) and --form
the form it must have; a checkpoint of another is refused.
"""
import argparse
import os.path as osp
import sys

import torch

from repseg.checkpoint import safe_load
from repseg.convert import (block_type_of, convert_checkpoint,
                            convert_rdrnet_checkpoint, is_rdrnet_state,
                            unwrap_state_dict)
from repseg.errors import RepSegError
from repseg.fileio import atomic_output
from repseg.models.backbones import RDRNet, RepVGG

FORMS = {'multi-branch': False, 'fused': True}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output path (.pth)')
    parser.add_argument('--arch',
                        choices=sorted(RepVGG.arch_settings) +
                        sorted(RDRNet.arch_settings),
                        help='RepVGG variant or RDRNet size (inferred from '
                        'shapes if omitted)')
    parser.add_argument('--form', choices=sorted(FORMS),
                        help='the form SRC must have (default: either)')
    return parser.parse_args(argv)


def convert_rdrnet(args, checkpoint):
    """Write an RDRNet SRC as a repseg RDRNet segmentor checkpoint."""
    if args.arch is not None and args.arch not in RDRNet.arch_settings:
        sys.exit(f'convert_checkpoint: {args.src} is an RDRNet checkpoint; '
                 f'--arch must be one of {sorted(RDRNet.arch_settings)}')
    try:
        state, arch, deploy = convert_rdrnet_checkpoint(
            checkpoint, args.arch, FORMS.get(args.form), args.src)
    except RepSegError as err:
        sys.exit(f'convert_checkpoint: {err}')
    checkpoint = dict(
        meta=dict(rdrnet_arch=arch, deploy=deploy, converted_from=args.src),
        state_dict=state)
    with atomic_output(args.dst) as tmp:
        torch.save(checkpoint, tmp)
    form = 'fused (deploy=True)' if deploy else 'multi-branch'
    print(f'{args.src} -> {args.dst}: RDRNet-{arch}, {form}, '
          f'{len(state)} tensors')


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'convert_checkpoint: SRC {args.src!r} does not exist')
    try:
        checkpoint = safe_load(args.src, map_location='cpu')
        rdrnet = is_rdrnet_state(unwrap_state_dict(checkpoint, args.src))
    except RepSegError as err:
        sys.exit(f'convert_checkpoint: {err}')
    if rdrnet:
        return convert_rdrnet(args, checkpoint)
    if args.arch is not None and args.arch not in RepVGG.arch_settings:
        sys.exit(f'convert_checkpoint: --arch {args.arch} is an RDRNet size '
                 f'but {args.src} is a RepVGG checkpoint')
    try:
        state, arch, deploy = convert_checkpoint(checkpoint, args.arch,
                                                 args.src)
    except RepSegError as err:
        sys.exit(f'convert_checkpoint: {err}')
    if args.form is not None and FORMS[args.form] != deploy:
        sys.exit(f'convert_checkpoint: {args.src} holds the '
                 f'{"fused" if deploy else "multi-branch"} form, not the '
                 f'{args.form} form asked for')
    # None for fused weights: they load with either block_type.
    block_type = block_type_of(state)
    checkpoint = dict(
        meta=dict(repvgg_arch=arch, deploy=deploy, block_type=block_type,
                  converted_from=args.src),
        state_dict=state)
    with atomic_output(args.dst) as tmp:
        torch.save(checkpoint, tmp)
    form = ('fused (deploy=True, any block_type)' if deploy else
            f'multi-branch, block_type={block_type!r}')
    name = 'QARepVGG' if block_type == 'qarepvgg' else 'RepVGG'
    print(f'{args.src} -> {args.dst}: {name}-{arch}, {form}, '
          f'{len(state)} tensors'
          f'{", with head" if "head.fc.weight" in state else ""}')


if __name__ == '__main__':
    main()
