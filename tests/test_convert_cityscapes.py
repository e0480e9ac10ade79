"""tools/dataset_converters/cityscapes.py and check_cityscapes: trainId label maps,
split lists, clear errors, and mmseg's CityscapesDataset on the result."""
import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from helpers import load_tool
from PIL import Image

from repseg.datasets import (DatasetNotReadyError, check_cityscapes,
                             convert_cityscapes)
from repseg.datasets.cityscapes import DatasetArgumentError, DatasetLayoutError
from repseg.demo import make_demo_cityscapes

TOOL = Path(__file__).parents[1] / 'tools' / 'dataset_converters' / 'cityscapes.py'
NUM = 3
WIDTH, HEIGHT = 160, 80


def _load_tool():
    spec = importlib.util.spec_from_file_location('convert_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo') / 'cityscapes'
    make_demo_cityscapes(root, seed=2, num_train=NUM, num_val=NUM,
                         size=(WIDTH, HEIGHT))
    return root


@pytest.fixture
def fresh_demo(demo_root, tmp_path):
    """An unconverted copy of the demo that a test may change."""
    root = tmp_path / 'cityscapes'
    shutil.copytree(demo_root, root)
    return root


def _write_polygons(root, split, stem, objects, size=(40, 20)):
    city = stem.split('_')[0]
    path = root / 'gtFine' / split / city / f'{stem}_gtFine_polygons.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        'imgWidth': size[0], 'imgHeight': size[1],
        'objects': [{'label': label, 'polygon': polygon}
                    for label, polygon in objects]}))
    return path


def _train_ids(json_path):
    png = str(json_path).replace('_polygons.json', '_labelTrainIds.png')
    return np.asarray(Image.open(png))


def _box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_train_ids_follow_the_cityscapes_mapping(tmp_path):
    # One 2-pixel column per label that is drawn (id >= 0).
    drawn = [label for label in CITYSCAPES_LABELS if label.id >= 0]
    columns = [(label.name, _box(2 * k, 0, 2 * k + 1, 9))
               for k, label in enumerate(drawn)]
    extra = [('cargroup', _box(0, 12, 9, 15)),
             ('car', _box(12, 12, 21, 15)),
             ('license plate', _box(14, 13, 16, 14)),  # id -1: not drawn
             ('ego vehicle', _box(0, 18, 100, 19))]
    path = _write_polygons(tmp_path, 'train', 'aachen_000000_000019',
                           columns + extra, size=(2 * len(drawn) + 4, 20))
    convert_cityscapes(tmp_path)
    train_ids = _train_ids(path)
    for k, label in enumerate(drawn):
        expected = label.trainId if 0 <= label.trainId < 19 else 255
        assert (train_ids[:10, 2 * k:2 * k + 2] == expected).all(), label
    names = {label.name: label.trainId for label in drawn}
    assert (names['road'], names['car'], names['bicycle']) == (0, 13, 18)
    assert (train_ids[12:16, 0:10] == 13).all()  # a group counts as its class
    assert (train_ids[12:16, 12:22] == 13).all()  # plate stays car
    assert (train_ids[18:20] == 255).all()  # ego vehicle is void
    assert (train_ids[10:12, -4:] == 255).all()  # unlabelled background


def test_split_lists_sorted_stems(tmp_path):
    for split, stem in [('train', 'zurich_000001_000019'),
                        ('train', 'aachen_000010_000019'),
                        ('train', 'aachen_000002_000019'),
                        ('val', 'lindau_000000_000019'),
                        ('test', 'berlin_000000_000019')]:
        _write_polygons(tmp_path, split, stem, [('road', _box(0, 0, 5, 5))])
    counts = convert_cityscapes(tmp_path)
    assert counts == {'train': 3, 'val': 1, 'test': 1}
    assert (tmp_path / 'train.txt').read_text().splitlines() == [
        'aachen/aachen_000002_000019', 'aachen/aachen_000010_000019',
        'zurich/zurich_000001_000019']
    assert (tmp_path / 'val.txt').read_text() == (
        'lindau/lindau_000000_000019\n')
    assert (tmp_path / 'test.txt').read_text() == (
        'berlin/berlin_000000_000019\n')


def test_demo_converts_in_parallel_like_serially(fresh_demo, tmp_path):
    serial = tmp_path / 'serial'
    shutil.copytree(fresh_demo, serial)
    convert_cityscapes(serial, nproc=1)
    _load_tool().main([str(fresh_demo), '--nproc', '2'])
    outputs = sorted(serial.rglob('*_labelTrainIds.png'))
    assert len(outputs) == 2 * NUM
    for path in outputs:
        assert path.read_bytes() == (
            fresh_demo / path.relative_to(serial)).read_bytes()
    for split in ('train', 'val'):
        stems = (fresh_demo / f'{split}.txt').read_text().splitlines()
        images = sorted((fresh_demo / 'leftImg8bit' / split).glob('*/*'))
        assert stems == [f'{p.parent.name}/{p.name[:-16]}' for p in images]
    assert not (fresh_demo / 'test.txt').exists()
    assert not list(fresh_demo.rglob('.*tmp*'))


def test_converter_errors_name_the_path(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(DatasetNotReadyError,
                       match=re.escape(str(missing)) + '.*make_demo_data'):
        convert_cityscapes(missing)
    with pytest.raises(SystemExit, match=re.escape(str(missing))):
        _load_tool().main([str(missing)])

    empty = tmp_path / 'empty'
    (empty / 'gtFine' / 'train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError,
                       match=re.escape(str(empty / 'gtFine'))):
        convert_cityscapes(empty)

    bad = tmp_path / 'bad'
    path = _write_polygons(bad, 'train', 'aachen_000000_000019',
                           [('road', _box(0, 0, 5, 5))])
    path.write_text('{"imgWidth": 4}')
    with pytest.raises(DatasetLayoutError, match=re.escape(str(path))):
        convert_cityscapes(bad)
    _write_polygons(bad, 'train', 'aachen_000000_000019',
                    [('hovercraft', _box(0, 0, 5, 5))])
    with pytest.raises(DatasetLayoutError, match=re.escape(str(path)) +
                       ".*'hovercraft'") as error:
        convert_cityscapes(bad)
    assert isinstance(error.value, ValueError)  # what it raised before
    with pytest.raises(SystemExit, match=re.escape(str(path))):
        _load_tool().main([str(bad), '--nproc', '1'])
    assert [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize('nproc', [0, -2, 1.5])
def test_converter_names_a_bad_nproc(tmp_path, nproc):
    with pytest.raises(DatasetArgumentError, match='nproc') as error:
        convert_cityscapes(tmp_path, nproc=nproc)
    assert isinstance(error.value, ValueError)


def test_converter_tool_names_a_bad_nproc(tmp_path):
    with pytest.raises(SystemExit, match='nproc'):
        _load_tool().main([str(tmp_path), '--nproc', '0'])


def test_check_cityscapes_says_what_to_run(fresh_demo, tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as error:
        check_cityscapes(missing)
    assert isinstance(error.value, DatasetNotReadyError)
    assert str(missing) in str(error.value)
    assert 'tools/dataset_converters/make_demo_data.py cityscapes' in str(error.value)

    with pytest.raises(DatasetNotReadyError,
                       match=re.escape(str(fresh_demo)) +
                       '.*tools/dataset_converters/cityscapes.py'):
        check_cityscapes(fresh_demo)

    convert_cityscapes(fresh_demo)
    assert check_cityscapes(fresh_demo) == {'train': NUM, 'val': NUM}
    assert check_cityscapes(fresh_demo, 'val') == {'val': NUM}

    with pytest.raises(DatasetNotReadyError,
                       match=re.escape(str(fresh_demo / 'leftImg8bit' /
                                           'test'))):
        check_cityscapes(fresh_demo, splits=('test', ))

    shutil.rmtree(fresh_demo / 'leftImg8bit' / 'val')
    with pytest.raises(DatasetNotReadyError,
                       match=re.escape(str(fresh_demo / 'leftImg8bit' /
                                           'val')) + '.*make_demo_data'):
        check_cityscapes(fresh_demo)

    shutil.rmtree(fresh_demo / 'gtFine' / 'train')
    with pytest.raises(DatasetNotReadyError, match='no annotation'):
        check_cityscapes(fresh_demo, 'train')


def test_mmseg_cityscapes_dataset_loads_the_converted_demo(fresh_demo):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets import CityscapesDataset
    from mmseg.datasets.transforms import LoadAnnotations

    convert_cityscapes(fresh_demo)
    dataset = CityscapesDataset(
        data_root=str(fresh_demo),
        data_prefix=dict(img_path='leftImg8bit/train',
                         seg_map_path='gtFine/train'),
        pipeline=[LoadImageFromFile(), LoadAnnotations()])
    assert len(dataset) == NUM
    seen = set()
    for k in range(len(dataset)):
        sample = dataset[k]
        assert sample['img'].shape == (HEIGHT, WIDTH, 3)
        expected = np.asarray(Image.open(sample['seg_map_path']))
        np.testing.assert_array_equal(sample['gt_seg_map'], expected)
        seen |= set(np.unique(sample['gt_seg_map']).tolist())
    assert seen == set(range(19)) | {255}


def _write_train_ids(root, split, stem, label):
    city = stem.split('_')[0]
    path = root / 'gtFine' / split / city / f'{stem}_gtFine_labelTrainIds.png'
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(label.astype(np.uint8)).save(path)


def test_class_weights_follow_enet_rule(tmp_path):
    # 3 classes: road on 60 of the 100 labelled pixels, sky on 40, class 2
    # absent; 20 ignored pixels do not count.
    label = np.full((10, 12), 255)
    label[:, :6] = 0
    label[:4, 6:] = 1
    label[4:, 6:] = 0
    _write_train_ids(tmp_path, 'train', 'aachen_000000_000019',
                     label[:5])
    _write_train_ids(tmp_path, 'train', 'bremen_000000_000019',
                     label[5:])
    labelled = (label != 255).sum()
    share = np.array([(label == 0).sum(), (label == 1).sum(), 0]) / labelled
    from repseg.datasets import class_weights
    weights = class_weights(tmp_path, num_classes=3, offset=1.10)
    assert weights == [round(float(w), 2)
                       for w in 1 / np.log(1.10 + share)]
    assert weights[2] == round(1 / np.log(1.10), 2)  # absent: the largest
    assert weights[0] < weights[1] < weights[2]


def test_class_weights_errors_name_the_path(tmp_path):
    from repseg.datasets import class_weights
    with pytest.raises(DatasetNotReadyError, match=re.escape(
            str(tmp_path / 'gtFine' / 'val'))):
        class_weights(tmp_path, split='val')
    with pytest.raises(DatasetArgumentError, match='offset must be > 1'):
        class_weights(tmp_path, offset=1.0)
    tool = load_tool('analysis_tools/class_weights')
    with pytest.raises(SystemExit, match='offset'):
        tool.main([str(tmp_path), '--offset', '1.0'])
    rgb = tmp_path / 'gtFine' / 'train' / 'aachen'
    rgb.mkdir(parents=True)
    rgb = rgb / 'aachen_000000_000019_gtFine_labelTrainIds.png'
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(rgb)
    with pytest.raises(DatasetLayoutError, match=re.escape(str(rgb))):
        class_weights(tmp_path)
    with pytest.raises(SystemExit, match=re.escape(str(rgb))):
        tool.main([str(tmp_path)])
