"""Where things are: the street and its pinhole camera, and the frames that
map the pixels of an object's bounding box to the object's own coordinates.
"""
import numpy as np


# A frame maps the pixels of an object's bounding box to the object's own
# coordinates in metres (a: rightwards/along, b: upwards/in depth) and gives
# the pixels per metre there, so painters draw in world units.
def screen_frame(xx, yy):
    return xx, yy, 1.0


def upright_frame(centre_x, ground_y, scale, facing, xx, yy):
    return ((xx - centre_x) / (scale * facing), (ground_y - yy) / scale,
            scale)


class Street:
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
