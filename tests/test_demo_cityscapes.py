"""The demo Cityscapes maker: exact layout, label maps made from the JSON,
all 19 classes per split, determinism, and a safe output folder; and the
demo street video."""
import json
import re
import shutil

import cv2
import numpy as np
import pytest
from helpers import load_tool
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from PIL import Image

import repseg.demo.cityscapes as demo
from repseg.datasets import convert_cityscapes

WIDTH, HEIGHT = 192, 96
NUM = 3  # scenes per split: the fewest that must hold all 19 classes
GT_KINDS = ('color.png', 'instanceIds.png', 'labelIds.png', 'polygons.json')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo') / 'cityscapes'
    demo.make_demo_cityscapes(root, seed=1, num_train=NUM, num_val=NUM,
                              size=(WIDTH, HEIGHT))
    return root


def _images(root, split):
    return sorted((root / 'leftImg8bit' / split).glob('*/*'))


def _gt(root, split, image, kind):
    stem = image.name[:-len('_leftImg8bit.png')]
    city = image.parent.name
    return root / 'gtFine' / split / city / f'{stem}_gtFine_{kind}'


def test_exact_cityscapes_layout(demo_root):
    assert sorted(p.name for p in demo_root.iterdir()) == [
        'demo_cityscapes.json', 'gtFine', 'leftImg8bit']
    for split in ('train', 'val'):
        images = _images(demo_root, split)
        assert len(images) == NUM
        assert len({p.parent.name for p in images}) >= 2
        assert {p.parent.name for p in images} <= set(demo.CITIES[split])
        for image in images:
            city = image.parent.name
            assert re.fullmatch(rf'{city}_\d{{6}}_000019_leftImg8bit\.png',
                                image.name)
            rgb = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
            assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.uint8
            assert rgb.std() > 20  # a picture, not a flat fill
            for kind in GT_KINDS:
                assert _gt(demo_root, split, image, kind).is_file()
        annotations = list((demo_root / 'gtFine' / split).glob('*/*'))
        assert len(annotations) == NUM * len(GT_KINDS)
    # Like the real set: 8-bit ids, 16-bit instance ids, RGBA colours.
    image = _images(demo_root, 'val')[0]
    assert Image.open(_gt(demo_root, 'val', image, 'labelIds.png')).mode == 'L'
    assert cv2.imread(str(_gt(demo_root, 'val', image, 'instanceIds.png')),
                      cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert Image.open(_gt(demo_root, 'val', image,
                          'color.png')).mode == 'RGBA'


def test_label_maps_are_made_from_the_json(demo_root):
    for split in ('train', 'val'):
        for image in _images(demo_root, split):
            path = _gt(demo_root, split, image, 'polygons.json')
            data = json.loads(path.read_text())
            assert (data['imgWidth'], data['imgHeight']) == (WIDTH, HEIGHT)
            assert all(set(obj) == {'label', 'polygon'} and
                       obj['label'] in name2label for obj in data['objects'])
            annotation = Annotation()
            annotation.fromJsonFile(str(path))
            ids = np.asarray(Image.open(_gt(demo_root, split, image,
                                            'labelIds.png')))
            np.testing.assert_array_equal(
                ids, np.asarray(createLabelImage(annotation, 'ids')))
            instances = cv2.imread(
                str(_gt(demo_root, split, image, 'instanceIds.png')),
                cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(
                instances, np.asarray(createInstanceImage(annotation, 'ids')))
            np.testing.assert_array_equal(
                np.where(instances >= 1000, instances // 1000, instances),
                ids)
            colour = np.asarray(Image.open(_gt(demo_root, split, image,
                                               'color.png')))
            np.testing.assert_array_equal(
                colour, np.asarray(createLabelImage(annotation, 'color')))


def test_all_classes_per_split_and_void_after_conversion(
        demo_root, tmp_path):
    # The schedule alone puts all 19 in any three consecutive scenes.
    assert set(demo.ALWAYS).union(*demo.SCHEDULE) == set(demo.TRAIN_CLASSES)
    assert len(demo.TRAIN_CLASSES) == 19
    root = tmp_path / 'converted'
    shutil.copytree(demo_root, root)
    convert_cityscapes(root)
    for split in ('train', 'val'):
        seen = set()
        for image in _images(root, split):
            train_ids = np.asarray(Image.open(
                _gt(root, split, image, 'labelTrainIds.png')))
            classes = set(np.unique(train_ids).tolist())
            assert len(classes - {255}) >= 12  # most classes in every scene
            seen |= classes
        assert seen == set(range(19)) | {255}, split


def test_plausible_layout(demo_root):
    """Sky above buildings above road; the ego vehicle at the bottom."""
    for image in _images(demo_root, 'train'):
        ids = np.asarray(Image.open(_gt(demo_root, 'train', image,
                                        'labelIds.png')))
        rows = np.arange(HEIGHT)[:, None].repeat(WIDTH, 1)

        def mean_row(name):
            return rows[ids == name2label[name].id].mean()

        assert mean_row('sky') < mean_row('building') < mean_row('road')
        assert mean_row('road') < mean_row('ego vehicle')
        assert (ids[-1] == name2label['ego vehicle'].id).all()


def test_deterministic_by_seed(tmp_path):
    def make(name, seed):
        root = tmp_path / name
        demo.make_demo_cityscapes(root, seed=seed, num_train=1, num_val=1,
                                  size=(128, 64))
        return {p.relative_to(root): p.read_bytes()
                for p in sorted(root.rglob('*')) if p.is_file()}

    first, again, other = make('a', 5), make('b', 5), make('c', 6)
    assert first == again
    assert first.keys() == other.keys()
    image = next(p for p in first if p.name.endswith('_leftImg8bit.png'))
    assert first[image] != other[image]


def test_replaces_a_previous_demo_only(tmp_path):
    foreign = tmp_path / 'cityscapes'
    foreign.mkdir()
    (foreign / 'README').write_text('real data')
    with pytest.raises(FileExistsError, match=re.escape(str(foreign))):
        demo.make_demo_cityscapes(foreign, num_train=1, num_val=1,
                                  size=(128, 64))
    assert (foreign / 'README').read_text() == 'real data'

    root = tmp_path / 'demo'
    demo.make_demo_cityscapes(root, num_train=1, num_val=1, size=(128, 64))
    demo.make_demo_cityscapes(root, num_train=2, num_val=1, size=(128, 64))
    assert len(_images(root, 'train')) == 2


def test_nothing_half_written_when_generation_fails(tmp_path, monkeypatch):
    # The writer draws each scene through render_scene: patch it there.
    render = demo.writer.render_scene
    calls = []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('disk full')
        return render(*args, **kwargs)

    monkeypatch.setattr(demo.writer, 'render_scene', fail_second)
    with pytest.raises(RuntimeError, match='disk full'):
        demo.make_demo_cityscapes(tmp_path / 'new', num_train=2, num_val=1,
                                  size=(128, 64))
    assert list(tmp_path.iterdir()) == []

    # A failed regeneration keeps the previous demo as it was.
    monkeypatch.setattr(demo.writer, 'render_scene', render)
    old = tmp_path / 'old'
    demo.make_demo_cityscapes(old, num_train=1, num_val=1, size=(128, 64))
    before = sorted(old.rglob('*'))
    calls.clear()
    monkeypatch.setattr(demo.writer, 'render_scene', fail_second)
    with pytest.raises(RuntimeError, match='disk full'):
        demo.make_demo_cityscapes(old, num_train=2, num_val=1,
                                  size=(128, 64))
    assert sorted(old.rglob('*')) == before
    assert [p.name for p in tmp_path.iterdir()] == ['old']


@pytest.mark.parametrize('kwargs, name', [
    (dict(size=(32, 16)), 'size'),
    (dict(size=(128.0, 64)), 'size'),
    (dict(num_train=0), 'num_train'),
    (dict(num_val=-1), 'num_val'),
])
def test_bad_arguments_are_named(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        demo.make_demo_cityscapes(tmp_path / 'out', **kwargs)
    assert not (tmp_path / 'out').exists()


# ------------------------------------------------------------ the video
VIDEO_SIZE = (128, 64)


def _read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.mark.parametrize('suffix', ['.mp4', '.avi'])
def test_video_reads_back(tmp_path, suffix):
    """What tools/infer.py will read: the frames, their size and rate, via
    the command line; written under a temporary name (nothing else left)."""
    path = tmp_path / 'videos' / f'street{suffix}'
    make_demo_data = load_tool('dataset_converters/make_demo_data')
    make_demo_data.main(['video', str(path), '--seed', '3'])
    frames, fps = _read_video(path)
    assert len(frames) == round(demo.video.SECONDS * demo.video.FPS)
    assert fps == demo.video.FPS
    assert frames[0].shape == (256, 512, 3)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_video_frames_drive_down_one_street():
    """Consecutive frames show the same scene one step closer: frame k+1 is
    frame k scaled about the vanishing point by the per-frame zoom (up to
    rounding), and far nearer to that than to frame k as it is."""
    count = 6
    frames = [f.astype(np.float32) for f in
              demo.video.street_frames(1, VIDEO_SIZE, count)]
    vx, vy = demo.video.street_scene(1, VIDEO_SIZE).vanishing_point()
    step = demo.video.ZOOM**(1 / (count - 1))
    scale = cv2.getRotationMatrix2D((vx, vy), 0, step)
    above_bonnet = slice(0, int(0.85 * VIDEO_SIZE[1]))
    for before, after in zip(frames, frames[1:]):
        zoomed = cv2.warpAffine(before, scale, VIDEO_SIZE)
        moved = np.abs(zoomed - after)[above_bonnet].mean()
        still = np.abs(before - after)[above_bonnet].mean()
        assert moved < 0.5 * still, (moved, still)
    # The bonnet moves with the camera: the bottom rows stay.
    assert np.abs(frames[0][-2:] - frames[-1][-2:]).mean() < 3
    assert np.abs(frames[0] - frames[-1]).mean() > 10


def test_video_deterministic_by_seed():
    def frames(seed):
        return np.stack(list(demo.video.street_frames(seed, VIDEO_SIZE, 3)))

    assert np.array_equal(frames(4), frames(4))
    assert not np.array_equal(frames(4), frames(5))


def test_video_nothing_half_written(tmp_path, monkeypatch):
    frames = demo.video.street_frames

    def fail_after_two(*args):
        yield from frames(0, VIDEO_SIZE, 2)
        raise RuntimeError('disk full')

    monkeypatch.setattr(demo.video, 'street_frames', fail_after_two)
    with pytest.raises(RuntimeError, match='disk full'):
        demo.make_demo_video(tmp_path / 'street.mp4', size=VIDEO_SIZE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('name, kwargs, match', [
    ('street.mkv', {}, 'mp4'),
    ('street.mp4', dict(size=(32, 16)), 'size'),
    ('street.mp4', dict(size=(128.0, 64)), 'size'),
    ('street.mp4', dict(seconds=0.1), 'frames'),
])
def test_video_bad_arguments(tmp_path, name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        demo.make_demo_video(tmp_path / name, **kwargs)
    assert list(tmp_path.iterdir()) == []
