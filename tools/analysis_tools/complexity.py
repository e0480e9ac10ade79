"""Params, multiply-adds and Winograd multiplications of fused RepVGG models.

    python tools/analysis_tools/complexity.py [--arch A0 B1g2 ...] [--shape H W]
    python tools/analysis_tools/complexity.py --config CONFIG [--shape H W]
    ... [--json FILE]

Without --config: each RepVGG variant (default: all) as the paper's ImageNet
classifier (RepVGG, global average pool, linear 1000), at 224x224 unless
--shape says otherwise, next to the paper's figures. With --config: the
config's fused ``model`` (segmentor or classifier) part by part, at 512x1024
for segmentors (224x224 otherwise) unless --shape says otherwise; a
segmentor's auxiliary head is shown but not counted in the total.
What is counted, and how: see repseg/analysis/complexity.py.
"""
import argparse
import json
import sys

from repseg.analysis.complexity import (CLASSIFIER_SHAPE, check_arch,
                                        classifier_complexity,
                                        config_complexity, format_paper_table,
                                        format_report)
from repseg.cli import positive_int
from repseg.errors import RepSegError
from repseg.fileio import atomic_output
from repseg.models.backbones import RepVGG


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        '--arch', nargs='+', default=list(RepVGG.arch_settings),
        help='RepVGG variants to measure as ImageNet classifiers '
        '(default: all)')
    source.add_argument('--config', help='measure cfg.model of this config')
    parser.add_argument('--shape', nargs=2, type=positive_int,
                        metavar=('H', 'W'),
                        help='input height and width (default: 224 224, '
                        'or 512 1024 for a segmentor config)')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the figures to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.config:
            reports = [config_complexity(args.config, args.shape)]
            text = format_report(reports[0])
        else:
            for arch in args.arch:  # every name checked before any work
                check_arch(arch)
            reports = [
                classifier_complexity(arch, args.shape or CLASSIFIER_SHAPE)
                for arch in args.arch
            ]
            text = format_paper_table(reports)
    except RepSegError as err:  # a config, arch, shape or forward pass
        sys.exit(f'complexity: {err}')
    print(text)
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(
                json.dumps([r.to_dict() for r in reports], indent=2) + '\n')
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
