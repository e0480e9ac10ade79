"""The demo without training: the report built from a small hand-made work
dir (the figures of report.json computed from known tool reports, the files
written, the inputs it refuses), the demo's step scheduler, and the
pipeline's steps, lanes and work-dir rules. Nothing here reads the wording
of report.md."""
import dataclasses
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from test_results import (benchmark_dict, deploy_dict, evaluation_dict,
                          row_dict)

from repseg.datasets.cityscapes import (IGNORE_INDEX, label_id_to_train_id,
                                        train_id_colours_bgr)
from repseg.demo.models import MODELS, SEGMENTATION, by_key
from repseg.demo.pipeline import (MARKER, MULTI_BRANCH_FLAG, Demo,
                                  final_checkpoint)
from repseg.demo.report import build_report
from repseg.demo.report.figures import fastest_fused_row
from repseg.demo.report.logs import read_scalars, training_curves
from repseg.demo.report.plots import speed_accuracy_points
from repseg.demo.steps import (STEP_SECONDS, DemoError, Lanes, Step,
                               StepFailed, read_step_seconds, run_steps)
from repseg.results import BenchmarkReport, ReportFormatError

REPO = Path(__file__).resolve().parents[1]
A0, R18 = 'pspnet_repvgg_a0_demo', 'pspnet_r18_demo'
STEMS = ('aachen_000000_000019', 'bremen_000000_000019',
         'bremen_000001_000019')
VIDEO_FRAMES = 7
# PSPNet-RepVGG-A0 is fastest on ONNX Runtime, PSPNet-R-18 on ncnn; the
# multi-branch row is not "fused" even when quicker than the eager fused
# one; an engine row's (Winograd) multiplications are not the model's.
BENCHMARK_ROWS = [
    row_dict(A0, 'multi-branch', median_ms=40.0, images_per_s=25.0),
    row_dict(A0, 'fused', median_ms=45.0, multiplications=1_373_356_032),
    row_dict(A0, 'fused+onnx', median_ms=20.0, images_per_s=50.0),
    row_dict(A0, 'fused+ncnn', median_ms=25.0, multiplications=464_437_248),
    row_dict(R18, 'multi-branch', median_ms=28.0),
    row_dict(R18, 'fused', multiplications=2_300_755_968),
    row_dict(R18, 'fused+onnx', median_ms=32.0),
    row_dict(R18, 'fused+ncnn', median_ms=30.0, images_per_s=33.3),
]
# The fused evaluations of the compared models (by key), and their last
# val mIoU in the training logs.
EVALUATIONS = {
    'repvgg_a0': evaluation_dict(),
    'scratch': evaluation_dict(12.0, mAcc=20.0, aAcc=65.0, per_class=dict(
        road=1.0, sidewalk=5.0, sky=8.0)),
    'r18': evaluation_dict(14.5, mAcc=22.5, aAcc=68.25, per_class=dict(
        road=2.0, sidewalk=7.5, sky=9.0)),
}
VAL_MIOU = {'repvgg_a0': 5.5, 'scratch': 3.0, 'r18': 4.0}
# The FP32 / INT8 figures of the quantized models (by key).
QUANTIZATION = {
    'repvgg_a0': dict(fp32_miou=17.28, int8_miou=16.9, rel_diff=0.031,
                      agreement=0.9765, fp32_ms=40.0, int8_ms=25.0),
    'qarepvgg_a0': dict(fp32_miou=18.5, int8_miou=18.25, rel_diff=0.0042,
                        agreement=0.9951, fp32_ms=42.0, int8_ms=28.0),
}


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_run(work_dir, timestamp, lines, resume=False):
    """One mmengine run's logged scalars (and its config) in work_dir."""
    vis = work_dir / timestamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'config.py').write_text(f'resume = {resume}\n')
    (vis / 'scalars.json').write_text(
        ''.join(json.dumps(line) + '\n' for line in lines))


def inference_dict(**changes):
    """A tools/infer.py --json file (InferenceReport)."""
    return dict(dict(kind='images', done=16, failures=[],
                     median_latency_ms=40.0, fps=10.0,
                     backend='onnxruntime', device='cpu', threads=2),
                **changes)


def quantize_dict(**changes):
    """A tools/quantize.py quantize.json (QuantizeReport)."""
    return dict(dict(backend='onnxruntime', fp32_file='deploy.onnx',
                     int8_file='deploy.int8.onnx',
                     input_shape=[1, 3, 128, 256], calibration_images=16,
                     calibration_source='the training set',
                     settings=dict(format='QDQ'), fp32_max_rel_diff=1e-7,
                     int8_max_rel_diff=0.02, int8_agreement=0.99),
                **changes)


def write_quantization(files, fp32_miou, int8_miou, rel_diff, agreement,
                       fp32_ms, int8_ms):
    write(files.quantize_json, quantize_dict(int8_max_rel_diff=rel_diff,
                                             int8_agreement=agreement))
    write(files.fp32_report, evaluation_dict(fp32_miou, backend='onnxruntime'))
    write(files.int8_report, evaluation_dict(int8_miou, backend='onnxruntime'))
    write(files.fp32_inference, inference_dict(median_latency_ms=fp32_ms))
    write(files.int8_inference, inference_dict(median_latency_ms=int8_ms))


def write_video(path, count, size=(64, 32)):
    """A tiny mp4 whose frame k is flat grey 30 * k (to tell frames
    apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             size)
    for k in range(count):
        writer.write(np.full((size[1], size[0], 3), 30 * k, np.uint8))
    writer.release()


def write_samples(data_root, predictions_dir):
    rng = np.random.default_rng(0)
    for stem in STEMS:
        city = stem.split('_')[0]
        image = (data_root / 'leftImg8bit/val' / city /
                 f'{stem}_leftImg8bit.png')
        gt = (data_root / 'gtFine/val' / city /
              f'{stem}_gtFine_labelTrainIds.png')
        for path in (image, gt, predictions_dir / image.name):
            path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image), rng.integers(0, 255, (32, 64, 3), np.uint8))
        cv2.imwrite(str(gt), rng.integers(0, 19, (32, 64), np.uint8))
        # labelIds of road (7) and sky (23)
        cv2.imwrite(str(predictions_dir / image.name),
                    np.where(rng.random((32, 64)) < 0.5, 7, 23)
                    .astype(np.uint8))


def make_work_dir(root, models=MODELS):
    """The files the demo's steps leave where the pipeline puts them (a
    quick demo in ``root``), small and hand-made; returns the report's
    inputs."""
    demo = Demo(REPO, root, quick=True, models=models)
    inputs = dataclasses.replace(
        demo.report_inputs({}), data_root=root / 'data',
        commands=['python tools/train.py x.py'],
        step_seconds={'make data': None, 'trainings': 20.0, 'train': 12.0,
                      'train qa': 15.0, 'deploy': 3.0},
        side_by_side_steps=['train', 'train qa'],
        training_steps=['train', 'train qa', 'a training not run'])
    for model in inputs.models:
        if model.task == SEGMENTATION:
            write_run(model.work_dir, '20240101_000000', [
                dict(loss=3.0, step=2), dict(loss=2.5, step=4),
                dict(mIoU=VAL_MIOU.get(model.key, 1.0), step=4)])
        else:
            write_run(model.work_dir, '20240101_000000', [
                dict(loss=2.3, step=1), dict(loss=2.0, step=2),
                {'accuracy/top1': 40.0, 'step': 1}])
        if model.compared:
            write(model.evaluation,
                  EVALUATIONS.get(model.key, evaluation_dict(10.0)))
        if model.quantized:
            write_quantization(model.quantization, **QUANTIZATION[model.key])
    write(inputs.multi_branch_report, evaluation_dict())
    write(inputs.deploy_json, deploy_dict())
    write(inputs.benchmark_json, benchmark_dict(
        rows=BENCHMARK_ROWS, reference=f'{A0}:multi-branch',
        environment=dict(benchmark_dict()['environment'],
                         gemm_macs_per_s=68.1e9)))
    write_samples(inputs.data_root, inputs.predictions_dir)
    write(inputs.image_inference, inference_dict(median_latency_ms=40.25,
                                                 fps=9.5))
    write(inputs.video_inference, inference_dict(
        kind='video', done=25, median_latency_ms=41.0, fps=12.25))
    write_video(inputs.overlay_video, VIDEO_FRAMES)
    return inputs


# ------------------------------------------------------------ the report
def test_report_writes_its_files_and_json(tmp_path):
    inputs = make_work_dir(tmp_path)
    report = build_report(inputs)
    assert json.loads((tmp_path / 'report.json').read_text()) == report
    markdown = (tmp_path / 'report.md').read_text()
    assert report['files']['markdown'] == 'report.md'
    for name in report['files'].values():
        assert (tmp_path / name).is_file(), name
        if name.endswith('.png'):
            assert f'({name})' in markdown  # report.md shows every image
    assert set(report['files']) == {'markdown', 'speed_vs_accuracy',
                                    'training_curves', 'samples',
                                    'video_strip'}
    assert report['quick'] is True
    assert report['samples'] == [f'{stem}_leftImg8bit.png' for stem in STEMS]
    samples = cv2.imread(str(tmp_path / 'samples.png'))
    assert samples.shape[1] > 3 * 64 and samples.shape[0] > 3 * 32
    # What the pipeline passes is kept as given.
    for key in ('commands', 'step_seconds', 'side_by_side_steps',
                'training_steps'):
        assert report[key] == getattr(inputs, key)
    assert report['equivalence'] == dict(deploy_dict(), engines={})
    # Four frames spread from the first to the last, side by side, each
    # under a title bar; each column is its frame (grey 30 * index).
    strip = report['video_strip']
    assert strip['frames'] == [0, 2, 4, 6] and strip['fps'] == 10
    assert strip['video'] == 'infer_video/demo_street_overlay.mp4'
    image = cv2.imread(str(tmp_path / 'video_strip.png'))
    assert image.shape[:2] == (28 + 32, 4 * 64 + 3 * 6)
    for column, index in enumerate(strip['frames']):
        x = column * (64 + 6)
        assert abs(image[28:, x:x + 64].mean() - 30 * index) < 8


def test_accuracy_comparison_and_curves(tmp_path):
    report = build_report(make_work_dir(tmp_path))
    accuracy = report['accuracy']
    assert accuracy['agree'] is True and accuracy['difference'] == 0
    assert accuracy['fused'] == dict(mIoU=17.28, mAcc=25.0, aAcc=70.5)

    rows = report['comparison']
    assert [(row['model'], row['init']) for row in rows] == [
        ('PSPNet-RepVGG-A0', 'pretrained'),
        ('PSPNet-RepVGG-A0', 'from scratch'),
        ('PSPNet-R-18', 'from scratch')]
    assert [row['metrics']['mIoU'] for row in rows] == [17.28, 12.0, 14.5]
    assert rows[2]['per_class'] == dict(road=2.0, sidewalk=7.5, sky=9.0)
    # Each timed at its network's fastest fused row (both A0 models are
    # one network); multiply-adds from the eager fused row.
    assert [(row['timed_by']['name'], row['timed_by']['mode'],
             row['timed_by']['latency_ms']) for row in rows] == [
        (A0, 'fused+onnx', 20.0), (A0, 'fused+onnx', 20.0),
        (R18, 'fused+ncnn', 30.0)]
    assert [row['multiply_adds'] for row in rows] == [
        1_373_356_032, 1_373_356_032, 2_300_755_968]
    assert [row['latency_ratio'] for row in rows] == [1.0, 1.0, 1.5]
    assert [row['multiply_adds_ratio'] for row in rows] == [1.0, 1.0, 1.675]
    assert report['pretraining_gain'] == 5.28

    # Per class: the deployed model fused and multi-branch, then the others.
    assert len(report['per_class_columns']) == 4
    assert report['per_class_iou'] == [['road', 0.0, 0.0, 1.0, 2.0],
                                       ['sidewalk', 10.0, 10.0, 5.0, 7.5],
                                       ['sky', 20.0, 20.0, 8.0, 9.0]]
    # Every compared model fused, then the deployed one as trained.
    assert [(p['mode'], p['images_per_s'], p['mIoU'])
            for p in speed_accuracy_points(report)] == [
        ('fused+onnx', 50.0, 17.28), ('fused+onnx', 50.0, 12.0),
        ('fused+ncnn', 33.3, 14.5), ('multi-branch', 25.0, 17.28)]

    training = report['training']
    assert training['segmentation'] == dict(loss=[[2, 3.0], [4, 2.5]],
                                            val_miou=[[4, 5.5]])
    assert training['classification'] == dict(loss=[[1, 2.3], [2, 2.0]],
                                              val_top1=[[1, 40.0]])
    assert list(training['compared_val_miou'].values()) == [
        [[4, 5.5]], [[4, 3.0]], [[4, 4.0]]]


def test_disagreeing_forms(tmp_path):
    inputs = make_work_dir(tmp_path)
    write(inputs.multi_branch_report, evaluation_dict(16.0))
    accuracy = build_report(inputs)['accuracy']
    assert accuracy['agree'] is False and accuracy['difference'] == 1.28


def test_inference_and_quantization_figures(tmp_path):
    report = build_report(make_work_dir(tmp_path))
    assert report['inference']['images'] == dict(
        kind='images', done=16, failures=0, median_latency_ms=40.25, fps=9.5,
        backend='onnxruntime', device='cpu', threads=2)
    assert report['inference']['video']['done'] == 25
    first, second = report['quantization']
    assert first == dict(
        model='PSPNet-RepVGG-A0', fp32_miou=17.28, int8_miou=16.9,
        miou_drop=0.38, evaluated_backends=['onnxruntime', 'onnxruntime'],
        int8_max_rel_diff=0.031, int8_agreement=0.9765,
        calibration_images=16, input_shape=[1, 3, 128, 256],
        fp32_latency_ms=40.0, int8_latency_ms=25.0, int8_speedup=1.6,
        timed_images=[16, 16], backend='onnxruntime', device='cpu',
        threads=2)
    assert second['model'] == 'PSPNet-QARepVGG-A0'
    assert (second['miou_drop'], second['int8_speedup']) == (0.25, 1.5)


def test_unknown_figures_are_none(tmp_path):
    """A model that predicts no class of the val set has no mIoU, a run
    with every input failed no latency."""
    inputs = make_work_dir(tmp_path)
    files = inputs.quantized[0].quantization
    write(files.int8_report, evaluation_dict(None))
    write(files.int8_inference, inference_dict(median_latency_ms=None,
                                               fps=None, done=0))
    row = build_report(inputs)['quantization'][0]
    assert row['miou_drop'] is None and row['int8_speedup'] is None


def test_sections_without_their_inputs(tmp_path):
    """No quantized model, no inference runs: the rest of the report."""
    inputs = make_work_dir(tmp_path)
    inputs = dataclasses.replace(
        inputs, image_inference=None, video_inference=None,
        overlay_video=None,
        models=[model.located(quantized=False, quantization=None)
                for model in inputs.models])
    report = build_report(inputs)
    for key in ('quantization', 'inference', 'video_strip'):
        assert key not in report
    assert 'video_strip' not in report['files']
    assert not (tmp_path / 'video_strip.png').exists()
    assert (tmp_path / 'report.md').is_file()


def test_a_compared_model_is_one_entry(tmp_path):
    """Comparing PSPNet-QARepVGG-A0 too is a flag of its entry: its fused
    evaluation in its lane, its network in the benchmark, its rows in the
    report."""
    qa = 'pspnet_qarepvgg_a0_demo'
    models = tuple(model.located(compared=True) if model.key == 'qarepvgg_a0'
                   else model for model in MODELS)
    demo = Demo(REPO, tmp_path, quick=True, models=models)
    assert 'evaluate PSPNet-QARepVGG-A0 pretrained (fused)' in [
        step.name for step in demo.plan[1].lanes[1]]
    assert option(demo.plan[2], '--baselines') == [
        f'configs/demo/{qa}.py', f'configs/demo/{R18}.py']

    inputs = make_work_dir(tmp_path, models)
    write(inputs.benchmark_json, benchmark_dict(rows=BENCHMARK_ROWS + [
        row_dict(qa, 'fused', median_ms=22.0, multiplications=1_400_000_000),
        row_dict(qa, 'fused+onnx', median_ms=21.0)]))
    report = build_report(inputs)
    rows = report['comparison']
    assert [(row['model'], row['init']) for row in rows] == [
        ('PSPNet-RepVGG-A0', 'pretrained'),
        ('PSPNet-RepVGG-A0', 'from scratch'),
        ('PSPNet-QARepVGG-A0', 'pretrained'), ('PSPNet-R-18', 'from scratch')]
    assert rows[2]['metrics']['mIoU'] == 10.0
    assert (rows[2]['timed_by']['name'], rows[2]['timed_by']['mode'],
            rows[2]['latency_ratio']) == (qa, 'fused+onnx', 1.05)
    assert len(report['per_class_columns']) == 5
    assert all(len(row) == 6 for row in report['per_class_iou'])
    assert len(report['training']['compared_val_miou']) == 4


@pytest.mark.parametrize('kind, key', [
    ('deploy', 'max_rel_diff'), ('fused', 'mIoU'), ('multi_branch', 'mAcc'),
    ('r18', 'per_class'), ('benchmark', 'images_per_s'),
    ('quantize', 'int8_agreement'), ('video', 'fps')])
def test_a_bad_tool_report_is_named(kind, key, tmp_path):
    """A renamed or missing key of any tool report fails, naming the file
    and the key."""
    inputs = make_work_dir(tmp_path)
    models = {model.key: model for model in inputs.models}
    path = {'deploy': inputs.deploy_json,
            'fused': models['repvgg_a0'].evaluation,
            'multi_branch': inputs.multi_branch_report,
            'r18': models['r18'].evaluation,
            'benchmark': inputs.benchmark_json,
            'quantize': models['qarepvgg_a0'].quantization.quantize_json,
            'video': inputs.video_inference}[kind]
    data = json.loads(path.read_text())
    if kind == 'benchmark':
        del data['rows'][0][key]
    else:
        del data[key]
    write(path, data)
    with pytest.raises(ReportFormatError,
                       match=re.escape(str(path)) + '.*' + key):
        build_report(inputs)


def test_missing_evaluation_or_fused_row_is_named(tmp_path):
    inputs = make_work_dir(tmp_path)
    write(inputs.benchmark_json, benchmark_dict(rows=[
        row for row in BENCHMARK_ROWS
        if not (row['model'] == R18 and row['mode'].startswith('fused'))]))
    with pytest.raises(ReportFormatError, match=re.escape(
            str(inputs.benchmark_json)) + r".*no fused row of \['" + R18):
        build_report(inputs)
    evaluation = inputs.compared[-1].evaluation
    evaluation.unlink()
    with pytest.raises(ReportFormatError, match=re.escape(str(evaluation))):
        build_report(inputs)


def test_fastest_fused_row_is_picked_per_model():
    benchmark = BenchmarkReport.from_dict(benchmark_dict(rows=[
        row_dict(A0, 'multi-branch', median_ms=5.0),
        row_dict(A0, 'fused', median_ms=12.0),
        row_dict(A0, 'fused+ncnn', median_ms=9.0),
        row_dict(R18, 'fused+ncnn', median_ms=1.0)]))
    assert fastest_fused_row(benchmark, A0).row == f'{A0}:fused+ncnn'
    assert fastest_fused_row(benchmark, R18).row == f'{R18}:fused+ncnn'
    assert fastest_fused_row(benchmark, 'other') is None


def test_curves_of_a_resumed_training(tmp_path):
    """The last fresh run and the runs resuming it; the resumed record of
    a step wins; earlier trainings are left out."""
    write_run(tmp_path, '20240101_000000', [dict(loss=9.0, step=1)])
    write_run(tmp_path, '20240102_000000',
              [dict(loss=3.0, step=1), dict(loss=2.0, step=2)])
    write_run(tmp_path, '20240102_010000',
              [dict(loss=1.9, step=2), dict(loss=1.5, step=3),
               dict(mIoU=4.0, step=3)], resume=True)
    records = read_scalars(tmp_path)
    assert {step: r['loss'] for step, r in records['train'].items()} == {
        1: 3.0, 2: 1.9, 3: 1.5}
    curves = training_curves(None, tmp_path)
    assert curves['segmentation']['val_miou'] == [[3, 4.0]]
    assert curves['classification'] == dict(loss=[], val_top1=[])


def test_cityscapes_label_helpers():
    table = label_id_to_train_id()
    assert table.shape == (256, ) and table.dtype == np.uint8
    assert table[7] == 0 and table[8] == 1 and table[33] == 18  # road ...
    assert table[0] == table[1] == table[255] == IGNORE_INDEX
    assert sorted(set(table.tolist()) - {IGNORE_INDEX}) == list(range(19))
    colours = train_id_colours_bgr()
    assert colours[0].tolist() == [128, 64, 128]  # road, BGR
    assert colours[IGNORE_INDEX].tolist() == [0, 0, 0]


# ------------------------------------------------------------- the steps
def python_step(name, code, outputs, **kwargs):
    return Step(name, ['-c', code], list(outputs), **kwargs)


def touch(path):
    return f'open({str(path)!r}, "w").close()'


def test_steps_skip_finished_and_rerun_after_a_change(tmp_path):
    a, b, c = (tmp_path / name for name in 'abc')
    b.touch()
    steps = [python_step('data', touch(a), [a], invalidates_later=False),
             python_step('b', touch(b), [b]),
             python_step('c', touch(c), [c])]
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings['b'] == 'skipped'
    assert isinstance(timings['data'], float) and \
        isinstance(timings['c'], float)
    assert set(read_step_seconds(tmp_path)) == {'data', 'c'}

    c.unlink()  # c runs again; b ran before c, nothing after it
    recorded = json.loads((tmp_path / STEP_SECONDS).read_text())
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings == dict(data='skipped', b='skipped', c=timings['c'])
    assert read_step_seconds(tmp_path)['data'] == recorded['data']

    a.unlink()  # remade data does not make later steps stale
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings['b'] == timings['c'] == 'skipped'

    a.unlink()
    b.unlink()  # a step after one that ran runs again
    assert run_steps(steps, tmp_path, tmp_path)['c'] != 'skipped'


def test_failed_or_silent_step(tmp_path):
    with pytest.raises(StepFailed) as failed:
        run_steps([python_step('boom', 'raise SystemExit(3)',
                               [tmp_path / 'never'])], tmp_path, tmp_path)
    assert failed.value.returncode == 3
    with pytest.raises(DemoError, match='nothing.txt'):
        run_steps([python_step('quiet', 'pass', [tmp_path / 'nothing.txt'])],
                  tmp_path, tmp_path)


def test_interrupted_training_resumes(tmp_path):
    work_dir = tmp_path / 'train'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text('epoch_1.pth')
    out, argv = tmp_path / 'final.pth', tmp_path / 'argv.json'
    tool = tmp_path / 'train.py'  # a tool that shows its arguments
    tool.write_text(f'import json, sys\njson.dump(sys.argv[1:], '
                    f'open({str(argv)!r}, "w"))\n{touch(out)}\n')
    step = Step('train', [str(tool), 'config.py', '--cfg-options', 'a=1'],
                [out], resumable_work_dir=work_dir)
    run_steps([step], tmp_path, tmp_path)
    # Right after the config: --cfg-options takes every value after it.
    assert json.loads(argv.read_text()) == [
        'config.py', '--resume', '--cfg-options', 'a=1']
    # What it started from changed: a fresh run.
    out.unlink()
    run_steps([python_step('data', touch(tmp_path / 'd'), [tmp_path / 'd']),
               step], tmp_path, tmp_path)
    assert '--resume' not in json.loads(argv.read_text())


def wait_for(path, then):
    """Code that waits (up to a minute) for ``path``, then runs ``then``:
    finishes only if another step makes ``path`` meanwhile."""
    return (f'import os, time\nend = time.monotonic() + 60\n'
            f'while not os.path.exists({str(path)!r}):\n'
            f'    assert time.monotonic() < end, "ran alone"\n'
            f'    time.sleep(0.05)\n{then}')


def test_lanes_run_side_by_side_on_shared_threads(tmp_path):
    # Each lane's step waits for the other's first step: they only finish
    # if they run at the same time.
    a1, a2, b1, b2, after = (tmp_path / name
                             for name in ('a1', 'a2', 'b1', 'b2', 'after'))
    threads = tmp_path / 'threads'
    lanes = Lanes('lanes', [
        [python_step('a one', wait_for(b1, touch(a1)) + '\nprint("A")',
                     [a1]),
         python_step('a two', touch(a2), [a2])],
        [python_step('b one', touch(b1) + '\n' + wait_for(a1, (
            f'open({str(threads)!r}, "w").write('
            'os.environ["OMP_NUM_THREADS"])')), [b1]),
         python_step('b two', touch(b2), [b2])]])
    plan = [lanes, python_step('after', touch(after), [after])]
    timings = run_steps(plan, tmp_path, tmp_path)
    assert list(timings) == ['a one', 'a two', 'b one', 'b two', 'after']
    assert threads.read_text() == str(max(1, len(os.sched_getaffinity(0))
                                          // 2))
    # A lane's output goes to its step's log.
    assert (tmp_path / 'logs/steps/a_one.log').read_text() == 'A\n'
    assert set(read_step_seconds(tmp_path)) == set(timings) | {'lanes'}

    # A rerun step makes the rest of its lane and the steps after the
    # lanes stale, not the other lane.
    a1.unlink()
    lanes.lanes[0][0] = python_step('a one', touch(a1), [a1])
    timings = run_steps(plan, tmp_path, tmp_path)
    assert [name for name, t in timings.items() if t != 'skipped'] == [
        'a one', 'a two', 'after']


def test_a_failing_lane_stops_the_other_after_its_step(tmp_path):
    started, second = tmp_path / 'started', tmp_path / 'second'
    lanes = Lanes('lanes', [
        [python_step('boom', wait_for(started, 'raise SystemExit(2)'),
                     [tmp_path / 'never'])],
        [python_step('first', touch(started) + '\nimport time\n'
                     'time.sleep(0.5)', [started]),
         python_step('second', touch(second), [second])]])
    with pytest.raises(StepFailed):
        run_steps([lanes], tmp_path, tmp_path)
    assert started.exists() and not second.exists()


# --------------------------------------------------------- the pipeline
def tools_of(steps):
    return [Path(step.command[0]).stem for step in steps]


def option(step, flag):
    """The values after ``flag`` in a step's command (up to the next
    flag)."""
    command = step.command
    if flag not in command:
        return None
    values = []
    for arg in command[command.index(flag) + 1:]:
        if arg.startswith('--'):
            break
        values.append(arg)
    return values


def test_the_steps_in_order(tmp_path):
    """The data lanes, the training lanes (each its trainings, then its
    evaluations, then its quantization), then the timed steps."""
    demo = Demo(REPO, tmp_path / 'demo', quick=True)
    data, trainings, *timed = demo.plan
    assert tools_of(data.steps()) == [
        'make_demo_data', 'make_demo_data', 'make_demo_data', 'cityscapes']
    assert [tools_of(lane) for lane in trainings.lanes] == [
        ['train'] * 3 + ['deploy', 'test', 'test', 'test', 'quantize']
        + ['test'] * 2,
        ['train'] * 3 + ['test'] + ['quantize'] + ['test'] * 2]
    assert tools_of(timed) == ['benchmark'] + ['infer'] * 6


def test_quick_and_full_schedules(tmp_path):
    """--quick: cut schedules in the work dir, each pretrained segmentor
    from its own lane's quick pretraining; full: the configs' own."""
    work_dir = tmp_path / 'demo'
    quick = Demo(REPO, work_dir, quick=True)
    trains = [step for step in quick.steps if tools_of([step]) == ['train']]
    assert [step.command[1] for step in trains] == [m.config for m in MODELS]
    for step, model in zip(trains, quick.models):
        assert option(step, '--work-dir') == [
            str(work_dir / Path(model.config).stem)]
        options = option(step, '--cfg-options')
        init = [o for o in options if o.startswith('model.backbone.init_cfg')]
        if model.pretrained_from is None:
            assert not init
        else:
            pretraining = by_key(quick.models, model.pretrained_from)
            assert pretraining.lane == model.lane
            assert init == ['model.backbone.init_cfg.checkpoint='
                            f'{pretraining.checkpoint}']
            assert pretraining.checkpoint == pretraining.work_dir / \
                'epoch_1.pth'
    assert {model.checkpoint.name for model in quick.models
            if model.task == SEGMENTATION} == {'iter_4.pth'}
    tests = [step for step in quick.steps if tools_of([step]) == ['test']]
    assert all('test_dataloader.dataset.indices=4' in step.command
               for step in tests)
    steps = {step.name: step for step in quick.steps}
    multi_branch = steps['evaluate the multi-branch model']
    assert MULTI_BRANCH_FLAG in multi_branch.command
    assert option(steps['quantize PSPNet-RepVGG-A0 (INT8)'],
                  '--calib-images') == ['2']
    benchmark = quick.plan[2]
    assert option(benchmark, '--baselines') == [f'configs/demo/{R18}.py']
    assert option(benchmark, '--reference') == [f'{A0}:multi-branch']
    assert option(benchmark, '--repeat') == ['2']

    full = Demo(REPO, work_dir)
    for step in full.steps:
        assert '--work-dir' not in step.command or tools_of([step]) == ['test']
        assert tools_of([step]) != ['train'] or len(step.command) == 2
    assert option(full.plan[2], '--repeat') is None
    assert Demo(REPO).work_dir == REPO / 'work_dirs/demo'
    assert Demo(REPO, quick=True).work_dir == REPO / 'work_dirs/demo_quick'


def test_final_checkpoints_follow_the_configs(tmp_path):
    """The full schedule's final checkpoints are named from the configs'
    schedules (epoch_<max_epochs>.pth, iter_<max_iters>.pth), in the
    configs' work dirs; the quick one's from its cut."""
    models = {m.key: m for m in Demo(REPO, tmp_path / 'demo').models}
    work_dirs = REPO / 'work_dirs'
    for model in models.values():
        cfg = Config.fromfile(str(REPO / model.config),
                              import_custom_modules=False)
        count = cfg.train_cfg.get('max_epochs') or cfg.train_cfg.max_iters
        assert model.checkpoint.parent == work_dirs / Path(model.config).stem
        assert model.checkpoint.stem.endswith(f'_{count}')
    # The segmentation config starts from the classifier's final one.
    config = Config.fromfile(str(REPO / models['repvgg_a0'].config),
                             import_custom_modules=False)
    assert REPO / config.pretrained_checkpoint == \
        models['repvgg_a0_cls'].checkpoint
    quick = Demo(REPO, tmp_path / 'quick', quick=True)
    assert {m.checkpoint.name for m in quick.models} == {'epoch_1.pth',
                                                         'iter_4.pth'}


def read_paths(step: Step, root: Path):
    """The paths a step's command names (``key=path`` options included),
    made absolute against the repository."""
    for arg in step.command[1:]:
        text = arg.split('=', 1)[-1]
        if '/' in text:
            path = Path(text)
            yield path if path.is_absolute() else root / path


def test_lanes_read_only_their_own_outputs_and_timed_steps_run_alone(
        tmp_path):
    """In each block of lanes, a step reads what only earlier steps of its
    own lane write (a checkpoint, a deploy or quantize folder); the
    benchmark and the tools/infer.py runs, which time, run after the lanes,
    on idle cores."""
    demo = Demo(REPO, tmp_path / 'quick', quick=True)
    blocks = [item for item in demo.plan if isinstance(item, Lanes)]
    assert len(blocks) == 2
    trainings = blocks[1]
    in_lanes = {step.name for step in trainings.steps()}
    for tool_name in ('train', 'deploy', 'test', 'quantize'):
        assert any(step.command[0] == f'tools/{tool_name}.py'
                   for step in trainings.steps())
    after = [item for item in demo.plan if isinstance(item, Step)]
    assert {step.command[0] for step in after} == {
        'tools/analysis_tools/benchmark.py', 'tools/infer.py'}
    assert len(after) == 7 and not in_lanes & {s.name for s in after}

    # Where each step writes: its outputs, and their folder when no other
    # step writes there (a training's work dir, the deploy folder).
    where = [(output, (lane_index, position))
             for lane_index, lane in enumerate(trainings.lanes)
             for position, step in enumerate(lane) for output in step.outputs]
    folders = [output.parent for output, _ in where]
    writer = dict(where)
    writer.update({output.parent: at for output, at in where
                   if len({a for o, a in where
                           if o.parent == output.parent}) == 1})
    assert folders.count(demo.work_dir) > 1  # shared: not a writer's
    reads = 0
    for lane_index, lane in enumerate(trainings.lanes):
        for position, step in enumerate(lane):
            for path in read_paths(step, REPO):
                for written, (lane_of, at) in writer.items():
                    if (not path.is_relative_to(written)
                            or (lane_of, at) == (lane_index, position)):
                        continue
                    assert (lane_of, at < position) == (lane_index, True), \
                        f'{step.name} reads {path} of another lane'
                    reads += 1
    # The pretrained segmentors read their pretraining, the evaluations
    # and quantizations their training or deploy folder.
    assert reads >= 10


def test_a_config_without_its_schedule_length_is_named(tmp_path):
    config = tmp_path / 'configs/x.py'
    config.parent.mkdir()
    config.write_text('train_cfg = dict(val_interval=1)\n')
    with pytest.raises(DemoError, match=r'configs/x\.py: no '
                       r'train_cfg\.max_iters'):
        final_checkpoint(tmp_path, 'configs/x.py', 'iter')


def test_steps_are_finished_by_what_the_report_reads(tmp_path):
    """Each file the report reads is the output of a step."""
    demo = Demo(REPO, tmp_path / 'demo', quick=True)
    outputs = {path for step in demo.steps for path in step.outputs}
    inputs = demo.report_inputs({})
    read = [inputs.deploy_json, inputs.multi_branch_report,
            inputs.benchmark_json, inputs.predictions_dir,
            inputs.image_inference, inputs.video_inference,
            inputs.overlay_video]
    for model in inputs.models:
        read += [model.checkpoint] + ([model.evaluation] if model.compared
                                      else [])
        if model.quantized:
            q = model.quantization
            read += [q.quantize_json, q.fp32_report, q.int8_report,
                     q.fp32_inference, q.int8_inference]
    assert not [path for path in read if path not in outputs]
    assert not demo.steps[1].invalidates_later  # the video maker
    assert demo.train_work_dirs() == [m.work_dir for m in inputs.models]


def test_work_dir_rules(tmp_path):
    stranger = tmp_path / 'not_a_demo'
    stranger.mkdir()
    (stranger / 'keep.txt').write_text('mine')
    with pytest.raises(DemoError, match='clears only work dirs'):
        Demo(REPO, stranger, quick=True).prepare_work_dir(restart=True)
    assert (stranger / 'keep.txt').read_text() == 'mine'

    full = tmp_path / 'full'
    full.mkdir()
    (full / MARKER).write_text(json.dumps(dict(quick=False)))
    with pytest.raises(DemoError, match='holds a full demo run'):
        Demo(REPO, full, quick=True).prepare_work_dir(restart=False)

    for bad in (REPO.parent, REPO / 'data' / 'x'):
        with pytest.raises(DemoError, match='cannot be a work dir'):
            Demo(REPO, bad, quick=True).prepare_work_dir(restart=False)

    fresh = tmp_path / 'fresh'
    demo = Demo(REPO, fresh, quick=True)
    demo.prepare_work_dir(restart=False)
    assert json.loads((fresh / MARKER).read_text()) == dict(quick=True)
    for train_dir in demo.train_work_dirs():
        (train_dir / 'old.pth').parent.mkdir(parents=True)
        (train_dir / 'old.pth').touch()
    demo.prepare_work_dir(restart=True)
    assert sorted(p.name for p in fresh.iterdir()) == [MARKER]


# ---------------------------------------------------------- dependencies
def test_the_demo_is_a_client():
    """Nothing else in repseg imports repseg.demo, and only the demo's
    report imports matplotlib at module level: the core does not require
    it (the leaderboard's plot imports it when it draws)."""
    package = REPO / 'repseg'
    imports = re.compile(r'^\s*(?:from|import)\s+([\w.]+)', re.M)
    top_level = re.compile(r'^(?:from|import)\s+([\w.]+)', re.M)
    for path in package.rglob('*.py'):
        text = path.read_text()
        if not path.is_relative_to(package / 'demo'):
            assert not [n for n in imports.findall(text) if 'demo' in n], path
        if not path.is_relative_to(package / 'demo' / 'report'):
            assert not [n for n in top_level.findall(text)
                        if n.startswith('matplotlib')], path
    setup = (REPO / 'setup.py').read_text()
    core = setup[setup.index('install_requires'):setup.index('extras_require')]
    assert 'matplotlib' not in core
    assert re.search(r"'demo': \['matplotlib'\]", setup)
