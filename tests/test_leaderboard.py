"""tools/analysis_tools/leaderboard.py and repseg.benchmark.leaderboard:
candidate modes, the Pareto front, one run of two demo models with an
engine that fails, and the files written."""
import dataclasses
import json

import pytest
from helpers import load_tool

import repseg.benchmark.rows as benchmark_rows
import repseg.benchmark.run as benchmark_run
from repseg.benchmark import leaderboard as lb
from repseg.benchmark.modes import ENGINE_RUNTIMES
from repseg.benchmark.published import LEADERBOARD_MODELS, Published

leaderboard_tool = load_tool('analysis_tools/leaderboard')

A0 = Published('Demo-A0', 'configs/demo/pspnet_repvgg_a0_demo.py', 60.0,
               'test', repseg=True)
R18 = Published('Demo-R18', 'configs/demo/pspnet_r18_demo.py', 55.0, 'test')
SHAPE = (64, 128)
FAKE_PEAKS = dict(fp32=1e11)
MODES = ['fused+psp+s2b', 'fused+psp+onnx']

pytestmark = pytest.mark.usefixtures('one_thread')


def test_pareto_front_of_known_points():
    points = [(10, 70), (20, 75), (15, 69), (30, 74), (5, 60), (20, 75),
              (40, 80), (5, 55)]
    # (15, 69) loses to (10, 70); (30, 74) to (20, 75); (5, 55) to (5, 60);
    # the two equal (20, 75) are both kept.
    assert lb.pareto_front(points) == [4, 0, 1, 5, 6]
    assert lb.pareto_front([]) == []
    assert lb.pareto_front([(1.0, 2.0)]) == [0]


def test_modes_keep_only_the_rewrites_that_change_the_model():
    candidates = ['fused+psp+cl', 'fused+psp+onnx', 'fused+psp+s2b+ncnn',
                  'fused+psp+openvino+bf16']
    assert lb.model_modes(candidates, ('psp', 's2b')) == candidates
    assert lb.model_modes(candidates, ('psp', )) == [
        'fused+psp+cl', 'fused+psp+onnx', 'fused+psp+ncnn',
        'fused+psp+openvino+bf16']
    assert lb.model_modes(candidates + ['fused+cl'], ()) == [
        'fused+cl', 'fused+onnx', 'fused+ncnn', 'fused+openvino+bf16']


def test_candidates_are_autos_in_the_native_precisions(monkeypatch):
    """Without bf16 units a bf16 request is skipped, and said so."""
    from repseg.results import ProcessorInfo
    avx2 = ProcessorInfo('test CPU', ['AVX2'], 'test')
    monkeypatch.setattr(lb, 'detect_processor', lambda: avx2)
    seen = {}

    def fake_benchmark(specs, modes, **kwargs):
        seen.update(modes)
        raise benchmark_run.NoRowBuilt({})

    monkeypatch.setattr(lb, 'benchmark', fake_benchmark)
    entries, runs = lb.run_leaderboard([R18], [SHAPE],
                                       precisions=('fp32', 'bf16'))
    assert [e.precision for e in entries] == ['fp32']
    assert runs['64x128']['skipped_precisions'] == ['bf16']
    from repseg.benchmark.auto import candidate_modes
    assert seen['Demo-R18'] == lb.model_modes(candidate_modes(avx2),
                                              ('psp', ))


def test_rewrites_are_those_that_change_the_model():
    """The demo A0's dilated RepVGG stage takes s2b; the R-18's dilated
    BasicBlocks do not (s2b would be a no-op), the PSP head takes psp."""
    from repseg.benchmark import model_from_config
    a0 = model_from_config(A0.config).model
    r18 = model_from_config(R18.config).model
    assert lb.model_rewrites(a0) == ('psp', 's2b')
    assert lb.model_rewrites(r18) == ('psp', )
    assert lb.model_rewrites(r18.backbone) == ()


def test_models_shapes_and_labels_are_checked():
    assert len({m.label for m in LEADERBOARD_MODELS}) == len(
        LEADERBOARD_MODELS)
    assert [m.label for m in lb.select_models(['STDC1', 'PIDNet-S'])] == [
        'STDC1', 'PIDNet-S']  # in the table's order
    with pytest.raises(lb.LeaderboardError, match="'Nope'"):
        lb.select_models(['PIDNet-S', 'Nope'])
    assert lb.parse_shape('512x1024') == (512, 1024)
    with pytest.raises(lb.LeaderboardError, match="'512'"):
        lb.parse_shape('512')
    with pytest.raises(SystemExit):
        leaderboard_tool.parse_args(['--out', 'x', '--shapes', '0x4'])
    with pytest.raises(lb.LeaderboardError, match='fp16'):
        lb.run_leaderboard([A0], [SHAPE], precisions=['fp16'])
    with pytest.raises(SystemExit):  # one or the other
        leaderboard_tool.parse_args(['--out', 'x', '--precisions', 'bf16',
                                     '--modes', 'fused'])


@pytest.fixture
def failing_onnx_for_r18(monkeypatch):
    """ONNX export fails for Demo-R18 the way an exporter refuses an op;
    the peak rates are fixed (their measurement is not what is tested)."""
    engine = ENGINE_RUNTIMES['onnx']

    def export(module, inputs, path):
        if 'Demo-R18' in path:
            raise RuntimeError('Exporting the operator aten::fake_op to '
                               'ONNX opset version 17 is not supported.')
        return engine.module_exporter(module, inputs, path)

    monkeypatch.setitem(ENGINE_RUNTIMES, 'onnx',
                        dataclasses.replace(engine, module_exporter=export))
    monkeypatch.setattr(benchmark_run, 'peak_rates',
                        lambda device='cpu': dict(FAKE_PEAKS))


def test_leaderboard_ranks_writes_and_reports_failures(failing_onnx_for_r18,
                                                       tmp_path):
    entries, runs = lb.run_leaderboard([A0, R18], [SHAPE], repeat=1,
                                       warmup=0, modes=MODES)
    a0, r18 = entries
    assert (a0.label, r18.label) == ('Demo-A0', 'Demo-R18')
    for entry in entries:
        assert entry.measured and entry.median_ms > 0 and entry.fps > 0
        assert entry.params > 0 and entry.macs > 0
        assert entry.shape == SHAPE and entry.precision == 'fp32'
    assert a0.modes == MODES and a0.failures == {}
    assert a0.engine == {'fused+psp+s2b': 'pytorch',
                         'fused+psp+onnx': 'onnxruntime'}[a0.mode]
    # s2b changes nothing in R-18: its modes go without it. The failing
    # engine: R18 keeps its eager row, the ONNX mode its reason.
    assert r18.modes == ['fused+psp', 'fused+psp+onnx']
    assert (r18.mode, r18.engine) == ('fused+psp', 'pytorch')
    assert list(r18.failures) == ['fused+psp+onnx']
    assert 'aten::fake_op' in r18.failures['fused+psp+onnx']
    assert runs['64x128']['failures'] == {
        'Demo-R18:fused+psp+onnx': r18.failures['fused+psp+onnx']}
    expected = lb.pareto_front([(e.median_ms, e.miou) for e in entries])
    assert [i for i, e in enumerate(entries) if e.pareto] == sorted(expected)

    paths = lb.write_leaderboard(entries, runs, tmp_path / 'out')
    assert all(path.stat().st_size > 0 for path in paths.values())
    assert paths['plot'].read_bytes()[:4] == b'\x89PNG'
    data = json.loads(paths['json'].read_text())
    assert [e['label'] for e in data['entries']] == ['Demo-A0', 'Demo-R18']
    assert data['entries'][0]['median_ms'] == a0.median_ms
    table = paths['markdown'].read_text()
    assert '| model | mIoU |' in table and 'aten::fake_op' in table
    assert not list((tmp_path / 'out').glob('.*'))  # no temporary left


def test_cli_reports_a_model_without_any_row(failing_onnx_for_r18, tmp_path,
                                             monkeypatch, capsys):
    """Every mode of a model fails: it is listed with its reasons, without
    a latency, and the run goes on."""
    monkeypatch.setattr(leaderboard_tool, 'select_models',
                        lambda labels: [R18])
    out = tmp_path / 'cli'
    leaderboard_tool.main(['--out', str(out), '--shapes', '64x128',
                           '--repeat', '1', '--warmup', '0', '--models',
                           'Demo-R18', '--modes', 'fused+psp+onnx'])
    data = json.loads((out / 'leaderboard.json').read_text())
    (entry, ) = data['entries']
    assert entry['median_ms'] is None and entry['pareto'] is False
    assert 'aten::fake_op' in entry['failures']['fused+psp+onnx']
    assert entry['modes'] == ['fused+psp+onnx']
    assert (out / 'leaderboard.png').exists()
    assert '| Demo-R18 | 55.00 | test |' in capsys.readouterr().out


def test_reduced_precision_agreement_is_recorded_not_required(monkeypatch):
    """Random weights: a bf16 row picking the fp32 class at half the
    positions is ranked, its agreement recorded; the benchmark's own bound
    (``min_agreement=None``) refuses it."""
    monkeypatch.setattr(benchmark_run, 'peak_rates',
                        lambda device='cpu': dict(FAKE_PEAKS))
    monkeypatch.setattr(benchmark_rows, 'argmax_agreement',
                        lambda outputs, reference: 0.5)
    (entry, ), _ = lb.run_leaderboard([A0], [SHAPE], repeat=1, warmup=0,
                                      modes=['fused+psp+bf16'])
    assert entry.precision == 'bf16' and entry.measured
    assert entry.argmax_agreement == 0.5
    (entry, ), _ = lb.run_leaderboard([A0], [SHAPE], repeat=1, warmup=0,
                                      modes=['fused+psp+bf16'],
                                      min_agreement=None)
    assert not entry.measured
    assert 'refused' in entry.failures['fused+psp+bf16']
