"""The scene builder: which objects a scene gets, in which order, so that it
holds the classes it must show."""
from .background import Background
from .furniture import StreetFurniture
from .road_users import RoadUsers
from .void import VoidObjects


class SceneBuilder(Background, StreetFurniture, RoadUsers, VoidObjects):
    """Lays out one street scene as a back-to-front list of objects."""

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
