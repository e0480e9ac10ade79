"""tools/analysis_tools/benchmark.py, repseg.benchmark and repseg.rewrites:
rows, their interleaved timing, the output check, the exact rewrites, and
errors."""
import copy
import dataclasses
import json
import re

import pytest
import torch
from conftest import TINY_ARCH, write_tiny_seg_config
from helpers import load_tool, max_rel_diff, randomize_bn
from mmseg.models.backbones import ResNet
from mmseg.models.decode_heads import PSPHead

import repseg.benchmark as benchmark
import repseg.benchmark.rows as benchmark_rows
from repseg.benchmark import (BenchmarkError, Mode, Row, RowBuilder,
                              build_rows, find_row, model_from_arch,
                              parse_mode, summarize, time_rows)
from repseg.equivalence import OutputMismatch
from repseg.results import BenchmarkReport
from repseg.models.fusion import find_conv_bn_pairs, fold_conv_bn_pairs
from repseg.rewrites import (FactorizedPSPHead, WinogradConv2d,
                             factorize_psp_heads, use_winograd)

benchmark_tool = load_tool('analysis_tools/benchmark')
R18_DEMO = 'configs/demo/pspnet_r18_demo.py'


# Tiny models: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('benchmark')
    return write_tiny_seg_config(tmp / 'tiny_pspnet.py', tmp)


def tiny_builder(workdir, batch=2, size=(32, 32), **kwargs):
    torch.manual_seed(0)
    return RowBuilder(torch.randn(batch, 3, *size), str(workdir), **kwargs)


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize('text, form, options, runtime, name', [
    ('multi-branch', 'multi-branch', (), 'eager', 'multi-branch'),
    ('unfused', 'multi-branch', (), 'eager', 'multi-branch'),  # old spelling
    ('fused+cl', 'fused', ('cl', ), 'eager', 'fused+cl'),
    ('fused+jit+cl+wino4', 'fused', ('wino4', 'cl'), 'jit',
     'fused+wino4+cl+jit'),
    ('onnx', 'fused', (), 'onnx', 'fused+onnx'),
    ('fused+openvino+psp', 'fused', ('psp', ), 'openvino',
     'fused+psp+openvino'),
    ('unfused+psp+compile', 'multi-branch', ('psp', ), 'compile',
     'multi-branch+psp+compile'),
    ('fast', 'fused', ('psp', 's2b'), 'ncnn', 'fused+psp+s2b+ncnn'),
])
def test_parse_mode(text, form, options, runtime, name):
    mode = parse_mode(text)
    assert (mode.form, mode.options, mode.runtime) == (form, options, runtime)
    assert mode.name == name and mode.precision == 'fp32'
    assert parse_mode(name) == mode
    assert parse_mode('fast') == parse_mode(benchmark.FAST_MODE)


@pytest.mark.parametrize('text, options, runtime, name', [
    ('fused+cl+bf16', ('cl', ), 'eager', 'fused+cl+bf16'),
    ('fused+bf16+cl', ('cl', ), 'eager', 'fused+cl+bf16'),
    ('compile+bf16', (), 'compile', 'fused+compile+bf16'),
    ('fused+bf16+psp+openvino', ('psp', ), 'openvino',
     'fused+psp+openvino+bf16'),
    ('openvino+bf16', (), 'openvino', 'fused+openvino+bf16'),
])
def test_parse_bf16_modes(text, options, runtime, name):
    mode = parse_mode(text)
    assert (mode.options, mode.runtime, mode.precision) == (options, runtime,
                                                            'bf16')
    assert mode.name == name and parse_mode(name) == mode
    assert parse_mode(name.replace('+bf16', '')).precision == 'fp32'


@pytest.mark.parametrize('text', [
    'fused+jit+bf16', 'onnx+bf16', 'fused+cl+ncnn+bf16'])
def test_bf16_is_refused_where_the_runtime_does_not_compute_in_it(text):
    with pytest.raises(BenchmarkError, match=re.escape(f'mode {text!r}')):
        parse_mode(text)


@pytest.mark.parametrize('text, message', [
    ('fusd', "starts with 'fusd'"), ('fused+xla', 'unknown option'),
    ('fused+jit+onnx', 'at most one runtime'), ('fused+cl+cl', 'repeated'),
    ('fused+wino2+wino4', 'not both')])
def test_parse_mode_errors(text, message):
    with pytest.raises(BenchmarkError, match=message):
        parse_mode(text)


# --------------------------------------------------------------- timing


def recording_rows(calls, count=3):
    def runner(name):
        return lambda: calls.append(name)
    return [Row(f'm{i}', Mode('fused'), runner(f'm{i}'), 1)
            for i in range(count)]


def test_rows_are_timed_interleaved_from_a_rotating_start():
    calls = []
    rows = recording_rows(calls)
    time_rows(rows, repeat=3, warmup=1)
    # Each round runs every row once; round r starts at row r mod 3.
    assert calls == ['m0', 'm1', 'm2', 'm1', 'm2', 'm0',
                     'm2', 'm0', 'm1', 'm0', 'm1', 'm2']
    assert all(len(row.times) == 3 for row in rows)
    for row, seconds in zip(rows, (0.2, 0.1, 0.4)):
        row.times = [seconds, seconds, 2 * seconds]
        row.max_rel_diff = 0.0
    names = [row.name for row in rows]
    assert find_row(names, 'm1:fused') == 'm1:fused'
    assert find_row(names, None) == 'm0:fused'
    results = summarize(rows, 'm1:fused')
    assert [r.speedup for r in results] == pytest.approx([0.5, 1, 0.25])
    assert results[0].images_per_s == pytest.approx(5)
    assert results[0].q1_ms <= results[0].median_ms <= results[0].q3_ms \
        <= results[0].max_ms
    with pytest.raises(BenchmarkError, match='names 3 rows'):
        find_row(names, 'fused')


# ------------------------------------------------------------ the check


def test_rows_match_the_fused_model_and_a_wrong_row_is_refused(monkeypatch,
                                                               tmp_path):
    spec = model_from_arch(dict(TINY_ARCH))
    rows = build_rows([spec], ['multi-branch', 'fused', 'fused+cl'],
                      tiny_builder(tmp_path))
    assert [r.name for r in rows] == [
        'RepVGG-custom:multi-branch', 'RepVGG-custom:fused',
        'RepVGG-custom:fused+cl']
    assert rows[1].max_rel_diff == 0
    assert all(r.max_rel_diff <= 1e-5 for r in rows)
    assert len(rows[0].run()) == 4  # the four stage outputs

    def wrong_channels_last(model):  # a "fast path" that changes a weight
        conv = next(m for m in model.modules()
                    if isinstance(m, torch.nn.Conv2d))
        conv.weight.data.mul_(1.01)
        return model.to(memory_format=torch.channels_last)

    monkeypatch.setattr(benchmark_rows, 'to_channels_last',
                        wrong_channels_last)
    with pytest.raises(OutputMismatch, match='RepVGG-custom:fused[+]cl'):
        build_rows([spec], ['fused', 'fused+cl'], tiny_builder(tmp_path))


def test_a_wrong_fold_is_caught_against_the_multi_branch_model(monkeypatch,
                                                               tmp_path):
    spec = model_from_arch(dict(TINY_ARCH))

    def wrong_fold(model, example):
        fused, form = inference_form(model, example)
        fused.stem.branch_reparam.bias.data.add_(1.0)
        return fused, form

    inference_form = benchmark_rows.to_inference_form
    monkeypatch.setattr(benchmark_rows, 'to_inference_form', wrong_fold)
    with pytest.raises(OutputMismatch, match='fused model differs'):
        build_rows([spec], ['fused'], tiny_builder(tmp_path))


# --------------------------------------------------- the exact rewrites


@torch.no_grad()
def test_fold_conv_bn_pairs_folds_resnet_by_data_flow():
    model = randomize_bn(ResNet(18, strides=(1, 2, 2, 1),
                                dilations=(1, 1, 1, 2)))
    model.eval()  # mmseg's ResNet.train() returns None
    x = torch.randn(1, 3, 64, 64)
    expected = model(x)
    pairs = find_conv_bn_pairs(model, lambda m: m(x[:, :, :32, :32]))
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(pairs) == len(norms) == 20  # every BN of ResNet-18
    assert ('conv1', 'bn1') in pairs
    assert fold_conv_bn_pairs(model, lambda m: m(x[:, :, :32, :32])) == pairs
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in model.modules())
    for out, ref in zip(model(x), expected):
        assert max_rel_diff(out, ref) <= 1e-5


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('folded', [False, True])
@torch.no_grad()
def test_factorized_psp_head_is_the_same_function(align_corners, folded):
    torch.manual_seed(0)
    head = PSPHead(in_channels=32, channels=8, num_classes=5,
                   norm_cfg=dict(type='BN'), align_corners=align_corners)
    head = randomize_bn(head).eval()
    inputs = [torch.randn(2, 32, 13, 21)]  # sizes not divisible by the bins
    if folded:
        assert len(fold_conv_bn_pairs(head, lambda h: h(inputs))) == 5
    expected = head(inputs)
    factorized = FactorizedPSPHead(copy.deepcopy(head)).eval()
    assert max_rel_diff(factorized(inputs), expected) <= 1e-5
    # The 3x3 conv over the pyramid channels is gone.
    assert factorized.context_conv.in_channels == 32
    metas = [dict(img_shape=(26, 42))] * 2
    assert factorized.predict(inputs, metas, None).shape == (2, 5, 26, 42)

    holder = torch.nn.Module()
    holder.decode_head = copy.deepcopy(head)
    assert factorize_psp_heads(holder) == 1
    assert isinstance(holder.decode_head, FactorizedPSPHead)


@pytest.mark.parametrize('channels, groups, dilation, size', [
    ((8, 8), 1, 1, (6, 10)), ((8, 16), 2, 1, (7, 9)),  # odd: cropped tiles
    ((8, 8), 1, 2, (12, 8)), ((8, 8), 4, 4, (16, 16)),
    ((6, 6), 1, 2, (7, 8)),  # dilation does not divide the size: direct
    ((4, 4), 1, 1, (1, 1))])
@pytest.mark.parametrize('tile', [2, 4])
@torch.no_grad()
def test_winograd_conv_is_the_same_function(channels, groups, dilation, size,
                                            tile):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(*channels, 3, padding=dilation, dilation=dilation,
                           groups=groups)
    x = torch.randn(2, channels[0], *size)
    assert max_rel_diff(WinogradConv2d(conv, tile)(x), conv(x)) <= 1e-5


def test_use_winograd_takes_3x3_stride_1_size_preserving_convs_only():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(4, 4, 3, padding=1),
        torch.nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2),
        torch.nn.Conv2d(4, 4, 3, stride=2, padding=1),
        torch.nn.Conv2d(4, 4, 1), torch.nn.Conv2d(4, 4, 3))
    assert use_winograd(model) == 2
    assert [type(m).__name__ for m in model] == [
        'WinogradConv2d', 'WinogradConv2d', 'Conv2d', 'Conv2d', 'Conv2d']


# ---------------------------------------------------------- the tool


def test_tool_writes_the_json_with_a_baseline(tiny_config, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    benchmark_tool.main([
        str(tiny_config), '--shape', '64', '96', '--batch-size', '2',
        '--modes', 'multi-branch', 'fused', 'fused+psp+wino2+cl',
        '--baselines', R18_DEMO, '--repeat', '3', '--warmup', '1',
        '--reference', 'tiny_pspnet:unfused', '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'threads: ' in printed and 'speed-up' in printed
    report = json.loads(out.read_text())
    assert report['reference'] == 'tiny_pspnet:multi-branch'
    assert report['environment']['input_shape'] == [2, 3, 64, 96]
    assert report['environment']['threads'] == torch.get_num_threads()
    names = [r['row'] for r in report['rows']]
    assert names == [f'{model}:{mode}'
                     for model in ('tiny_pspnet', 'pspnet_r18_demo')
                     for mode in ('multi-branch', 'fused',
                                  'fused+psp+wino2+cl')]
    for row in report['rows']:
        assert row['repeats'] == 3 and len(row['latencies_ms']) == 3
        assert row['median_ms'] > 0 and row['images_per_s'] > 0
        assert 0 <= row['max_rel_diff'] <= 1e-4
        assert row['peak_memory_mib'] is None or row['peak_memory_mib'] >= 0
        assert row['row'] in printed
    assert report['rows'][0]['speedup'] == 1.0
    assert not list(tmp_path.glob('.bench.tmp*'))


def test_tool_times_a_classifier_config(tmp_path):
    config = tmp_path / 'tiny_cls.py'
    config.write_text(
        "model = dict(type='RepVGGClassifier', num_classes=10, backbone=dict("
        f"type='RepVGG', arch={TINY_ARCH!r}, out_indices=(3, )))\n")
    out = tmp_path / 'cls.json'
    benchmark_tool.main([str(config), '--shape', '32', '32', '--modes',
                         'fused', 'unfused', '--repeat', '2', '--json',
                         str(out)])
    rows = json.loads(out.read_text())['rows']
    assert [r['mode'] for r in rows] == ['fused', 'multi-branch']


@pytest.mark.parametrize('engine, packages', [
    ('onnx', ['onnxruntime']), ('ncnn', ['ncnn', 'pnnx']),
    ('openvino', ['openvino', 'onnxscript'])])
def test_engine_rows(tiny_config, engine, packages, tmp_path):
    for package in packages:
        pytest.importorskip(package)
    spec = benchmark.model_from_config(str(tiny_config))
    rows = build_rows([spec], ['fused', engine, f'fused+psp+{engine}'],
                      tiny_builder(tmp_path, batch=2, size=(64, 64)))
    assert [r.name for r in rows[1:]] == [f'tiny_pspnet:fused+{engine}',
                                          f'tiny_pspnet:fused+psp+{engine}']
    assert all(r.max_rel_diff <= 1e-4 for r in rows[1:])


def test_engine_rows_follow_the_engine_description(monkeypatch, tmp_path):
    """An engine row is what its ``Engine`` says: the module exporter
    writes a file with the backend's suffix, the backend runs it, and the
    multiplications are counted under the engine's Winograd tile."""
    import dataclasses
    from repseg.backends import Backend
    from repseg.benchmark.modes import ENGINE_RUNTIMES
    exported = {}

    class ModuleBackend(Backend):  # runs the module the exporter kept
        name, suffix = 'module', '.module'

        def __call__(self, inputs):
            return exported[self.path](inputs)

    def export_module(module, inputs, path):
        exported[path] = module
        open(path, 'w').close()

    engine = dataclasses.replace(ENGINE_RUNTIMES['onnx'],
                                 backend=ModuleBackend,
                                 module_exporter=export_module,
                                 winograd_tile=lambda conv: 2)
    monkeypatch.setitem(ENGINE_RUNTIMES, 'onnx', engine)
    spec = model_from_arch(dict(TINY_ARCH))
    rows = build_rows([spec], ['fused', 'fused+wino2', 'onnx'],
                      tiny_builder(tmp_path))
    assert parse_mode('onnx').engine is engine
    assert [path[len(str(tmp_path)):] for path in exported] == [
        '/RepVGG-custom_fused_onnx.module']
    assert rows[2].max_rel_diff == 0
    direct, wino2, in_engine = (r.multiplications for r in rows)
    assert in_engine == wino2 < direct


@pytest.mark.parametrize('argv, message', [
    (['missing_config.py'], "config 'missing_config.py' does not exist"),
    (['{config}', 'missing.pth'], 'missing.pth is not a checkpoint file'),
    (['--arch', 'Z9'], "arch 'Z9' is not a RepVGG variant"),
    (['{config}', '--baselines', 'mmseg::nowhere/none.py'],
     "config 'mmseg::nowhere/none.py'"),
    (['{config}', '--modes', 'fused', '--reference', 'nope'],
     "--reference 'nope' names 0 rows"),
    (['{config}', '--modes', 'fused+psp', '--reference', 'fused+psp',
      '--baselines', '{r18}'], "--reference 'fused[+]psp' names 2 rows"),
])
def test_tool_errors_name_what_is_wrong(tiny_config, argv, message):
    argv = [a.format(config=tiny_config, r18=R18_DEMO) for a in argv]
    with pytest.raises(SystemExit, match=message):
        benchmark_tool.main(argv + ['--shape', '64', '64'])


def test_tool_rejects_bad_modes_and_forms(tiny_config, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        benchmark_tool.main([str(tiny_config), '--modes', 'fused+warp'])
    assert exit_info.value.code == 2
    assert ("argument --modes: mode 'fused+warp': unknown option"
            in capsys.readouterr().err)
    deployed = tmp_path / 'deployed.py'
    deployed.write_text(f"_base_ = {str(tiny_config)!r}\n"
                        "model = dict(backbone=dict(deploy=True))\n")
    with pytest.raises(SystemExit, match='already fused'):
        benchmark_tool.main([str(deployed), '--modes', 'multi-branch'])
    with pytest.raises(SystemExit, match='--fp16 needs --device cuda'):
        benchmark_tool.main(['--arch', 'A0', '--modes', 'fused', '--fp16'])
    with pytest.raises(SystemExit, match='onnx runtime is benchmarked on the'):
        benchmark_tool.main(['--arch', 'A0', '--modes', 'onnx', '--fp16'])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        benchmark_tool.main([])
    assert 'give either CONFIG or --arch' in capsys.readouterr().err


def test_ncnn_winograd_tile_follows_its_x86_selection():
    from repseg.backends.ncnn import winograd_tile
    from repseg.engines import ENGINES
    assert ENGINES['ncnn'].winograd_tile is winograd_tile
    assert winograd_tile(torch.nn.Conv2d(32, 32, 3, padding=1)) == 6
    assert winograd_tile(torch.nn.Conv2d(64, 32, 3, padding=1)) == 4
    assert winograd_tile(torch.nn.Conv2d(128, 128, 3, padding=1,
                                         groups=4)) == 6  # 32 per group
    assert winograd_tile(torch.nn.Conv2d(8, 8, 3, padding=1)) is None
    assert winograd_tile(torch.nn.Conv2d(64, 64, 3, padding=2,
                                         dilation=2)) is None
    assert winograd_tile(torch.nn.Conv2d(64, 64, 3, 2, padding=1)) is None


def test_released_rows_are_loaded_again_for_each_call(tmp_path):
    """Not resident: eager rows are released once checked and loaded for
    each call (round by round, in the interleaved order), giving the
    outputs they were checked with; a jit row, which tracing again would
    dominate, stays loaded."""
    spec = model_from_arch(dict(TINY_ARCH))
    rows = build_rows([spec], ['fused', 'fused+cl', 'fused+jit'],
                      tiny_builder(tmp_path), resident=False)
    fused, channels_last, jit = rows
    assert fused.run is None and channels_last.run is None
    assert jit.run is not None and jit.load is None
    expected = jit.run()
    loads = []
    for row in (fused, channels_last):
        def counted(load=row.load, name=row.mode.name):
            loads.append(name)
            return load()
        row.load = counted
    time_rows(rows, repeat=2, warmup=1, resident=False)
    assert loads == ['fused', 'fused+cl', 'fused+cl', 'fused', 'fused',
                     'fused+cl']
    assert all(len(row.times) == 2 for row in rows)
    assert fused.run is None and jit.run is not None
    for row in (fused, channels_last):
        for output, reference in zip(row.loaded()(), expected):
            assert max_rel_diff(output, reference) <= 1e-4


@pytest.mark.parametrize('resident, short, kept', [
    (None, False, True), (None, True, False), (False, False, False),
    (True, True, True)])
def test_benchmark_keeps_rows_loaded_while_memory_allows(
        monkeypatch, resident, short, kept):
    """By default every row stays loaded until memory runs short; then the
    whole run is timed loading each row for each call, as the report
    says."""
    monkeypatch.setattr(benchmark_rows, 'memory_is_short', lambda: short)
    spec = model_from_arch(dict(TINY_ARCH))
    report = benchmark.benchmark([spec], ['fused', 'fused+cl'],
                                 shape=(32, 32), repeat=1, warmup=0,
                                 resident=resident)
    assert len(report.rows) == 2
    assert report.environment['rows'] == (
        'kept loaded' if kept else
        'loaded for each call, one at a time in memory')


def test_memory_is_short_reads_meminfo():
    from repseg.benchmark.timing import memory_is_short
    assert memory_is_short(reserve=0.0) is False
    assert memory_is_short(reserve=1.01) is True


def test_fp32_rounding_beyond_the_bound_is_told_from_a_wrong_fold(tmp_path):
    """Held to a bound below fp32's rounding, the fused model is accepted
    because the fold is exact in float64; a wrong fold is not, at any
    bound."""
    spec = model_from_arch(dict(TINY_ARCH))
    builder = tiny_builder(tmp_path)
    sample = builder.inputs[:1]
    forms, _ = benchmark_rows.checked_forms(spec, builder, sample, 1e-12)
    assert set(forms) == {'fused', 'multi-branch'}
    wrong = copy.deepcopy(spec)
    with torch.no_grad():  # a BN the fold will see wrongly: shifted mean
        bn = next(m for m in wrong.model.modules()
                  if isinstance(m, torch.nn.BatchNorm2d))
        bn.running_mean += 1.0
    real_fused_form = benchmark_rows.fused_form
    wrong_fold = lambda spec_, x: real_fused_form(
        dataclasses.replace(spec_, model=spec.model), x)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(benchmark_rows, 'fused_form', wrong_fold)
        for bound in (1e-12, 1e-4):
            with pytest.raises(OutputMismatch, match='differs from the '
                               'multi-branch one'):
                benchmark_rows.checked_forms(wrong, builder, sample, bound)


def test_rows_count_multiplications_of_their_kernels(tmp_path):
    """A fused tiny RepVGG at 32x32, batch 2: direct for eager, less under
    repseg's F(2x2, 3x3) (4/9 for the 3x3 stride-1 convs; the stride-2
    ones stay direct)."""
    spec = model_from_arch(TINY_ARCH)
    rows = build_rows([spec], ['fused', 'fused+wino2'], tiny_builder(tmp_path))
    direct, wino = (r.multiplications for r in rows)
    assert direct > wino > 0.4 * direct
    time_rows(rows, repeat=1, warmup=0)
    results = summarize(rows, rows[0].name, gemm_macs_per_s=1e12)
    for result in results:
        assert result.machine_fraction == pytest.approx(
            result.multiplications / (result.median_ms / 1e3) / 1e12)


def test_gemm_rate_is_a_plausible_rate():
    rate = benchmark.gemm_rate(size=256, repeat=2)
    assert 1e8 < rate < 1e14


def test_profile_parts_compose_to_the_model(tiny_config, tmp_path, capsys):
    """Stem, four stages and the decode head, each checked and timed; the
    JSON keeps them."""
    out = tmp_path / 'profile.json'
    benchmark_tool.main([str(tiny_config), '--shape', '64', '64',
                         '--modes', 'fused', 'fused+psp', '--repeat', '2',
                         '--warmup', '0', '--profile', 'fused+psp',
                         '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'profile of tiny_pspnet:fused+psp, part by part' in printed
    report = BenchmarkReport.load(out)
    parts = report.profiles['tiny_pspnet:fused+psp']
    assert [p.part for p in parts] == ['stem', 'stage_1', 'stage_2',
                                       'stage_3', 'stage_4', 'decode_head']
    assert parts[-1].output_shape == [1, 19, 4, 4]  # the logits
    assert sum(p.multiplications for p in parts) == next(
        r.multiplications for r in report.rows
        if r.row == 'tiny_pspnet:fused+psp')
    assert all(p.median_ms > 0 and p.machine_fraction > 0 for p in parts)


# ------------------------------------------------------------- precision


def test_a_bf16_row_is_held_to_agreement_not_the_fp32_bound(tiny_config,
                                                             tmp_path,
                                                             monkeypatch):
    spec = benchmark.model_from_config(str(tiny_config))
    builder = tiny_builder(tmp_path, batch=2, size=(64, 64))
    fp32, bf16, cl_bf16 = build_rows(
        [spec], ['fused', 'fused+bf16', 'fused+cl+bf16'], builder)
    assert fp32.tolerance == 1e-4 and fp32.argmax_agreement is None
    assert bf16.run()[0].dtype == torch.bfloat16  # computed in bf16
    for row in (bf16, cl_bf16):
        # Beyond the fp32 bound, within bf16's own.
        assert 1e-4 < row.max_rel_diff <= row.tolerance == \
            benchmark.BF16_TOLERANCE
        assert row.min_agreement == benchmark.BF16_MIN_AGREEMENT
        assert row.min_agreement <= row.argmax_agreement <= 1
    # Either bound refuses a row beyond it.
    with pytest.raises(OutputMismatch, match='tiny_pspnet:fused[+]bf16'):
        build_rows([spec], ['fused+bf16'], builder, min_agreement=1.01)
    from repseg import equivalence
    monkeypatch.setitem(equivalence.BOUNDS, 'bf16',
                        equivalence.PrecisionBound(1e-4, 0.0))
    with pytest.raises(OutputMismatch, match='tiny_pspnet:fused[+]bf16'):
        build_rows([spec], ['fused+bf16'], builder)


def test_argmax_agreement_counts_positions_over_the_class_axis():
    reference = torch.zeros(1, 3, 2, 2)
    reference[:, 0] = 1  # class 0 everywhere
    changed = reference.clone()
    changed[0, 2, 0, 0] = 2  # one of four positions picks class 2
    assert benchmark.argmax_agreement([changed], [reference]) == 0.75
    assert benchmark.argmax_agreement([reference], [reference]) == 1


def test_openvino_bf16_row(tiny_config, tmp_path):
    pytest.importorskip('openvino')
    pytest.importorskip('onnxscript')
    spec = benchmark.model_from_config(str(tiny_config))
    rows = build_rows([spec], ['openvino', 'openvino+bf16'],
                      tiny_builder(tmp_path, batch=1, size=(64, 64)))
    assert rows[0].max_rel_diff <= 1e-4
    assert 1e-4 < rows[1].max_rel_diff <= benchmark.BF16_TOLERANCE
    assert rows[1].argmax_agreement >= benchmark.BF16_MIN_AGREEMENT


def test_bf16_and_fp16_are_not_combined(tmp_path):
    spec = model_from_arch(dict(TINY_ARCH))
    builder = tiny_builder(tmp_path, device='cuda', fp16=True)
    with pytest.raises(BenchmarkError, match='fused[+]bf16'):
        builder.check_mode(spec, parse_mode('fused+bf16'))


def test_report_names_the_processor_and_each_precision_peak(
        tiny_config, tmp_path, monkeypatch):
    """The JSON holds the CPU, the peak rate of each precision, and per row
    its precision, bounds and rate against its own precision's peak; a
    processor without bf16 units marks the bf16 row."""
    from repseg.benchmark import run as benchmark_run
    from repseg.results import ProcessorInfo
    no_bf16 = ProcessorInfo('Test CPU', ['AVX2'], 'test')
    monkeypatch.setattr(benchmark_run, 'detect_processor', lambda: no_bf16)
    out = tmp_path / 'bf16.json'
    benchmark_tool.main([str(tiny_config), '--shape', '64', '64', '--modes',
                         'fused', 'fused+bf16', '--repeat', '2', '--warmup',
                         '0', '--min-agreement', '0.98', '--json', str(out)])
    data = json.loads(out.read_text())
    assert data['processor'] == dict(model='Test CPU',
                                     instruction_sets=['AVX2'],
                                     source='test')
    assert data['environment']['processor'] == 'Test CPU'
    peaks = data['peak_macs_per_s']
    assert {'fp32', 'bf16'} <= set(peaks) <= {'fp32', 'bf16', 'int8'}
    assert all(1e8 < rate < 1e15 for rate in peaks.values())
    assert data['environment']['gemm_macs_per_s'] == peaks['fp32']
    fp32, bf16 = BenchmarkReport.load(out).rows
    assert (fp32.precision, bf16.precision) == ('fp32', 'bf16')
    assert (fp32.native_units, bf16.native_units) == (True, False)
    assert bf16.argmax_agreement >= bf16.min_agreement == 0.98
    assert fp32.tolerance == 1e-4 and bf16.tolerance > 1e-4
    for row in (fp32, bf16):
        assert row.machine_fraction == pytest.approx(
            row.multiplications / (row.median_ms / 1e3)
            / peaks[row.precision])


def test_peak_rates_are_plausible():
    assert 1e8 < benchmark.bf16_rate(size=256, repeat=2) < 1e14
    rate = benchmark.int8_rate(size=256, repeat=2)
    assert rate is None or 1e8 < rate < 1e15
