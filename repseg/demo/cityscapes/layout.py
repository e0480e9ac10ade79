"""The parts every scene layer shares: the objects a scene is made of, and
placing them in the street (ground rows, lateral positions, upright
outlines scaled by distance).

A scene is a list of labelled polygons drawn back to front, exactly what a
real ``*_gtFine_polygons.json`` holds; nearer things hide farther ones.
"""
from functools import partial
from typing import Callable, List, NamedTuple, Tuple

from .geometry import Street, upright_frame
from .painters import paint_vegetation
from .primitives import hsv


class SceneObject(NamedTuple):
    """One polygon of the annotation and how to paint it."""
    label: str
    points: List[Tuple[int, int]]
    frame: Callable
    paint: Callable


class Layout:
    """A scene being laid out: its street, its three drawing layers and the
    placement helpers the layers' ``add_*`` methods use."""

    def __init__(self, rng, width, height):
        self.rng = rng
        self.street = Street(rng, width, height)
        self.background = []  # drawn first, in order
        self.standing = []  # (ground row, objects), drawn far to near
        self.foreground = []  # drawn last

    def _polygon(self, points):
        return [(int(round(x)), int(round(y))) for x, y in points]

    def _add(self, layer, label, points, frame, paint):
        layer.append(SceneObject(label, self._polygon(points), frame, paint))

    def _upright(self, label, shape, u, ground_y, paint, facing=1):
        """An object standing at lateral u on ground row ground_y, drawn
        from its outline in metres (a rightwards, b up; mirrored when
        facing is -1)."""
        st = self.street
        scale = st.scale(ground_y)
        centre = st.ground_x(u, ground_y)
        points = [(centre + a * scale * facing, ground_y - b * scale)
                  for a, b in shape]
        frame = partial(upright_frame, centre, ground_y, scale, facing)
        return SceneObject(label, self._polygon(points), frame, paint)

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

    # -- paint shared by several kinds of object
    def _leaves(self):
        rng = self.rng
        return partial(paint_vegetation,
                       colour=hsv(rng, (0.22, 0.33), (0.45, 0.8),
                                  (0.25, 0.5)),
                       alt=hsv(rng, (0.17, 0.25), (0.4, 0.7), (0.3, 0.55)))
