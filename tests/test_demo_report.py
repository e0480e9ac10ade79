"""The demo report on a small hand-made work dir (no training, no
subprocess): the files it writes and what they say, the training curves of
resumed runs, and the demo's step scheduler and work-dir rules."""
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
from repseg.demo.pipeline import MARKER, Demo, final_checkpoint
from repseg.demo.report import (QuantizationFiles, ReportInputs,
                                build_report, summary)
from repseg.demo.report.figures import fastest_fused_row
from repseg.demo.report.logs import read_scalars, training_curves
from repseg.demo.report.plots import speed_accuracy_points
from repseg.demo.steps import (STEP_SECONDS, DemoError, Lanes, Step,
                               StepFailed, read_step_seconds, run_steps)
from repseg.equivalence import TOLERANCE
from repseg.results import BenchmarkReport, ReportFormatError

REPO = Path(__file__).resolve().parents[1]
STEMS = ('aachen_000000_000019', 'bremen_000000_000019',
         'bremen_000001_000019')


def write_run(work_dir, timestamp, lines, resume=False):
    vis = work_dir / timestamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'config.py').write_text(f'resume = {resume}\n')
    (vis / 'scalars.json').write_text(
        ''.join(json.dumps(line) + '\n' for line in lines))


# Every model in every mode the demo times: PSPNet-RepVGG-A0 is fastest
# on ONNX Runtime, PSPNet-R-18 on ncnn, and unfused rows are left out of
# "fastest" even when quicker (A0's unfused row beats its eager fused one).
BENCHMARK_ROWS = [
    row_dict(mode='unfused', median_ms=40.0, images_per_s=25.0, speedup=1.0),
    row_dict(mode='fused', median_ms=45.0, images_per_s=22.2,
             speedup=0.89, multiplications=1_373_356_032),
    row_dict(mode='fused+onnx', median_ms=20.0, images_per_s=50.0,
             speedup=2.0),
    row_dict(mode='fused+ncnn', median_ms=25.0, images_per_s=40.0,
             speedup=1.6, multiplications=464_437_248),
    row_dict('pspnet_r18_demo', 'unfused', median_ms=28.0, images_per_s=35.7,
             speedup=1.43),
    # 31.3 ms; an engine row's Winograd count is not the model's.
    row_dict('pspnet_r18_demo', 'fused', multiplications=2_300_755_968),
    row_dict('pspnet_r18_demo', 'fused+onnx', median_ms=32.0,
             images_per_s=31.2, speedup=1.25),
    row_dict('pspnet_r18_demo', 'fused+ncnn', median_ms=30.0,
             images_per_s=33.3, speedup=1.33),
]
# The fused evaluations of the two segmentors trained from scratch.
SCRATCH_EVALUATION = evaluation_dict(
    12.0, config='/abs/pspnet_repvgg_a0_demo_scratch.py',
    checkpoint='/abs/iter_4.pth', mAcc=20.0, aAcc=65.0,
    per_class=dict(road=1.0, sidewalk=5.0, sky=8.0))
R18_EVALUATION = evaluation_dict(
    14.5, config='/abs/pspnet_r18_demo.py', checkpoint='/abs/iter_4.pth',
    mAcc=22.5, aAcc=68.25, per_class=dict(road=2.0, sidewalk=7.5, sky=9.0))


def make_work_dir(root):
    """The files the demo's steps leave, small and hand-made."""
    write_run(root / 'cls', '20240101_000000',
              [dict(loss=2.3, step=1), dict(loss=2.0, step=2),
               {'accuracy/top1': 40.0, 'step': 1}])
    for name, miou in (('seg', 5.5), ('seg_scratch', 3.0), ('seg_r18', 4.0)):
        write_run(root / name, '20240101_000000',
                  [dict(loss=3.0, step=2), dict(loss=2.5, step=4),
                   dict(mIoU=miou, step=4)])
    for name, data in (('deploy.json', deploy_dict()),
                       ('test_fused.json', evaluation_dict()),
                       ('test_multibranch.json',
                        evaluation_dict(reparameterized=False)),
                       ('test_scratch.json', SCRATCH_EVALUATION),
                       ('test_r18.json', R18_EVALUATION),
                       ('benchmark.json', benchmark_dict(
                           rows=BENCHMARK_ROWS, environment=dict(
                               benchmark_dict()['environment'],
                               gemm_macs_per_s=68.1e9)))):
        (root / name).write_text(json.dumps(data))
    rng = np.random.default_rng(0)
    for stem in STEMS:
        city = stem.split('_')[0]
        image = (root / 'data/leftImg8bit/val' / city /
                 f'{stem}_leftImg8bit.png')
        gt = (root / 'data/gtFine/val' / city /
              f'{stem}_gtFine_labelTrainIds.png')
        for path in (image, gt):
            path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image), rng.integers(0, 255, (32, 64, 3), np.uint8))
        cv2.imwrite(str(gt), rng.integers(0, 19, (32, 64), np.uint8))
        (root / 'predictions').mkdir(exist_ok=True)
        # labelIds of road (7) and sky (23)
        cv2.imwrite(str(root / 'predictions' / image.name),
                    np.where(rng.random((32, 64)) < 0.5, 7, 23)
                    .astype(np.uint8))
    for name, kind, done, latency, fps in (
            ('infer_val.json', 'images', 16, 40.25, 9.5),
            ('infer_video.json', 'video', 25, 41.0, 12.25)):
        (root / name).write_text(json.dumps(inference_dict(
            kind=kind, done=done, median_latency_ms=latency, fps=fps)))
    write_video(root / 'infer_video' / 'street_overlay.mp4', VIDEO_FRAMES)
    quantization = {label: write_quantization(root / key, **figures)
                    for label, key, figures in QUANTIZATION}
    return ReportInputs(
        work_dir=root, cls_work_dir=root / 'cls', seg_work_dir=root / 'seg',
        scratch_work_dir=root / 'seg_scratch', r18_work_dir=root / 'seg_r18',
        deploy_json=root / 'deploy.json',
        fused_report=root / 'test_fused.json',
        multibranch_report=root / 'test_multibranch.json',
        scratch_report=root / 'test_scratch.json',
        r18_report=root / 'test_r18.json',
        benchmark_json=root / 'benchmark.json',
        predictions_dir=root / 'predictions', data_root=root / 'data',
        commands=['python tools/train.py x.py'],
        step_seconds={'make data': None, 'trainings': 20.0, 'train': 12.0,
                      'train qa': 15.0, 'deploy': 3.0},
        side_by_side_steps=['train', 'train qa'],
        training_steps=['train', 'train qa', 'a training not run'],
        quick=True,
        image_inference=root / 'infer_val.json',
        video_inference=root / 'infer_video.json',
        overlay_video=root / 'infer_video' / 'street_overlay.mp4',
        quantization=quantization)


VIDEO_FRAMES = 7
# The FP32 / INT8 rows: (label, folder, figures of the tools' files).
QUANTIZATION = (
    ('RepVGG-A0', 'q_repvgg',
     dict(fp32_miou=17.28, int8_miou=16.9, rel_diff=0.031, agreement=0.9765,
          fp32_ms=40.0, int8_ms=25.0)),
    ('QARepVGG-A0', 'q_qarepvgg',
     dict(fp32_miou=18.5, int8_miou=18.25, rel_diff=0.0042,
          agreement=0.9951, fp32_ms=42.0, int8_ms=28.0)),
)


def quantize_dict(**changes):
    """A tools/quantize.py quantize.json (QuantizeReport)."""
    return dict(dict(backend='onnxruntime', fp32_file='deploy.onnx',
                     int8_file='deploy.int8.onnx',
                     input_shape=[1, 3, 128, 256], calibration_images=16,
                     calibration_source='the training set',
                     settings=dict(format='QDQ'), fp32_max_rel_diff=1e-7,
                     int8_max_rel_diff=0.02, int8_agreement=0.99),
                **changes)


def write_quantization(folder, fp32_miou, int8_miou, rel_diff, agreement,
                       fp32_ms, int8_ms) -> QuantizationFiles:
    """One model's quantize.json, FP32 and INT8 evaluations and latency
    runs, with these figures."""
    files = QuantizationFiles(*(folder / name for name in (
        'quantize.json', 'test_fp32.json', 'test_int8.json',
        'infer_fp32.json', 'infer_int8.json')))
    folder.mkdir(parents=True)
    contents = (
        quantize_dict(int8_max_rel_diff=rel_diff, int8_agreement=agreement),
        evaluation_dict(fp32_miou, backend='onnxruntime',
                        checkpoint='/abs/deploy.onnx'),
        evaluation_dict(int8_miou, backend='onnxruntime',
                        checkpoint='/abs/deploy.int8.onnx'),
        inference_dict(median_latency_ms=fp32_ms),
        inference_dict(median_latency_ms=int8_ms))
    for path, data in zip(files, contents):
        path.write_text(json.dumps(data))
    return files


def inference_dict(**changes):
    """A tools/infer.py --json file (InferenceReport)."""
    return dict(dict(kind='images', done=16, failures=[],
                     median_latency_ms=40.0, fps=10.0,
                     backend='onnxruntime', device='cpu', threads=2),
                **changes)


def write_video(path, count, size=(64, 32)):
    """A tiny mp4 whose frame k is flat grey 30 * k (to tell frames
    apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             size)
    for k in range(count):
        writer.write(np.full((size[1], size[0], 3), 30 * k, np.uint8))
    writer.release()


def test_build_report_writes_every_file(tmp_path):
    report = build_report(make_work_dir(tmp_path))
    for name in ('report.md', 'report.json', 'speed_vs_accuracy.png',
                 'training_curves.png', 'samples.png', 'video_strip.png'):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / 'report.json').read_text()) == report
    samples = cv2.imread(str(tmp_path / 'samples.png'))
    assert samples.shape[1] > 3 * 64 and samples.shape[0] > 3 * 32
    assert report['samples'] == [f'{stem}_leftImg8bit.png' for stem in STEMS]
    assert report['training']['segmentation'] == dict(
        loss=[[2, 3.0], [4, 2.5]], val_miou=[[4, 5.5]])
    assert report['training']['classification']['val_top1'] == [[1, 40.0]]
    assert report['accuracy']['agree'] is True
    # deploy.json as DeployReport writes it (no engine checked).
    assert report['equivalence'] == dict(deploy_dict(), engines={})

    markdown = (tmp_path / 'report.md').read_text()
    assert '**Quick run' in markdown and 'They agree' in markdown
    assert f'the tool fails above {TOLERANCE:g})' in markdown
    assert '| pspnet_r18_demo | fused | 31.3 | 29.5 | 31.9 | x1.36 |' \
        in markdown
    assert '| sidewalk | 10.00 | 10.00 | 5.00 | 7.50 |' in markdown
    assert '| train (side by side) | 12 |' in markdown
    assert '| make data | - |' in markdown
    # The lanes' wall clock counts, not the steps that ran side by side.
    assert '| total | 23 |' in markdown
    # The trainings that ran, and the machine's rate to scale them by.
    assert ('The 2 trainings took 27 s in all (side by side, each on one '
            'core: 14 s of both cores). This machine computes 68.1 G '
            'multiply-adds/s in a float32 GEMM on 2 threads') in markdown
    for image in ('speed_vs_accuracy.png', 'training_curves.png',
                  'samples.png', 'video_strip.png'):
        assert f'({image})' in markdown
    assert 'python tools/train.py x.py' in markdown
    assert 'mIoU fused 17.28, multi-branch 17.28 (agree)' in summary(report)


def test_report_compares_pretraining_and_the_r18_baseline(tmp_path):
    """Each trained segmentor, fused, with its network's fastest fused
    row; the pretraining gain and the latency ratio; the plot's points and
    the training curves of the three runs."""
    report = build_report(make_work_dir(tmp_path))
    pretrained, scratch, r18 = report['comparison']
    assert (pretrained['model'], pretrained['init']) == (
        'PSPNet-RepVGG-A0', 'pretrained')
    assert pretrained['metrics'] == dict(mIoU=17.28, mAcc=25.0, aAcc=70.5)
    assert scratch['metrics'] == dict(mIoU=12.0, mAcc=20.0, aAcc=65.0)
    assert r18['per_class'] == dict(road=2.0, sidewalk=7.5, sky=9.0)
    # Both A0 runs are one network, timed once.
    assert pretrained['timed_by'] == scratch['timed_by']
    assert [(row['timed_by']['name'], row['timed_by']['mode'],
             row['timed_by']['latency_ms'], row['timed_by']['images_per_s'])
            for row in (pretrained, r18)] == [
        ('pspnet_repvgg_a0_demo', 'fused+onnx', 20.0, 50.0),
        ('pspnet_r18_demo', 'fused+ncnn', 30.0, 33.3)]
    assert report['pretraining_gain'] == 5.28
    assert report['r18_latency_ratio'] == 1.5
    # From each network's eager fused row, not its engine rows.
    assert [row['multiply_adds'] for row in report['comparison']] == [
        1_373_356_032, 1_373_356_032, 2_300_755_968]
    assert report['r18_multiply_adds_ratio'] == 1.675

    markdown = (tmp_path / 'report.md').read_text()
    assert (markdown.index('## Accuracy') <
            markdown.index('## Pretraining and the ResNet-18 baseline') <
            markdown.index('## Equivalence'))
    assert ('| model | initialized | fused mIoU | mAcc | aAcc | G '
            'multiply-adds | fastest path | latency (ms) | images/s |'
            ) in markdown
    assert ('| PSPNet-RepVGG-A0 | pretrained | 17.28 | 25.00 | 70.50 | 1.37 '
            '| fused+onnx | 20.0 | 50.0 |') in markdown
    assert ('| PSPNet-RepVGG-A0 | from scratch | 12.00 | 20.00 | 65.00 | '
            '1.37 | fused+onnx | 20.0 | 50.0 |') in markdown
    assert ('| PSPNet-R-18 | from scratch | 14.50 | 22.50 | 68.25 | 2.30 | '
            'fused+ncnn | 30.0 | 33.3 |') in markdown
    assert ("checkpoint reaches 17.28 mIoU, from scratch on the same "
            'schedule 12.00: +5.28 mIoU points.') in markdown
    assert ("its latency is x1.50 PSPNet-RepVGG-A0's (30.0 ms, fused+ncnn, "
            'against 20.0 ms, fused+onnx); it computes x1.68 the '
            'multiply-adds.') in markdown
    assert 'untrained' not in markdown
    lines = summary(report)
    assert 'PSPNet-R-18 (from scratch): mIoU 14.50, fastest fused+ncnn ' \
        '30.0 ms' in lines
    assert 'pretraining: +5.28 mIoU points' in lines

    # The three trained models at their fastest fused rows, and the
    # multi-branch A0 at its unfused row (the arrow's start).
    assert [(p['label'], p['images_per_s'], p['mIoU'])
            for p in speed_accuracy_points(report)] == [
        ('PSPNet-RepVGG-A0, pretrained (fused+onnx)', 50.0, 17.28),
        ('PSPNet-RepVGG-A0, from scratch (fused+onnx)', 50.0, 12.0),
        ('PSPNet-R-18, from scratch (fused+ncnn)', 33.3, 14.5),
        ('PSPNet-RepVGG-A0, pretrained, multi-branch (unfused)', 25.0,
         17.28)]
    assert report['training']['compared_val_miou'] == {
        'PSPNet-RepVGG-A0, pretrained': [[4, 5.5]],
        'PSPNet-RepVGG-A0, from scratch': [[4, 3.0]],
        'PSPNet-R-18, from scratch': [[4, 4.0]]}


def test_fastest_fused_row_is_picked_per_model():
    """The lowest median among a model's fused rows ('fused' and
    'fused+<engine>'): not a quicker unfused row, not another model's."""
    benchmark = BenchmarkReport.from_dict(benchmark_dict(rows=[
        row_dict(mode='unfused', median_ms=5.0),
        row_dict(mode='fused', median_ms=12.0),
        row_dict(mode='fused+ncnn', median_ms=9.0),
        row_dict(mode='fused+onnx', median_ms=10.0),
        row_dict('pspnet_r18_demo', 'fused+ncnn', median_ms=1.0),
        row_dict('pspnet_r18_demo', 'fused', median_ms=3.0)]))
    assert fastest_fused_row(benchmark, 'pspnet_repvgg_a0_demo').row == \
        'pspnet_repvgg_a0_demo:fused+ncnn'
    assert fastest_fused_row(benchmark, 'pspnet_r18_demo').row == \
        'pspnet_r18_demo:fused+ncnn'
    assert fastest_fused_row(benchmark, 'other') is None


def test_report_names_a_missing_evaluation(tmp_path):
    inputs = make_work_dir(tmp_path)
    inputs.r18_report.unlink()
    with pytest.raises(ReportFormatError,
                       match=re.escape(str(inputs.r18_report))):
        build_report(inputs)


def test_report_names_a_benchmark_without_a_fused_row(tmp_path):
    inputs = make_work_dir(tmp_path)
    inputs.benchmark_json.write_text(json.dumps(benchmark_dict(rows=[
        row for row in BENCHMARK_ROWS
        if not (row['model'] == 'pspnet_r18_demo'
                and row['mode'].startswith('fused'))])))
    with pytest.raises(ReportFormatError, match=re.escape(
            str(inputs.benchmark_json)) + ".*no fused row of "
            r"\['pspnet_r18_demo'\]"):
        build_report(inputs)


def test_report_shows_inference_and_the_video_strip(tmp_path):
    report = build_report(make_work_dir(tmp_path))
    inference = report['inference']
    assert inference['images'] == dict(
        kind='images', done=16, failures=0, median_latency_ms=40.25, fps=9.5,
        backend='onnxruntime', device='cpu', threads=2)
    assert inference['video']['fps'] == 12.25
    markdown = (tmp_path / 'report.md').read_text()
    assert '## Inference (tools/infer.py)' in markdown
    assert '| val images | 16 | 0 | 40.2 | 9.5 |' in markdown
    assert '| street video (frames) | 25 | 0 | 41.0 | 12.2 |' in markdown
    assert 'on onnxruntime (cpu, 2 threads)' in markdown
    assert ('tools/infer.py on the video (onnxruntime): 41.0 ms median, '
            '12.2 FPS end to end') in summary(report)
    # Four frames spread from the first to the last, side by side.
    strip = report['video_strip']
    assert strip['frames'] == [0, 2, 4, 6] and strip['fps'] == 10
    assert strip['video'] == 'infer_video/street_overlay.mp4'
    assert report['files']['video_strip'] == 'video_strip.png'
    image = cv2.imread(str(tmp_path / 'video_strip.png'))
    assert image.shape[0] == 28 + 32 and image.shape[1] == 4 * 64 + 3 * 6
    # Each column is its frame (grey 30 * index; mp4v is lossy).
    for column, index in enumerate(strip['frames']):
        x = column * (64 + 6)
        assert abs(image[28:, x:x + 64].mean() - 30 * index) < 8
    assert 'Frames 0, 2, 4, 6 of the overlay video' in markdown


def test_report_shows_the_fp32_int8_table(tmp_path):
    report = build_report(make_work_dir(tmp_path))
    first, second = report['quantization']
    assert first == dict(
        model='RepVGG-A0', fp32_miou=17.28, int8_miou=16.9, miou_drop=0.38,
        evaluated_backends=['onnxruntime', 'onnxruntime'],
        int8_max_rel_diff=0.031, int8_agreement=0.9765,
        calibration_images=16, input_shape=[1, 3, 128, 256],
        fp32_latency_ms=40.0, int8_latency_ms=25.0, int8_speedup=1.6,
        timed_images=[16, 16], backend='onnxruntime', device='cpu',
        threads=2)
    assert second['model'] == 'QARepVGG-A0'
    assert second['miou_drop'] == 0.25 and second['int8_speedup'] == 1.5
    markdown = (tmp_path / 'report.md').read_text()
    assert '## FP32 / INT8 (tools/quantize.py)' in markdown
    assert 'calibrated on 16 training images' in markdown
    assert ('FP32 and INT8 are consecutive runs on the same machine, not '
            'interleaved') in markdown
    assert ('| RepVGG-A0 | 17.28 | 16.90 | 0.38 | 3.1e-02 | 97.7% | 40.0 | '
            '25.0 | x1.60 |') in markdown
    assert ('| QARepVGG-A0 | 18.50 | 18.25 | 0.25 | 4.2e-03 | 99.5% | 42.0 | '
            '28.0 | x1.50 |') in markdown
    # After the inference section, before the per-class table.
    assert (markdown.index('## Inference') < markdown.index('## FP32 / INT8')
            < markdown.index('## Per-class IoU'))
    assert ('QARepVGG-A0 FP32 / INT8: mIoU 18.50 / 18.25, 42.0 / 28.0 ms '
            'median') in summary(report)


def test_fp32_int8_row_without_an_miou_or_a_latency(tmp_path):
    """A model that predicts no class of the val set has no mIoU, a run
    with every input failed no latency: the row shows '-' there."""
    inputs = make_work_dir(tmp_path)
    files = inputs.quantization['RepVGG-A0']
    files.int8_report.write_text(json.dumps(evaluation_dict(None)))
    files.int8_inference.write_text(json.dumps(inference_dict(
        median_latency_ms=None, fps=None, done=0)))
    row = build_report(inputs)['quantization'][0]
    assert row['miou_drop'] is None and row['int8_speedup'] is None
    assert ('| RepVGG-A0 | 17.28 | - | - | 3.1e-02 | 97.7% | 40.0 | - | - |'
            ) in (tmp_path / 'report.md').read_text()


def test_report_names_a_bad_quantize_file(tmp_path):
    inputs = make_work_dir(tmp_path)
    data = quantize_dict()
    del data['int8_agreement']
    inputs.quantization['QARepVGG-A0'].quantize_json.write_text(
        json.dumps(data))
    with pytest.raises(ReportFormatError,
                       match=r"quantize\.json.*'int8_agreement'"):
        build_report(inputs)


def test_report_without_quantization_inputs(tmp_path):
    """Reports made before the quantization steps keep every other
    section."""
    inputs = make_work_dir(tmp_path)
    inputs.quantization = {}
    report = build_report(inputs)
    assert 'quantization' not in report
    markdown = (tmp_path / 'report.md').read_text()
    assert 'FP32 / INT8' not in markdown and '## Inference' in markdown


def test_report_shows_the_engine_checks(tmp_path):
    inputs = make_work_dir(tmp_path)
    (tmp_path / 'deploy.json').write_text(json.dumps(deploy_dict(engines=dict(
        onnxruntime=dict(file='deploy.onnx', max_rel_diff=4.9e-07,
                         tolerance=1e-4, fp16=False,
                         dynamic_image_size=False)))))
    build_report(inputs)
    assert ('Exported and checked, onnxruntime (deploy.onnx, fixed image '
            'size): 4.90e-07 of the largest output (tolerance 0.0001).'
            ) in (tmp_path / 'report.md').read_text()


def test_report_without_inference_inputs(tmp_path):
    """Reports made before the inference steps (no infer JSON, no video)
    keep every other section."""
    inputs = make_work_dir(tmp_path)
    inputs.image_inference = inputs.video_inference = None
    inputs.overlay_video = None
    report = build_report(inputs)
    assert 'inference' not in report and 'video_strip' not in report
    assert 'Inference' not in (tmp_path / 'report.md').read_text()
    assert not (tmp_path / 'video_strip.png').exists()


def test_report_names_a_bad_inference_file(tmp_path):
    inputs = make_work_dir(tmp_path)
    data = inference_dict()
    del data['fps']
    (tmp_path / 'infer_video.json').write_text(json.dumps(data))
    with pytest.raises(ReportFormatError, match=r"infer_video\.json.*'fps'"):
        build_report(inputs)


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
    curves = training_curves(tmp_path / 'none', tmp_path)
    assert curves['segmentation']['val_miou'] == [[3, 4.0]]
    assert curves['classification'] == dict(loss=[], val_top1=[])


def test_cityscapes_label_helpers():
    table = label_id_to_train_id()
    assert table.shape == (256, ) and table.dtype == np.uint8
    assert table[7] == 0 and table[8] == 1 and table[33] == 18  # road ...
    assert table[0] == table[1] == table[255] == IGNORE_INDEX
    assert sorted(set(table.tolist()) - {IGNORE_INDEX}) == list(range(19))
    colours = train_id_colours_bgr()
    assert colours.shape == (256, 3)
    assert colours[0].tolist() == [128, 64, 128]  # road, BGR
    assert colours[10].tolist() == [180, 130, 70]  # sky (70, 130, 180) RGB
    assert colours[IGNORE_INDEX].tolist() == [0, 0, 0]


# ------------------------------------------------------------- the steps
def python_step(name, code, outputs, **kwargs):
    return Step(name, ['-c', code], list(outputs), **kwargs)


def touch(path):
    return f'open({str(path)!r}, "w").close()'


def test_steps_skip_finished_and_rerun_after_a_change(tmp_path, capsys):
    a, b, c = (tmp_path / name for name in 'abc')
    b.touch()
    steps = [python_step('data', touch(a), [a], invalidates_later=False),
             python_step('b', touch(b), [b]),
             python_step('c', touch(c), [c])]
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings['b'] == 'skipped'
    assert isinstance(timings['data'], float) and \
        isinstance(timings['c'], float)
    out = capsys.readouterr().out
    assert '[run_demo] skip (done): b' in out
    assert f'[run_demo] c: {steps[2].shell()}' in out
    assert set(read_step_seconds(tmp_path)) == {'data', 'c'}

    c.unlink()  # c runs again; b ran before c, nothing after it
    b_time = json.loads((tmp_path / STEP_SECONDS).read_text())
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings == dict(data='skipped', b='skipped', c=timings['c'])
    assert read_step_seconds(tmp_path)['data'] == b_time['data']

    a.unlink()  # remade data does not make later steps stale
    timings = run_steps(steps, tmp_path, tmp_path)
    assert timings['b'] == timings['c'] == 'skipped'


def test_a_step_after_one_that_ran_runs_again(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    b.touch()
    steps = [python_step('a', touch(a), [a]), python_step('b', touch(b),
                                                          [b])]
    assert run_steps(steps, tmp_path, tmp_path)['b'] != 'skipped'


def test_failed_or_silent_step(tmp_path):
    with pytest.raises(StepFailed, match=re.escape(
            "step 'boom' failed: `python -c 'raise SystemExit(3)'` exited "
            'with status 3')):
        run_steps([python_step('boom', 'raise SystemExit(3)',
                               [tmp_path / 'never'])],
                  tmp_path, tmp_path)
    with pytest.raises(DemoError, match="step 'quiet' succeeded but did not "
                       'write nothing.txt'):
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


def test_lanes_run_side_by_side_on_shared_threads(tmp_path, capsys):
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
    assert all(isinstance(t, float) for t in timings.values())
    assert threads.read_text() == str(max(1, len(os.sched_getaffinity(0))
                                          // 2))
    # A lane's output goes to its step's log, not to the console.
    log = tmp_path / 'logs/steps/a_one.log'
    assert log.read_text() == 'A\n'
    out = capsys.readouterr().out
    assert 'output: logs/steps/a_one.log' in out and '\nA\n' not in out
    assert set(read_step_seconds(tmp_path)) == set(timings) | {'lanes'}

    # A rerun step makes the rest of its lane and the steps after the
    # lanes stale, not the other lane.
    a1.unlink()
    b1.unlink()
    b1.touch()
    lanes.lanes[0][0] = python_step('a one', touch(a1), [a1])
    timings = run_steps(plan, tmp_path, tmp_path)
    assert [name for name, t in timings.items() if t != 'skipped'] == [
        'a one', 'a two', 'after']


def test_a_failing_lane_stops_the_other_after_its_step(tmp_path, capsys):
    started, second = tmp_path / 'started', tmp_path / 'second'
    lanes = Lanes('lanes', [
        [python_step('boom', wait_for(started, 'print("bad")\n'
                                      'raise SystemExit(2)'),
                     [tmp_path / 'never'])],
        [python_step('first', touch(started) + '\nimport time\n'
                     'time.sleep(0.5)', [started]),
         python_step('second', touch(second), [second])]])
    with pytest.raises(StepFailed, match=re.escape(
            'exited with status 2 (its output: logs/steps/boom.log)')):
        run_steps([lanes], tmp_path, tmp_path)
    assert started.exists() and not second.exists()
    assert 'the end of logs/steps/boom.log:\nbad' in capsys.readouterr().out


# --------------------------------------------------------- the pipeline
def test_demo_commands(tmp_path):
    """The command lines the README documents, in order."""
    work_dir = tmp_path / 'demo'
    demo = Demo(REPO, work_dir, quick=True)
    commands = [step.shell() for step in demo.steps]
    assert commands == [line.replace('WORK', str(work_dir))
                        for line in QUICK_COMMANDS]
    full = [step.shell() for step in Demo(REPO, work_dir).steps]
    assert full == [line.replace('WORK', str(work_dir))
                    for line in FULL_COMMANDS]
    assert Demo(REPO).work_dir == REPO / 'work_dirs/demo'
    assert Demo(REPO, quick=True).work_dir == REPO / 'work_dirs/demo_quick'


INFER_COMMANDS = [
    'python tools/infer.py WORK/deploy/deploy.py WORK/deploy/deploy.onnx '
    'data/demo_cityscapes/leftImg8bit/val --out WORK/infer_val --json '
    'WORK/infer_val.json',
    'python tools/infer.py WORK/deploy/deploy.py WORK/deploy/deploy.onnx '
    'data/demo_street.mp4 --out WORK/infer_video --json '
    'WORK/infer_video.json',
]


QUANTIZED = (('repvgg_a0', 'pspnet_repvgg_a0_demo'),
             ('qarepvgg_a0', 'pspnet_qarepvgg_a0_demo'))


def quantize_commands(model, checkpoint, calib_images, test_options=''):
    """In a model's lane: quantize it (``model``: 0 RepVGG-A0, 1
    QARepVGG-A0), evaluate the FP32 and the INT8 file."""
    key, config = QUANTIZED[model]
    q = f'WORK/quantize/{key}'
    files = dict(fp32=f'{q}/deploy.onnx', int8=f'{q}/deploy.int8.onnx')
    return [f'python tools/quantize.py configs/demo/{config}.py '
            f'{checkpoint} {q} --calib-images {calib_images}'] + [
        f'python tools/test.py {q}/deploy.py {files[kind]} '
        f'--report WORK/quantize/{key}_test_{kind}.json '
        f'--work-dir WORK/logs/test_{key}_{kind}{test_options}'
        for kind in ('fp32', 'int8')]


def timing_commands():
    """After the lanes, per model: time the FP32 and the INT8 file on the
    val images."""
    commands = []
    for key, _ in QUANTIZED:
        q = f'WORK/quantize/{key}'
        files = dict(fp32=f'{q}/deploy.onnx', int8=f'{q}/deploy.int8.onnx')
        commands += [f'python tools/infer.py {q}/deploy.py {files[kind]} '
                     'data/demo_cityscapes/leftImg8bit/val --json '
                     f'WORK/quantize/{key}_infer_{kind}.json'
                     for kind in ('fp32', 'int8')]
    return commands


def in_plan_order(data, repvgg_trainings, repvgg_evaluations, qa_trainings,
                  r18_evaluation, benchmark, quantized):
    """The commands in the demo's order: the data makers' lanes, the
    trainings' lanes (each lane's trainings, then its evaluations and
    quantization), then the timed steps. ``quantized``: the commands of
    quantize_commands for each model."""
    imagenet, cityscapes, convert, video = data
    return ([imagenet, video, cityscapes, convert]
            + repvgg_trainings + repvgg_evaluations + quantized[0]
            + qa_trainings + r18_evaluation + quantized[1]
            + [benchmark] + INFER_COMMANDS + timing_commands())


# Each tool line once, grouped by kind: data, trainings (the RepVGG lane's,
# then the other's), evaluations, benchmark; in_plan_order puts them in the
# demo's order.
QUICK_LINES = [
    'python tools/dataset_converters/make_demo_data.py imagenet '
    'data/demo_imagenet',
    'python tools/dataset_converters/make_demo_data.py cityscapes '
    'data/demo_cityscapes',
    'python tools/dataset_converters/cityscapes.py data/demo_cityscapes',
    'python tools/dataset_converters/make_demo_data.py video '
    'data/demo_street.mp4',
    'python tools/train.py configs/demo/repvgg_a0_demo_cls.py --work-dir '
    'WORK/repvgg_a0_demo_cls --cfg-options train_cfg.max_epochs=1 '
    'train_dataloader.dataset.indices=128 '
    'val_dataloader.dataset.indices=100 default_hooks.logger.interval=2',
    'python tools/train.py configs/demo/pspnet_repvgg_a0_demo.py '
    '--work-dir WORK/pspnet_repvgg_a0_demo --cfg-options '
    'train_cfg.max_iters=4 train_cfg.val_interval=4 '
    'default_hooks.logger.interval=2 val_dataloader.dataset.indices=4 '
    'model.backbone.init_cfg.checkpoint=WORK/repvgg_a0_demo_cls/epoch_1.pth',
    # The same cut, without a pretrained checkpoint.
    'python tools/train.py configs/demo/pspnet_repvgg_a0_demo_scratch.py '
    '--work-dir WORK/pspnet_repvgg_a0_demo_scratch --cfg-options '
    'train_cfg.max_iters=4 train_cfg.val_interval=4 '
    'default_hooks.logger.interval=2 val_dataloader.dataset.indices=4',
    # The second lane: the QARepVGG-A0 pair, then the R-18 baseline.
    'python tools/train.py configs/demo/qarepvgg_a0_demo_cls.py --work-dir '
    'WORK/qarepvgg_a0_demo_cls --cfg-options train_cfg.max_epochs=1 '
    'train_dataloader.dataset.indices=128 '
    'val_dataloader.dataset.indices=100 default_hooks.logger.interval=2',
    'python tools/train.py configs/demo/pspnet_qarepvgg_a0_demo.py '
    '--work-dir WORK/pspnet_qarepvgg_a0_demo --cfg-options '
    'train_cfg.max_iters=4 train_cfg.val_interval=4 '
    'default_hooks.logger.interval=2 val_dataloader.dataset.indices=4 '
    'model.backbone.init_cfg.checkpoint='
    'WORK/qarepvgg_a0_demo_cls/epoch_1.pth',
    'python tools/train.py configs/demo/pspnet_r18_demo.py '
    '--work-dir WORK/pspnet_r18_demo --cfg-options '
    'train_cfg.max_iters=4 train_cfg.val_interval=4 '
    'default_hooks.logger.interval=2 val_dataloader.dataset.indices=4',
    'python tools/deploy.py configs/demo/pspnet_repvgg_a0_demo.py '
    'WORK/pspnet_repvgg_a0_demo/iter_4.pth WORK/deploy --shape 128 256 '
    '--onnx',
    'python tools/test.py WORK/deploy/deploy.py WORK/deploy/deploy.pth '
    '--report WORK/test_fused.json --out WORK/predictions --show-dir '
    'WORK/show --work-dir WORK/logs/test_fused --cfg-options '
    'test_dataloader.dataset.indices=4',
    'python tools/test.py configs/demo/pspnet_repvgg_a0_demo.py '
    'WORK/pspnet_repvgg_a0_demo/iter_4.pth --no-reparam --report '
    'WORK/test_multibranch.json --work-dir WORK/logs/test_multibranch '
    '--cfg-options test_dataloader.dataset.indices=4',
    'python tools/test.py configs/demo/pspnet_repvgg_a0_demo_scratch.py '
    'WORK/pspnet_repvgg_a0_demo_scratch/iter_4.pth --report '
    'WORK/test_scratch.json --work-dir WORK/logs/test_scratch '
    '--cfg-options test_dataloader.dataset.indices=4',
    'python tools/test.py configs/demo/pspnet_r18_demo.py '
    'WORK/pspnet_r18_demo/iter_4.pth --report WORK/test_r18.json '
    '--work-dir WORK/logs/test_r18 '
    '--cfg-options test_dataloader.dataset.indices=4',
    'python tools/analysis_tools/benchmark.py '
    'configs/demo/pspnet_repvgg_a0_demo.py '
    'WORK/pspnet_repvgg_a0_demo/iter_4.pth --modes unfused fused '
    'fused+onnx fused+psp+s2b+ncnn '
    '--baselines configs/demo/pspnet_r18_demo.py --shape 128 256 '
    '--batch-size 1 --reference pspnet_repvgg_a0_demo:unfused --repeat 2 '
    '--warmup 1 --json WORK/benchmark.json',
]
QUICK_TEST_OPTIONS = ' --cfg-options test_dataloader.dataset.indices=4'
QUICK_COMMANDS = in_plan_order(
    QUICK_LINES[:4], QUICK_LINES[4:7], QUICK_LINES[10:14], QUICK_LINES[7:10],
    QUICK_LINES[14:15], QUICK_LINES[15], [
        quantize_commands(model, f'WORK/{config}/iter_4.pth', 2,
                          QUICK_TEST_OPTIONS)
        for model, (_, config) in enumerate(QUANTIZED)])
FULL_LINES = QUICK_LINES[:4] + [
    'python tools/train.py configs/demo/repvgg_a0_demo_cls.py',
    'python tools/train.py configs/demo/pspnet_repvgg_a0_demo.py',
    'python tools/train.py configs/demo/pspnet_repvgg_a0_demo_scratch.py',
    'python tools/train.py configs/demo/qarepvgg_a0_demo_cls.py',
    'python tools/train.py configs/demo/pspnet_qarepvgg_a0_demo.py',
    'python tools/train.py configs/demo/pspnet_r18_demo.py',
    'python tools/deploy.py configs/demo/pspnet_repvgg_a0_demo.py '
    'work_dirs/pspnet_repvgg_a0_demo/iter_300.pth WORK/deploy --shape 128 '
    '256 --onnx',
    'python tools/test.py WORK/deploy/deploy.py WORK/deploy/deploy.pth '
    '--report WORK/test_fused.json --out WORK/predictions --show-dir '
    'WORK/show --work-dir WORK/logs/test_fused',
    'python tools/test.py configs/demo/pspnet_repvgg_a0_demo.py '
    'work_dirs/pspnet_repvgg_a0_demo/iter_300.pth --no-reparam --report '
    'WORK/test_multibranch.json --work-dir WORK/logs/test_multibranch',
    'python tools/test.py configs/demo/pspnet_repvgg_a0_demo_scratch.py '
    'work_dirs/pspnet_repvgg_a0_demo_scratch/iter_300.pth --report '
    'WORK/test_scratch.json --work-dir WORK/logs/test_scratch',
    'python tools/test.py configs/demo/pspnet_r18_demo.py '
    'work_dirs/pspnet_r18_demo/iter_300.pth --report WORK/test_r18.json '
    '--work-dir WORK/logs/test_r18',
    'python tools/analysis_tools/benchmark.py '
    'configs/demo/pspnet_repvgg_a0_demo.py '
    'work_dirs/pspnet_repvgg_a0_demo/iter_300.pth --modes unfused fused '
    'fused+onnx fused+psp+s2b+ncnn '
    '--baselines configs/demo/pspnet_r18_demo.py --shape 128 256 '
    '--batch-size 1 --reference pspnet_repvgg_a0_demo:unfused --json '
    'WORK/benchmark.json',
]
FULL_COMMANDS = in_plan_order(
    FULL_LINES[:4], FULL_LINES[4:7], FULL_LINES[10:14], FULL_LINES[7:10],
    FULL_LINES[14:15], FULL_LINES[15], [
        quantize_commands(model, f'work_dirs/{config}/iter_300.pth', 16)
        for model, (_, config) in enumerate(QUANTIZED)])


def test_final_checkpoints_follow_the_configs(tmp_path):
    """The full schedule's final checkpoints are named from the configs'
    schedules (epoch_<max_epochs>.pth, iter_<max_iters>.pth), in the
    configs' work dirs; the quick one's from its cut."""
    schedule = Demo(REPO, tmp_path / 'demo').schedule
    work_dirs = REPO / 'work_dirs'
    assert schedule.cls_checkpoint == \
        work_dirs / 'repvgg_a0_demo_cls/epoch_24.pth'
    assert schedule.qa_cls_checkpoint == \
        work_dirs / 'qarepvgg_a0_demo_cls/epoch_24.pth'
    assert schedule.scratch_checkpoint == \
        work_dirs / 'pspnet_repvgg_a0_demo_scratch/iter_300.pth'
    assert schedule.r18_checkpoint == \
        work_dirs / 'pspnet_r18_demo/iter_300.pth'
    # The segmentation config starts from the classifier's final one.
    config = Config.fromfile(
        str(REPO / 'configs/demo/pspnet_repvgg_a0_demo.py'),
        import_custom_modules=False)
    assert REPO / config.pretrained_checkpoint == schedule.cls_checkpoint
    quick = Demo(REPO, tmp_path / 'quick', quick=True).schedule
    assert quick.r18_checkpoint == \
        tmp_path / 'quick/pspnet_r18_demo/iter_4.pth'
    assert set(quick.train_work_dirs()) >= {
        tmp_path / 'quick/pspnet_repvgg_a0_demo_scratch',
        tmp_path / 'quick/pspnet_r18_demo'}


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


def test_inference_steps_and_their_outputs(tmp_path):
    """The deploy step also exports ONNX (the infer steps use it); the infer
    steps are finished by their JSON (and the overlay video), which the
    report reads."""
    work_dir = tmp_path / 'demo'
    demo = Demo(REPO, work_dir, quick=True)
    steps = {step.name: step for step in demo.steps}
    assert steps['fuse the trained model (deploy)'].outputs == [
        work_dir / 'deploy/deploy.json', work_dir / 'deploy/deploy.onnx']
    overlay = work_dir / 'infer_video/demo_street_overlay.mp4'
    assert steps['segment the street video (infer)'].outputs == [
        work_dir / 'infer_video.json', overlay]
    assert steps['segment the val images (infer)'].outputs == [
        work_dir / 'infer_val.json']
    assert steps['make the demo street video'].outputs == [
        REPO / 'data/demo_street.mp4']
    assert not steps['make the demo street video'].invalidates_later
    assert steps['quantize PSPNet-QARepVGG-A0 (INT8)'].outputs == [
        work_dir / 'quantize/qarepvgg_a0/quantize.json',
        work_dir / 'quantize/qarepvgg_a0/deploy.int8.onnx']
    assert steps['evaluate PSPNet-RepVGG-A0 INT8 (ONNX)'].outputs == [
        work_dir / 'quantize/repvgg_a0_test_int8.json']
    assert steps['time PSPNet-QARepVGG-A0 FP32 on the val images '
                 '(infer)'].outputs == [
        work_dir / 'quantize/qarepvgg_a0_infer_fp32.json']
    inputs = demo.report_inputs({})
    assert inputs.quantization == {
        label: QuantizationFiles(
            work_dir / f'quantize/{key}/quantize.json',
            *(work_dir / f'quantize/{key}_{name}.json' for name in (
                'test_fp32', 'test_int8', 'infer_fp32', 'infer_int8')))
        for label, key in (('RepVGG-A0', 'repvgg_a0'),
                           ('QARepVGG-A0', 'qarepvgg_a0'))}
    assert inputs.image_inference == work_dir / 'infer_val.json'
    assert inputs.video_inference == work_dir / 'infer_video.json'
    assert inputs.overlay_video == overlay


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
    for train_dir in (demo.schedule.cls_work_dir,
                      demo.schedule.qa_seg_work_dir,
                      demo.schedule.r18_work_dir):
        (train_dir / 'old.pth').parent.mkdir(parents=True)
        (train_dir / 'old.pth').touch()
    demo.prepare_work_dir(restart=True)
    assert sorted(p.name for p in fresh.iterdir()) == [MARKER]


# ---------------------------------------------------------- dependencies
ALLOWED_IN_DEMO = ('repseg.datasets', 'repseg.results', 'repseg.equivalence',
                   'repseg.fileio')


def test_dependencies_point_one_way():
    """repseg.demo sits on top: it imports only the parts of repseg it
    needs, and nothing else in repseg imports it."""
    package = REPO / 'repseg'
    imports = re.compile(r'^\s*(?:from|import)\s+([\w.]+)', re.M)
    for path in package.rglob('*.py'):
        names = imports.findall(path.read_text())
        if path.is_relative_to(package / 'demo'):
            outside = [name for name in names if name.startswith('repseg')
                       and not name.startswith(ALLOWED_IN_DEMO)]
            assert not outside, (path, outside)
        else:
            assert not [name for name in names if 'demo' in name], path
