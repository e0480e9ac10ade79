"""Drawing primitives of the demo scenes: colours drawn from HSV ranges,
blends and shading of RGB images (floats in [0, 1]), smooth value noise and
masks of discs, rings and segments over coordinate grids."""
import colorsys

import cv2
import numpy as np

WHITE = np.ones(3, np.float32)
BLACK = np.zeros(3, np.float32)


# --------------------------------------------------------------- colours --
def hsv(rng, hue, sat, val):
    """An RGB colour (floats in [0, 1]) drawn uniformly from HSV ranges; the
    hue range may wrap around 0 (e.g. (-0.05, 0.05) for reds)."""
    rgb = colorsys.hsv_to_rgb(
        rng.uniform(*hue) % 1.0, rng.uniform(*sat), rng.uniform(*val))
    return np.array(rgb, np.float32)


def vehicle_colour(rng):
    """Car paint: mostly white, silver, grey and black, sometimes a colour."""
    if rng.random() < 0.6:
        return hsv(rng, (0, 1), (0, 0.08), rng.choice([(0.08, 0.2),
                                                       (0.45, 0.65),
                                                       (0.8, 0.95)]))
    return hsv(rng, (0, 1), (0.5, 0.9), (0.35, 0.85))


def mix(base, other, weight):
    """Blend colour/image ``other`` into ``base`` with per-pixel ``weight``."""
    weight = np.asarray(weight, np.float32)[..., None]
    return base * (1 - weight) + other * weight


def shade(rgb, factor):
    return rgb * np.asarray(factor, np.float32)[..., None]


def flat(colour, shape):
    return np.broadcast_to(colour, (*shape, 3)).astype(np.float32)


def value_noise(rng, shape, cell=1, cell_x=None):
    """Smooth value noise in [-1, 1] whose blobs measure about ``cell`` rows
    by ``cell_x`` (default ``cell``) columns of pixels."""
    height, width = shape
    cell_x = cell if cell_x is None else cell_x
    grid = rng.uniform(-1, 1, (height // cell + 2, width // cell_x + 2))
    grid = grid.astype(np.float32)
    if cell == cell_x == 1:
        return grid[:height, :width]
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)


def disc_mask(a, b, centre, radius):
    return (a - centre[0])**2 + (b - centre[1])**2 < radius**2


def ring_mask(a, b, centre, radius, width):
    dist = np.hypot(a - centre[0], b - centre[1])
    return np.abs(dist - radius) < width


def segment_distance(a, b, p0, p1):
    """Distance from every (a, b) to the segment p0-p1."""
    d = np.subtract(p1, p0)
    t = ((a - p0[0]) * d[0] + (b - p0[1]) * d[1]) / max(d @ d, 1e-9)
    t = np.clip(t, 0, 1)
    return np.hypot(a - p0[0] - t * d[0], b - p0[1] - t * d[1])
