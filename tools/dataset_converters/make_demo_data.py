"""Draw repseg's built-in demo datasets (no download needed).

    python tools/dataset_converters/make_demo_data.py cityscapes data/demo_cityscapes [--seed S]
    python tools/dataset_converters/make_demo_data.py imagenet data/demo_imagenet [--seed S]
    python tools/dataset_converters/make_demo_data.py video data/demo_street.mp4 [--seed S]

cityscapes: procedurally generated street-like scenes in the exact
Cityscapes layout (leftImg8bit PNGs; gtFine polygon JSON, labelIds and
instanceIds PNGs); run tools/dataset_converters/cityscapes.py on it as on the real one.
imagenet: a small ImageNet-style folder dataset (train/<class>/*.JPEG,
val/<class>/*.JPEG): windows of such scenes, labelled with the 19 Cityscapes
classes (the classification demo whose backbone the segmentation demo
starts from).
video: a 2.5 s, 10 fps, 512x256 drive down one such street (.mp4 or .avi),
for tools/infer.py; no labels.
The output is written under a temporary name and renamed at the end.
"""
import argparse

from repseg.demo import (make_demo_cityscapes, make_demo_imagenet,
                         make_demo_video)

MAKERS = {'cityscapes': make_demo_cityscapes, 'imagenet': make_demo_imagenet,
          'video': make_demo_video}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kind', choices=sorted(MAKERS))
    parser.add_argument('out_dir', metavar='out',
                        help='dataset root to create (video: the video file)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    MAKERS[args.kind](args.out_dir, seed=args.seed)


if __name__ == '__main__':
    main()
