"""Precision as part of a path: the names, the engines' precisions, deploy
in bf16 and INT8 (each checked and recorded), the PyTorch bf16 model,
``auto``'s candidates per processor and the fastest path deployed and run
from its folder."""
import json

import pytest
import torch
from conftest import write_tiny_seg_config
from helpers import load_tool, save_as_trained

import repseg  # noqa: F401
from repseg.apis import DeployError, deploy, inference_model, init_model
from repseg.backends import UnsupportedPrecision
from repseg.benchmark import BenchmarkError, FAST_MODE, parse_mode
from repseg.benchmark.auto import candidate_modes
from repseg.engines import load_backend
from repseg.equivalence import bound_for
from repseg.precision import UnknownPrecision, check_precision_name
from repseg.results import DeployReport, EvaluationReport, ProcessorInfo

pytestmark = pytest.mark.usefixtures('one_thread')
deploy_tool = load_tool('deploy')
infer_tool = load_tool('infer')
test_tool = load_tool('test')

AVX2 = ProcessorInfo('an AVX2 CPU', ['AVX2'], 'test')
ZEN4 = ProcessorInfo('a Zen 4 CPU', ['AVX2', 'AVX-512F', 'AVX512-VNNI',
                                     'AVX512-BF16'], 'test')


def test_precision_names():
    assert check_precision_name('bf16') == 'bf16'
    with pytest.raises(UnknownPrecision, match='no engine repseg runs '
                       'computes in fp16 on a CPU'):
        check_precision_name('fp16')
    with pytest.raises(UnknownPrecision, match="'fp8'"):
        check_precision_name('fp8')
    assert bound_for('int8', 0.5).min_agreement == 0.5
    assert bound_for('fp32', 0.5).min_agreement is None


def test_benchmark_modes_take_a_precision_where_the_runtime_computes_it():
    assert parse_mode('onnx+int8').precision == 'int8'
    assert parse_mode('fused+psp+openvino+int8').engine.name == 'openvino'
    with pytest.raises(BenchmarkError, match='ncnn runtime does not '
                       'compute in int8'):
        parse_mode('fused+ncnn+int8')
    with pytest.raises(BenchmarkError, match='one precision'):
        parse_mode('openvino+bf16+int8')


def test_auto_candidates_follow_the_processor():
    # Without bf16 or VNNI units: fp32 only, ncnn's Winograd path among them.
    plain = candidate_modes(AVX2, ('fp32', 'bf16', 'int8'))
    assert FAST_MODE in plain
    assert all(parse_mode(m).precision == 'fp32' for m in plain)
    rich = candidate_modes(ZEN4, ('fp32', 'bf16', 'int8'))
    assert {'fused+psp+cl+bf16', 'fused+psp+openvino+bf16',
            'fused+psp+onnx+int8', 'fused+psp+openvino+int8', FAST_MODE} <= set(rich)
    assert not any('int8' in m for m in candidate_modes(ZEN4))


@pytest.fixture(scope='module')
def trained(demo_cityscapes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('precision')
    config = write_tiny_seg_config(tmp / 'tiny.py', demo_cityscapes)
    save_as_trained(config, tmp / 'trained.pth')
    return dict(tmp=tmp, config=config, checkpoint=tmp / 'trained.pth')


def test_deploy_refuses_a_precision_no_chosen_engine_computes(trained,
                                                              tmp_path):
    with pytest.raises(DeployError, match='precision int8: none of the '
                       "engines \\['ncnn'\\] has an INT8 quantizer"):
        deploy(trained['config'], trained['checkpoint'], tmp_path / 'out',
               engines=['ncnn'], precisions=['int8'])
    with pytest.raises(DeployError, match='fp16'):
        deploy(trained['config'], trained['checkpoint'], tmp_path / 'out',
               precisions=['fp16'])
    assert not (tmp_path / 'out').exists()


def test_deploy_checks_and_records_each_precision(trained):
    pytest.importorskip('openvino')
    pytest.importorskip('nncf')
    out = trained['tmp'] / 'deployed'
    deploy_tool.main([str(trained['config']), str(trained['checkpoint']),
                      str(out), '--backend', 'onnxruntime', 'openvino',
                      '--precision', 'fp32', 'bf16', 'int8',
                      '--calib-images', '4', '--min-agreement', '0.9'])
    report = DeployReport.load(out / 'deploy.json')
    assert set(report.engines) == {
        'onnxruntime', 'openvino', 'pytorch:bf16', 'openvino:bf16',
        'onnxruntime:int8', 'openvino:int8'}
    for key, check in report.engines.items():
        assert check.precision == (key.split(':') + ['fp32'])[1]
        assert check.argmax_agreement is not None
        assert check.max_rel_diff <= check.tolerance
    assert report.engines['onnxruntime'].tolerance == 1e-4
    assert report.engines['openvino'].options[
        'INFERENCE_PRECISION_HINT'] == 'f32'
    bf16 = report.engines['openvino:bf16']
    assert bf16.options['INFERENCE_PRECISION_HINT'] == 'bf16'
    assert bf16.file == 'deploy.xml' and bf16.min_agreement == 0.9
    for engine in ('onnxruntime', 'openvino'):
        int8 = report.engines[f'{engine}:int8']
        assert int8.checked_on == 'calibration images'
        assert int8.options['calibration_images'] == 4
        assert (out / int8.file).is_file() and '.int8.' in int8.file
    assert 'reduce_range' in report.engines['onnxruntime:int8'].options[
        'quantizer']
    # Each file runs in its own precision only, as init_model takes it.
    with pytest.raises(UnsupportedPrecision, match='an int8 file cannot run'):
        load_backend('onnxruntime', str(out / 'deploy.int8.onnx'), 1, 'fp32')
    with pytest.raises(UnsupportedPrecision, match='quantize it'):
        load_backend('onnxruntime', str(out / 'deploy.onnx'), 1, 'int8')
    with pytest.raises(UnsupportedPrecision, match='ncnn engine computes '
                       'in fp32 only'):
        from repseg.backends import NcnnBackend
        NcnnBackend(str(out / 'missing.ncnn.param'), 1, 'bf16')
    int8 = init_model(out / 'deploy.py', out / 'deploy.int8.xml')
    assert int8.precision == 'int8'
    bf16_model = init_model(out / 'deploy.py', out / 'deploy.xml',
                            precision='bf16')
    assert bf16_model.backend.options['INFERENCE_PRECISION_HINT'] == 'bf16'


def test_pytorch_model_in_bf16(trained, demo_cityscapes):
    fp32 = init_model(trained['config'], trained['checkpoint'])
    bf16 = init_model(trained['config'], trained['checkpoint'],
                      precision='bf16')
    assert (fp32.precision, bf16.precision) == ('fp32', 'bf16')
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        a, b = fp32(x, mode='tensor'), bf16(x, mode='tensor')
    assert b.dtype == torch.float32
    assert (a.argmax(1) == b.argmax(1)).float().mean() >= 0.9
    assert (a - b).abs().max() / a.abs().max() <= 5e-2
    image = sorted((demo_cityscapes / 'leftImg8bit' / 'val').rglob('*.png'))[0]
    got, want = inference_model(bf16, image), inference_model(fp32, image)
    assert got.pred_sem_seg.data.shape == want.pred_sem_seg.data.shape
    assert (got.pred_sem_seg.data == want.pred_sem_seg.data).float().mean(
    ) >= 0.9
    with pytest.raises(UnknownPrecision, match='not an INT8 file'):
        init_model(trained['config'], trained['checkpoint'],
                   precision='int8')


def test_test_tool_evaluates_in_bf16(trained, tmp_path):
    path = tmp_path / 'bf16.json'
    test_tool.main([str(trained['config']), str(trained['checkpoint']),
                    '--precision', 'bf16', '--work-dir', str(tmp_path / 'w'),
                    '--report', str(path), '--cfg-options',
                    'test_dataloader.dataset.indices=1'])
    report = EvaluationReport.load(path)
    assert report.precision == 'bf16' and report.metric('mIoU') is not None


def test_auto_deploys_the_fastest_path_and_tools_run_it(trained, tmp_path,
                                                        capsys,
                                                        demo_cityscapes):
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'auto'
    deploy_tool.main([str(trained['config']), str(trained['checkpoint']),
                      str(out), '--auto', '--shape', '64', '128',
                      '--repeat', '1', '--min-agreement', '0.5'])
    printed = capsys.readouterr().out
    assert 'fastest path of' in printed and 'runner-up' in printed
    report = DeployReport.load(out / 'deploy.json')
    fastest = report.fastest
    assert fastest is not None and (out / fastest.file).is_file()
    assert fastest.mode in candidate_modes()
    assert all(ms >= fastest.median_ms for _, ms in fastest.runners_up)
    model = init_model(out / 'deploy.py', out)
    assert model.precision == fastest.precision
    summary = tmp_path / 'infer.json'
    image = sorted((demo_cityscapes / 'leftImg8bit' / 'val').rglob('*.png'))[0]
    infer_tool.main([str(out / 'deploy.py'), str(out), str(image),
                     '--out', str(tmp_path / 'pred'), '--json',
                     str(summary)])
    assert json.loads(summary.read_text())['precision'] == fastest.precision
