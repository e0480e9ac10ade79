from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import repseg.demo.imagenet as demo_module
from repseg.datasets.imagenet import DatasetLayoutError, ImageNetDataset
from repseg.datasets.transforms import (AUTOAUGMENT_OPS, IMAGENET_POLICY,
                                        AutoAugment, AutoAugmentOp,
                                        PackClsInputs, RandomResizedCrop)
from repseg.demo.imagenet import CLASSES, make_demo_imagenet
from repseg.evaluation import Accuracy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def mmseg_scope():
    # Config pipelines name transforms in the mmseg scope, as the Runner does.
    init_default_scope('mmseg')


def write_image(path, size=(40, 30), value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((size[1], size[0], 3), value, np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def folder_dataset(root, layout):
    for name, count in layout.items():
        for i in range(count):
            write_image(root / 'train' / name / f'{name}_{i}.JPEG')
    return root


def test_folder_layout(tmp_path):
    folder_dataset(tmp_path, {'zebra': 2, 'ant': 1, 'cat': 3})
    (tmp_path / 'train' / 'cat' / 'notes.txt').write_text('not an image')
    dataset = ImageNetDataset(data_root=str(tmp_path),
                              data_prefix=dict(img_path='train'))
    assert dataset.metainfo['classes'] == ('ant', 'cat', 'zebra')
    labels = [dataset.get_data_info(i)['gt_label']
              for i in range(len(dataset))]
    assert labels == [0, 1, 1, 1, 2, 2]
    first = dataset.get_data_info(0)['img_path']
    assert first.endswith('train/ant/ant_0.JPEG')

    fixed = ImageNetDataset(data_root=str(tmp_path),
                            data_prefix=dict(img_path='train'),
                            metainfo=dict(classes=('zebra', 'cat', 'ant')))
    assert fixed.get_data_info(0)['gt_label'] == 2
    with pytest.raises(DatasetLayoutError, match=r"\['zebra'\].*not in"):
        ImageNetDataset(data_root=str(tmp_path),
                        data_prefix=dict(img_path='train'),
                        metainfo=dict(classes=('ant', 'cat')))


def test_list_layout(tmp_path):
    for i in range(3):
        write_image(tmp_path / 'val' / f'img {i}.JPEG')
    (tmp_path / 'val.txt').write_text('img 0.JPEG 2\nimg 1.JPEG 0\n\n'
                                      'img 2.JPEG 2\n')
    dataset = ImageNetDataset(data_root=str(tmp_path), ann_file='val.txt',
                              data_prefix=dict(img_path='val'))
    assert dataset.metainfo['classes'] == ('0', '1', '2')
    infos = [dataset.get_data_info(i) for i in range(3)]
    assert [d['gt_label'] for d in infos] == [2, 0, 2]
    assert infos[1]['img_path'].endswith('val/img 1.JPEG')
    named = ImageNetDataset(data_root=str(tmp_path), ann_file='val.txt',
                            data_prefix=dict(img_path='val'),
                            metainfo=dict(classes=['a', 'b', 'c', 'd']))
    assert named.metainfo['classes'] == ('a', 'b', 'c', 'd')
    names_file = tmp_path / 'classes.txt'
    names_file.write_text('ant\nbee\ncat\n')
    from_file = ImageNetDataset(data_root=str(tmp_path), ann_file='val.txt',
                                data_prefix=dict(img_path='val'),
                                metainfo=dict(classes=str(names_file)))
    assert from_file.metainfo['classes'] == ('ant', 'bee', 'cat')


def test_layout_errors_name_the_path(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(DatasetLayoutError, match=str(missing / 'train')):
        ImageNetDataset(data_root=str(missing),
                        data_prefix=dict(img_path='train'))
    folder_dataset(tmp_path, {'ant': 1})
    empty = tmp_path / 'train' / 'bee'
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match=f'{empty}.*no images'):
        ImageNetDataset(data_root=str(tmp_path),
                        data_prefix=dict(img_path='train'))
    with pytest.raises(DatasetLayoutError, match='no class folders'):
        ImageNetDataset(data_root=str(tmp_path),
                        data_prefix=dict(img_path='train/ant'))

    kwargs = dict(data_root=str(tmp_path), data_prefix=dict(img_path='train'))
    with pytest.raises(DatasetLayoutError, match='missing.txt.*not exist'):
        ImageNetDataset(ann_file='missing.txt', **kwargs)
    (tmp_path / 'bad.txt').write_text('ant/ant_0.JPEG 0\nant/ant_0.JPEG\n')
    with pytest.raises(DatasetLayoutError, match=r'bad.txt:2: expected'):
        ImageNetDataset(ann_file='bad.txt', **kwargs)
    # mmengine keeps a classes string it cannot open as a file: its letters
    # would become the classes.
    (tmp_path / 'good.txt').write_text('ant/ant_0.JPEG 0\n')
    for layout in (dict(), dict(ann_file='good.txt')):
        with pytest.raises(DatasetLayoutError,
                           match="classes file 'typo.txt' does not exist"):
            ImageNetDataset(metainfo=dict(classes='typo.txt'), **layout,
                            **kwargs)
    (tmp_path / 'range.txt').write_text('ant/ant_0.JPEG 3\n')
    with pytest.raises(DatasetLayoutError, match=r'range.txt:1: label 3'):
        ImageNetDataset(ann_file='range.txt', metainfo=dict(classes=['a']),
                        **kwargs)


def test_unreadable_image_names_the_file(tmp_path):
    folder_dataset(tmp_path, {'ant': 1})
    broken = tmp_path / 'train' / 'ant' / 'broken.JPEG'
    broken.write_bytes(b'not a jpeg')
    dataset = ImageNetDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='train'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackClsInputs')])
    assert dataset[0]['inputs'].shape == (3, 30, 40)  # ant_0 is fine
    with pytest.raises(Exception, match=str(broken)):
        dataset[1]


def test_random_resized_crop():
    np.random.seed(0)
    img = np.random.randint(0, 256, (50, 80, 3), np.uint8)
    crop = RandomResizedCrop(scale=(24, 16))
    for _ in range(20):
        top, left, h, w = crop.sample_box(50, 80)
        assert 0 <= top and top + h <= 50 and 0 <= left and left + w <= 80
        assert 0.08 * 4000 * 0.8 <= h * w <= 4000
    out = crop.transform(dict(img=img))
    assert out['img'].shape == (16, 24, 3) and out['img_shape'] == (16, 24)
    # A 1:10 strip fits no 3:4..4:3 box of the area range: centred fallback.
    strip = RandomResizedCrop(scale=8, crop_ratio_range=(0.9, 1.0))
    assert strip.sample_box(10, 100) == (0, 43, 10, 13)
    with pytest.raises(ValueError, match='crop_ratio_range'):
        RandomResizedCrop(scale=8, crop_ratio_range=(0.5, 1.5))


def test_autoaugment_ops():
    np.random.seed(0)
    img = np.random.randint(0, 256, (32, 48, 3), np.uint8)
    for op, spec in AUTOAUGMENT_OPS.items():
        level = None if spec.max_value is None else 7
        out = AutoAugmentOp(op, level).transform(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8, op
    apply = lambda op, level: AutoAugmentOp(op, level).transform(  # noqa
        dict(img=img.copy()))['img']
    assert np.array_equal(apply('Invert', None), 255 - img)
    assert np.array_equal(apply('Solarize', 10), 255 - img)  # threshold 0
    assert np.array_equal(apply('Solarize', 0), img)
    assert not (apply('Posterize', 10) & 0x0F).any()  # 4 bits left
    assert np.array_equal(apply('Rotate', 0), img)
    with pytest.raises(KeyError, match='Blur'):
        AutoAugmentOp('Blur', 3)
    with pytest.raises(ValueError, match='Rotate needs a level'):
        AutoAugmentOp('Rotate')

    assert len(IMAGENET_POLICY) == 25
    policy = AutoAugment('imagenet')
    for _ in range(10):
        out = policy.transform(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8
    # A sure sub-policy: invert always, then solarize everything back.
    sure = AutoAugment([[('Invert', 1.0, None), ('Solarize', 1.0, 10)]])
    assert np.array_equal(sure.transform(dict(img=img.copy()))['img'], img)
    with pytest.raises(KeyError, match='cifar'):
        AutoAugment('cifar')


def test_pack_cls_inputs():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    packed = PackClsInputs().transform(
        dict(img=img, gt_label=4, img_path='a.JPEG', flip=False))
    assert packed['inputs'].shape == (3, 2, 3)
    assert packed['inputs'].dtype == torch.uint8
    assert torch.equal(packed['inputs'][:, 1, 2], torch.from_numpy(img[1, 2]))
    sample = packed['data_samples']
    assert int(sample.gt_label) == 4 and sample.gt_label.dtype == torch.long
    assert sample.metainfo == dict(img_path='a.JPEG', flip=False)


@pytest.mark.parametrize('base', ['imagenet.py', 'imagenet_autoaug.py'])
def test_config_pipelines(base):
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/datasets' / base))
    img = np.random.randint(0, 256, (300, 400, 3), np.uint8)
    for pipeline, key in ((cfg.train_pipeline, 'train'),
                          (cfg.test_pipeline, 'test')):
        steps = Compose(pipeline[1:])  # skip loading: feed the array
        packed = steps(dict(img=img.copy(), gt_label=1, img_shape=(300, 400),
                            ori_shape=(300, 400)))
        assert packed['inputs'].shape == (3, 224, 224), key
    resized = Compose(cfg.test_pipeline[1:2])(dict(img=img))
    assert resized['img'].shape[:2] == (256, 341)


def test_accuracy_metric():
    metric = Accuracy(topk=(1, 2))
    scores = [[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5],
              [0.7, 0.2, 0.1]]
    labels = [1, 2, 0, 2]  # top-1: hit, miss, miss, miss; top-2: + #2
    metric.process(None, [dict(pred_score=torch.tensor(s),
                               gt_label=torch.tensor(g))
                          for s, g in zip(scores, labels)])
    assert metric.evaluate(4) == {'accuracy/top1': 25.0,
                                  'accuracy/top2': 50.0}
    too_many = Accuracy(topk=(1, 5))
    with pytest.raises(ValueError, match='exceeds the 3 classes'):
        too_many.process(None, [dict(pred_score=torch.ones(3),
                                     gt_label=torch.tensor(0))])
    with pytest.raises(ValueError, match='topk'):
        Accuracy(topk=(0, ))


def test_demo_dataset(tmp_path, monkeypatch):
    out = tmp_path / 'demo'
    make_demo_imagenet(out, seed=3, num_train_per_class=2,
                       num_val_per_class=1, image_size=32)
    dataset = ImageNetDataset(data_root=str(out),
                              data_prefix=dict(img_path='train'))
    assert len(dataset) == 2 * len(CLASSES)
    assert dataset.metainfo['classes'] == tuple(sorted(CLASSES))
    files = sorted(p.relative_to(out) for p in out.rglob('*.JPEG'))
    assert len(files) == 3 * len(CLASSES)

    again, other = tmp_path / 'again', tmp_path / 'other'
    make_demo_imagenet(again, seed=3, num_train_per_class=2,
                       num_val_per_class=1, image_size=32)
    make_demo_imagenet(other, seed=4, num_train_per_class=2,
                       num_val_per_class=1, image_size=32)
    same = [(out / f).read_bytes() == (again / f).read_bytes() for f in files]
    differ = [(out / f).read_bytes() != (other / f).read_bytes()
              for f in files]
    assert all(same) and all(differ)

    # A failure half-way leaves the old output as it was, and no debris.
    monkeypatch.setattr(demo_module.cv2, 'imwrite', lambda *a, **k: False)
    with pytest.raises(OSError, match='cannot write'):
        make_demo_imagenet(out, seed=5, num_train_per_class=2,
                           num_val_per_class=1, image_size=32)
    assert sorted(p.relative_to(out) for p in out.rglob('*.JPEG')) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ['again', 'demo',
                                                           'other']
