"""tools/deploy.py: fused checkpoint + config, verified; errors leave nothing."""
import json
import sys

import pytest
import torch
from conftest import write_tiny_seg_config
from helpers import load_tool, max_rel_diff, randomize_bn, save_as_trained
from mmengine.config import Config
from torch import nn

import repseg  # noqa: F401
from repseg.apis import init_model
from repseg.models import to_inference_form
from repseg.models.fusion import fold_conv_bn_pairs

deploy_tool = load_tool('deploy')


def trained_checkpoint(config, path, seed=0):
    """Save the config's model, with randomized BN statistics, as if trained."""
    return save_as_trained(config, path, seed)


def deploy_tiny(tmp_path, out, *options):
    """tools/deploy.py OPTIONS on the tiny config's model (as if trained,
    written once into ``tmp_path``) at 64x96; the output folder."""
    if not (tmp_path / 'trained.pth').exists():
        config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
        trained_checkpoint(config, tmp_path / 'trained.pth')
    deploy_tool.main([str(tmp_path / 'tiny.py'), str(tmp_path / 'trained.pth'),
                      str(tmp_path / out), '--shape', '64', '96', *options])
    return tmp_path / out


@pytest.mark.parametrize('norm', ['BN', 'SyncBN'])
def test_round_trip_rebuilds_an_equal_fused_model(tmp_path, capsys, norm):
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path, norm=norm)
    model = trained_checkpoint(config, tmp_path / 'trained.pth')
    out_dir = tmp_path / 'deployed'
    deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                      str(out_dir), '--shape', '64', '96'])
    printed = capsys.readouterr().out
    assert 'max |diff|' in printed and 'BN layers' in printed
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'deploy.json', 'deploy.pth', 'deploy.py']
    report = json.loads((out_dir / 'deploy.json').read_text())
    assert report['max_rel_diff'] <= 1e-4
    assert report['folded'] == {'decode_head': 5, 'auxiliary_head': 1}
    assert report['after']['norms'] == 0
    assert report['after']['params'] < report['before']['params']

    cfg = Config.fromfile(out_dir / 'deploy.py')
    assert cfg.model.backbone.deploy is True
    assert cfg.model.decode_head.norm_cfg is None
    assert 'init_cfg' not in cfg.model.backbone
    fused = init_model(out_dir / 'deploy.py', out_dir / 'deploy.pth',
                       fused=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 3, 48, 80)
    with torch.no_grad():
        expected = model(x, mode='tensor')
        assert max_rel_diff(fused(x, mode='tensor'), expected) <= 1e-5


def test_head_folding_is_exact_and_only_for_batch_norm():
    from mmcv.cnn import ConvModule
    head = nn.Sequential(ConvModule(4, 8, 3, padding=1,
                                    norm_cfg=dict(type='BN')),
                         ConvModule(8, 8, 1, norm_cfg=dict(type='BN')))
    randomize_bn(head).eval()
    x = torch.randn(1, 4, 9, 7)
    with torch.no_grad():
        expected = head(x)
        assert len(fold_conv_bn_pairs(head, lambda h: h(x))) == 2
        assert max_rel_diff(head(x), expected) <= 1e-6
    assert not any(isinstance(m, nn.BatchNorm2d) for m in head.modules())
    group_norm = nn.Sequential(ConvModule(4, 8, 3, norm_cfg=dict(
        type='GN', num_groups=2))).eval()
    assert fold_conv_bn_pairs(group_norm, lambda h: h(x)) == []


def test_inference_form_leaves_the_trained_model_alone(tmp_path):
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    model = trained_checkpoint(config, tmp_path / 'trained.pth')
    fused, form = to_inference_form(model)
    assert fused is not model and form.folded['decode_head'] == 5
    assert form.after['norms'] == 0 < form.before['norms']
    assert form.blocks_fused == 6  # stem + 1 + 1 + 2 + 1 blocks (TINY_ARCH)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    again, form_again = to_inference_form(fused)
    assert form_again.folded == {} and form_again.blocks_fused == 0


def test_errors_leave_no_output(tmp_path, capsys):
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    trained_checkpoint(config, tmp_path / 'trained.pth')
    out_dir = tmp_path / 'out'
    deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                      str(out_dir), '--shape', '32', '64'])
    # an already fused checkpoint
    with pytest.raises(SystemExit, match='already fused'):
        deploy_tool.main([str(config), str(out_dir / 'deploy.pth'),
                          str(tmp_path / 'again')])
    # a deploy config
    with pytest.raises(SystemExit, match='already describes a fused model'):
        deploy_tool.main([str(out_dir / 'deploy.py'),
                          str(out_dir / 'deploy.pth'), str(tmp_path / 'x')])
    # weights of another architecture
    other = write_tiny_seg_config(tmp_path / 'other.py', tmp_path)
    other.write_text(other.read_text().replace('(1, 1, 2, 1)', '(1, 2, 2, 1)'))
    with pytest.raises(SystemExit, match='does not match'):
        deploy_tool.main([str(other), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'y')])
    with pytest.raises(SystemExit,
                       match='missing.pth is not a checkpoint file: there is '
                       'no such file'):
        deploy_tool.main([str(config), str(tmp_path / 'missing.pth'),
                          str(tmp_path / 'z')])
    with pytest.raises(SystemExit, match="config '.*missing.py' does not"):
        deploy_tool.main([str(tmp_path / 'missing.py'),
                          str(tmp_path / 'trained.pth'), str(tmp_path / 'z')])
    with pytest.raises(SystemExit) as exit_info:  # argparse: names --shape
        deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'z'), '--shape', '0', '64'])
    assert exit_info.value.code == 2
    assert "--shape: must be a positive integer, got '0'" in \
        capsys.readouterr().err
    leftovers = {p.name for p in tmp_path.iterdir()}
    assert leftovers == {'tiny.py', 'other.py', 'trained.pth', 'out'}


def test_onnx_export_matches_pytorch(tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    trained_checkpoint(config, tmp_path / 'trained.pth')
    out_dir = tmp_path / 'deployed'
    deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                      str(out_dir), '--shape', '64', '96', '--onnx'])
    assert 'onnxruntime (deploy.onnx, fp32) vs trained' in \
        capsys.readouterr().out
    report = json.loads((out_dir / 'deploy.json').read_text())
    assert report['engines']['onnxruntime']['max_rel_diff'] <= 1e-4

    # PSPNet's pyramid pooling fixes the image size; the batch is dynamic.
    assert report['engines']['onnxruntime']['dynamic_image_size'] is False
    import onnxruntime
    session = onnxruntime.InferenceSession(str(out_dir / 'deploy.onnx'))
    for batch in (1, 3):
        out = session.run(
            None, {'input': torch.randn(batch, 3, 64, 96).numpy()})[0]
        assert out.shape == (batch, 19, 4, 6)  # output stride 16


def test_ncnn_export_matches_pytorch_and_fp16_is_held_to_its_bound(
        tmp_path, capsys):
    pytest.importorskip('ncnn')
    pytest.importorskip('pnnx')
    out_dir = deploy_tiny(tmp_path, 'deployed', '--backend', 'ncnn')
    assert 'ncnn (deploy.ncnn.param, fp32) vs trained' in \
        capsys.readouterr().out
    assert {'deploy.ncnn.param', 'deploy.ncnn.bin'} <= {
        p.name for p in out_dir.iterdir()}
    check = json.loads((out_dir / 'deploy.json').read_text())['engines'][
        'ncnn']
    assert check['max_rel_diff'] <= 1e-4 and check['fp16'] is False
    # Stage 4 is dilated: exported as plain convs for ncnn's Winograd.
    assert check['rewrites'] == ['psp', 's2b']
    param = (out_dir / 'deploy.ncnn.param').read_text()
    assert ' 2=2 ' not in param and ' 12=2 ' not in param  # no dilation 2
    engine = init_model(out_dir / 'deploy.py', out_dir / 'deploy.ncnn.param')
    assert engine.backend.name == 'ncnn'
    assert engine.backend.input_shape == (None, 3, 64, 96)

    half = deploy_tiny(tmp_path, 'half', '--backend', 'ncnn', '--fp16')
    printed = capsys.readouterr().out
    assert 'ncnn (deploy.ncnn.param, fp16 weights) vs trained' in printed
    assert '(bound 0.01; random inputs)' in printed
    assert (half / 'deploy.ncnn.bin').stat().st_size < \
        (out_dir / 'deploy.ncnn.bin').stat().st_size


def test_openvino_export_matches_pytorch_in_fp32(tmp_path, capsys):
    pytest.importorskip('openvino')
    pytest.importorskip('onnxscript')  # the IR is converted from ONNX
    out_dir = deploy_tiny(tmp_path, 'deployed', '--backend', 'openvino')
    printed = capsys.readouterr().out
    assert 'openvino (deploy.xml, fp32) vs trained' in printed
    assert 'deploy.xml' in printed.splitlines()[-1]
    assert {'deploy.xml', 'deploy.bin'} <= {p.name for p in out_dir.iterdir()}
    check = json.loads((out_dir / 'deploy.json').read_text())['engines'][
        'openvino']
    assert check['max_rel_diff'] <= 1e-4 and check['fp16'] is False
    # As in ONNX: dynamic batch, image size fixed by the pyramid pooling.
    assert check['dynamic_image_size'] is False
    engine = init_model(out_dir / 'deploy.py', out_dir / 'deploy.xml')
    assert engine.backend.name == 'openvino'
    assert engine.backend.input_shape == (None, 3, 64, 96)
    # fp32 weights in the IR, and fp32 compute (not the CPU's bf16 default).
    import openvino
    constants = {op.get_element_type().get_type_name() for op in
                 openvino.Core().read_model(str(out_dir / 'deploy.xml'))
                 .get_ops() if op.get_type_name() == 'Constant'}
    assert 'f32' in constants and 'f16' not in constants
    assert engine.backend.model.get_property(
        'INFERENCE_PRECISION_HINT') == openvino.Type.f32
    for batch in (1, 3):
        out = engine.backend(torch.randn(batch, 3, 64, 96))[0]
        assert out.shape == (batch, 19, 4, 6)


def test_openvino_backend_errors_name_the_file(tmp_path, monkeypatch):
    pytest.importorskip('openvino')
    from repseg.backends import (BackendNotAvailable, EngineError,
                                 OpenVinoBackend)
    (tmp_path / 'broken.xml').write_text('<net></net>')
    with pytest.raises(EngineError, match='broken.xml: OpenVINO cannot load '
                       'it'):
        OpenVinoBackend(str(tmp_path / 'broken.xml'), 1)
    monkeypatch.setitem(sys.modules, 'openvino', None)
    with pytest.raises(BackendNotAvailable, match='needs OpenVINO: pip '
                       r'install -e \.\[deploy\]'):
        OpenVinoBackend(str(tmp_path / 'broken.xml'), 1)


def test_engine_exports_that_do_not_fit_are_refused(tmp_path, capsys):
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    trained_checkpoint(config, tmp_path / 'trained.pth')
    with pytest.raises(SystemExit):
        deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'a'), '--fp16'])
    assert '--fp16 is for the engines of --backend' in capsys.readouterr().err
    with pytest.raises(SystemExit, match='the ONNX export stays fp32'):
        deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'b'), '--onnx', '--fp16',
                          '--shape', '32', '64'])
    with pytest.raises(SystemExit, match='the OpenVINO export stays fp32'):
        deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'b'), '--backend', 'openvino',
                          '--fp16', '--shape', '32', '64'])
    assert {p.name for p in tmp_path.iterdir()} == {'tiny.py', 'trained.pth'}


def test_every_engine_is_described_once_for_all_its_users():
    """One ``Engine`` per backend: deploy writes the file that backend
    loads, the benchmark's engine runtimes and ``fast`` are the engines',
    and each engine's rewrites, exporters and tile are the ones given."""
    from repseg import export
    from repseg.apis.deploy import ENGINE_FILES
    from repseg.apis.quantize import INT8_FILES
    from repseg.backends import (NcnnBackend, OnnxRuntimeBackend,
                                 OpenVinoBackend)
    from repseg.backends.ncnn import winograd_tile
    from repseg.benchmark import (ENGINE_RUNTIMES, FAST_MODE, deployed_mode,
                                  parse_mode)
    from repseg.engines import BACKENDS, ENGINES, backend_for_file, no_winograd
    from repseg.quantization import quantize_onnx, quantize_openvino
    assert BACKENDS == {'onnxruntime': OnnxRuntimeBackend,
                        'ncnn': NcnnBackend, 'openvino': OpenVinoBackend}
    assert set(ENGINE_RUNTIMES.values()) == set(ENGINES.values())
    for name, engine in ENGINES.items():
        assert engine.name == name and engine.backend is BACKENDS[name]
        assert ENGINE_FILES[name] == 'deploy' + engine.suffix
        assert backend_for_file(ENGINE_FILES[name]) == name
        assert parse_mode(engine.alias).engine is engine
        assert parse_mode(deployed_mode(engine)).options == engine.rewrites
    assert ENGINE_FILES == {'onnxruntime': 'deploy.onnx',
                            'ncnn': 'deploy.ncnn.param',
                            'openvino': 'deploy.xml'}
    assert {name: (e.alias, e.rewrites, e.model_exporter, e.module_exporter)
            for name, e in ENGINES.items()} == {
        'onnxruntime': ('onnx', ('psp', ), export.export_model_onnx,
                        export.export_onnx),
        'ncnn': ('ncnn', ('psp', 's2b'), export.export_model_ncnn,
                 export.export_ncnn),
        'openvino': ('openvino', ('psp', ), export.export_model_openvino,
                     export.export_openvino)}
    assert FAST_MODE == deployed_mode(ENGINES['ncnn']) == 'fused+psp+s2b+ncnn'
    assert ENGINES['ncnn'].winograd_tile is winograd_tile
    assert ENGINES['onnxruntime'].winograd_tile is no_winograd
    assert ENGINES['onnxruntime'].quantizer is quantize_onnx
    assert ENGINES['openvino'].quantizer is quantize_openvino
    assert INT8_FILES == {'onnxruntime': 'deploy.int8.onnx',
                          'openvino': 'deploy.int8.xml'}
    assert [e.precisions for e in ENGINES.values()] == [
        ('fp32', ), ('fp32', ), ('fp32', 'bf16')]


def test_deploy_exports_what_the_engine_description_says(tmp_path,
                                                         monkeypatch):
    """deploy reads the engine from ``ENGINES``: its rewrites are applied
    before its model exporter writes the file its suffix names, and its
    backend is checked against the trained model."""
    from repseg.apis import deploy
    from repseg.backends import Backend
    from repseg.engines import ENGINES, Engine
    from repseg.models.tensor_forward import TensorForward
    from repseg.rewrites import FactorizedPSPHead
    exported = {}

    class ModuleBackend(Backend):  # runs the model the exporter kept
        name, suffix = 'module', '.module'

        def __call__(self, inputs):
            with torch.no_grad():
                return TensorForward(exported[self.path])(inputs)

    def export_model(model, inputs, path, fp16=False):
        exported[path] = model
        open(path, 'w').close()
        return False

    monkeypatch.setitem(ENGINES, 'module', Engine(
        ModuleBackend, 'module', export_model, None, rewrites=('psp', )))
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    trained_checkpoint(config, tmp_path / 'trained.pth')
    report = deploy(str(config), str(tmp_path / 'trained.pth'),
                    str(tmp_path / 'out'), (32, 64), ['module'])
    assert (tmp_path / 'out' / 'deploy.module').is_file()
    (model, ) = exported.values()
    assert isinstance(model.decode_head, FactorizedPSPHead)
    check = report.engines['module']
    assert check.rewrites == ['psp'] and check.max_rel_diff <= 1e-4
    assert check.file == 'deploy.module'


@pytest.mark.parametrize('engine, packages', [
    ('ncnn', ['ncnn', 'pnnx']), ('openvino', ['openvino', 'onnxscript'])])
def test_an_engine_that_computes_something_else_is_refused(
        tmp_path, monkeypatch, engine, packages):
    for package in packages:
        pytest.importorskip(package)
    from repseg.engines import BACKENDS
    config = write_tiny_seg_config(tmp_path / 'tiny.py', tmp_path)
    trained_checkpoint(config, tmp_path / 'trained.pth')
    call = BACKENDS[engine].__call__
    monkeypatch.setattr(BACKENDS[engine], '__call__',
                        lambda self, inputs: tuple(
                            1.1 * out for out in call(self, inputs)))
    with pytest.raises(SystemExit, match=f'the {engine} model differs from '
                       'the trained model by .* nothing written'):
        deploy_tool.main([str(config), str(tmp_path / 'trained.pth'),
                          str(tmp_path / 'c'), '--backend', engine,
                          '--shape', '32', '64'])
    assert {p.name for p in tmp_path.iterdir()} == {'tiny.py', 'trained.pth'}


class _SharedNorm(nn.Module):
    """One BN after two convs."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.a(x)) + self.bn(self.b(x))


class _ConvFeedsTwo(nn.Module):
    """A conv whose output feeds its BN and the residual sum."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


@torch.no_grad()
def test_inference_form_folds_only_pairs_it_can_fold_exactly():
    from repseg.equivalence import OutputMismatch
    x = torch.randn(1, 3, 16, 16)
    # An in-place op between conv and BN: not a pair (version counter).
    in_place = randomize_bn(nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.BatchNorm2d(4))).eval()
    shared = randomize_bn(_SharedNorm()).eval()
    for model in (in_place, shared):
        expected = model(x)
        fused, form = to_inference_form(model)
        assert form.folded == {}
        assert max_rel_diff(fused(x), expected) <= 1e-6
    # A fold that changes the function is refused, not returned.
    with pytest.raises(OutputMismatch, match='also feeds something besides'):
        to_inference_form(randomize_bn(_ConvFeedsTwo()).eval())
