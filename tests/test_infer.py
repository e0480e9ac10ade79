"""repseg.apis (init_model, inference_model, RepSegInferencer) and
tools/infer.py: images, folders, videos, engines, and bad input."""
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import TINY_ARCH, write_tiny_seg_config
from helpers import load_tool, save_as_trained

import repseg  # noqa: F401
from repseg.apis import (ImageReadError, InputError, deploy, find_inputs,
                         inference_model, init_model, read_image)
from repseg.apis.inference import to_bgr_uint8
from repseg.datasets.cityscapes import train_id_to_label_id
from repseg.results import InferenceReport

infer_tool = load_tool('infer')
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny PSPNet (random weights, randomized BN statistics) saved as if
    trained, and its deployed form with ONNX (64x128, what the tiny
    config's test pipeline gives 2:1 images)."""
    tmp = tmp_path_factory.mktemp('infer')
    config = write_tiny_seg_config(tmp / 'tiny.py', tmp)
    save_as_trained(config, tmp / 'trained.pth')
    deployed = tmp / 'deployed'
    if _has_onnxruntime():
        deploy(config, tmp / 'trained.pth', deployed, shape=(64, 128),
               engines=['onnxruntime'])
    return dict(config=config, checkpoint=tmp / 'trained.pth',
                deployed=deployed)


def _has_onnxruntime():
    try:
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return False


def image(height=100, width=200, seed=0, channels=3):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


# ------------------------------------------------------------------ API


def test_inference_model_takes_paths_arrays_and_lists(trained, tmp_path):
    model = init_model(trained['config'], trained['checkpoint'])
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in model.modules())  # the inference form
    array = image()
    cv2.imwrite(str(tmp_path / 'a.png'), array)
    from_array = inference_model(model, array)
    from_path = inference_model(model, tmp_path / 'a.png')
    assert from_array.pred_sem_seg.shape == (100, 200)  # the image's size
    assert from_array.seg_logits.data.shape == (19, 100, 200)
    assert torch.equal(from_array.pred_sem_seg.data, from_path.pred_sem_seg.data)
    both = inference_model(model, [array, str(tmp_path / 'a.png')])
    assert isinstance(both, list) and len(both) == 2
    assert torch.equal(both[1].pred_sem_seg.data, from_path.pred_sem_seg.data)


def test_inference_form_predicts_what_the_trained_model_predicts(trained):
    fused = init_model(trained['config'], trained['checkpoint'])
    multi = init_model(trained['config'], trained['checkpoint'],
                       fused=False)
    a, b = inference_model(fused, image()), inference_model(multi, image())
    scale = b.seg_logits.data.abs().max()
    assert (a.seg_logits.data - b.seg_logits.data).abs().max() <= 1e-4 * scale


def test_grey_16bit_and_bgra_images_are_converted(tmp_path):
    grey = image(channels=1)
    assert to_bgr_uint8(grey).shape == (100, 200, 3)
    deep = grey.astype(np.uint16) * 257
    assert np.array_equal(to_bgr_uint8(deep), to_bgr_uint8(grey))
    bgra = image(channels=4)
    assert np.array_equal(to_bgr_uint8(bgra), bgra[:, :, :3])
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    assert np.array_equal(read_image(tmp_path / 'deep.png'),
                          to_bgr_uint8(grey))
    with pytest.raises(ImageReadError, match='8- or 16-bit'):
        to_bgr_uint8(grey.astype(np.float32))
    with pytest.raises(ImageReadError, match='1, 3 or 4 channels'):
        to_bgr_uint8(image(channels=2))


def test_truncated_and_foreign_files_are_not_images(tmp_path):
    cv2.imwrite(str(tmp_path / 'a.png'), image())
    data = (tmp_path / 'a.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
    (tmp_path / 'text.png').write_text('not an image')
    for name in ('cut.png', 'text.png'):
        with pytest.raises(ImageReadError, match=f'{name}: not a readable'):
            read_image(tmp_path / name)
    with pytest.raises(ImageReadError, match='no such image file'):
        read_image(tmp_path / 'missing.png')


def test_onnx_model_behaves_like_the_pytorch_model(trained):
    pytest.importorskip('onnxruntime')
    pytorch = init_model(trained['config'], trained['checkpoint'])
    engine = init_model(trained['deployed'] / 'deploy.py',
                        trained['deployed'] / 'deploy.onnx')
    assert engine.backend.name == 'onnxruntime'
    images = [image(seed=s) for s in range(3)]
    for got, expected in zip(inference_model(engine, images),
                             inference_model(pytorch, images)):
        same = (got.pred_sem_seg.data == expected.pred_sem_seg.data)
        assert same.float().mean() >= 0.999
        scale = expected.seg_logits.data.abs().max()
        assert (got.seg_logits.data - expected.seg_logits.data).abs().max() \
            <= 1e-4 * scale
    with pytest.raises(ValueError, match='deploy.onnx takes inputs of shape '
                       r'\?x3x64x128, got 1x3x48x128.*--shape 48 128'):
        inference_model(engine, image(height=75))


def test_classifier_gives_its_top_classes_in_pytorch_and_onnx(tmp_path):
    config = tmp_path / 'cls.py'
    config.write_text(
        "_base_ = '" + str(repseg_root() / 'configs/demo/repvgg_a0_demo_cls.py')
        + "'\nmodel = dict(backbone=dict(arch=dict(_delete_=True, "
        f"**{TINY_ARCH!r})))\n")
    save_as_trained(config, tmp_path / 'trained.pth')
    model = init_model(config, tmp_path / 'trained.pth')
    sample = inference_model(model, image(64, 64))
    assert sample.pred_score.shape == (19, )  # the demo's 19 classes
    assert sample.pred_topk_labels.tolist()[0] == int(sample.pred_label)
    assert len(sample.pred_topk_scores) == 5
    assert torch.all(sample.pred_topk_scores[:-1] >= sample.pred_topk_scores[1:])
    if not _has_onnxruntime():
        return
    # The demo's test pipeline crops 32x32: the ONNX model's size.
    deploy(config, tmp_path / 'trained.pth', tmp_path / 'deployed',
           shape=(32, 32), engines=['onnxruntime'])
    engine = init_model(tmp_path / 'deployed' / 'deploy.py',
                        tmp_path / 'deployed' / 'deploy.onnx')
    got = inference_model(engine, image(64, 64))
    assert torch.equal(got.pred_topk_labels, sample.pred_topk_labels)
    assert torch.allclose(got.pred_score, sample.pred_score, atol=1e-5)


def repseg_root():
    from pathlib import Path
    return Path(__file__).resolve().parents[1]


# --------------------------------------------------------------- inputs


def test_inputs_are_files_folders_globs_videos_and_cameras(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    for rel in ('a/x.png', 'a/b/y.JPG', 'a/notes.txt'):
        (tmp_path / rel).write_bytes(b'')
    found = find_inputs(str(tmp_path / 'a'))
    assert found.kind == 'images'
    assert [rel for _, rel in found.images] == ['b/y.JPG', 'x.png']
    pattern = find_inputs(str(tmp_path / 'a' / '**' / '*.png'))
    assert [rel for _, rel in pattern.images] == ['x.png']
    (tmp_path / 'clip.mp4').write_bytes(b'')
    assert find_inputs(str(tmp_path / 'clip.mp4')).kind == 'video'
    assert find_inputs('0').video == 0
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputError, match='empty: a folder without images'):
        find_inputs(str(tmp_path / 'empty'))
    with pytest.raises(InputError, match='matches no file'):
        find_inputs(str(tmp_path / '*.webp'))
    with pytest.raises(InputError, match='nowhere: no such image, folder'):
        find_inputs(str(tmp_path / 'nowhere'))


# ------------------------------------------------------------------ CLI


def test_cli_on_a_folder_writes_labels_and_overlays_and_lists_failures(
        trained, tmp_path, capsys):
    photos = tmp_path / 'photos'
    (photos / 'street').mkdir(parents=True)
    cv2.imwrite(str(photos / 'street' / 'a.png'), image())
    cv2.imwrite(str(photos / 'grey.png'), image(90, 120, channels=1))
    cv2.imwrite(str(photos / 'deep.png'),
                image(90, 120, channels=1).astype(np.uint16) * 257)
    data = (photos / 'street' / 'a.png').read_bytes()
    (photos / 'broken.png').write_bytes(data[:len(data) // 3])
    out = tmp_path / 'out'
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main([str(trained['config']), str(trained['checkpoint']),
                         str(photos), '--out', str(out), '--batch-size', '2'])
    assert exit_info.value.code == 1  # one image failed
    printed = capsys.readouterr().out
    assert 'images: 3' in printed and 'FPS' in printed
    assert 'backend: pytorch, device: cpu, threads: 1' in printed
    assert '1 failed' in printed and 'broken.png: not a readable' in printed
    written = sorted(str(p.relative_to(out)) for p in out.rglob('*.png'))
    assert written == ['labels/deep.png', 'labels/grey.png',
                       'labels/street/a.png', 'overlays/deep.png',
                       'overlays/grey.png', 'overlays/street/a.png']
    assert not list(out.rglob('.*'))  # nothing half-written
    overlay = cv2.imread(str(out / 'overlays' / 'grey.png'))
    labels = cv2.imread(str(out / 'labels' / 'grey.png'), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (90, 120, 3) and labels.shape == (90, 120)
    # A Cityscapes model writes labelIds: the images of its trainIds.
    assert set(np.unique(labels)) <= set(train_id_to_label_id()[:19])
    model = init_model(trained['config'], trained['checkpoint'])
    grey = read_image(photos / 'grey.png')
    expected = inference_model(model, grey).pred_sem_seg.data[0].numpy()
    assert np.array_equal(labels, train_id_to_label_id()[expected])


def write_video(path, frames=5, size=(128, 64), fps=10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'),
                             fps, size)
    for i in range(frames):
        writer.write(image(size[1], size[0], seed=i))
    writer.release()


def test_cli_on_a_video_writes_an_overlay_video(trained, tmp_path, capsys):
    video = tmp_path / 'drive.avi'
    write_video(video)
    out = tmp_path / 'out'
    infer_tool.main([str(trained['config']), str(trained['checkpoint']),
                     str(video), '--out', str(out), '--save-labels',
                     '--json', str(tmp_path / 'summary.json')])
    assert 'frames: 5' in capsys.readouterr().out
    summary = InferenceReport.load(tmp_path / 'summary.json')
    assert (summary.kind, summary.done, summary.failures) == ('video', 5, [])
    assert summary.fps > 0 and summary.median_latency_ms > 0
    capture = cv2.VideoCapture(str(out / 'drive_overlay.avi'))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH),
            capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (128, 64)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()
    assert len(list((out / 'drive_labels').glob('*.png'))) == 5
    assert not list(out.rglob('.*'))


def test_cli_runs_the_onnx_model(trained, tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    cv2.imwrite(str(tmp_path / 'a.png'), image())
    deployed = trained['deployed']
    infer_tool.main([str(deployed / 'deploy.py'), str(deployed / 'deploy.onnx'),
                     str(tmp_path / 'a.png'), '--out', str(tmp_path / 'o')])
    assert 'backend: onnxruntime' in capsys.readouterr().out
    assert (tmp_path / 'o' / 'labels' / 'a.png').is_file()


def test_cli_errors_name_what_is_wrong(trained, tmp_path, capsys,
                                       monkeypatch):
    config, checkpoint = str(trained['config']), str(trained['checkpoint'])
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'fake.mp4').write_text('not a video')
    other = write_tiny_seg_config(tmp_path / 'other.py', tmp_path)
    other.write_text(other.read_text().replace('(1, 1, 2, 1)', '(1, 2, 2, 1)'))
    cases = [
        ([config, checkpoint, str(tmp_path / 'empty')],
         'empty: a folder without images'),
        ([config, checkpoint, str(tmp_path / 'fake.mp4')],
         'fake.mp4: cannot be opened as a video'),
        ([str(other), checkpoint, str(tmp_path / 'empty')],
         'trained.pth.* does not match config'),
        ([config, str(tmp_path / 'missing.pth'), str(tmp_path / 'empty')],
         'missing.pth is not a checkpoint file'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit, match=message):
            infer_tool.main(argv)
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main([config, checkpoint, 'x.png', '--backend',
                         'onnxruntime'])
    assert exit_info.value.code == 2
    assert 'trained.pth is a pytorch file' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main([config, checkpoint, 'x.png', '--fp16'])
    assert '--fp16 needs --device cuda' in capsys.readouterr().err
    # An engine that is not installed is named with its install command.
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    (tmp_path / 'model.onnx').write_bytes(b'')
    with pytest.raises(SystemExit, match=r'needs ONNX Runtime: pip install'):
        infer_tool.main([config, str(tmp_path / 'model.onnx'),
                         str(tmp_path / 'empty')])
