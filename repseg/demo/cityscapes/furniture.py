"""Street furniture standing on the sidewalk and at the curb: trees, poles,
traffic lights and traffic signs."""
from functools import partial

import numpy as np

from .layout import Layout
from .painters import (paint_bark, paint_pole, paint_traffic_light,
                       paint_traffic_sign)
from .primitives import hsv
from .shapes import arc, rect


class StreetFurniture(Layout):
    """Adds trees and poles (with their lights and signs)."""

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
        bark = partial(paint_bark,
                       colour=hsv(rng, (0.05, 0.1), (0.3, 0.6),
                                  (0.2, 0.4)))
        self._stand(ground,
                    self._upright('vegetation', rect(-trunk_w, trunk_w, 0,
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
        grey = hsv(rng, (0, 1), (0, 0.15), (0.3, 0.6))
        pole_paint = partial(paint_pole, colour=grey, width=width)
        objects = [self._upright('pole', rect(-width / 2, width / 2, 0, top),
                                 u, ground, pole_paint)]
        if light:
            reach = -side * rng.uniform(0.0, 2.5)  # towards the road
            box_w, box_h = rng.uniform(0.4, 0.5), rng.uniform(1.0, 1.3)
            bottom = top - 0.15 - box_h
            if abs(reach) > 0.3:
                arm = rect(min(0, reach), max(0, reach), top - 0.15, top)
                objects.append(self._upright(
                    'pole', arm, u, ground,
                    partial(paint_pole, colour=grey, width=1e3)))
            else:
                reach, bottom = 0.0, top
            housing = (hsv(rng, (0, 1), (0, 0.1), (0.04, 0.15))
                       if rng.random() < 0.7 else
                       hsv(rng, (0.12, 0.16), (0.6, 0.9), (0.5, 0.7)))
            objects.append(self._upright(
                'traffic light',
                rect(reach - box_w / 2, reach + box_w / 2, bottom,
                     bottom + box_h), u, ground,
                partial(paint_traffic_light, housing=housing, centre=reach,
                        bottom=bottom, height=box_h, width=box_w,
                        lit=int(rng.integers(3)))))
        if sign:
            objects.append(self._sign(u, ground, rng.uniform(2.0, top - 0.5)))
        self._stand(ground, *objects)

    def _sign(self, u, ground, height):
        rng = self.rng
        size = rng.uniform(0.35, 0.5)
        kind = rng.integers(4)
        red = hsv(rng, (-0.02, 0.02), (0.75, 0.95), (0.7, 0.9))
        white = hsv(rng, (0, 1), (0, 0.05), (0.85, 0.97))
        if kind == 0:  # round, red ring
            shape = arc((0, height), size, 0, 360, 16)[:-1]
            fill, border = (white, red)
        elif kind == 1:  # triangle, red border
            shape = [(-size, height - size * 0.6), (size, height - size * 0.6),
                     (0, height + size * 1.1)]
            fill, border = (white, red)
        elif kind == 2:  # blue square
            shape = rect(-size, size, height - size, height + size)
            fill = hsv(rng, (0.58, 0.64), (0.7, 0.95), (0.5, 0.8))
            border = white
        else:  # yellow diamond
            shape = [(0, height - size * 1.2), (size * 1.2, height),
                     (0, height + size * 1.2), (-size * 1.2, height)]
            fill = hsv(rng, (0.12, 0.15), (0.8, 1.0), (0.8, 0.95))
            border = white
        scale = self.street.scale(ground)
        paint = partial(paint_traffic_sign, fill=fill, border=border,
                        border_px=max(1, int(0.12 * size * scale)),
                        symbol=(0, height) if rng.random() < 0.5 else None)
        return self._upright('traffic sign', shape, u, ground, paint)
