"""The demo video: one street scene of the demo's kind, seen from a camera
driving down the street, for ``tools/infer.py`` to segment.

The scene code places things by image row, not by depth, so it cannot move
its camera. The drive is drawn as a zoom into the vanishing point instead:
the scene is painted once at ``ZOOM`` times the video size and each frame
crops a smaller window around the vanishing point, scaled to the video
size. Things grow and leave the frame at its sides as they would when the
camera moves forward along the street's axis, but without parallax (near
and far things grow alike). The car's bonnet is painted once, at the video
size, over every frame, as it moves with the camera.
"""
import time
from pathlib import Path
from typing import Iterator, NamedTuple, Tuple

import cv2
import numpy as np

from repseg.fileio import atomic_output
from .builder import SceneBuilder
from .classes import ALWAYS
from .geometry import Street
from .render import develop, paint_photo

FPS = 10
SECONDS = 2.5
# How much closer the last frame is: the scene is painted at this many
# times the video size, so that even the last frame is not upsampled.
ZOOM = 2.0
VIDEO_CODE = 2  # keeps the video's random streams apart from the splits'
FOURCC = {'.mp4': 'mp4v', '.avi': 'MJPG'}
BONNET = 'ego vehicle'


def _paint(objects, size, rng):
    canvas, index = paint_photo(objects, *size, rng)
    return canvas, (index > 0).astype(np.float32)


def _window(street, zoom: float) -> Tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) of the painted scene that a camera ``zoom``
    times closer sees: scaled about the vanishing point, which stays put."""
    width, height = street.width, street.height
    x0 = street.vanish_x * (1 - 1 / zoom)
    y0 = street.horizon * (1 - 1 / zoom)
    x0, y0 = int(round(x0)), int(round(y0))
    return (x0, y0, min(width, x0 + int(round(width / zoom))),
            min(height, y0 + int(round(height / zoom))))


class StreetScene(NamedTuple):
    """What the drive is cut from: the street (its camera at ZOOM times the
    video size), the scene painted at that size without the bonnet, and
    the bonnet painted at the video size with its coverage (0..1)."""
    street: Street
    scene: np.ndarray
    bonnet: np.ndarray
    cover: np.ndarray

    def vanishing_point(self) -> Tuple[float, float]:
        """Where the street vanishes in the video's frames (it stays put)."""
        return self.street.vanish_x / ZOOM, self.street.horizon / ZOOM


def street_scene(seed: int, size) -> StreetScene:
    """Lay out and paint the scene of the drive (the same for the same
    seed)."""
    big = (int(size[0] * ZOOM), int(size[1] * ZOOM))
    rng = np.random.default_rng([seed, VIDEO_CODE])
    builder = SceneBuilder(rng, *big)
    objects = builder.build(set(ALWAYS))
    scene, _ = _paint([o for o in objects if o.label != BONNET], big, rng)
    bonnet, cover = _paint([o for o in objects if o.label == BONNET], big,
                           rng)
    return StreetScene(
        builder.street, scene,
        cv2.resize(bonnet, size, interpolation=cv2.INTER_AREA),
        cv2.resize(cover, size, interpolation=cv2.INTER_AREA)[..., None])


def street_frames(seed: int = 0, size=(512, 256),
                  count: int = round(SECONDS * FPS)) -> Iterator[np.ndarray]:
    """The ``count`` frames (BGR uint8, ``size`` = (width, height)) of the
    drive: the camera gets ZOOM times closer, by the same factor from frame
    to frame; the same for the same seed."""
    size = tuple(size)
    drive = street_scene(seed, size)
    for k in range(count):
        zoom = ZOOM**(k / max(1, count - 1))
        x0, y0, x1, y1 = _window(drive.street, zoom)
        frame = cv2.resize(drive.scene[y0:y1, x0:x1], size,
                           interpolation=cv2.INTER_AREA)
        frame = frame * (1 - drive.cover) + drive.bonnet * drive.cover
        # The same camera look on every frame (gain, white balance, noise).
        rgb = develop(frame, np.random.default_rng([seed, VIDEO_CODE, 1]))
        yield np.ascontiguousarray(rgb[..., ::-1])


def _check_args(path: Path, size, seconds, fps) -> None:
    if path.suffix.lower() not in FOURCC:
        raise ValueError(f'{path}: the demo video is written as one of '
                         f'{sorted(FOURCC)}')
    if (len(size) != 2 or not all(isinstance(v, (int, np.integer))
                                  for v in size)
            or size[0] < 64 or size[1] < 32):
        raise ValueError('size must be (width, height) ints of at least '
                         f'(64, 32), got {size!r}')
    if not (seconds > 0 and fps > 0 and round(seconds * fps) >= 2):
        raise ValueError(f'seconds={seconds!r} at fps={fps!r} must give at '
                         'least 2 frames')


def count_frames(path) -> int:
    """The frames OpenCV reads back from the video at ``path``."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def make_demo_video(path, seed: int = 0, size=(512, 256),
                    seconds: float = SECONDS, fps: float = FPS) -> dict:
    """Write the demo drive as a video file (.mp4 with the mp4v codec, or
    .avi with MJPG), under a temporary name renamed once it reads back
    whole. An existing file at ``path`` is replaced.

    Returns:
        dict: ``frames``, ``fps`` and ``size`` of the video written.
    """
    path = Path(path)
    _check_args(path, size, seconds, fps)
    count = round(seconds * fps)
    start = time.perf_counter()
    with atomic_output(path) as tmp:
        writer = cv2.VideoWriter(
            str(tmp), cv2.VideoWriter_fourcc(*FOURCC[path.suffix.lower()]),
            fps, tuple(size))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write {path.suffix} videos '
                               'here')
        for frame in street_frames(seed, tuple(size), count):
            writer.write(frame)
        writer.release()
        if count_frames(tmp) != count:
            raise RuntimeError(f'{path}: OpenCV does not read back the '
                               f'{count} frames it wrote')
    print(f'make_demo_video: {count} frames of {size[0]}x{size[1]} at '
          f'{fps:g} fps in {path} ({time.perf_counter() - start:.1f} s)')
    return dict(frames=count, fps=fps, size=list(size))
