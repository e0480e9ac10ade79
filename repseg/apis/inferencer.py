"""Segmenting a user's own images, folders, videos and cameras: batches,
label maps, colour overlays, progress and a timing summary.

Label maps are PNGs holding Cityscapes labelIds for models trained on
Cityscapes (what cityscapesscripts and the benchmark server read), the model's
own class indices (train ids) otherwise. Overlays are drawn by mmseg's
``SegLocalVisualizer`` at the input's own size. Every file is written under a
temporary name and renamed.
"""
import glob
import itertools
import json
import os
import os.path as osp
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.utils import ProgressBar
from torch import nn

from ..datasets.cityscapes import is_cityscapes_model, train_id_to_label_id
from ..errors import RepSegError
from ..fileio import atomic_output
from ..models.kind import SEGMENTOR, model_kind
from ..results import InferenceReport
from .inference import ImageReadError, predict_arrays, read_image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                    '.ppm', '.pgm')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg',
                    '.mpeg')
_FOURCC = {'.avi': 'MJPG', '.webm': 'VP80', '.mpg': 'PIM1',
           '.mpeg': 'PIM1'}  # others: MPEG-4 part 2


class InputError(RepSegError, ValueError):
    """An INPUT that names no image, folder, glob, video or camera."""


@dataclass
class Inputs:
    """What INPUT stands for.

    Args:
        kind: ``'images'``, ``'video'`` or ``'camera'``.
        images: ``(path, relative path)`` of each image, for ``'images'``.
        video: The video file or camera index.
    """
    kind: str
    images: List[Tuple[str, str]] = field(default_factory=list)
    video: Union[str, int, None] = None


def _is_glob(text: str) -> bool:
    return any(c in text for c in '*?[')


def find_inputs(text: str) -> Inputs:
    """Resolve INPUT: a camera index (digits), a video file (by its ending),
    an image file, a folder (searched recursively for images) or a glob."""
    if text.isdigit() and not osp.exists(text):
        return Inputs('camera', video=int(text))
    if osp.isfile(text):
        if text.lower().endswith(VIDEO_EXTENSIONS):
            return Inputs('video', video=text)
        return Inputs('images', images=[(text, osp.basename(text))])
    if osp.isdir(text):
        paths = sorted(
            p for p in glob.glob(osp.join(glob.escape(text), '**', '*'),
                                 recursive=True)
            if p.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(p))
        if not paths:
            raise InputError(f'{text}: a folder without images (looked for '
                             f'{", ".join(IMAGE_EXTENSIONS)}, recursively)')
        return Inputs('images',
                      images=[(p, osp.relpath(p, text)) for p in paths])
    if _is_glob(text):
        paths = sorted(p for p in glob.glob(text, recursive=True)
                       if osp.isfile(p))
        if not paths:
            raise InputError(f'{text}: the pattern matches no file')
        root = osp.commonpath([osp.dirname(osp.abspath(p)) for p in paths])
        return Inputs('images', images=[(p, osp.relpath(osp.abspath(p), root))
                                        for p in paths])
    raise InputError(f'{text}: no such image, folder, video or camera')


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class RepSegInferencer:
    """Runs a model from ``repseg.apis.init_model`` on images and videos and
    writes what a user looks at.

    Args:
        model: A segmentor (any form, or an engine model) or classifier.
        batch_size: Images per model call.
        opacity: Weight of the class colours in the overlays.
        show: Also show every overlay in a window (needs a display).
        fp16: Run the model under CUDA autocast (half precision).
    """

    def __init__(self, model: nn.Module, batch_size: int = 1,
                 opacity: float = 0.5, show: bool = False,
                 fp16: bool = False):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if not 0 <= opacity <= 1:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        self.model = model
        self.batch_size = batch_size
        self.show = show
        self.fp16 = fp16
        self.latencies: List[float] = []
        self.is_segmentor = model_kind(model) == SEGMENTOR
        meta = getattr(model, 'dataset_meta', None) or {}
        self.classes = meta.get('classes')
        self.label_lut = (train_id_to_label_id()
                          if self.is_segmentor and is_cityscapes_model(meta)
                          else None)
        if self.is_segmentor:
            from mmseg.visualization import SegLocalVisualizer
            self.visualizer = SegLocalVisualizer(
                name=f'repseg_infer_{id(self)}', alpha=opacity)
            self.visualizer.set_dataset_meta(meta.get('classes'),
                                             meta.get('palette'))

    # ---------------------------------------------------------- the model

    def predict(self, arrays: Sequence[np.ndarray]) -> list:
        """Predictions for BGR uint8 arrays, timing each call."""
        began = time.perf_counter()
        with torch.autocast('cuda', torch.float16, enabled=self.fp16):
            results = predict_arrays(self.model, arrays)
        self.latencies.append((time.perf_counter() - began) / len(arrays))
        return results

    def label_map(self, sample) -> np.ndarray:
        """The predicted classes at the image's size, as written to PNG."""
        labels = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)
        if self.label_lut is not None:
            return self.label_lut[np.clip(labels, 0, 255)]
        dtype = np.uint8 if labels.max(initial=0) < 256 else np.uint16
        return labels.astype(dtype)

    def overlay(self, image: np.ndarray, sample) -> np.ndarray:
        """``image`` (BGR) with the predicted class colours blended in."""
        self.visualizer.add_datasample('overlay', image[:, :, ::-1], sample,
                                       draw_gt=False, with_labels=False)
        return np.ascontiguousarray(self.visualizer.get_image()[:, :, ::-1])

    # ------------------------------------------------------------- images

    def run_images(self, images: Sequence[Tuple[str, str]],
                   out_dir: Optional[str]) -> InferenceReport:
        """Every image of ``images`` (``(path, relative path)``); with
        ``out_dir``, ``labels/<rel>.png`` and ``overlays/<rel>.png`` for a
        segmentor, ``predictions.json`` (top-5) for a classifier. An image
        that fails is listed and the others go on."""
        failures, predictions = [], {}
        self.output_names = output_names([rel for _, rel in images])
        progress = ProgressBar(len(images))
        began = time.perf_counter()
        done = 0
        for batch in _batches(images, self.batch_size):
            readable = []
            for path, rel in batch:
                try:
                    readable.append((path, rel, read_image(path)))
                except ImageReadError as err:
                    failures.append((path, str(err)))
            if readable:
                try:
                    results = self.predict([r[2] for r in readable])
                except Exception as err:  # noqa: BLE001  (listed, not lost)
                    failures += [(p, f'{type(err).__name__}: {err}')
                                 for p, _, _ in readable]
                    results = []
                for (path, rel, image), sample in zip(readable, results):
                    if self.is_segmentor:
                        self._write_segmentation(out_dir, rel, image, sample)
                    else:
                        predictions[rel] = self.top_classes(sample)
                    done += 1
            for _ in batch:
                progress.update()
        if predictions and out_dir:
            with atomic_output(Path(out_dir) / 'predictions.json') as tmp:
                tmp.write_text(json.dumps(predictions, indent=2) + '\n')
        return self.summary('images', done, failures,
                            time.perf_counter() - began)

    def _write_segmentation(self, out_dir, rel: str, image: np.ndarray,
                            sample) -> None:
        overlay = self.overlay(image, sample) if (out_dir or self.show) \
            else None
        if self.show:
            cv2.imshow('repseg', overlay)
            cv2.waitKey(1)
        if not out_dir:
            return
        stem = self.output_names[rel]
        write_image(Path(out_dir) / 'labels' / stem, self.label_map(sample))
        write_image(Path(out_dir) / 'overlays' / stem, overlay)

    def top_classes(self, sample) -> List[dict]:
        """A classifier's top-5 classes (names where the model has them)."""
        names = self.classes
        return [dict(label=int(label),
                     name=names[int(label)] if names else str(int(label)),
                     score=float(score))
                for label, score in zip(sample.pred_topk_labels,
                                        sample.pred_topk_scores)]

    # ------------------------------------------------------------- videos

    def run_video(self, source: Union[str, int], out_dir: Optional[str],
                  save_labels: bool = False,
                  max_frames: Optional[int] = None) -> InferenceReport:
        """Every frame of a video file or camera: with ``out_dir``, one
        video of the overlays (``<stem>_overlay``, the input's frame rate
        and size; ``.avi`` for a camera) and, with ``save_labels``, the
        label map of each frame (``<stem>_labels/<frame>.png``)."""
        if not self.is_segmentor:
            raise InputError('videos are for segmentors; a classifier takes '
                             'images')
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            raise InputError(f'{source}: cannot be opened as a video'
                             + (' or camera' if isinstance(source, int)
                                else ''))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if max_frames is not None:
            count = min(count, max_frames) if count > 0 else max_frames
        name = (f'camera{source}' if isinstance(source, int) else
                osp.splitext(osp.basename(source))[0])
        suffix = '.avi' if isinstance(source, int) else \
            osp.splitext(source)[1].lower()
        began = time.perf_counter()
        self.source = source
        try:
            frames = _frames(capture, max_frames)
            if out_dir:
                target = Path(out_dir) / f'{name}_overlay{suffix}'
                with atomic_output(target) as tmp:
                    done = self._video_frames(frames, fps, tmp, count,
                                              save_labels and Path(out_dir) /
                                              f'{name}_labels')
            else:
                done = self._video_frames(frames, fps, None, count, None)
        finally:
            capture.release()
        return self.summary('video' if isinstance(source, str) else 'camera',
                            done, [], time.perf_counter() - began)

    def _video_frames(self, frames: Iterable[np.ndarray], fps: float,
                      video_path: Optional[Path], count: int,
                      labels_dir: Optional[Path]) -> int:
        writer = None
        progress = ProgressBar(count)
        done = 0
        try:
            frames = iter(frames)
            first = next(frames, None)
            if first is None:
                raise InputError(f'{self.source}: no frame could be read')
            frames = itertools.chain([first], frames)
            for batch in _chunks(frames, self.batch_size):
                for frame, sample in zip(batch, self.predict(batch)):
                    overlay = self.overlay(frame, sample)
                    if self.show:
                        cv2.imshow('repseg', overlay)
                        cv2.waitKey(1)
                    if video_path is not None:
                        if writer is None:
                            writer = _video_writer(video_path, fps,
                                                   frame.shape[1],
                                                   frame.shape[0])
                        writer.write(overlay)
                    if labels_dir:
                        write_image(labels_dir / f'{done:06d}.png',
                                    self.label_map(sample))
                    done += 1
                    progress.update()
        finally:
            if writer is not None:
                writer.release()
        return done

    # ------------------------------------------------------------ summary

    def summary(self, kind: str, done: int, failures, seconds: float
                ) -> InferenceReport:
        backend = getattr(self.model, 'backend', None)
        device = 'cpu' if backend is not None else str(
            next(self.model.parameters()).device)
        latency = (1e3 * statistics.median(self.latencies)
                   if self.latencies else None)
        print()  # past the progress bar
        return InferenceReport(
            kind=kind, done=done,
            failures=[list(f) for f in failures],
            median_latency_ms=latency,
            fps=done / seconds if done and seconds > 0 else None,
            backend=backend.name if backend is not None else 'pytorch',
            device=device, threads=torch.get_num_threads(),
            precision=getattr(self.model, 'precision', 'fp32'))


def output_names(rels: Sequence[str]) -> dict:
    """``<rel without its ending>.png`` for each input; inputs that would
    share a name (``a.jpg`` and ``a.png``) keep their ending
    (``a.jpg.png``, ``a.png.png``)."""
    stems = Counter(osp.splitext(rel)[0] for rel in rels)
    return {rel: (osp.splitext(rel)[0] if stems[osp.splitext(rel)[0]] == 1
                  else rel) + '.png' for rel in rels}


def _frames(capture, max_frames: Optional[int]) -> Iterator[np.ndarray]:
    read = 0
    while max_frames is None or read < max_frames:
        ok, frame = capture.read()
        if not ok:
            return
        read += 1
        yield frame


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _video_writer(path: Path, fps: float, width: int, height: int):
    fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(path.suffix.lower(), 'mp4v'))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise InputError(f'{path}: OpenCV cannot write a {path.suffix} video')
    return writer


def write_image(path: Path, image: np.ndarray) -> None:
    """``cv2.imwrite`` to a temporary name, then renamed."""
    with atomic_output(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f'{path}: cannot be written')


def run_inference(inferencer: RepSegInferencer, text: str,
                  out_dir: Optional[str], save_labels: bool = False,
                  max_frames: Optional[int] = None) -> InferenceReport:
    """Resolve INPUT (``find_inputs``) and run it."""
    inputs = find_inputs(text)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    if inputs.kind == 'images':
        return inferencer.run_images(inputs.images, out_dir)
    return inferencer.run_video(inputs.video, out_dir, save_labels,
                                max_frames)
