"""The scene's background layer: sky, ground, facades, the low strips along
them (walls, fences, hedges), grass verges and the road."""
from functools import partial

import numpy as np

from .geometry import screen_frame, upright_frame
from .layout import Layout
from .painters import (paint_building, paint_fence, paint_road,
                       paint_sidewalk, paint_sky, paint_terrain, paint_wall)
from .primitives import hsv
from .shapes import rect


class Background(Layout):
    """Adds the background objects, drawn first and in order."""

    def add_sky(self):
        st, rng = self.street, self.rng
        overcast = rng.random() < 0.4
        zenith = hsv(rng, (0.55, 0.62), (0.05, 0.15) if overcast else
                     (0.35, 0.65), (0.7, 0.95))
        paint = partial(paint_sky, zenith=zenith,
                        haze=hsv(rng, (0.55, 0.62), (0.0, 0.12),
                                 (0.85, 1.0)),
                        cloud=hsv(rng, (0, 1), (0, 0.04), (0.85, 1.0)),
                        cover=rng.uniform(0.2, 1.2), horizon=st.horizon)
        self._add(self.background, 'sky',
                  rect(0, st.width, 0, st.end_row + 1), screen_frame, paint)

    def add_ground(self):
        """Sidewalk under everything; road, terrain and buildings cover it
        where they are."""
        st, rng = self.street, self.rng
        paint = partial(paint_sidewalk,
                        colour=hsv(rng, (0.0, 0.12), (0.04, 0.25),
                                   (0.5, 0.72)),
                        joint=hsv(rng, (0, 1), (0, 0.1), (0.25, 0.4)),
                        tile=int(rng.integers(6, 10)))
        self._add(self.background, 'sidewalk',
                  rect(0, st.width, st.end_row - 1, st.height),
                  partial(st.ground_frame), paint)

    def _building_paint(self):
        rng = self.rng
        wall = hsv(rng, *[((0.02, 0.13), (0.15, 0.5), (0.45, 0.8)),
                          ((0, 1), (0.0, 0.08), (0.35, 0.75)),
                          ((0.0, 0.04), (0.4, 0.65), (0.35, 0.6))][
                               rng.integers(3)])
        return partial(paint_building, wall=wall,
                       glass=hsv(rng, (0.5, 0.65), (0.1, 0.4), (0.1, 0.3)),
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
            frame = partial(upright_frame, st.vanish_x, end, scale, 1)
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
        paint = partial(paint_wall,
                        colour=hsv(rng, (0.0, 0.12), (0.1, 0.45),
                                   (0.4, 0.7)),
                        mortar=hsv(rng, (0, 1), (0, 0.05), (0.7, 0.85)),
                        brick=int(rng.integers(3, 6)))
        side = rng.choice([-1, 1])
        self._along_facade('wall', self._side_u(side, rng.uniform(0.3, 1.0)),
                           rng.uniform(1.0, 2.2), paint)

    def add_fence(self):
        rng = self.rng
        tall = rng.uniform(1.0, 2.0)
        paint = partial(paint_fence,
                        wire=hsv(rng, (0.25, 0.45), (0.0, 0.35),
                                 (0.6, 0.85)),
                        backdrop=hsv(rng, (0.2, 0.4), (0.1, 0.4),
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
        paint = partial(paint_terrain,
                        colour=hsv(rng, (0.12, 0.22), (0.3, 0.55),
                                   (0.35, 0.55)),
                        alt=hsv(rng, (0.06, 0.12), (0.3, 0.55),
                                (0.3, 0.5)))
        self._add(self.background, 'terrain',
                  st.ground_quad(edge, edge + width, y0, y1),
                  partial(st.ground_frame), paint)

    def add_road(self):
        st, rng = self.street, self.rng
        lo, hi = st.road
        lanes = np.arange(np.ceil(lo / 3.2) * 3.2, hi - 1.0, 3.2)
        paint = partial(paint_road,
                        colour=hsv(rng, (0, 1), (0.0, 0.08), (0.22, 0.4)),
                        marking=hsv(rng, (0.1, 0.16), (0.0, 0.15),
                                    (0.75, 0.92)),
                        lines=(lo + 0.3, hi - 0.3),
                        dashed=tuple(u for u in lanes if u - lo > 1.5),
                        zebra=(rng.uniform(8, 30)
                               if rng.random() < 0.3 else None))
        self._add(self.background, 'road',
                  st.ground_quad(lo, hi, st.end_row, st.height * 3),
                  partial(st.ground_frame), paint)
