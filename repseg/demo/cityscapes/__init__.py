"""Demo Cityscapes: procedurally drawn street scenes in the exact Cityscapes
layout, so that every tool that reads Cityscapes runs on it unchanged.

A scene is a list of labelled polygons drawn back to front, exactly what a
real ``*_gtFine_polygons.json`` holds. The label PNGs are made from that JSON
by cityscapesscripts itself, and the photo is painted through the same PIL
polygon rasterizer, so photo, JSON and label maps agree pixel for pixel.
Every training class has its own colour range and texture (with per-image
jitter) so that a small network can learn it from appearance, and the layout
is plausible: a pinhole camera looks down a straight street, things shrink
with distance, nearer things hide farther ones.

Modules, from the bottom up:

- ``primitives``: colours, blends, value noise, masks;
- ``shapes``: outlines of things in metres;
- ``geometry``: the street, its camera, and object frames;
- ``painters``: one texture per kind of object;
- ``layout``: scene objects and placing them in the street;
- ``background``, ``furniture``, ``road_users``, ``void``: the ``add_*``
  methods of each part of a scene; ``builder`` combines them;
- ``classes``: the classes every scene must show;
- ``labels``: the polygon JSON, label maps and their files;
- ``render``: a scene's photo and maps (``render_scene``);
- ``writer``: the dataset on disk (``make_demo_cityscapes``);
- ``video``: a drive down one such street as a video file
  (``make_demo_video``), for ``tools/infer.py``.
"""
from .classes import ALWAYS, SCHEDULE, TRAIN_CLASSES
from .render import MAX_TRIES, render_scene
from .video import make_demo_video
from .writer import CITIES, FRAME, MARKER, SPLIT_CODES, make_demo_cityscapes

__all__ = ['make_demo_cityscapes', 'make_demo_video', 'TRAIN_CLASSES',
           'ALWAYS', 'SCHEDULE', 'CITIES', 'FRAME', 'MARKER', 'MAX_TRIES', 'SPLIT_CODES',
           'render_scene']
