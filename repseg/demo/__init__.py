"""The built-in demo: datasets drawn procedurally (no download needed:
``cityscapes``, with a video of one of its streets, and ``imagenet``), the
pipeline of ``tools/run_demo.py`` (``pipeline``, run by ``steps``) and its
report (``report``).

The demo sits on top of repseg: it may import repseg.datasets,
repseg.results, repseg.equivalence and repseg.fileio; nothing else in repseg
imports it.
"""
from .cityscapes import make_demo_cityscapes, make_demo_video
from .imagenet import make_demo_imagenet

__all__ = ['make_demo_cityscapes', 'make_demo_imagenet', 'make_demo_video']
