"""Per-class loss weights of a converted Cityscapes-layout dataset.

    python tools/analysis_tools/class_weights.py CITYSCAPES_ROOT [--split train] [--offset 1.10]

Prints ``class_weight = [...]`` (ENet's ``1 / ln(offset + p)``, ``p`` each
class's share of the split's labelled pixels; see
repseg.datasets.class_weights) for a config's
``ClassWeightedCrossEntropyLoss``, as configs/demo/ uses them.
"""
import argparse
import sys

from repseg.datasets import class_weights
from repseg.datasets.cityscapes import CLASS_WEIGHT_OFFSET
from repseg.errors import RepSegError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='converted Cityscapes root')
    parser.add_argument('--split', default='train',
                        help='split whose label maps are counted '
                        '(default: train)')
    parser.add_argument('--offset', type=float, default=CLASS_WEIGHT_OFFSET,
                        help="ENet's offset, > 1: smaller spreads the "
                        f'weights wider (default: {CLASS_WEIGHT_OFFSET})')
    args = parser.parse_args(argv)
    try:
        weights = class_weights(args.root, args.split, offset=args.offset)
    except RepSegError as error:  # a missing split, bad label maps, --offset
        sys.exit(f'class_weights.py: error: {error}')
    print(f'class_weight = {weights}')


if __name__ == '__main__':
    main()
