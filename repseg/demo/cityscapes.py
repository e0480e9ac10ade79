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
"""
import colorsys
import json
import time
from functools import cached_property, partial
from pathlib import Path
from typing import Callable, List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from mmengine.utils import track_progress
from PIL import Image, ImageDraw

from repseg.fileio import atomic_output

__all__ = ['make_demo_cityscapes', 'TRAIN_CLASSES']

# The 19 classes Cityscapes trains and evaluates on, in trainId order.
TRAIN_CLASSES = tuple(
    label.name for label in sorted(CITYSCAPES_LABELS, key=lambda l: l.trainId)
    if 0 <= label.trainId < 255)
CITIES = {'train': ('aachen', 'bremen', 'zurich'),
          'val': ('frankfurt', 'lindau', 'munster')}
SPLIT_CODES = {'train': 0, 'val': 1}
FRAME = 19  # gtFine annotates the 20th frame of each 30-frame snippet.
MARKER = 'demo_cityscapes.json'  # marks a folder this module may overwrite

# Every scene contains these; the rarer classes are scheduled so that each
# run of three consecutive scenes of a split shows all 19 (and random extras
# make most classes appear in most scenes).
ALWAYS = ('road', 'sidewalk', 'building', 'sky', 'vegetation', 'pole',
          'traffic sign', 'car', 'person')
SCHEDULE = (('truck', 'motorcycle', 'rider', 'wall', 'traffic light'),
            ('bus', 'bicycle', 'rider', 'fence', 'terrain'),
            ('train', 'bicycle', 'motorcycle', 'terrain', 'wall', 'fence',
             'traffic light'))
MAX_TRIES = 50

WHITE = np.ones(3, np.float32)
BLACK = np.zeros(3, np.float32)


# --------------------------------------------------------------- colours --
def _hsv(rng, hue, sat, val):
    """An RGB colour (floats in [0, 1]) drawn uniformly from HSV ranges; the
    hue range may wrap around 0 (e.g. (-0.05, 0.05) for reds)."""
    rgb = colorsys.hsv_to_rgb(
        rng.uniform(*hue) % 1.0, rng.uniform(*sat), rng.uniform(*val))
    return np.array(rgb, np.float32)


def _vehicle_colour(rng):
    """Car paint: mostly white, silver, grey and black, sometimes a colour."""
    if rng.random() < 0.6:
        return _hsv(rng, (0, 1), (0, 0.08), rng.choice([(0.08, 0.2),
                                                        (0.45, 0.65),
                                                        (0.8, 0.95)]))
    return _hsv(rng, (0, 1), (0.5, 0.9), (0.35, 0.85))


def _mix(base, other, weight):
    """Blend colour/image ``other`` into ``base`` with per-pixel ``weight``."""
    weight = np.asarray(weight, np.float32)[..., None]
    return base * (1 - weight) + other * weight


def _shade(rgb, factor):
    return rgb * np.asarray(factor, np.float32)[..., None]


def _flat(colour, shape):
    return np.broadcast_to(colour, (*shape, 3)).astype(np.float32)


def _noise(rng, shape, cell=1, cell_x=None):
    """Smooth value noise in [-1, 1] whose blobs measure about ``cell`` rows
    by ``cell_x`` (default ``cell``) columns of pixels."""
    height, width = shape
    cell_x = cell if cell_x is None else cell_x
    grid = rng.uniform(-1, 1, (height // cell + 2, width // cell_x + 2))
    grid = grid.astype(np.float32)
    if cell == cell_x == 1:
        return grid[:height, :width]
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)


def _disc(a, b, centre, radius):
    return (a - centre[0])**2 + (b - centre[1])**2 < radius**2


def _ring(a, b, centre, radius, width):
    dist = np.hypot(a - centre[0], b - centre[1])
    return np.abs(dist - radius) < width


def _segment_distance(a, b, p0, p1):
    """Distance from every (a, b) to the segment p0-p1."""
    d = np.subtract(p1, p0)
    t = ((a - p0[0]) * d[0] + (b - p0[1]) * d[1]) / max(d @ d, 1e-9)
    t = np.clip(t, 0, 1)
    return np.hypot(a - p0[0] - t * d[0], b - p0[1] - t * d[1])


# ---------------------------------------------------------------- shapes --
def _arc(centre, radius, start_deg, end_deg, num=8):
    """Points on a circle from start_deg to end_deg (b up, degrees CCW)."""
    angles = np.radians(np.linspace(start_deg, end_deg, num))
    return [(centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t))
            for t in angles]


def _rect(a0, a1, b0, b1):
    return [(a0, b0), (a1, b0), (a1, b1), (a0, b1)]


def _person_shape(height, stride):
    """A standing/walking pedestrian seen from the front, feet at b=0."""
    k = height / 1.75
    head = _arc((0, height - 0.11 * k), 0.11 * k, -60, 240, 10)
    right = [(stride - 0.05 * k, 0), (stride + 0.08 * k, 0),
             (0.14 * k, 0.5 * height), (0.2 * k, 0.47 * height),
             (0.25 * k, 0.56 * height), (0.23 * k, 0.8 * height),
             (0.07 * k, 0.84 * height)]
    left = [(-0.07 * k, 0.84 * height), (-0.23 * k, 0.8 * height),
            (-0.25 * k, 0.56 * height), (-0.2 * k, 0.47 * height),
            (-0.14 * k, 0.5 * height), (-stride - 0.08 * k, 0),
            (-stride + 0.05 * k, 0), (0, 0.45 * height)]
    return right + head + left


def _rider_shape(seat, bar, pedal):
    """A cyclist seen from the side facing +a: seat, handlebar and pedal
    positions of the two-wheeler place the body."""
    (sa, sb), (ha, hb), (pa, pb) = seat, bar, pedal
    shoulder = (sa + 0.3, sb + 0.52)
    head = _arc((shoulder[0] + 0.1, shoulder[1] + 0.2), 0.11, 200, -30, 8)
    return [(sa - 0.1, sb - 0.02), (sa - 0.12, sb + 0.15),
            (shoulder[0] - 0.15, shoulder[1])] + head + [
        (shoulder[0] + 0.12, shoulder[1] - 0.05), (ha - 0.02, hb + 0.12),
        (ha + 0.03, hb + 0.02), (ha - 0.06, hb), (shoulder[0] + 0.05,
                                                  shoulder[1] - 0.3),
        (sa + 0.28, sb + 0.02), (pa + 0.2, pb + 0.38), (pa + 0.12, pb - 0.02),
        (pa - 0.02, pb - 0.02), (pa + 0.06, pb + 0.33), (sa + 0.05,
                                                         sb - 0.12)]


def _wheel_arcs(centres, radius, num=7):
    """The lower halves of wheels, front (+a) first, for vehicle outlines."""
    points = []
    for ca in sorted(centres, reverse=True):
        points += _arc((ca, radius), radius, 0, -180, num)
    return points


# ---------------------------------------------------------------- frames --
# A frame maps the pixels of an object's bounding box to the object's own
# coordinates in metres (a: rightwards/along, b: upwards/in depth) and gives
# the pixels per metre there, so painters draw in world units.
def _screen_frame(xx, yy):
    return xx, yy, 1.0


def _upright_frame(centre_x, ground_y, scale, facing, xx, yy):
    return ((xx - centre_x) / (scale * facing), (ground_y - yy) / scale,
            scale)


class _Street:
    """Camera and street geometry of one scene: a pinhole camera at
    ``cam_height`` metres looking down a straight street; lateral position u
    (metres, 0 = camera) at image row y is at x = vanish_x + u * scale(y)."""

    def __init__(self, rng, width, height):
        self.width, self.height = width, height
        self.horizon = height * rng.uniform(0.36, 0.46)
        self.vanish_x = width * rng.uniform(0.38, 0.62)
        self.cam_height = rng.uniform(1.1, 1.35)
        self.focal = width * rng.uniform(0.8, 1.0)
        self.road = (-rng.uniform(2.5, 6.0), rng.uniform(2.5, 6.0))
        self.facades = (self.road[0] - rng.uniform(2.5, 5.5),
                        self.road[1] + rng.uniform(2.5, 5.5))
        # Where the street ends (a few pixels below the horizon).
        self.end_row = self.horizon + max(1.5, 0.015 * height)
        self.span = height - self.horizon  # rows of ground in view

    def scale(self, y):
        """Pixels per metre on the ground at image row y."""
        return (y - self.horizon) / self.cam_height

    def ground_x(self, u, y):
        return self.vanish_x + u * self.scale(y)

    def ground_quad(self, u0, u1, y0, y1):
        return [(self.ground_x(u0, y0), y0), (self.ground_x(u1, y0), y0),
                (self.ground_x(u1, y1), y1), (self.ground_x(u0, y1), y1)]

    def edge_row(self, u):
        """The row where lateral line u leaves the image at its side."""
        edge = 0 if u < 0 else self.width
        return self.horizon + (edge - self.vanish_x) / u * self.cam_height

    def side_frame(self, u, xx, yy):
        """Frame on the vertical plane at lateral u: a = depth, b = height."""
        s = np.maximum((xx - self.vanish_x) / u, 0.05)
        return self.focal / s, (self.horizon + self.cam_height * s - yy) / s, s

    def ground_frame(self, xx, yy):
        """Frame on the ground: a = lateral u, b = depth (metres)."""
        s = np.maximum(yy - self.horizon, 0.5) / self.cam_height
        return (xx - self.vanish_x) / s, self.focal / s, s


# -------------------------------------------------------------- painters --
# Each painter returns the RGB (floats in [0, 1]) of an object's bounding
# box; only the pixels where the object is visible are kept.
def _paint_sky(g, zenith, haze, cloud, cover, horizon):
    t = np.clip(g.yy / horizon, 0, 1)
    rgb = _mix(_flat(zenith, g.shape), haze, t)
    clouds = np.clip(g.noise(max(4, g.shape[1] // 10)) * 1.5 - cover, 0, 1)
    return _mix(rgb, cloud, clouds)


def _paint_building(g, wall, glass, bay, floor, window):
    rgb = _shade(_flat(wall, g.shape), 1 + 0.05 * g.noise())
    fa = (g.a / bay) % 1.0
    fb = (g.b / floor) % 1.0
    windows = ((np.abs(fa - 0.5) < window / 2) & (np.abs(fb - 0.55) < 0.3)
               & (g.b > 0.4))
    visible = np.clip((np.minimum(bay, floor) * g.spx - 2) / 3, 0, 1)
    pane = _shade(_flat(glass, g.shape), 0.7 + 0.6 * fb)
    return _mix(rgb, pane, windows * visible)


def _paint_wall(g, colour, mortar, brick):
    row = np.floor(g.yy / brick)
    joints = ((g.yy / brick) % 1.0 < 0.3) | (
        ((g.xx + row * brick * 1.3) / (brick * 2.6)) % 1.0 < 0.15)
    rgb = _shade(_flat(colour, g.shape), 1 + 0.08 * g.noise())
    return _mix(rgb, mortar, joints)


def _paint_fence(g, wire, backdrop, period, top):
    mesh = (((g.xx + g.yy) / period) % 1.0 < 1.3 / period) | (
        ((g.xx - g.yy) / period) % 1.0 < 1.3 / period)
    rail = g.b > top - 0.08
    rgb = _shade(_flat(backdrop, g.shape), 1 + 0.15 * g.noise(3))
    return _mix(rgb, wire, mesh | rail)


def _paint_pole(g, colour, width):
    across = np.clip(g.a / (width / 2), -1, 1)
    light = 0.55 + 0.5 * np.cos(across * np.pi / 2)
    return _shade(_flat(colour, g.shape), light * (1 + 0.04 * g.noise()))


def _paint_traffic_light(g, housing, centre, bottom, height, width, lit):
    rgb = _shade(_flat(housing, g.shape), 1 + 0.06 * g.noise())
    lamps = ((1.0, 0.1, 0.05), (1.0, 0.7, 0.0), (0.1, 1.0, 0.45))
    for k, lamp in enumerate(lamps):
        bulb = _disc(g.a, g.b, (centre, bottom + height * (0.8 - 0.3 * k)),
                     0.33 * width)
        on = np.array(lamp, np.float32) * (1.0 if k == lit else 0.3)
        rgb = _mix(rgb, on, bulb)
    return rgb


def _paint_traffic_sign(g, fill, border, border_px, symbol):
    ring = g.mask & ~cv2.erode(
        g.mask.astype(np.uint8), np.ones((3, 3), np.uint8),
        iterations=border_px).astype(bool)
    rgb = _shade(_flat(fill, g.shape), 1 + 0.04 * g.noise())
    rgb = _mix(rgb, border, ring)
    if symbol is not None:
        bar = (np.abs(g.b - symbol[1]) < 0.05) & (np.abs(g.a - symbol[0]) <
                                                  0.14)
        rgb = _mix(rgb, BLACK + 0.1, bar)
    return rgb


def _paint_vegetation(g, colour, alt):
    leaves = g.noise(2)
    clumps = g.noise(7)
    rgb = _mix(_flat(colour, g.shape), alt, np.clip(0.5 + 0.5 * clumps, 0, 1))
    return _shade(rgb, 0.8 + 0.3 * leaves + 0.2 * clumps)


def _paint_bark(g, colour):
    return _shade(_flat(colour, g.shape), 0.85 + 0.25 * g.noise(6, 1))


def _paint_terrain(g, colour, alt):
    blotches = np.clip(0.5 + 0.7 * g.noise(10), 0, 1)
    rgb = _mix(_flat(colour, g.shape), alt, blotches)
    return _shade(rgb, 1 + 0.06 * g.noise())


def _paint_road(g, colour, marking, lines, dashed, zebra):
    rgb = _shade(_flat(colour, g.shape),
                 1 + 0.07 * g.noise() + 0.05 * g.noise(16))
    paint = np.zeros(g.shape, bool)
    half_width = np.maximum(0.08 * g.spx, 0.6)
    for u in lines:
        paint |= np.abs(g.a - u) * g.spx < half_width
    for u in dashed:
        paint |= (np.abs(g.a - u) * g.spx < half_width) & (g.b / 9 % 1 < 0.35)
    if zebra is not None:
        paint |= ((g.b > zebra) & (g.b < zebra + 4) & (g.a % 1.0 < 0.5))
    return _mix(rgb, marking, paint * (0.9 + 0.1 * g.noise()))


def _paint_sidewalk(g, colour, joint, tile):
    checker = (np.floor(g.xx / tile) + np.floor(g.yy / tile)) % 2
    rgb = _shade(_flat(colour, g.shape), 0.96 + 0.08 * checker +
                 0.04 * g.noise())
    joints = (g.xx % tile < 1) | (g.yy % tile < 1)
    return _mix(rgb, joint, joints)


def _paint_person(g, height, skin, hair, shirt, trousers):
    rgb = _flat(trousers, g.shape).copy()
    rgb[g.b > 0.48 * height] = shirt
    rgb[g.b > 0.84 * height] = skin
    rgb[g.b > 0.95 * height] = hair
    rgb[g.b < 0.03 * height] = 0.08
    folds = 1 - 0.5 * (g.a / 0.5)**2
    return _shade(rgb, folds * (1 + 0.05 * g.noise()))


def _paint_rider(g, helmet, vis, vis2, trousers, period, seat):
    stripes = ((g.xx + g.yy) / period) % 1.0 < 0.5
    rgb = _mix(_flat(vis, g.shape), vis2, stripes)
    legs = g.b < seat[1] + 0.02
    rgb[legs] = trousers
    head = g.b > seat[1] + 0.58
    rgb[head] = helmet
    return _shade(rgb, 1 + 0.05 * g.noise())


def _glass(g, tint, mask):
    """Dark tinted glass with a sky reflection growing upwards."""
    top = g.b[mask].max() if mask.any() else 0.0
    reflect = np.clip(1 - (top - g.b) / 0.8, 0, 1)
    return _mix(_flat(tint, g.shape), tint + 0.35, 0.7 * reflect)


def _body_paint(g, body, height):
    """Car-like paint: lit from above, with a highlight line."""
    rgb = _shade(_flat(body, g.shape), 0.78 + 0.3 * np.clip(g.b / height,
                                                             0, 1))
    sheen = np.exp(-((g.b - 0.55 * height) / (0.05 * height))**2)
    return _mix(rgb, WHITE, 0.3 * sheen * (1 + 0.03 * g.noise()))


def _wheels(g, rgb, centres, radius):
    for centre in centres:
        rgb = _mix(rgb, BLACK + 0.06, _disc(g.a, g.b, (centre, radius),
                                            radius))
        rgb = _mix(rgb, BLACK + 0.55, _disc(g.a, g.b, (centre, radius),
                                            0.45 * radius))
    return rgb


def _paint_car(g, body, tint, view, length, height, wheels):
    rgb = _body_paint(g, body, height)
    if view == 'rear':
        glass = ((g.b > 0.66 * height) & (g.b < 0.93 * height)
                 & (np.abs(g.a) < 0.33 * length))
        rgb = _mix(rgb, _glass(g, tint, glass), glass)
        lights = ((np.abs(g.b - 0.52 * height) < 0.05 * height)
                  & (np.abs(g.a) > 0.3 * length))
        rgb = _mix(rgb, np.array([0.85, 0.05, 0.05], np.float32), lights)
        plate = (np.abs(g.a) < 0.14) & (np.abs(g.b - 0.32 * height) < 0.06)
        rgb = _mix(rgb, WHITE * 0.9, plate)
        rgb = _mix(rgb, BLACK + 0.07, g.b < 0.17 * height)
        return rgb
    glass = ((g.b > 0.6 * height) & (g.b < 0.93 * height)
             & (g.a > -0.28 * length) & (g.a < 0.22 * length)
             & (np.abs(g.a + 0.03 * length) > 0.03))
    rgb = _mix(rgb, _glass(g, tint, glass), glass)
    return _wheels(g, rgb, wheels, 0.32)


def _paint_truck(g, body, cab, tint, view, length, height, rib, wheels):
    ribs = 0.8 + 0.2 * np.cos(2 * np.pi * g.xx / rib)
    rgb = _shade(_flat(body, g.shape), ribs * (1 + 0.04 * g.noise()))
    if view == 'rear':
        seam = np.abs(g.a) < 0.03
        rgb = _mix(rgb, BLACK + 0.2, seam)
        return _mix(rgb, BLACK + 0.06, g.b < 0.12 * height)
    in_cab = g.a > length / 2 - 2.3
    rgb[in_cab] = _body_paint(g, cab, height)[in_cab]
    glass = in_cab & (g.b > 0.5 * height) & (g.b < 0.74 * height) & (
        g.a > length / 2 - 1.9)
    rgb = _mix(rgb, _glass(g, tint, glass), glass)
    rgb = _mix(rgb, BLACK + 0.12, (g.b < 0.9) & ~in_cab)
    return _wheels(g, rgb, wheels, 0.5)


def _paint_bus(g, body, stripe, tint, view, length, height, bay, wheels):
    rgb = _body_paint(g, body, height)
    rgb = _mix(rgb, stripe, np.abs(g.b - 0.32 * height) < 0.06 * height)
    if view == 'rear':
        glass = (g.b > 0.6 * height) & (g.b < 0.9 * height) & (
            np.abs(g.a) < 0.4 * length)
        rgb = _mix(rgb, _glass(g, tint, glass), glass)
        return _mix(rgb, BLACK + 0.08, g.b < 0.12 * height)
    pillars = (g.a / bay) % 1.0 < 0.12
    glass = ((g.b > 0.45 * height) & (g.b < 0.85 * height) & ~pillars
             & (np.abs(g.a) < length / 2 - 0.4))
    rgb = _mix(rgb, _glass(g, tint, glass), glass)
    return _wheels(g, rgb, wheels, 0.5)


def _paint_train(g, body, stripe, tint, view, length, height, period):
    rgb = _body_paint(g, body, height)
    livery = (g.b < 0.45 * height) & ((g.yy / period) % 1.0 < 0.5)
    rgb = _mix(rgb, stripe, livery)
    rgb = _mix(rgb, BLACK + 0.5, g.b > 0.92 * height)  # roof equipment
    if view == 'front':
        glass = (g.b > 0.55 * height) & (g.b < 0.88 * height) & (
            np.abs(g.a) < 0.42 * length)
    else:
        pillars = (g.a / 1.6) % 1.0 < 0.08
        glass = ((g.b > 0.5 * height) & (g.b < 0.85 * height) & ~pillars
                 & (np.abs(g.a) < length / 2 - 0.5))
    return _mix(rgb, _glass(g, tint, glass), glass)


def _paint_motorcycle(g, body, tank, wheels, radius):
    chrome = g.noise() > 0.6
    rgb = _shade(_flat(body, g.shape), 1 + 0.1 * g.noise(2))
    rgb = _mix(rgb, WHITE * 0.85, chrome)
    rgb = _mix(rgb, tank, (g.b > 0.62) & (np.abs(g.a - 0.1) < 0.3))
    for centre in wheels:
        tyre = _ring(g.a, g.b, (centre, radius), 0.8 * radius, 0.2 * radius)
        rgb = _mix(rgb, BLACK + 0.04, tyre)
    return rgb


def _paint_bicycle(g, frame, backdrop, wheels, radius, joints):
    rgb = _shade(_flat(backdrop, g.shape), 1 + 0.12 * g.noise(3))
    thin = np.maximum(0.03, 0.7 / g.spx)
    for centre in wheels:
        rgb = _mix(rgb, BLACK + 0.05, _ring(g.a, g.b, (centre, radius),
                                            radius - thin, thin))
        angle = np.arctan2(g.b - radius, g.a - centre)
        spokes = ((angle / (2 * np.pi) * 16) % 1.0 < 0.15) & _disc(
            g.a, g.b, (centre, radius), radius)
        rgb = _mix(rgb, WHITE * 0.75, spokes)
    tube = np.zeros(g.shape, bool)
    for p0, p1 in joints:
        tube |= _segment_distance(g.a, g.b, p0, p1) < thin * 1.5
    return _mix(rgb, frame, tube)


def _paint_ego(g, colour, sky, top):
    depth = np.clip((g.yy - top) / max(g.shape[0], 1), 0, 1)
    rgb = _mix(_flat(sky, g.shape), colour, np.clip(depth * 3, 0, 1))
    return _shade(rgb, 1 + 0.03 * g.noise())


def _paint_static(g, colour):
    return _shade(_flat(colour, g.shape), 1 + 0.15 * g.noise(3))


# ---------------------------------------------------------------- scenes --
class _Object(NamedTuple):
    """One polygon of the annotation and how to paint it."""
    label: str
    points: List[Tuple[int, int]]
    frame: Callable
    paint: Callable


class _Grid:
    """What a painter sees: the pixel coordinates of the object's bounding
    box (xx, yy), its own coordinates there (a, b, spx; see the frames) and
    a random generator."""

    def __init__(self, obj, box, rng):
        x0, y0, x1, y1 = box
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self.xx, self.yy, self.shape = xx, yy, xx.shape
        self.a, self.b, self.spx = obj.frame(xx, yy)
        self.rng = rng
        self._points = [(x - x0, y - y0) for x, y in obj.points]

    def noise(self, cell=1, cell_x=None):
        return _noise(self.rng, self.shape, cell, cell_x)

    @cached_property
    def mask(self):
        """The object's whole polygon (also where it is hidden)."""
        image = Image.new('L', self.shape[::-1], 0)
        ImageDraw.Draw(image).polygon(self._points, fill=1)
        return np.asarray(image).astype(bool)


class _SceneBuilder:
    """Lays out one street scene as a back-to-front list of objects."""

    def __init__(self, rng, width, height):
        self.rng = rng
        self.street = _Street(rng, width, height)
        self.background = []  # drawn first, in order
        self.standing = []  # (ground row, objects), drawn far to near
        self.foreground = []  # drawn last

    # -- helpers
    def _polygon(self, points):
        return [(int(round(x)), int(round(y))) for x, y in points]

    def _add(self, layer, label, points, frame, paint):
        layer.append(_Object(label, self._polygon(points), frame, paint))

    def _upright(self, label, shape, u, ground_y, paint, facing=1):
        """An object standing at lateral u on ground row ground_y, drawn
        from its outline in metres (a rightwards, b up; mirrored when
        facing is -1)."""
        st = self.street
        scale = st.scale(ground_y)
        centre = st.ground_x(u, ground_y)
        points = [(centre + a * scale * facing, ground_y - b * scale)
                  for a, b in shape]
        frame = partial(_upright_frame, centre, ground_y, scale, facing)
        return _Object(label, self._polygon(points), frame, paint)

    def _stand(self, ground_y, *objects):
        self.standing.append((ground_y, list(objects)))

    def _row(self, u=0.0, near=0.8, far=0.06, height=0.0):
        """A ground row for something at lateral u, between far and near
        (fractions of the ground rows in view), uniform in image rows (so in
        inverse distance), and near enough the vanishing point that u is in
        the image and an object of ``height`` metres fits below its top."""
        st = self.street
        rows = near * st.span
        if u:
            room = st.width - st.vanish_x if u > 0 else st.vanish_x
            rows = min(rows, 0.95 * room / abs(u) * st.cam_height)
        tall = height / st.cam_height - 0.95
        if tall > 0:  # ground_y - height * scale >= 5% of the image height
            rows = min(rows, 0.95 * st.horizon / tall)
        return st.horizon + self.rng.uniform(min(far * st.span, 0.5 * rows),
                                             rows)

    def _sidewalk_u(self, side, margin=0.4):
        st = self.street
        if side < 0:
            return self.rng.uniform(st.facades[0] + margin,
                                    st.road[0] - margin)
        return self.rng.uniform(st.road[1] + margin, st.facades[1] - margin)

    def _lane_u(self, half_width):
        lo, hi = self.street.road
        return self.rng.uniform(lo + half_width + 0.2, hi - half_width - 0.2)

    # -- background
    def add_sky(self):
        st, rng = self.street, self.rng
        overcast = rng.random() < 0.4
        zenith = _hsv(rng, (0.55, 0.62), (0.05, 0.15) if overcast else
                      (0.35, 0.65), (0.7, 0.95))
        paint = partial(_paint_sky, zenith=zenith,
                        haze=_hsv(rng, (0.55, 0.62), (0.0, 0.12),
                                  (0.85, 1.0)),
                        cloud=_hsv(rng, (0, 1), (0, 0.04), (0.85, 1.0)),
                        cover=rng.uniform(0.2, 1.2), horizon=st.horizon)
        self._add(self.background, 'sky',
                  _rect(0, st.width, 0, st.end_row + 1), _screen_frame, paint)

    def add_ground(self):
        """Sidewalk under everything; road, terrain and buildings cover it
        where they are."""
        st, rng = self.street, self.rng
        paint = partial(_paint_sidewalk,
                        colour=_hsv(rng, (0.0, 0.12), (0.04, 0.25),
                                    (0.5, 0.72)),
                        joint=_hsv(rng, (0, 1), (0, 0.1), (0.25, 0.4)),
                        tile=int(rng.integers(6, 10)))
        self._add(self.background, 'sidewalk',
                  _rect(0, st.width, st.end_row - 1, st.height),
                  partial(st.ground_frame), paint)

    def _building_paint(self):
        rng = self.rng
        wall = _hsv(rng, *[((0.02, 0.13), (0.15, 0.5), (0.45, 0.8)),
                           ((0, 1), (0.0, 0.08), (0.35, 0.75)),
                           ((0.0, 0.04), (0.4, 0.65), (0.35, 0.6))][
                               rng.integers(3)])
        return partial(_paint_building, wall=wall,
                       glass=_hsv(rng, (0.5, 0.65), (0.1, 0.4), (0.1, 0.3)),
                       bay=rng.uniform(2.2, 4.0), floor=rng.uniform(2.8, 3.6),
                       window=rng.uniform(0.35, 0.65))

    def add_buildings(self):
        st, rng = self.street, self.rng
        end = st.end_row
        # Frontal facades closing the street far away.
        xs = np.sort(rng.uniform(st.ground_x(st.facades[0], end),
                                 st.ground_x(st.facades[1], end),
                                 int(rng.integers(1, 4))))
        edges = [st.ground_x(st.facades[0], end), *xs,
                 st.ground_x(st.facades[1], end)]
        scale = st.scale(end)
        for x0, x1 in zip(edges[:-1], edges[1:]):
            if rng.random() < 0.25:
                continue  # a gap: open sky at the end of the street
            top = end - rng.uniform(8, 30) * scale
            frame = partial(_upright_frame, st.vanish_x, end, scale, 1)
            self._add(self.background, 'building',
                      [(x0, end + 1), (x1, end + 1), (x1, top), (x0, top)],
                      frame, self._building_paint())
        # Facades along both sides, split into buildings of their own height.
        for u in st.facades:
            near = st.edge_row(u) + 2
            rows = np.sort(np.exp(rng.uniform(
                np.log(end - st.horizon), np.log(near - st.horizon),
                int(rng.integers(2, 5))))) + st.horizon
            rows = [end, *rows, near]
            for y0, y1 in zip(rows[:-1], rows[1:]):
                tall = rng.uniform(7, 25)
                x0, x1 = st.ground_x(u, y0), st.ground_x(u, y1)
                points = [(x0, y0), (x1, y1), (x1, y1 - tall * st.scale(y1)),
                          (x0, y0 - tall * st.scale(y0))]
                self._add(self.background, 'building', points,
                          partial(st.side_frame, u), self._building_paint())

    def _along_facade(self, label, u, tall, paint):
        """A low vertical strip (wall, fence, hedge) along lateral u over
        a random stretch of the street."""
        st, rng = self.street, self.rng
        # From somewhere down the street to at most where u leaves the image.
        edge = st.edge_row(u) + 2
        y0 = st.horizon + np.exp(rng.uniform(
            np.log(st.end_row - st.horizon), np.log(edge - st.horizon))) * 0.8
        y1 = min(y0 + rng.uniform(0.2, 1.0) * st.span, edge)
        x0, x1 = st.ground_x(u, y0), st.ground_x(u, y1)
        points = [(x0, y0), (x1, y1), (x1, y1 - tall * st.scale(y1)),
                  (x0, y0 - tall * st.scale(y0))]
        self._add(self.background, label, points,
                  partial(st.side_frame, u), paint)

    def _side_u(self, side, inset):
        st = self.street
        return st.facades[0] + inset if side < 0 else st.facades[1] - inset

    def add_wall(self):
        rng = self.rng
        paint = partial(_paint_wall,
                        colour=_hsv(rng, (0.0, 0.12), (0.1, 0.45),
                                    (0.4, 0.7)),
                        mortar=_hsv(rng, (0, 1), (0, 0.05), (0.7, 0.85)),
                        brick=int(rng.integers(3, 6)))
        side = rng.choice([-1, 1])
        self._along_facade('wall', self._side_u(side, rng.uniform(0.3, 1.0)),
                           rng.uniform(1.0, 2.2), paint)

    def add_fence(self):
        rng = self.rng
        tall = rng.uniform(1.0, 2.0)
        paint = partial(_paint_fence,
                        wire=_hsv(rng, (0.25, 0.45), (0.0, 0.35),
                                  (0.6, 0.85)),
                        backdrop=_hsv(rng, (0.2, 0.4), (0.1, 0.4),
                                      (0.15, 0.3)),
                        period=float(rng.integers(5, 9)), top=tall)
        side = rng.choice([-1, 1])
        self._along_facade('fence', self._side_u(side, rng.uniform(0.8, 2.0)),
                           tall, paint)

    def add_hedge(self):
        side = self.rng.choice([-1, 1])
        self._along_facade('vegetation',
                           self._side_u(side, self.rng.uniform(0.2, 1.2)),
                           self.rng.uniform(0.8, 1.6), self._leaves())

    def add_terrain(self):
        """A grass verge along one road edge."""
        st, rng = self.street, self.rng
        side = rng.choice([-1, 1])
        edge = st.road[0] if side < 0 else st.road[1]
        width = rng.uniform(1.0, 2.5) * side
        y0 = self._row(edge, 0.4, 0.02)
        y1 = st.height * rng.uniform(1.0, 1.5)
        paint = partial(_paint_terrain,
                        colour=_hsv(rng, (0.12, 0.22), (0.3, 0.55),
                                    (0.35, 0.55)),
                        alt=_hsv(rng, (0.06, 0.12), (0.3, 0.55),
                                 (0.3, 0.5)))
        self._add(self.background, 'terrain',
                  st.ground_quad(edge, edge + width, y0, y1),
                  partial(st.ground_frame), paint)

    def add_road(self):
        st, rng = self.street, self.rng
        lo, hi = st.road
        lanes = np.arange(np.ceil(lo / 3.2) * 3.2, hi - 1.0, 3.2)
        paint = partial(_paint_road,
                        colour=_hsv(rng, (0, 1), (0.0, 0.08), (0.22, 0.4)),
                        marking=_hsv(rng, (0.1, 0.16), (0.0, 0.15),
                                     (0.75, 0.92)),
                        lines=(lo + 0.3, hi - 0.3),
                        dashed=tuple(u for u in lanes if u - lo > 1.5),
                        zebra=(rng.uniform(8, 30)
                               if rng.random() < 0.3 else None))
        self._add(self.background, 'road',
                  st.ground_quad(lo, hi, st.end_row, st.height * 3),
                  partial(st.ground_frame), paint)

    # -- standing objects
    def _leaves(self):
        rng = self.rng
        return partial(_paint_vegetation,
                       colour=_hsv(rng, (0.22, 0.33), (0.45, 0.8),
                                   (0.25, 0.5)),
                       alt=_hsv(rng, (0.17, 0.25), (0.4, 0.7), (0.3, 0.55)))

    def add_tree(self):
        rng = self.rng
        u = self._sidewalk_u(rng.choice([-1, 1]))
        ground = self._row(u, 0.9, 0.05)
        trunk_top = rng.uniform(2.0, 3.5)
        radius = rng.uniform(1.4, 3.0)
        trunk_w = rng.uniform(0.12, 0.2)
        angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        radii = radius * rng.uniform(0.75, 1.15, angles.size)
        crown = [(r * np.cos(t), trunk_top + radius + r * np.sin(t))
                 for r, t in zip(radii, angles)]
        bark = partial(_paint_bark,
                       colour=_hsv(rng, (0.05, 0.1), (0.3, 0.6),
                                   (0.2, 0.4)))
        self._stand(ground,
                    self._upright('vegetation', _rect(-trunk_w, trunk_w, 0,
                                                      trunk_top + 0.5),
                                  u, ground, bark),
                    self._upright('vegetation', crown, u, ground,
                                  self._leaves()))

    def add_pole(self, light=False, sign=False):
        """A pole at the curb, maybe carrying a traffic light (over the road
        on an arm) and/or a sign."""
        st, rng = self.street, self.rng
        side = rng.choice([-1, 1])
        edge = st.road[0] if side < 0 else st.road[1]
        u = edge + side * rng.uniform(0.3, 0.9)
        top = rng.uniform(4.0, 7.5) if light else rng.uniform(3.0, 5.0)
        ground = self._row(u, 0.85, 0.06, height=top)
        width = rng.uniform(0.12, 0.2)
        grey = _hsv(rng, (0, 1), (0, 0.15), (0.3, 0.6))
        pole_paint = partial(_paint_pole, colour=grey, width=width)
        objects = [self._upright('pole', _rect(-width / 2, width / 2, 0, top),
                                 u, ground, pole_paint)]
        if light:
            reach = -side * rng.uniform(0.0, 2.5)  # towards the road
            box_w, box_h = rng.uniform(0.4, 0.5), rng.uniform(1.0, 1.3)
            bottom = top - 0.15 - box_h
            if abs(reach) > 0.3:
                arm = _rect(min(0, reach), max(0, reach), top - 0.15, top)
                objects.append(self._upright(
                    'pole', arm, u, ground,
                    partial(_paint_pole, colour=grey, width=1e3)))
            else:
                reach, bottom = 0.0, top
            housing = (_hsv(rng, (0, 1), (0, 0.1), (0.04, 0.15))
                       if rng.random() < 0.7 else
                       _hsv(rng, (0.12, 0.16), (0.6, 0.9), (0.5, 0.7)))
            objects.append(self._upright(
                'traffic light',
                _rect(reach - box_w / 2, reach + box_w / 2, bottom,
                      bottom + box_h), u, ground,
                partial(_paint_traffic_light, housing=housing, centre=reach,
                        bottom=bottom, height=box_h, width=box_w,
                        lit=int(rng.integers(3)))))
        if sign:
            objects.append(self._sign(u, ground, rng.uniform(2.0, top - 0.5)))
        self._stand(ground, *objects)

    def _sign(self, u, ground, height):
        rng = self.rng
        size = rng.uniform(0.35, 0.5)
        kind = rng.integers(4)
        red = _hsv(rng, (-0.02, 0.02), (0.75, 0.95), (0.7, 0.9))
        white = _hsv(rng, (0, 1), (0, 0.05), (0.85, 0.97))
        if kind == 0:  # round, red ring
            shape = _arc((0, height), size, 0, 360, 16)[:-1]
            fill, border = (white, red)
        elif kind == 1:  # triangle, red border
            shape = [(-size, height - size * 0.6), (size, height - size * 0.6),
                     (0, height + size * 1.1)]
            fill, border = (white, red)
        elif kind == 2:  # blue square
            shape = _rect(-size, size, height - size, height + size)
            fill = _hsv(rng, (0.58, 0.64), (0.7, 0.95), (0.5, 0.8))
            border = white
        else:  # yellow diamond
            shape = [(0, height - size * 1.2), (size * 1.2, height),
                     (0, height + size * 1.2), (-size * 1.2, height)]
            fill = _hsv(rng, (0.12, 0.15), (0.8, 1.0), (0.8, 0.95))
            border = white
        scale = self.street.scale(ground)
        paint = partial(_paint_traffic_sign, fill=fill, border=border,
                        border_px=max(1, int(0.12 * size * scale)),
                        symbol=(0, height) if rng.random() < 0.5 else None)
        return self._upright('traffic sign', shape, u, ground, paint)

    def add_person(self):
        rng = self.rng
        on_road = rng.random() < 0.25
        u = (self._lane_u(0.3) if on_road else
             self._sidewalk_u(rng.choice([-1, 1])))
        ground = self._row(u, 0.9, 0.05)
        height = rng.uniform(1.55, 1.9)
        paint = partial(
            _paint_person, height=height,
            skin=_hsv(rng, (0.03, 0.09), (0.25, 0.6), (0.35, 0.9)),
            hair=_hsv(rng, (0.05, 0.1), (0.2, 0.6), (0.05, 0.5)),
            shirt=_hsv(rng, (0, 1), (0.2, 0.9), (0.2, 0.95)),
            trousers=_hsv(rng, (0.55, 0.7), (0.0, 0.6), (0.1, 0.45)))
        shape = _person_shape(height, rng.uniform(0.0, 0.2))
        self._stand(ground, self._upright('person', shape, u, ground, paint))

    def _two_wheeler(self, kind):
        """Outline, painter and seat/bar/pedal of a bicycle or motorcycle
        seen from the side facing +a."""
        rng = self.rng
        if kind == 'bicycle':
            r, axle = 0.34, 0.52
            seat, bar, pedal = (-0.18, 0.92), (0.42, 1.02), (0.0, 0.3)
            shape = (_arc((-axle, r), r, 100, 300, 7)
                     + _arc((axle, r), r, 240, 440, 9)
                     + [(bar[0] + 0.05, bar[1]), (bar[0] - 0.05, bar[1]),
                        (0.32, 0.75), (seat[0] + 0.05, seat[1]),
                        (seat[0] - 0.14, seat[1]), (-0.28, 0.7)])
            joints = [((-axle, r), seat), (seat, (0.0, r)), ((0.0, r),
                                                             (-axle, r)),
                      ((0.0, r), (0.34, 0.8)), ((0.34, 0.8), seat),
                      ((0.34, 0.8), (axle, r)), ((0.34, 0.8), bar)]
            paint = partial(_paint_bicycle,
                            frame=_hsv(rng, (0, 1), (0.5, 0.95),
                                       (0.4, 0.9)),
                            backdrop=_hsv(rng, (0, 1), (0, 0.1),
                                          (0.3, 0.5)),
                            wheels=(-axle, axle), radius=r, joints=joints)
        else:
            r, axle = 0.32, 0.72
            seat, bar, pedal = (-0.25, 0.85), (0.5, 1.08), (0.0, 0.42)
            shape = (_arc((-axle, r), r, 110, 300, 7)
                     + _arc((axle, r), r, 240, 430, 9)
                     + [(0.62, 1.1), (0.48, 1.1), (0.2, 0.95),
                        (-0.35, 0.9), (-0.85, 0.88), (-0.95, 0.72)])
            paint = partial(_paint_motorcycle,
                            body=_hsv(rng, (0, 1), (0, 0.2), (0.06, 0.22)),
                            tank=_hsv(rng, (0, 1), (0.6, 0.95),
                                      (0.45, 0.85)),
                            wheels=(-axle, axle), radius=r)
        return shape, paint, (seat, bar, pedal)

    def add_two_wheeler(self, kind, ridden):
        """A bicycle or motorcycle, ridden in the road's outer lane or
        parked on the sidewalk."""
        rng = self.rng
        st = self.street
        facing = rng.choice([-1, 1])
        shape, paint, (seat, bar, pedal) = self._two_wheeler(kind)
        if ridden:
            side = rng.choice([0, 1])
            u = st.road[side] + (1 if side == 0 else -1) * rng.uniform(0.6,
                                                                       1.5)
        else:
            u = self._sidewalk_u(rng.choice([-1, 1]))
        ground = self._row(u, 0.75, 0.06)
        objects = [self._upright(kind, shape, u, ground, paint, facing)]
        if ridden:
            rider = partial(
                _paint_rider,
                helmet=_hsv(rng, (0, 1), (0, 0.9), (0.1, 0.95)),
                vis=_hsv(rng, (0.1, 0.2), (0.8, 1.0), (0.85, 1.0)),
                vis2=_hsv(rng, (0.0, 0.08), (0.7, 1.0), (0.6, 0.95)),
                trousers=_hsv(rng, (0.55, 0.7), (0.0, 0.5), (0.1, 0.35)),
                period=float(rng.integers(4, 8)), seat=seat)
            objects.append(self._upright('rider',
                                         _rider_shape(seat, bar, pedal), u,
                                         ground, rider, facing))
        self._stand(ground, *objects)

    def _tint(self):
        return _hsv(self.rng, (0.5, 0.65), (0.1, 0.5), (0.08, 0.2))

    def add_car(self):
        rng, st = self.rng, self.street
        if rng.random() < 0.75:  # in a lane, seen from behind
            width, height = rng.uniform(1.7, 2.0), rng.uniform(1.4, 1.75)
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.45 if abs(u) < 2 else 0.7, 0.05)
            shape = [(-width / 2 + 0.05, 0), (width / 2 - 0.05, 0),
                     (width / 2, 0.25), (width / 2, 0.55 * height),
                     (0.44 * width, 0.66 * height),
                     (0.36 * width, height), (-0.36 * width, height),
                     (-0.44 * width, 0.66 * height),
                     (-width / 2, 0.55 * height), (-width / 2, 0.25)]
            paint = partial(_paint_car, body=_vehicle_colour(rng),
                            tint=self._tint(), view='rear', length=width,
                            height=height, wheels=())
            self._stand(ground, self._upright('car', shape, u, ground,
                                              paint))
            return
        # crossing the street, seen from the side
        length, height = rng.uniform(3.9, 4.8), rng.uniform(1.4, 1.6)
        ground = self._row(0.0, 0.25, 0.05)
        wheels = (-0.32 * length, 0.32 * length)
        shape = ([(length / 2, 0.25), (length / 2, 0.55 * height),
                  (0.3 * length, 0.62 * height), (0.18 * length, height),
                  (-0.22 * length, height), (-0.32 * length, 0.62 * height),
                  (-length / 2, 0.58 * height), (-length / 2, 0.25)]
                 + _wheel_arcs(wheels, 0.32)[::-1])
        paint = partial(_paint_car, body=_vehicle_colour(rng),
                        tint=self._tint(), view='side', length=length,
                        height=height, wheels=wheels)
        u = rng.uniform(st.road[0] - 3, st.road[1] + 3)
        self._stand(ground, self._upright('car', shape, u, ground, paint,
                                          rng.choice([-1, 1])))

    def add_truck(self):
        rng = self.rng
        body = _hsv(rng, (0, 1), (0.0, 0.7), (0.55, 0.95))
        height = rng.uniform(3.2, 3.8)
        common = dict(body=body, cab=_vehicle_colour(rng), tint=self._tint(),
                      height=height, rib=float(rng.integers(4, 7)))
        if rng.random() < 0.5:
            width = rng.uniform(2.3, 2.5)
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.4, 0.06)
            shape = _rect(-width / 2, width / 2, 0, height)
            paint = partial(_paint_truck, view='rear', length=width,
                            wheels=(), **common)
            self._stand(ground, self._upright('truck', shape, u, ground,
                                              paint))
            return
        length = rng.uniform(7, 10)
        wheels = (-length / 2 + 1.3, length / 2 - 1.5)
        shape = ([(length / 2, 0.5), (length / 2, 0.55 * height),
                  (length / 2 - 0.6, 0.78 * height),
                  (length / 2 - 2.3, 0.78 * height),
                  (length / 2 - 2.3, height), (-length / 2, height),
                  (-length / 2, 0.5)] + _wheel_arcs(wheels, 0.5)[::-1])
        ground = self._row(0.0, 0.2, 0.05)
        paint = partial(_paint_truck, view='side', length=length,
                        wheels=wheels, **common)
        self._stand(ground, self._upright(
            'truck', shape, self._lane_u(1.0), ground, paint,
            rng.choice([-1, 1])))

    def add_bus(self):
        rng = self.rng
        height = rng.uniform(3.0, 3.3)
        common = dict(body=_hsv(rng, (0, 1), (0.5, 0.95), (0.55, 0.9)),
                      stripe=_hsv(rng, (0, 1), (0.0, 0.3), (0.85, 1.0)),
                      tint=self._tint(), height=height,
                      bay=rng.uniform(1.1, 1.5))
        if rng.random() < 0.4:
            width = 2.55
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.4, 0.06)
            shape = [(-width / 2, 0), (width / 2, 0),
                     (width / 2, height - 0.2), (width / 2 - 0.2, height),
                     (-width / 2 + 0.2, height), (-width / 2, height - 0.2)]
            paint = partial(_paint_bus, view='rear', length=width, wheels=(),
                            **common)
            self._stand(ground, self._upright('bus', shape, u, ground,
                                              paint))
            return
        length = rng.uniform(11, 13.5)
        wheels = (-length / 2 + 2.5, length / 2 - 2.8)
        shape = ([(length / 2, 0.3), (length / 2, height - 0.3),
                  (length / 2 - 0.3, height), (-length / 2 + 0.2, height),
                  (-length / 2, height - 0.15), (-length / 2, 0.3)]
                 + _wheel_arcs(wheels, 0.5)[::-1])
        ground = self._row(0.0, 0.2, 0.05)
        paint = partial(_paint_bus, view='side', length=length, wheels=wheels,
                        **common)
        self._stand(ground, self._upright('bus', shape, self._lane_u(1.0),
                                          ground, paint,
                                          rng.choice([-1, 1])))

    def add_train(self):
        """A tram: crossing far away (side) or coming down the street."""
        rng = self.rng
        height = rng.uniform(3.3, 3.6)
        common = dict(body=_hsv(rng, (0, 1), (0.0, 0.9), (0.6, 0.95)),
                      stripe=_hsv(rng, (0, 1), (0.6, 1.0), (0.3, 0.8)),
                      tint=self._tint(), height=height,
                      period=float(rng.integers(4, 7)))
        if rng.random() < 0.3:
            width = 2.4
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.35, 0.06)
            shape = [(-width / 2, 0.3), (width / 2, 0.3),
                     (width / 2, 0.8 * height), (0.4 * width, height),
                     (-0.4 * width, height), (-width / 2, 0.8 * height)]
            paint = partial(_paint_train, view='front', length=width,
                            **common)
            self._stand(ground, self._upright('train', shape, u, ground,
                                              paint))
            return
        length = rng.uniform(18, 32)
        shape = [(-length / 2, 0.3), (length / 2, 0.3),
                 (length / 2, 0.9 * height), (length / 2 - 0.6, height),
                 (-length / 2 + 0.6, height), (-length / 2, 0.9 * height)]
        ground = self._row(0.0, 0.16, 0.05)
        paint = partial(_paint_train, view='side', length=length, **common)
        self._stand(ground, self._upright('train', shape, self._lane_u(1.0),
                                          ground, paint))

    def add_static(self):
        """Void clutter (bins, boxes): label 'static', ignored in training."""
        rng = self.rng
        u = self._sidewalk_u(rng.choice([-1, 1]))
        ground = self._row(u, 0.8, 0.06)
        width, height = rng.uniform(0.5, 1.2), rng.uniform(0.7, 1.4)
        paint = partial(_paint_static,
                        colour=_hsv(rng, (0, 1), (0, 1), (0.2, 0.9)))
        self._stand(ground, self._upright(
            'static', _rect(-width / 2, width / 2, 0, height), u, ground,
            paint))

    def add_ego_vehicle(self):
        """The bonnet of the recording car along the bottom (void)."""
        st, rng = self.street, self.rng
        top = st.height * (1 - rng.uniform(0.03, 0.08))
        bulge = st.height * rng.uniform(0.01, 0.03)
        xs = np.linspace(0, st.width, 9)
        curve = [(x, top - bulge * (1 - ((x - st.width / 2) /
                                         (st.width / 2))**2)) for x in xs]
        paint = partial(_paint_ego,
                        colour=_hsv(rng, (0, 1), (0, 0.3), (0.03, 0.15)),
                        sky=_hsv(rng, (0.55, 0.62), (0.05, 0.3), (0.3, 0.5)),
                        top=top - bulge)
        self._add(self.foreground, 'ego vehicle',
                  [(st.width, st.height), (0, st.height)] + curve,
                  _screen_frame, paint)

    def build(self, required):
        """Lay out a scene holding at least the ``required`` classes."""
        rng = self.rng

        def wanted(name, probability):
            return name in required or rng.random() < probability

        self.add_sky()
        self.add_ground()
        self.add_buildings()
        for _ in range(rng.integers(0, 3)):
            self.add_hedge()
        if wanted('wall', 0.5):
            self.add_wall()
        if wanted('fence', 0.5):
            self.add_fence()
        if wanted('terrain', 0.6):
            self.add_terrain()
        self.add_road()
        for _ in range(rng.integers(1, 4)):
            self.add_tree()
        lights = wanted('traffic light', 0.6)
        for k in range(rng.integers(2, 5)):
            self.add_pole(light=lights and (k == 0 or rng.random() < 0.3),
                          sign=k == 1 or rng.random() < 0.3)
        if rng.random() < 0.5:
            self.add_pole(light=False, sign=True)  # a sign post
        for _ in range(rng.integers(1, 5)):
            self.add_car()
        for _ in range(rng.integers(1, 4)):
            self.add_person()
        if wanted('truck', 0.3):
            self.add_truck()
        if wanted('bus', 0.25):
            self.add_bus()
        if wanted('train', 0.15):
            self.add_train()
        ridden = []
        if 'rider' in required or rng.random() < 0.4:
            # ride a scheduled two-wheeler kind when there is one
            kinds = [k for k in ('motorcycle', 'bicycle') if k in required]
            ridden = [kinds[0] if kinds else rng.choice(['motorcycle',
                                                         'bicycle'])]
            self.add_two_wheeler(ridden[0], ridden=True)
        for kind in ('motorcycle', 'bicycle'):
            if (kind in required and kind not in ridden) or \
                    rng.random() < 0.25:
                self.add_two_wheeler(kind, ridden=False)
        for _ in range(rng.integers(0, 3)):
            self.add_static()
        self.add_ego_vehicle()
        self.standing.sort(key=lambda item: item[0])  # far to near
        standing = [obj for _, objects in self.standing for obj in objects]
        return self.background + standing + self.foreground


# ------------------------------------------------------------- rendering --
def _annotation(objects, width, height):
    """The Cityscapes polygon JSON of a scene (a dict)."""
    return {'imgHeight': height, 'imgWidth': width,
            'objects': [{'label': obj.label,
                         'polygon': [list(p) for p in obj.points]}
                        for obj in objects]}


def _paint(objects, width, height, rng):
    """Paint the photo: each object's texture where it is visible."""
    # The same PIL rasterizer as cityscapesscripts' createLabelImage, with
    # the same drawing order, so each pixel shows the object it is labelled.
    index = Image.new('I', (width, height), 0)
    draw = ImageDraw.Draw(index)
    for k, obj in enumerate(objects, 1):
        draw.polygon(obj.points, fill=k)
    index = np.asarray(index)
    canvas = np.full((height, width, 3), 0.5, np.float32)
    for k, obj in enumerate(objects, 1):
        xs, ys = zip(*obj.points)
        box = (max(min(xs), 0), max(min(ys), 0), min(max(xs) + 1, width),
               min(max(ys) + 1, height))
        if box[0] >= box[2] or box[1] >= box[3]:
            continue
        visible = index[box[1]:box[3], box[0]:box[2]] == k
        if visible.any():
            rgb = obj.paint(_Grid(obj, box, rng))
            canvas[box[1]:box[3], box[0]:box[2]][visible] = rgb[visible]
    return canvas, index


def _develop(canvas, rng):
    """Camera look: exposure and white balance jitter, lens blur, noise."""
    gain = rng.uniform(0.75, 1.15) * (1 + rng.uniform(-0.06, 0.06, 3))
    image = cv2.GaussianBlur(canvas * gain.astype(np.float32), (3, 3), 0.6)
    image += rng.normal(0, 0.015, image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_scene(rng, width, height, required):
    """Draw one scene holding the ``required`` classes, each on at least a
    few pixels (layouts where one is hidden are drawn again).

    Returns:
        tuple: the annotation dict (Cityscapes JSON), the RGB image (uint8
        HxWx3) and the labelIds, instanceIds and colour maps made from the
        annotation by cityscapesscripts.
    """
    min_pixels = max(4, round(2e-4 * width * height))
    for _ in range(MAX_TRIES):
        objects = _SceneBuilder(rng, width, height).build(required)
        annotation = Annotation()
        annotation.fromJsonText(json.dumps(_annotation(objects, width,
                                                       height)))
        label_ids = np.asarray(createLabelImage(annotation, 'ids'))
        counts = np.bincount(label_ids.ravel(), minlength=256)
        if all(counts[name2label[name].id] >= min_pixels
               for name in required):
            break
    else:
        raise RuntimeError(
            f'could not draw a {width}x{height} scene showing all of '
            f'{sorted(required)} in {MAX_TRIES} tries; use a larger size')
    canvas, index = _paint(objects, width, height, rng)
    ids_of_index = np.array([0] + [name2label[o.label].id for o in objects],
                            np.uint8)
    if not np.array_equal(ids_of_index[index], label_ids):
        raise RuntimeError('photo and cityscapesscripts label map disagree')
    instance_ids = np.asarray(createInstanceImage(annotation, 'ids'))
    colour = createLabelImage(annotation, 'color')
    return (_annotation(objects, width, height), _develop(canvas, rng),
            label_ids, instance_ids, colour)


# ---------------------------------------------------------------- output --
class _Sample(NamedTuple):
    split: str
    city: str
    sequence: int
    index: int  # within the split

    @property
    def stem(self):
        return f'{self.city}_{self.sequence:06d}_{FRAME:06d}'


def _samples(split, count):
    """Spread ``count`` scenes over the split's cities."""
    cities = CITIES[split][:max(2, min(len(CITIES[split]), count))]
    samples, next_sequence = [], dict.fromkeys(cities, 0)
    for index in range(count):
        city = cities[index * len(cities) // count]
        samples.append(_Sample(split, city, next_sequence[city], index))
        next_sequence[city] += 1
    return samples


def _write_sample(sample, root, seed, size):
    width, height = size
    # One generator per scene: a scene depends on (seed, split, index) only.
    rng = np.random.default_rng([seed, SPLIT_CODES[sample.split],
                                 sample.index])
    required = set(ALWAYS) | set(SCHEDULE[sample.index % len(SCHEDULE)])
    annotation, image, label_ids, instance_ids, colour = render_scene(
        rng, width, height, required)
    image_dir = Path(root, 'leftImg8bit', sample.split, sample.city)
    label_dir = Path(root, 'gtFine', sample.split, sample.city)
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    gt = label_dir / f'{sample.stem}_gtFine'
    cv2.imwrite(str(image_dir / f'{sample.stem}_leftImg8bit.png'),
                image[..., ::-1])
    with open(f'{gt}_polygons.json', 'w') as f:
        json.dump(annotation, f, indent=4)
    Image.fromarray(label_ids).save(f'{gt}_labelIds.png')
    # Cityscapes stores instance ids (class * 1000 + k) as 16-bit PNGs; PIL
    # cannot write its 32-bit 'I' images as PNG, so cv2 writes the uint16.
    cv2.imwrite(f'{gt}_instanceIds.png', instance_ids.astype(np.uint16))
    colour.save(f'{gt}_color.png')
    return np.bincount(label_ids.ravel(), minlength=256)


def _check_out_dir(out_dir):
    """Refuse to replace a folder this module did not make (e.g. the real
    Cityscapes): the demo replaces its output folder as a whole."""
    if out_dir.exists() and (not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / MARKER).is_file())):
        raise FileExistsError(
            f"'{out_dir}' exists and is not a demo made by "
            'make_demo_cityscapes (no ' + MARKER + '); remove it or choose '
            'another folder')


def _check_args(num_train, num_val, size):
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) for v in size)
            or size[0] < 64 or size[1] < 32):
        raise ValueError('size must be (width, height) ints of at least '
                         f'(64, 32), got {size!r}')


def make_demo_cityscapes(out_dir, seed=0, num_train=48, num_val=16,
                         size=(512, 256)):
    """Draw a small Cityscapes-format dataset of street-like scenes.

    Writes ``leftImg8bit/{train,val}/{city}/{stem}_leftImg8bit.png`` and
    ``gtFine/{split}/{city}/{stem}_gtFine_{polygons.json,labelIds.png,
    instanceIds.png,color.png}`` with stems ``{city}_{seq:06d}_000019``,
    exactly like Cityscapes; run ``tools/dataset_converters/cityscapes.py`` on it next.
    All 19 training classes occur in every split of three or more scenes;
    'ego vehicle' and 'static' polygons give void (ignored) pixels. The
    whole folder is written under a temporary name and renamed at the end.

    Args:
        out_dir (str | Path): dataset root to create. An existing folder is
            replaced only if it is a previous demo.
        seed (int): random seed; a scene depends only on the seed, its split
            and its index, so the output is identical for a given seed.
        num_train (int): number of training scenes. Defaults to 48.
        num_val (int): number of validation scenes. Defaults to 16.
        size (tuple[int, int]): (width, height) of the images, at least
            (64, 32). Defaults to (512, 256).

    Returns:
        dict: ``{split: per-label-id pixel counts (array of 256)}``.
    """
    _check_args(num_train, num_val, size)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    samples = _samples('train', num_train) + _samples('val', num_val)
    start = time.perf_counter()
    with atomic_output(out_dir) as tmp:
        tmp.mkdir()
        with open(tmp / MARKER, 'w') as f:
            json.dump(dict(generator='repseg.demo.make_demo_cityscapes',
                           seed=seed, num_train=num_train, num_val=num_val,
                           size=list(size)), f, indent=4)
        counts = track_progress(
            partial(_write_sample, root=tmp, seed=seed, size=tuple(size)),
            samples)
    pixels = {split: sum(c for s, c in zip(samples, counts)
                         if s.split == split) for split in SPLIT_CODES}
    print(f'make_demo_cityscapes: {num_train} train + {num_val} val scenes '
          f'of {size[0]}x{size[1]} in {out_dir} '
          f'({time.perf_counter() - start:.1f} s); next: python '
          f'tools/dataset_converters/cityscapes.py {out_dir}')
    return pixels
