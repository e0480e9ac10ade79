"""tools/quantize.py and engine models in tools/test.py: a quantize round
trip on a tiny config, its evaluation, and the error cases."""
import sys

import pytest
from conftest import write_tiny_seg_config
from helpers import load_tool, save_as_trained

import repseg  # noqa: F401
from repseg.apis import inference_model, init_model
from repseg.results import EvaluationReport, QuantizeReport

pytest.importorskip('onnxruntime')
quantize_tool = load_tool('quantize')
test_tool = load_tool('test')
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def quantized(demo_cityscapes, tmp_path_factory):
    """A tiny PSPNet (random weights, randomized BN statistics) quantized,
    calibrated on the demo's 4 training images."""
    tmp = tmp_path_factory.mktemp('quantize')
    config = write_tiny_seg_config(tmp / 'tiny.py', demo_cityscapes)
    save_as_trained(config, tmp / 'trained.pth')
    out = tmp / 'int8'
    quantize_tool.main([str(config), str(tmp / 'trained.pth'), str(out),
                        '--calib-images', '4'])
    return dict(tmp=tmp, config=config, out=out)


def test_quantize_writes_the_int8_model_and_its_report(quantized):
    out = quantized['out']
    assert {'deploy.py', 'deploy.pth', 'deploy.onnx', 'deploy.json',
            'deploy.int8.onnx', 'quantize.json'} <= {
                p.name for p in out.iterdir()}
    report = QuantizeReport.load(out / 'quantize.json')
    assert report.calibration_images == 4
    assert report.input_shape == [1, 3, 64, 128]  # the test pipeline's size
    assert report.settings['weights'] == 'int8, per channel'
    assert report.fp32_max_rel_diff <= 1e-4
    # The bound this round trip is held to: INT8 logits within 10% of the
    # largest fp32 logit, the same class on 95% of the pixels.
    assert report.int8_max_rel_diff <= 0.1
    assert report.int8_agreement >= 0.95


def test_int8_model_runs_like_any_engine_model(quantized, demo_cityscapes):
    out = quantized['out']
    fp32 = init_model(out / 'deploy.py', out / 'deploy.onnx')
    int8 = init_model(out / 'deploy.py', out / 'deploy.int8.onnx')
    image = sorted((demo_cityscapes / 'leftImg8bit' / 'val').rglob('*.png'))[0]
    a, b = inference_model(fp32, image), inference_model(int8, image)
    same = (a.pred_sem_seg.data == b.pred_sem_seg.data).float().mean()
    assert same >= 0.9


def test_test_tool_evaluates_exported_models_with_the_same_metric(
        quantized, tmp_path):
    out = quantized['out']
    reports = {}
    for name, checkpoint in (('pytorch', 'deploy.pth'),
                             ('onnx', 'deploy.onnx'),
                             ('int8', 'deploy.int8.onnx')):
        path = tmp_path / f'{name}.json'
        test_tool.main([str(out / 'deploy.py'), str(out / checkpoint),
                        '--work-dir', str(tmp_path / name), '--report',
                        str(path)])
        reports[name] = EvaluationReport.load(path)
    assert reports['pytorch'].backend == 'pytorch'
    assert reports['int8'].backend == reports['onnx'].backend == 'onnxruntime'
    assert reports['onnx'].metric('mIoU') == pytest.approx(
        reports['pytorch'].metric('mIoU'), abs=0.01)
    assert reports['int8'].metric('mIoU') is not None
    with pytest.raises(SystemExit, match='an exported model has only its '
                       'inference form'):
        test_tool.main([str(out / 'deploy.py'), str(out / 'deploy.onnx'),
                        '--no-reparam', '--work-dir', str(tmp_path / 'x')])


def test_calibration_and_engine_errors_name_what_is_wrong(
        quantized, tmp_path, monkeypatch):
    config = str(quantized['config'])
    checkpoint = str(quantized['tmp'] / 'trained.pth')
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nxx')
    cases = [
        (['--calib-dir', str(tmp_path / 'empty')],
         'empty: a folder without images'),
        (['--calib-dir', str(tmp_path / 'bad')],
         'broken.png: not a readable image'),
        (['--calib-dir', str(tmp_path / 'nowhere')],
         'nowhere: no such calibration folder'),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit, match=message):
            quantize_tool.main([config, checkpoint, str(tmp_path / 'o')]
                               + extra)
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    monkeypatch.setitem(sys.modules, 'onnxruntime.quantization', None)
    with pytest.raises(SystemExit, match='pip install -e .\\[onnx\\]'):
        quantize_tool.main([config, checkpoint, str(tmp_path / 'o'),
                            '--calib-images', '1'])
    assert not (tmp_path / 'o').exists()
