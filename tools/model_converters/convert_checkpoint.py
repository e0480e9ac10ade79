"""Convert a RepVGG checkpoint people already have into repseg's keys.

    python tools/model_converters/convert_checkpoint.py SRC DST [--arch NAME]

SRC: a RepVGG reference-implementation checkpoint (training or inference
form; bare, under "state_dict" or "model", keys with or without "module."),
a checkpoint of the QARepVGG authors' code (the same, training form ->
block_type='qarepvgg') or an mmpretrain RepVGG checkpoint. DST: an mmengine-format checkpoint with
the keys of a repseg classifier (backbone.*, head.fc.* when SRC has a head);
a segmentor loads its backbone with
init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.').
"""
import argparse
import os.path as osp
import sys

import torch

from repseg.checkpoint import safe_load
from repseg.convert import block_type_of, convert_checkpoint
from repseg.errors import RepSegError
from repseg.fileio import atomic_output
from repseg.models.backbones import RepVGG


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output path (.pth)')
    parser.add_argument('--arch', choices=sorted(RepVGG.arch_settings),
                        help='RepVGG variant (inferred from shapes if omitted)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.src):
        sys.exit(f'convert_checkpoint: SRC {args.src!r} does not exist')
    try:
        state, arch, deploy = convert_checkpoint(
            safe_load(args.src, map_location='cpu'), args.arch, args.src)
    except RepSegError as err:
        sys.exit(f'convert_checkpoint: {err}')
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
