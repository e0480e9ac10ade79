"""tools/run_demo.py --quick end to end, run as a user runs it (a
subprocess), then run again to check that it reuses the finished steps.

The slowest test module: it trains (PSPNet-RepVGG-A0 pretrained and from
scratch, PSPNet-R-18 and the QARepVGG-A0 pair), deploys, evaluates,
benchmarks and quantizes on cut schedules, and its first run also makes the
demo datasets in data/ when they are missing. The report's parts and the
step scheduler have fast tests of their own (test_demo_report.py,
test_results.py).
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from repseg.demo.models import MODELS
from repseg.demo.pipeline import BENCHMARK_MODES, Demo
from repseg.demo.report import MIOU_TOLERANCE
from repseg.equivalence import TOLERANCE

REPO = Path(__file__).resolve().parents[1]
STEP_COUNT = len(Demo(REPO, quick=True).steps)
QUANTIZED = [(model.name, model.key) for model in MODELS if model.quantized]
COMPARED = [model for model in MODELS if model.compared]


def run_demo(*args, timeout=900):
    """``python tools/run_demo.py ARGS`` from the repository root; returns
    the completed process (output captured) and its wall time."""
    start = time.monotonic()
    command = [sys.executable, 'tools/run_demo.py', *map(str, args)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    return done, time.monotonic() - start


def assert_succeeded(done):
    assert done.returncode == 0, (
        f'run_demo.py exited with {done.returncode}\n--- stdout (end)\n'
        f'{done.stdout[-4000:]}\n--- stderr (end)\n{done.stderr[-4000:]}')


@pytest.fixture(scope='module')
def quick_demo(tmp_path_factory):
    """A quick demo run, and a second run on the same work dir."""
    work_dir = tmp_path_factory.mktemp('run_demo') / 'demo'
    first, _ = run_demo('--quick', '--work-dir', work_dir)
    assert_succeeded(first)
    second, second_seconds = run_demo('--quick', '--work-dir', work_dir)
    return dict(work_dir=work_dir, first=first, second=second,
                second_seconds=second_seconds,
                report=json.loads((work_dir / 'report.json').read_text()),
                markdown=(work_dir / 'report.md').read_text())


def test_report_is_written_and_announced(quick_demo):
    work_dir = quick_demo['work_dir']
    assert (work_dir / 'report.md').is_file()
    assert (work_dir / 'report.json').is_file()
    assert f"report: {work_dir / 'report.md'}" in quick_demo['first'].stdout
    assert quick_demo['report']['quick'] is True
    # Every step ran the first time, each as a tool's own command line.
    for tool in ('train.py', 'deploy.py', 'test.py',
                 'analysis_tools/benchmark.py', 'infer.py', 'quantize.py'):
        assert f'python tools/{tool}' in quick_demo['first'].stdout


def test_fused_and_multibranch_miou_agree(quick_demo):
    work_dir, report = quick_demo['work_dir'], quick_demo['report']
    fused = json.loads((work_dir / 'test_fused.json').read_text())
    multi = json.loads((work_dir / 'test_multibranch.json').read_text())
    assert fused['fused'] is True and multi['fused'] is False
    assert abs(fused['mIoU'] - multi['mIoU']) <= MIOU_TOLERANCE
    accuracy = report['accuracy']
    assert accuracy['agree'] is True
    assert accuracy['fused']['mIoU'] == fused['mIoU']
    assert accuracy['multi_branch']['mIoU'] == multi['mIoU']
    assert len(report['per_class_iou']) == 19


def test_equivalence_figure(quick_demo):
    equivalence = quick_demo['report']['equivalence']
    assert 0 <= equivalence['max_rel_diff'] <= TOLERANCE
    assert equivalence['after']['norms'] == 0
    assert equivalence['after']['params'] < equivalence['before']['params']


def test_benchmark_rows(quick_demo):
    rows = quick_demo['report']['benchmark']['rows']
    # Each compared network in every mode.
    networks = {model.network for model in COMPARED}
    assert {(row['name'], row['mode']) for row in rows} == {
        (name, mode) for name in networks for mode in BENCHMARK_MODES}
    for row in rows:
        assert row['latency_ms'] > 0 and row['images_per_s'] > 0


def test_pretraining_and_baseline_comparison(quick_demo):
    """The compared models, evaluated fused, each timed by its network's
    fastest fused row."""
    work_dir, report = quick_demo['work_dir'], quick_demo['report']
    evaluations = [read_json(model.evaluation) for model in
                   Demo(REPO, work_dir, quick=True).models if model.compared]
    rows = report['comparison']
    assert [(row['model'], row['init']) for row in rows] == [
        (model.name, model.init) for model in COMPARED]
    benchmark = report['benchmark']['rows']
    for row, evaluation in zip(rows, evaluations):
        assert evaluation['fused'] is True
        assert row['metrics']['mIoU'] == evaluation['mIoU']
        timed = row['timed_by']
        fused = [other['latency_ms'] for other in benchmark
                 if other['name'] == timed['name']
                 and other['mode'].startswith('fused')]
        assert timed['latency_ms'] == min(fused)
        assert row['latency_ratio'] == round(
            timed['latency_ms'] / rows[0]['timed_by']['latency_ms'], 3)
    assert report['pretraining_gain'] == round(
        evaluations[0]['mIoU'] - evaluations[1]['mIoU'], 4)
    assert all(curve[-1][0] == 4 for curve in
               report['training']['compared_val_miou'].values())


def test_plots_and_samples(quick_demo):
    work_dir = quick_demo['work_dir']
    for name in ('speed_vs_accuracy.png', 'training_curves.png',
                 'samples.png'):
        image = cv2.imread(str(work_dir / name))
        assert image is not None and image.shape[0] > 100, name
        assert f'({name})' in quick_demo['markdown']
    # Three rows of input | ground truth | prediction, 512x256 each.
    samples = cv2.imread(str(work_dir / 'samples.png'))
    assert samples.shape[1] > 3 * 512 and samples.shape[0] > 3 * 256
    assert len(quick_demo['report']['samples']) == 3
    training = quick_demo['report']['training']
    assert training['segmentation']['loss']
    assert training['segmentation']['val_miou'][-1][0] == 4
    assert training['classification']['loss']


def test_inference_on_images_and_video(quick_demo):
    """The deployed ONNX model on the 16 val images and the 25 frames of
    the street video, its FPS in the report, a strip of the overlays."""
    work_dir, report = quick_demo['work_dir'], quick_demo['report']
    assert (work_dir / 'deploy' / 'deploy.onnx').is_file()
    inference = report['inference']
    for key, done in (('images', 16), ('video', 25)):
        row = inference[key]
        assert row['done'] == done and row['failures'] == 0, row
        assert row['backend'] == 'onnxruntime'
        assert row['fps'] > 0 and row['median_latency_ms'] > 0
    assert len(list((work_dir / 'infer_val' / 'overlays').rglob('*.png'))) \
        == 16
    overlay = work_dir / 'infer_video' / 'demo_street_overlay.mp4'
    capture = cv2.VideoCapture(str(overlay))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 25
    capture.release()
    strip = cv2.imread(str(work_dir / 'video_strip.png'))
    assert strip is not None and strip.shape[1] > 4 * 512
    assert len(report['video_strip']['frames']) == 4
    assert '(video_strip.png)' in quick_demo['markdown']


def read_json(path):
    return json.loads(path.read_text())


def test_fp32_int8_table(quick_demo):
    """Both segmentors (the QARepVGG-A0 one trained on the same cut
    schedule) quantized, both ONNX files evaluated and timed: the table's
    figures are those of the tools' files."""
    work_dir, report = quick_demo['work_dir'], quick_demo['report']
    assert (work_dir / 'pspnet_qarepvgg_a0_demo' / 'iter_4.pth').is_file()
    rows = report['quantization']
    assert [row['model'] for row in rows] == [name for name, _ in QUANTIZED]
    for row, (_, key) in zip(rows, QUANTIZED):
        root = work_dir / 'quantize'
        quantized = read_json(root / key / 'quantize.json')
        fp32 = read_json(root / f'{key}_test_fp32.json')
        int8 = read_json(root / f'{key}_test_int8.json')
        fp32_run = read_json(root / f'{key}_infer_fp32.json')
        int8_run = read_json(root / f'{key}_infer_int8.json')
        assert quantized['calibration_images'] == 2
        assert (fp32['backend'], int8['backend']) == ('onnxruntime',) * 2
        assert int8['checkpoint'].endswith('deploy.int8.onnx')
        assert row['fp32_miou'] == fp32['mIoU']
        assert row['int8_miou'] == int8['mIoU']
        assert row['miou_drop'] == round(fp32['mIoU'] - int8['mIoU'], 4)
        assert row['int8_max_rel_diff'] == quantized['int8_max_rel_diff']
        assert row['int8_agreement'] == quantized['int8_agreement']
        assert row['fp32_latency_ms'] == fp32_run['median_latency_ms'] > 0
        assert row['int8_latency_ms'] == int8_run['median_latency_ms'] > 0
        assert fp32_run['done'] == int8_run['done'] == 16


def test_second_run_skips_finished_steps(quick_demo):
    second = quick_demo['second']
    assert_succeeded(second)
    assert second.stdout.count('[run_demo] skip (done):') == STEP_COUNT
    assert 'python tools/train.py' not in second.stdout
    # Only the report is rebuilt: no training, no evaluation.
    assert quick_demo['second_seconds'] < 60


def test_failed_step_names_command_and_status(tmp_path):
    """A checkpoint that is not one: the trainings count as done (their
    outputs exist), and deploy fails; run_demo names the step, the
    command and its exit status."""
    work_dir = tmp_path / 'demo'
    for path in ('repvgg_a0_demo_cls/epoch_1.pth',
                 'pspnet_repvgg_a0_demo/iter_4.pth',
                 'pspnet_repvgg_a0_demo_scratch/iter_4.pth',
                 'pspnet_r18_demo/iter_4.pth'):
        (work_dir / path).parent.mkdir(parents=True)
        (work_dir / path).write_text('not a checkpoint')
    done, _ = run_demo('--quick', '--work-dir', work_dir)
    assert done.returncode != 0
    # The failed step, its command and its exit status are named.
    for named in ('fuse the trained model (deploy)', 'tools/deploy.py',
                  'status 1'):
        assert named in done.stderr
    assert not (work_dir / 'report.md').exists()


def test_refuses_to_clear_or_mix_work_dirs(tmp_path):
    stranger = tmp_path / 'not_a_demo'
    stranger.mkdir()
    (stranger / 'keep.txt').write_text('mine')
    done, _ = run_demo('--quick', '--restart', '--work-dir', stranger)
    assert done.returncode != 0 and str(stranger) in done.stderr
    assert (stranger / 'keep.txt').read_text() == 'mine'

    full = tmp_path / 'full'
    full.mkdir()
    (full / '.run_demo.json').write_text(json.dumps(dict(quick=False)))
    done, _ = run_demo('--quick', '--work-dir', full)
    assert done.returncode != 0 and str(full) in done.stderr


def test_demo_class_weights_are_those_of_the_demo_data(quick_demo):
    """The demo configs' class_weight is what
    tools/analysis_tools/class_weights.py gives on the demo data the run
    made (a changed scene generator must update them)."""
    from mmengine.config import Config

    from repseg.datasets import class_weights
    config = Config.fromfile(
        str(REPO / 'configs/_base_/datasets/demo_cityscapes.py'))
    assert config.class_weight == class_weights(
        REPO / 'data/demo_cityscapes')
