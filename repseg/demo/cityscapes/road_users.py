"""Road users: pedestrians, riders on bicycles and motorcycles, cars,
trucks, buses and trams, each seen from behind (in a lane) or from the side
(crossing)."""
from functools import partial

from .layout import Layout
from .painters import (paint_bicycle, paint_bus, paint_car, paint_motorcycle,
                       paint_person, paint_rider, paint_train, paint_truck)
from .primitives import hsv, vehicle_colour
from .shapes import arc, person_shape, rect, rider_shape, wheel_arcs


class RoadUsers(Layout):
    """Adds people and vehicles."""

    def add_person(self):
        rng = self.rng
        on_road = rng.random() < 0.25
        u = (self._lane_u(0.3) if on_road else
             self._sidewalk_u(rng.choice([-1, 1])))
        ground = self._row(u, 0.9, 0.05)
        height = rng.uniform(1.55, 1.9)
        paint = partial(
            paint_person, height=height,
            skin=hsv(rng, (0.03, 0.09), (0.25, 0.6), (0.35, 0.9)),
            hair=hsv(rng, (0.05, 0.1), (0.2, 0.6), (0.05, 0.5)),
            shirt=hsv(rng, (0, 1), (0.2, 0.9), (0.2, 0.95)),
            trousers=hsv(rng, (0.55, 0.7), (0.0, 0.6), (0.1, 0.45)))
        shape = person_shape(height, rng.uniform(0.0, 0.2))
        self._stand(ground, self._upright('person', shape, u, ground, paint))

    def _two_wheeler(self, kind):
        """Outline, painter and seat/bar/pedal of a bicycle or motorcycle
        seen from the side facing +a."""
        rng = self.rng
        if kind == 'bicycle':
            r, axle = 0.34, 0.52
            seat, bar, pedal = (-0.18, 0.92), (0.42, 1.02), (0.0, 0.3)
            shape = (arc((-axle, r), r, 100, 300, 7)
                     + arc((axle, r), r, 240, 440, 9)
                     + [(bar[0] + 0.05, bar[1]), (bar[0] - 0.05, bar[1]),
                        (0.32, 0.75), (seat[0] + 0.05, seat[1]),
                        (seat[0] - 0.14, seat[1]), (-0.28, 0.7)])
            joints = [((-axle, r), seat), (seat, (0.0, r)), ((0.0, r),
                                                             (-axle, r)),
                      ((0.0, r), (0.34, 0.8)), ((0.34, 0.8), seat),
                      ((0.34, 0.8), (axle, r)), ((0.34, 0.8), bar)]
            paint = partial(paint_bicycle,
                            frame=hsv(rng, (0, 1), (0.5, 0.95),
                                      (0.4, 0.9)),
                            backdrop=hsv(rng, (0, 1), (0, 0.1),
                                         (0.3, 0.5)),
                            wheels=(-axle, axle), radius=r, joints=joints)
        else:
            r, axle = 0.32, 0.72
            seat, bar, pedal = (-0.25, 0.85), (0.5, 1.08), (0.0, 0.42)
            shape = (arc((-axle, r), r, 110, 300, 7)
                     + arc((axle, r), r, 240, 430, 9)
                     + [(0.62, 1.1), (0.48, 1.1), (0.2, 0.95),
                        (-0.35, 0.9), (-0.85, 0.88), (-0.95, 0.72)])
            paint = partial(paint_motorcycle,
                            body=hsv(rng, (0, 1), (0, 0.2), (0.06, 0.22)),
                            tank=hsv(rng, (0, 1), (0.6, 0.95),
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
                paint_rider,
                helmet=hsv(rng, (0, 1), (0, 0.9), (0.1, 0.95)),
                vis=hsv(rng, (0.1, 0.2), (0.8, 1.0), (0.85, 1.0)),
                vis2=hsv(rng, (0.0, 0.08), (0.7, 1.0), (0.6, 0.95)),
                trousers=hsv(rng, (0.55, 0.7), (0.0, 0.5), (0.1, 0.35)),
                period=float(rng.integers(4, 8)), seat=seat)
            objects.append(self._upright('rider',
                                         rider_shape(seat, bar, pedal), u,
                                         ground, rider, facing))
        self._stand(ground, *objects)

    def _tint(self):
        return hsv(self.rng, (0.5, 0.65), (0.1, 0.5), (0.08, 0.2))

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
            paint = partial(paint_car, body=vehicle_colour(rng),
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
                 + wheel_arcs(wheels, 0.32)[::-1])
        paint = partial(paint_car, body=vehicle_colour(rng),
                        tint=self._tint(), view='side', length=length,
                        height=height, wheels=wheels)
        u = rng.uniform(st.road[0] - 3, st.road[1] + 3)
        self._stand(ground, self._upright('car', shape, u, ground, paint,
                                          rng.choice([-1, 1])))

    def add_truck(self):
        rng = self.rng
        body = hsv(rng, (0, 1), (0.0, 0.7), (0.55, 0.95))
        height = rng.uniform(3.2, 3.8)
        common = dict(body=body, cab=vehicle_colour(rng), tint=self._tint(),
                      height=height, rib=float(rng.integers(4, 7)))
        if rng.random() < 0.5:
            width = rng.uniform(2.3, 2.5)
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.4, 0.06)
            shape = rect(-width / 2, width / 2, 0, height)
            paint = partial(paint_truck, view='rear', length=width,
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
                  (-length / 2, 0.5)] + wheel_arcs(wheels, 0.5)[::-1])
        ground = self._row(0.0, 0.2, 0.05)
        paint = partial(paint_truck, view='side', length=length,
                        wheels=wheels, **common)
        self._stand(ground, self._upright(
            'truck', shape, self._lane_u(1.0), ground, paint,
            rng.choice([-1, 1])))

    def add_bus(self):
        rng = self.rng
        height = rng.uniform(3.0, 3.3)
        common = dict(body=hsv(rng, (0, 1), (0.5, 0.95), (0.55, 0.9)),
                      stripe=hsv(rng, (0, 1), (0.0, 0.3), (0.85, 1.0)),
                      tint=self._tint(), height=height,
                      bay=rng.uniform(1.1, 1.5))
        if rng.random() < 0.4:
            width = 2.55
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.4, 0.06)
            shape = [(-width / 2, 0), (width / 2, 0),
                     (width / 2, height - 0.2), (width / 2 - 0.2, height),
                     (-width / 2 + 0.2, height), (-width / 2, height - 0.2)]
            paint = partial(paint_bus, view='rear', length=width, wheels=(),
                            **common)
            self._stand(ground, self._upright('bus', shape, u, ground,
                                              paint))
            return
        length = rng.uniform(11, 13.5)
        wheels = (-length / 2 + 2.5, length / 2 - 2.8)
        shape = ([(length / 2, 0.3), (length / 2, height - 0.3),
                  (length / 2 - 0.3, height), (-length / 2 + 0.2, height),
                  (-length / 2, height - 0.15), (-length / 2, 0.3)]
                 + wheel_arcs(wheels, 0.5)[::-1])
        ground = self._row(0.0, 0.2, 0.05)
        paint = partial(paint_bus, view='side', length=length, wheels=wheels,
                        **common)
        self._stand(ground, self._upright('bus', shape, self._lane_u(1.0),
                                          ground, paint,
                                          rng.choice([-1, 1])))

    def add_train(self):
        """A tram: crossing far away (side) or coming down the street."""
        rng = self.rng
        height = rng.uniform(3.3, 3.6)
        common = dict(body=hsv(rng, (0, 1), (0.0, 0.9), (0.6, 0.95)),
                      stripe=hsv(rng, (0, 1), (0.6, 1.0), (0.3, 0.8)),
                      tint=self._tint(), height=height,
                      period=float(rng.integers(4, 7)))
        if rng.random() < 0.3:
            width = 2.4
            u = self._lane_u(width / 2)
            ground = self._row(u, 0.35, 0.06)
            shape = [(-width / 2, 0.3), (width / 2, 0.3),
                     (width / 2, 0.8 * height), (0.4 * width, height),
                     (-0.4 * width, height), (-width / 2, 0.8 * height)]
            paint = partial(paint_train, view='front', length=width,
                            **common)
            self._stand(ground, self._upright('train', shape, u, ground,
                                              paint))
            return
        length = rng.uniform(18, 32)
        shape = [(-length / 2, 0.3), (length / 2, 0.3),
                 (length / 2, 0.9 * height), (length / 2 - 0.6, height),
                 (-length / 2 + 0.6, height), (-length / 2, 0.9 * height)]
        ground = self._row(0.0, 0.16, 0.05)
        paint = partial(paint_train, view='side', length=length, **common)
        self._stand(ground, self._upright('train', shape, self._lane_u(1.0),
                                          ground, paint))
