"""Make Cityscapes (or the demo) ready for mmsegmentation.

    python tools/dataset_converters/cityscapes.py CITYSCAPES_ROOT [--nproc N]

Writes ``*_gtFine_labelTrainIds.png`` beside every
``gtFine/**/*_gtFine_polygons.json`` (19 training classes as 0..18, the rest
255, with cityscapesscripts' own mapping) and the split lists ``train.txt``,
``val.txt`` (and ``test.txt``) in the root, one ``city/city_seq_frame`` stem
per line, sorted. Each file is written under a temporary name and renamed.
"""
import argparse
import os
import sys

from repseg.datasets import convert_cityscapes
from repseg.errors import RepSegError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='Cityscapes root (holds gtFine/)')
    parser.add_argument('--nproc', type=int, default=min(8, os.cpu_count()),
                        help='worker processes (default: CPUs, at most 8)')
    args = parser.parse_args(argv)
    try:
        convert_cityscapes(args.root, nproc=args.nproc)
    except RepSegError as error:  # a missing root, bad polygons, --nproc
        sys.exit(f'convert_cityscapes.py: error: {error}')


if __name__ == '__main__':
    main()
