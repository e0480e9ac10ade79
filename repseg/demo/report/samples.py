"""The report's sample images: input, ground truth and the fused model's
prediction of a few val images, in the Cityscapes palette; and a strip of
frames of the overlay video tools/infer.py made of the street video."""
from pathlib import Path
from typing import List

import cv2
import mmcv
import numpy as np

from repseg.datasets.cityscapes import (label_id_to_train_id,
                                        train_id_colours_bgr)
from repseg.fileio import atomic_output

SAMPLE_COUNT = 3
STRIP_FRAMES = 4


def pick_samples(data_root: Path, predictions_dir: Path,
                 count: int = SAMPLE_COUNT) -> List[tuple]:
    """``(image, ground truth, prediction)`` paths of ``count`` val images
    spread over the val set (so several cities show)."""
    images = sorted((data_root / 'leftImg8bit' / 'val').glob(
        '*/*_leftImg8bit.png'))
    images = [image for image in images
              if (predictions_dir / image.name).is_file()]
    if not images:
        raise FileNotFoundError(f'no predictions in {predictions_dir} for the '
                                f'images of {data_root}/leftImg8bit/val')
    step = max(1, len(images) // count)
    picked = images[::step][:count]
    return [(image,
             data_root / 'gtFine' / 'val' / image.parent.name /
             image.name.replace('_leftImg8bit.png',
                                '_gtFine_labelTrainIds.png'),
             predictions_dir / image.name) for image in picked]


def labelled_column(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` under a white bar holding ``title``."""
    bar = np.full((28, image.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def sample_row(image_path: Path, gt_path: Path, pred_path: Path,
               to_train_id: np.ndarray, colours: np.ndarray,
               with_titles: bool) -> np.ndarray:
    """Input | ground truth | prediction, side by side, coloured with the
    Cityscapes palette."""
    image = mmcv.imread(str(image_path))
    gt = mmcv.imread(str(gt_path), flag='unchanged')
    # The predictions are palette PNGs of labelIds: pillow reads the indices
    # (cv2 would return the palette colours).
    pred = to_train_id[mmcv.imread(str(pred_path), flag='unchanged',
                                   backend='pillow')]
    height, width = image.shape[:2]
    columns = [image, colours[gt], colours[pred]]
    columns = [cv2.resize(c, (width, height), interpolation=cv2.INTER_NEAREST)
               for c in columns]
    if with_titles:
        titles = (image_path.name.replace('_leftImg8bit.png', ''),
                  'ground truth', 'prediction (fused model)')
        columns = [labelled_column(c, t) for c, t in zip(columns, titles)]
    gap = np.full((columns[0].shape[0], 6, 3), 255, dtype=np.uint8)
    return np.hstack([columns[0], gap, columns[1], gap, columns[2]])


def write_png(image: np.ndarray, path: Path) -> None:
    ok, png = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError(f'could not encode {path}')
    with atomic_output(path) as tmp:
        tmp.write_bytes(png.tobytes())


def read_frames(video: Path, indices: List[int]) -> List[np.ndarray]:
    """The frames ``indices`` (ascending) of ``video``, read in one pass
    (seeking is unreliable with some codecs)."""
    capture = cv2.VideoCapture(str(video))
    frames, wanted, index = [], set(indices), 0
    try:
        while len(frames) < len(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                frames.append(frame)
            index += 1
    finally:
        capture.release()
    return frames


def write_video_strip(video: Path, path: Path,
                      count: int = STRIP_FRAMES) -> dict:
    """``count`` frames spread from the first to the last of ``video``, side
    by side, each titled with its time, as one PNG at ``path``; returns
    ``frames`` (the indices shown) and ``fps``."""
    capture = cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    fps = capture.get(cv2.CAP_PROP_FPS) or None
    capture.release()
    if total < 1:
        raise FileNotFoundError(f'{video}: no video frames to show')
    indices = sorted({round(k * (total - 1) / max(1, count - 1))
                      for k in range(count)})
    frames = read_frames(Path(video), indices)
    if len(frames) != len(indices):
        raise RuntimeError(f'{video}: could read only {len(frames)} of the '
                           f'frames {indices}')
    columns = [labelled_column(frame, f'frame {index}' + (
        f' ({index / fps:.1f} s)' if fps else ''))
        for index, frame in zip(indices, frames)]
    gap = np.full((columns[0].shape[0], 6, 3), 255, dtype=np.uint8)
    write_png(np.hstack([part for column in columns
                         for part in (column, gap)][:-1]), path)
    return dict(frames=indices, fps=fps)


def write_samples(data_root: Path, predictions_dir: Path,
                  path: Path) -> List[str]:
    """The sample grid as one PNG at ``path``; returns the image names
    shown."""
    samples = pick_samples(Path(data_root), Path(predictions_dir))
    to_train_id, colours = label_id_to_train_id(), train_id_colours_bgr()
    rows = [sample_row(*paths, to_train_id, colours, with_titles=True)
            for paths in samples]
    gap = np.full((6, rows[0].shape[1], 3), 255, dtype=np.uint8)
    write_png(np.vstack([part for row in rows for part in (row, gap)][:-1]),
              path)
    return [image.name for image, _, _ in samples]
