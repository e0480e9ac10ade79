"""Textures: one painter per kind of object, and the ``Grid`` a painter is
handed (the pixels of the object's bounding box in its own coordinates).

Every training class has its own colour range and texture (jittered per
image), so that a small network can learn it from appearance.
"""
from functools import cached_property

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .primitives import (BLACK, WHITE, disc_mask, flat, mix, ring_mask,
                         segment_distance, shade, value_noise)


class Grid:
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
        return value_noise(self.rng, self.shape, cell, cell_x)

    @cached_property
    def mask(self):
        """The object's whole polygon (also where it is hidden)."""
        image = Image.new('L', self.shape[::-1], 0)
        ImageDraw.Draw(image).polygon(self._points, fill=1)
        return np.asarray(image).astype(bool)


# Each painter returns the RGB (floats in [0, 1]) of an object's bounding
# box; only the pixels where the object is visible are kept.
def paint_sky(g, zenith, haze, cloud, cover, horizon):
    t = np.clip(g.yy / horizon, 0, 1)
    rgb = mix(flat(zenith, g.shape), haze, t)
    clouds = np.clip(g.noise(max(4, g.shape[1] // 10)) * 1.5 - cover, 0, 1)
    return mix(rgb, cloud, clouds)


def paint_building(g, wall, glass, bay, floor, window):
    rgb = shade(flat(wall, g.shape), 1 + 0.05 * g.noise())
    fa = (g.a / bay) % 1.0
    fb = (g.b / floor) % 1.0
    windows = ((np.abs(fa - 0.5) < window / 2) & (np.abs(fb - 0.55) < 0.3)
               & (g.b > 0.4))
    visible = np.clip((np.minimum(bay, floor) * g.spx - 2) / 3, 0, 1)
    pane = shade(flat(glass, g.shape), 0.7 + 0.6 * fb)
    return mix(rgb, pane, windows * visible)


def paint_wall(g, colour, mortar, brick):
    row = np.floor(g.yy / brick)
    joints = ((g.yy / brick) % 1.0 < 0.3) | (
        ((g.xx + row * brick * 1.3) / (brick * 2.6)) % 1.0 < 0.15)
    rgb = shade(flat(colour, g.shape), 1 + 0.08 * g.noise())
    return mix(rgb, mortar, joints)


def paint_fence(g, wire, backdrop, period, top):
    mesh = (((g.xx + g.yy) / period) % 1.0 < 1.3 / period) | (
        ((g.xx - g.yy) / period) % 1.0 < 1.3 / period)
    rail = g.b > top - 0.08
    rgb = shade(flat(backdrop, g.shape), 1 + 0.15 * g.noise(3))
    return mix(rgb, wire, mesh | rail)


def paint_pole(g, colour, width):
    across = np.clip(g.a / (width / 2), -1, 1)
    light = 0.55 + 0.5 * np.cos(across * np.pi / 2)
    return shade(flat(colour, g.shape), light * (1 + 0.04 * g.noise()))


def paint_traffic_light(g, housing, centre, bottom, height, width, lit):
    rgb = shade(flat(housing, g.shape), 1 + 0.06 * g.noise())
    lamps = ((1.0, 0.1, 0.05), (1.0, 0.7, 0.0), (0.1, 1.0, 0.45))
    for k, lamp in enumerate(lamps):
        bulb = disc_mask(g.a, g.b, (centre, bottom + height * (0.8 - 0.3 * k)),
                         0.33 * width)
        on = np.array(lamp, np.float32) * (1.0 if k == lit else 0.3)
        rgb = mix(rgb, on, bulb)
    return rgb


def paint_traffic_sign(g, fill, border, border_px, symbol):
    ring = g.mask & ~cv2.erode(
        g.mask.astype(np.uint8), np.ones((3, 3), np.uint8),
        iterations=border_px).astype(bool)
    rgb = shade(flat(fill, g.shape), 1 + 0.04 * g.noise())
    rgb = mix(rgb, border, ring)
    if symbol is not None:
        bar = (np.abs(g.b - symbol[1]) < 0.05) & (np.abs(g.a - symbol[0]) <
                                                  0.14)
        rgb = mix(rgb, BLACK + 0.1, bar)
    return rgb


def paint_vegetation(g, colour, alt):
    leaves = g.noise(2)
    clumps = g.noise(7)
    rgb = mix(flat(colour, g.shape), alt, np.clip(0.5 + 0.5 * clumps, 0, 1))
    return shade(rgb, 0.8 + 0.3 * leaves + 0.2 * clumps)


def paint_bark(g, colour):
    return shade(flat(colour, g.shape), 0.85 + 0.25 * g.noise(6, 1))


def paint_terrain(g, colour, alt):
    blotches = np.clip(0.5 + 0.7 * g.noise(10), 0, 1)
    rgb = mix(flat(colour, g.shape), alt, blotches)
    return shade(rgb, 1 + 0.06 * g.noise())


def paint_road(g, colour, marking, lines, dashed, zebra):
    rgb = shade(flat(colour, g.shape),
                1 + 0.07 * g.noise() + 0.05 * g.noise(16))
    paint = np.zeros(g.shape, bool)
    half_width = np.maximum(0.08 * g.spx, 0.6)
    for u in lines:
        paint |= np.abs(g.a - u) * g.spx < half_width
    for u in dashed:
        paint |= (np.abs(g.a - u) * g.spx < half_width) & (g.b / 9 % 1 < 0.35)
    if zebra is not None:
        paint |= ((g.b > zebra) & (g.b < zebra + 4) & (g.a % 1.0 < 0.5))
    return mix(rgb, marking, paint * (0.9 + 0.1 * g.noise()))


def paint_sidewalk(g, colour, joint, tile):
    checker = (np.floor(g.xx / tile) + np.floor(g.yy / tile)) % 2
    rgb = shade(flat(colour, g.shape), 0.96 + 0.08 * checker +
                0.04 * g.noise())
    joints = (g.xx % tile < 1) | (g.yy % tile < 1)
    return mix(rgb, joint, joints)


def paint_person(g, height, skin, hair, shirt, trousers):
    rgb = flat(trousers, g.shape).copy()
    rgb[g.b > 0.48 * height] = shirt
    rgb[g.b > 0.84 * height] = skin
    rgb[g.b > 0.95 * height] = hair
    rgb[g.b < 0.03 * height] = 0.08
    folds = 1 - 0.5 * (g.a / 0.5)**2
    return shade(rgb, folds * (1 + 0.05 * g.noise()))


def paint_rider(g, helmet, vis, vis2, trousers, period, seat):
    stripes = ((g.xx + g.yy) / period) % 1.0 < 0.5
    rgb = mix(flat(vis, g.shape), vis2, stripes)
    legs = g.b < seat[1] + 0.02
    rgb[legs] = trousers
    head = g.b > seat[1] + 0.58
    rgb[head] = helmet
    return shade(rgb, 1 + 0.05 * g.noise())


def _glass(g, tint, mask):
    """Dark tinted glass with a sky reflection growing upwards."""
    top = g.b[mask].max() if mask.any() else 0.0
    reflect = np.clip(1 - (top - g.b) / 0.8, 0, 1)
    return mix(flat(tint, g.shape), tint + 0.35, 0.7 * reflect)


def _body_paint(g, body, height):
    """Car-like paint: lit from above, with a highlight line."""
    rgb = shade(flat(body, g.shape), 0.78 + 0.3 * np.clip(g.b / height,
                                                          0, 1))
    sheen = np.exp(-((g.b - 0.55 * height) / (0.05 * height))**2)
    return mix(rgb, WHITE, 0.3 * sheen * (1 + 0.03 * g.noise()))


def _wheels(g, rgb, centres, radius):
    for centre in centres:
        rgb = mix(rgb, BLACK + 0.06, disc_mask(g.a, g.b, (centre, radius),
                                               radius))
        rgb = mix(rgb, BLACK + 0.55, disc_mask(g.a, g.b, (centre, radius),
                                               0.45 * radius))
    return rgb


def paint_car(g, body, tint, view, length, height, wheels):
    rgb = _body_paint(g, body, height)
    if view == 'rear':
        glass = ((g.b > 0.66 * height) & (g.b < 0.93 * height)
                 & (np.abs(g.a) < 0.33 * length))
        rgb = mix(rgb, _glass(g, tint, glass), glass)
        lights = ((np.abs(g.b - 0.52 * height) < 0.05 * height)
                  & (np.abs(g.a) > 0.3 * length))
        rgb = mix(rgb, np.array([0.85, 0.05, 0.05], np.float32), lights)
        plate = (np.abs(g.a) < 0.14) & (np.abs(g.b - 0.32 * height) < 0.06)
        rgb = mix(rgb, WHITE * 0.9, plate)
        rgb = mix(rgb, BLACK + 0.07, g.b < 0.17 * height)
        return rgb
    glass = ((g.b > 0.6 * height) & (g.b < 0.93 * height)
             & (g.a > -0.28 * length) & (g.a < 0.22 * length)
             & (np.abs(g.a + 0.03 * length) > 0.03))
    rgb = mix(rgb, _glass(g, tint, glass), glass)
    return _wheels(g, rgb, wheels, 0.32)


def paint_truck(g, body, cab, tint, view, length, height, rib, wheels):
    ribs = 0.8 + 0.2 * np.cos(2 * np.pi * g.xx / rib)
    rgb = shade(flat(body, g.shape), ribs * (1 + 0.04 * g.noise()))
    if view == 'rear':
        seam = np.abs(g.a) < 0.03
        rgb = mix(rgb, BLACK + 0.2, seam)
        return mix(rgb, BLACK + 0.06, g.b < 0.12 * height)
    in_cab = g.a > length / 2 - 2.3
    rgb[in_cab] = _body_paint(g, cab, height)[in_cab]
    glass = in_cab & (g.b > 0.5 * height) & (g.b < 0.74 * height) & (
        g.a > length / 2 - 1.9)
    rgb = mix(rgb, _glass(g, tint, glass), glass)
    rgb = mix(rgb, BLACK + 0.12, (g.b < 0.9) & ~in_cab)
    return _wheels(g, rgb, wheels, 0.5)


def paint_bus(g, body, stripe, tint, view, length, height, bay, wheels):
    rgb = _body_paint(g, body, height)
    rgb = mix(rgb, stripe, np.abs(g.b - 0.32 * height) < 0.06 * height)
    if view == 'rear':
        glass = (g.b > 0.6 * height) & (g.b < 0.9 * height) & (
            np.abs(g.a) < 0.4 * length)
        rgb = mix(rgb, _glass(g, tint, glass), glass)
        return mix(rgb, BLACK + 0.08, g.b < 0.12 * height)
    pillars = (g.a / bay) % 1.0 < 0.12
    glass = ((g.b > 0.45 * height) & (g.b < 0.85 * height) & ~pillars
             & (np.abs(g.a) < length / 2 - 0.4))
    rgb = mix(rgb, _glass(g, tint, glass), glass)
    return _wheels(g, rgb, wheels, 0.5)


def paint_train(g, body, stripe, tint, view, length, height, period):
    rgb = _body_paint(g, body, height)
    livery = (g.b < 0.45 * height) & ((g.yy / period) % 1.0 < 0.5)
    rgb = mix(rgb, stripe, livery)
    rgb = mix(rgb, BLACK + 0.5, g.b > 0.92 * height)  # roof equipment
    if view == 'front':
        glass = (g.b > 0.55 * height) & (g.b < 0.88 * height) & (
            np.abs(g.a) < 0.42 * length)
    else:
        pillars = (g.a / 1.6) % 1.0 < 0.08
        glass = ((g.b > 0.5 * height) & (g.b < 0.85 * height) & ~pillars
                 & (np.abs(g.a) < length / 2 - 0.5))
    return mix(rgb, _glass(g, tint, glass), glass)


def paint_motorcycle(g, body, tank, wheels, radius):
    chrome = g.noise() > 0.6
    rgb = shade(flat(body, g.shape), 1 + 0.1 * g.noise(2))
    rgb = mix(rgb, WHITE * 0.85, chrome)
    rgb = mix(rgb, tank, (g.b > 0.62) & (np.abs(g.a - 0.1) < 0.3))
    for centre in wheels:
        tyre = ring_mask(g.a, g.b, (centre, radius), 0.8 * radius,
                         0.2 * radius)
        rgb = mix(rgb, BLACK + 0.04, tyre)
    return rgb


def paint_bicycle(g, frame, backdrop, wheels, radius, joints):
    rgb = shade(flat(backdrop, g.shape), 1 + 0.12 * g.noise(3))
    thin = np.maximum(0.03, 0.7 / g.spx)
    for centre in wheels:
        rgb = mix(rgb, BLACK + 0.05, ring_mask(g.a, g.b, (centre, radius),
                                               radius - thin, thin))
        angle = np.arctan2(g.b - radius, g.a - centre)
        spokes = ((angle / (2 * np.pi) * 16) % 1.0 < 0.15) & disc_mask(
            g.a, g.b, (centre, radius), radius)
        rgb = mix(rgb, WHITE * 0.75, spokes)
    tube = np.zeros(g.shape, bool)
    for p0, p1 in joints:
        tube |= segment_distance(g.a, g.b, p0, p1) < thin * 1.5
    return mix(rgb, frame, tube)


def paint_ego(g, colour, sky, top):
    depth = np.clip((g.yy - top) / max(g.shape[0], 1), 0, 1)
    rgb = mix(flat(sky, g.shape), colour, np.clip(depth * 3, 0, 1))
    return shade(rgb, 1 + 0.03 * g.noise())


def paint_static(g, colour):
    return shade(flat(colour, g.shape), 1 + 0.15 * g.noise(3))
