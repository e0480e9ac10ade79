"""repseg.results, the JSON reports of the tools: each class round-trips,
a renamed or missing key fails naming the file, tools/test.py writes its
report through EvaluationReport in the layout it always had. The demo
report's reading of each kind is tested in test_demo_report.py."""
import argparse
import json
import re

import pytest
from helpers import load_tool

from repseg.results import (BenchmarkReport, BenchmarkRow, DeployReport,
                            EngineCheck, EvaluationReport, QuantizeReport,
                            ReportFormatError)

CLASSES = ('road', 'sidewalk', 'sky')


def deploy_dict(**changes):
    data = dict(max_abs_diff=9.2e-06, max_rel_diff=1.4e-06,
                input_shape=[1, 3, 128, 256],
                folded=dict(decode_head=3, auxiliary_head=1),
                before=dict(params=1000, convs=52, norms=67),
                after=dict(params=900, convs=30, norms=0))
    data.update(changes)
    return data


def evaluation_dict(miou=17.28, fused=True, **changes):
    data = dict(aAcc=70.5, mIoU=miou, mAcc=25.0,
                fused=fused, config='/abs/deploy.py',
                checkpoint='/abs/deploy.pth', backend='pytorch',
                precision='fp32', per_class={name: 10.0 * k for k, name in enumerate(CLASSES)})
    data.update(changes)
    return data


def row_dict(model='pspnet_repvgg_a0_demo', mode='fused', **changes):
    data = dict(row=f'{model}:{mode}', model=model, mode=mode, batch_size=1,
                repeats=2, median_ms=31.3, q1_ms=30.0, q3_ms=32.0,
                min_ms=29.5, max_ms=33.0, images_per_s=31.9,
                peak_memory_mib=None, max_rel_diff=1e-06, speedup=1.36,
                latencies_ms=[29.5, 33.0])
    data.update(changes)
    return data


def benchmark_dict(rows=None, **changes):
    data = dict(environment=dict(device='cpu', input_shape=[1, 3, 128, 256],
                                 threads=2, torch='2.13.0'),
                reference='pspnet_repvgg_a0_demo:unfused', tolerance=1e-4,
                rows=rows or [row_dict(mode='unfused', speedup=1.0),
                              row_dict(),
                              row_dict('pspnet_r18_demo', 'fused')])
    data.update(changes)
    return data


def write(path, data):
    path.write_text(json.dumps(data, indent=2))
    return path


def renamed(data, old, new):
    return {(new if k == old else k): v for k, v in data.items()}


# ------------------------------------------------------------ round trips
@pytest.mark.parametrize('record', [
    DeployReport(**deploy_dict()),
    DeployReport(**deploy_dict(engines=dict(ncnn=EngineCheck(
        file='deploy.ncnn.param', max_rel_diff=2e-6, tolerance=1e-4,
        fp16=False, dynamic_image_size=False)))),
    QuantizeReport(backend='onnxruntime', fp32_file='deploy.onnx',
                   int8_file='deploy.int8.onnx', input_shape=[1, 3, 8, 8],
                   calibration_images=2, calibration_source='/d',
                   settings=dict(format='QDQ'), fp32_max_rel_diff=1e-7,
                   int8_max_rel_diff=0.02, int8_agreement=0.99),
    EvaluationReport.from_dict(evaluation_dict()),
    EvaluationReport(metrics={'accuracy/top1': 89.0, 'accuracy/top5': None},
                     fused=False, config='/c.py',
                     checkpoint='/k.pth'),
    BenchmarkRow(**row_dict()),
    BenchmarkReport.from_dict(benchmark_dict()),
], ids=lambda record: type(record).__name__)
def test_round_trip(record, tmp_path):
    path = tmp_path / 'report.json'
    record.dump(path)
    again = type(record).load(path)
    assert again == record
    assert again.to_dict() == record.to_dict()
    assert json.loads(path.read_text()) == record.to_dict()


def test_evaluation_layout_keeps_metrics_at_top_level():
    report = EvaluationReport.from_dict(evaluation_dict())
    assert report.metrics == dict(aAcc=70.5, mIoU=17.28, mAcc=25.0)
    assert report.to_dict() == evaluation_dict()
    without_classes = EvaluationReport(metrics=dict(a=1.0),
                                       fused=True, config='c',
                                       checkpoint='k')
    assert 'per_class' not in without_classes.to_dict()


def test_benchmark_rows_are_rows():
    report = BenchmarkReport.from_dict(benchmark_dict())
    assert all(isinstance(row, BenchmarkRow) for row in report.rows)
    assert report.rows[2].model == 'pspnet_r18_demo'


# ------------------------------------------------------- strict reading
@pytest.mark.parametrize('cls, data, key', [
    (DeployReport, deploy_dict(max_abs=1.0), 'max_abs'),  # renamed
    (DeployReport, {k: v for k, v in deploy_dict().items()
                    if k != 'before'}, 'before'),  # missing
    (EvaluationReport, {k: v for k, v in evaluation_dict().items()
                        if k != 'checkpoint'}, 'checkpoint'),
    (BenchmarkReport, benchmark_dict(ref='x'), 'ref'),
    (BenchmarkReport, {k: v for k, v in benchmark_dict().items()
                       if k != 'reference'}, 'reference'),
    (BenchmarkReport, benchmark_dict(rows=[row_dict(median=1.0)]), 'median'),
    (BenchmarkRow, {k: v for k, v in row_dict().items()
                    if k != 'min_ms'}, 'min_ms'),
])
def test_renamed_or_missing_key_names_file_and_key(cls, data, key,
                                                   tmp_path):
    path = write(tmp_path / 'report.json', data)
    with pytest.raises(ReportFormatError,
                       match=re.escape(str(path)) + '.*' + key):
        cls.load(path)


@pytest.mark.parametrize('text', ['{not json', '[1, 2]', None])
def test_unreadable_file_names_file(text, tmp_path):
    path = tmp_path / 'deploy.json'
    if text is not None:  # None: no file
        path.write_text(text)
    with pytest.raises(ReportFormatError, match=re.escape(str(path))):
        DeployReport.load(path)


# ------------------------------------------------- writer: tools/test.py
def test_test_tool_writes_an_evaluation_report(tmp_path):
    test_tool = load_tool('test')
    metrics = {'aAcc': 70.51234, 'mIoU': 17.281, 'mAcc': float('nan'),
               'IoU.road': 80.0, 'IoU.sky': float('nan')}
    args = argparse.Namespace(multi_branch=True, config='configs/x.py',
                              checkpoint='work/iter_4.pth')
    report = test_tool.make_report(metrics, args)
    assert isinstance(report, EvaluationReport)
    path = tmp_path / 'test.json'
    report.dump(path)
    data = json.loads(path.read_text())
    # The layout the tool has always written, key for key and in order,
    # with the backend that ran it and what it computed in.
    assert list(data) == ['aAcc', 'mIoU', 'mAcc', 'fused', 'config',
                          'checkpoint', 'backend', 'precision', 'per_class']
    assert data['precision'] == 'fp32'
    assert data['backend'] == 'pytorch'
    assert data['aAcc'] == 70.5123 and data['mAcc'] is None
    assert data['fused'] is False
    assert data['config'].endswith('configs/x.py')
    assert data['per_class'] == {'road': 80.0, 'sky': None}
    assert EvaluationReport.load(path) == report


@pytest.mark.parametrize('flag', ['--multi-branch', '--no-reparam'])
def test_test_tool_multi_branch_flag_and_its_former_name(flag):
    test_tool = load_tool('test')
    assert test_tool.parse_args(['c.py', 'k.pth', flag]).multi_branch
    assert not test_tool.parse_args(['c.py', 'k.pth']).multi_branch


def test_evaluation_report_reads_the_former_field_name(tmp_path):
    """Reports written before ``fused`` was named so call it
    ``reparameterized``."""
    old = renamed(evaluation_dict(fused=False), 'fused', 'reparameterized')
    report = EvaluationReport.load(write(tmp_path / 'old.json', old))
    assert report.fused is False
    assert 'reparameterized' not in report.metrics
    assert report == EvaluationReport.from_dict(evaluation_dict(fused=False))
