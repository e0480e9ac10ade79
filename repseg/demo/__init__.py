"""The built-in demo: datasets drawn procedurally (no download needed:
``cityscapes``, with a video of one of its streets, and ``imagenet``), the
pipeline of ``tools/run_demo.py`` (``pipeline``, run by ``steps``) and its
report (``report``).

The demo is a client of repseg: it runs the tools as a user does and reads
their reports through repseg's public modules; nothing else in repseg
imports it, and what only it needs (matplotlib, for the report's plots) is
the ``demo`` install extra. Its models are the entries of
``repseg.demo.models.MODELS``.
"""
from .cityscapes import make_demo_cityscapes, make_demo_video
from .imagenet import make_demo_imagenet

__all__ = ['make_demo_cityscapes', 'make_demo_imagenet', 'make_demo_video']
