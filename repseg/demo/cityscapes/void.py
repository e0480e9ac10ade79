"""Void objects: labelled in the annotation, ignored in training (clutter on
the sidewalk and the recording car's bonnet)."""
from functools import partial

import numpy as np

from .geometry import screen_frame
from .layout import Layout
from .painters import paint_ego, paint_static
from .primitives import hsv
from .shapes import rect


class VoidObjects(Layout):
    """Adds 'static' clutter and the 'ego vehicle'."""

    def add_static(self):
        """Void clutter (bins, boxes): label 'static', ignored in training."""
        rng = self.rng
        u = self._sidewalk_u(rng.choice([-1, 1]))
        ground = self._row(u, 0.8, 0.06)
        width, height = rng.uniform(0.5, 1.2), rng.uniform(0.7, 1.4)
        paint = partial(paint_static,
                        colour=hsv(rng, (0, 1), (0, 1), (0.2, 0.9)))
        self._stand(ground, self._upright(
            'static', rect(-width / 2, width / 2, 0, height), u, ground,
            paint))

    def add_ego_vehicle(self):
        """The bonnet of the recording car along the bottom (void)."""
        st, rng = self.street, self.rng
        top = st.height * (1 - rng.uniform(0.03, 0.08))
        bulge = st.height * rng.uniform(0.01, 0.03)
        xs = np.linspace(0, st.width, 9)
        curve = [(x, top - bulge * (1 - ((x - st.width / 2) /
                                         (st.width / 2))**2)) for x in xs]
        paint = partial(paint_ego,
                        colour=hsv(rng, (0, 1), (0, 0.3), (0.03, 0.15)),
                        sky=hsv(rng, (0.55, 0.62), (0.05, 0.3), (0.3, 0.5)),
                        top=top - bulge)
        self._add(self.foreground, 'ego vehicle',
                  [(st.width, st.height), (0, st.height)] + curve,
                  screen_frame, paint)
