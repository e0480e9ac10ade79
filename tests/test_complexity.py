import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from torch import nn

import repseg  # noqa: F401
from repseg.analysis import (Complexity, ComplexityCounter,
                             classifier_complexity, config_complexity,
                             model_complexity, paper_matches)
from repseg.analysis.complexity import (ComplexityError, _build_and_measure,
                                       winograd_tiles)
from repseg.engine.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY_ARCH = dict(num_blocks=(1, 2, 1, 1), width_factor=(0.25, 0.25, 0.25, 0.5))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'complexity_tool', ROOT / 'tools/analysis_tools/complexity.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.parametrize('arch,params', [('A0', 8_309_384),
                                         ('B1g2', 41_360_104)])
def test_paper_table_is_reproduced(arch, params):
    report = classifier_complexity(arch)
    # The paper prints params truncated to 0.01 M, FLOPs and Wino MULs
    # rounded to 0.1 G: A0 8.30 / 1.4 / 0.7, B1g2 41.36 / 8.8 / 4.6.
    assert paper_matches(report) == dict(params=True, macs=True,
                                         wino_muls=True)
    # Exact count (weights and fused biases of every conv, linear 1000).
    assert report.total.params == params
    assert set(report.parts) == {'backbone', 'head'}
    no_dilation = report.total.wino_muls_dilated_direct
    assert report.total.wino_muls == no_dilation


def test_paper_table_on_the_command_line(capsys):
    load_tool().main(['--arch', 'A0'])
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith('RepVGG-A0'))
    assert row.split() == [
        'RepVGG-A0', '|', '8.3094', '8.30', '+0.0094', '|', '1.361', '1.4',
        '-0.039', '|', '0.747', '0.7', '+0.047', '|', 'yes'
    ]


def test_no_paper_comparison_at_another_shape():
    report = classifier_complexity('A0', (256, 256))
    assert paper_matches(report) == dict(params=None, macs=None,
                                         wino_muls=None)
    assert report.to_dict()['paper'] is None
    # Same params; compute grows with the pixels (stride-1 maps stay even).
    at_224 = classifier_complexity('A0')
    assert report.total.params == at_224.total.params
    assert report.total.macs > at_224.total.macs


def tiny_conv_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # Winograd
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2),  # direct
        nn.Conv2d(8, 4, 3, padding=2, dilation=2),  # dilated Winograd
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 10))


def test_hand_computed_tiny_net():
    # Input 3x6x5 (odd width: partial Winograd tiles).
    # conv0 3->8, out 8x6x5: MACs 8*6*5 * 3*9 = 6480; Winograd: 3*3 tiles
    #   * 16 * (8*3) = 3456. Params 8*3*9 + 8 = 224.
    # conv1 3x3 stride 2, groups 2, out 8x3x3: MACs 8*9 * 4*9 = 2592 (direct).
    #   Params 8*4*9 + 8 = 296.
    # conv2 dilation 2, out 4x3x3: MACs 4*9 * 8*9 = 2592; per axis phases of
    #   2 and 1 outputs -> 2 tiles, 2*2 tiles * 16 * (4*8) = 2048.
    #   Params 4*8*9 + 4 = 292.
    # linear 36 -> 10: MACs 360, params 370.
    report = model_complexity(tiny_conv_net(), (6, 5), fuse=False)
    expected = {
        '0': Complexity(224, 6480, 3456, 3456),
        '1': Complexity(296, 2592, 2592, 2592),
        '2': Complexity(292, 2592, 2048, 2592),
        '4': Complexity(370, 360, 360, 360),
    }
    assert report.parts == expected
    assert report.total == Complexity(1182, 12024, 8456, 9000)


def test_macs_agree_with_mmengine_flop_analyzer():
    model = tiny_conv_net().eval()
    image = torch.zeros(1, 3, 6, 5)
    counter = ComplexityCounter(model)
    with counter, torch.no_grad():
        model(image)
    ours = sum(c.macs for c in counter.by_part().values())
    assert ours == FlopAnalyzer(model, image).total() == 12024


def test_winograd_tiles():
    assert [winograd_tiles(n) for n in (1, 2, 5, 6)] == [1, 1, 3, 3]
    # dilation 2: phases of ceil(n/2) and floor(n/2) outputs.
    assert winograd_tiles(7, 2) == 2 + 2
    assert winograd_tiles(8, 4) == 4
    assert winograd_tiles(2, 4) == 2


def write_tiny_segmentor_config(path):
    norm = dict(type='BN', requires_grad=True)
    path.write_text(f"""
custom_imports = dict(imports=['repseg'], allow_failed_imports=False)
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                           pad_val=0, seg_pad_val=255),
    backbone=dict(type='RepVGG', arch={TINY_ARCH!r},
                  strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4)),
    decode_head=dict(type='PSPHead', in_channels=256, in_index=3,
                     channels=32, pool_scales=(1, 2, 3, 6), num_classes=19,
                     norm_cfg={norm!r}, align_corners=False),
    auxiliary_head=dict(type='FCNHead', in_channels=64, in_index=2,
                        channels=16, num_convs=1, concat_input=False,
                        num_classes=19, norm_cfg={norm!r},
                        align_corners=False),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
""")
    return path


def test_config_tiny_segmentor(tmp_path, capsys):
    config = write_tiny_segmentor_config(tmp_path / 'tiny_psp.py')
    out = tmp_path / 'out' / 'complexity.json'
    load_tool().main(['--config', str(config), '--shape', '64', '96',
                      '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'auxiliary_head *' in printed and 'not counted' in printed

    [saved] = json.loads(out.read_text())
    assert list(out.parent.iterdir()) == [out]  # no temporary left behind
    assert saved['input_shape'] == [64, 96]
    assert saved['excluded_from_total'] == ['auxiliary_head']
    parts = {k: Complexity(**v) for k, v in saved['parts'].items()}
    assert set(parts) == {'backbone', 'decode_head', 'auxiliary_head'}
    assert Complexity(**saved['total']) == (parts['backbone'] +
                                            parts['decode_head'])
    assert all(c.macs > 0 and c.params > 0 for c in parts.values())
    # Stages 3 and 4 are dilated: direct there costs more than Winograd,
    # and Winograd saves the most.
    backbone = parts['backbone']
    assert (backbone.wino_muls < backbone.wino_muls_dilated_direct <
            backbone.macs)
    # The counted backbone is the fused one: one 3x3 conv (+bias) per block.
    fused = sum(p.numel() for p in repseg.models.RepVGG(
        TINY_ARCH, deploy=True).parameters())
    assert backbone.params == fused


def test_default_segmentor_shape(tmp_path):
    report = config_complexity(
        str(write_tiny_segmentor_config(tmp_path / 'tiny_psp.py')))
    assert report.input_shape == (512, 1024)


def test_unknown_arch_is_named(capsys):
    with pytest.raises(SystemExit, match="unknown RepVGG arch 'Z9'"):
        load_tool().main(['--arch', 'A0', 'Z9'])
    with pytest.raises(ComplexityError, match="'B9'"):
        classifier_complexity('B9')


@pytest.mark.parametrize('shape', [['0', '224'], ['224', '-3'], ['a', '1']])
def test_bad_shape_on_the_command_line(shape, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_tool().main(['--arch', 'A0', '--shape', *shape])
    assert exit_info.value.code == 2
    assert '--shape' in capsys.readouterr().err


@pytest.mark.parametrize('shape', [(224, ), (0, 224), (224.0, 224), 224])
def test_bad_shape_in_the_api(shape):
    with pytest.raises(ComplexityError, match='input_shape'):
        classifier_complexity('A0', shape)


def test_shape_too_small_for_the_model():
    model = nn.Sequential(nn.Conv2d(3, 4, 5))  # no padding: needs 5x5
    with pytest.raises(ComplexityError, match='input shape 4x4') as error:
        model_complexity(model, (4, 4))
    assert isinstance(error.value, ValueError)  # what it raised before


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match='missing.py'):
        config_complexity(str(tmp_path / 'missing.py'))
    no_model = tmp_path / 'no_model.py'
    no_model.write_text("default_scope = 'mmseg'\n")
    with pytest.raises(ConfigError, match='no "model" key'):
        config_complexity(str(no_model))


def test_config_of_an_installed_package():
    """``pkg::path`` configs (mmseg's model zoo) are read as the benchmark
    reads them, and a missing one is named."""
    r18 = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
    report = config_complexity(r18, (64, 128))
    assert report.name == r18 and report.excluded == ('auxiliary_head', )
    # ResNet-18 V1c without its classifier: about 11.2 M parameters.
    assert 11.0e6 < report.parts['backbone'].params < 11.3e6
    with pytest.raises(ConfigError, match='mmseg::pspnet/missing.py'):
        config_complexity('mmseg::pspnet/missing.py')


class ReadsValues(nn.Module):
    """Data-dependent code: cannot run on the meta device."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x):
        return self.conv(x) * float(x.abs().sum().item() >= 0)


def test_falls_back_to_the_cpu_when_meta_fails():
    report = _build_and_measure(ReadsValues, (4, 4), 'reads-values')
    assert report.total == Complexity(params=8, macs=2 * 3 * 16,
                                      wino_muls=96,
                                      wino_muls_dilated_direct=96)


def test_a_forward_pass_that_fails_on_the_meta_device_and_the_cpu():
    """Too small an input fails on the meta device, then on the CPU, where
    the error names the model and the shape."""
    with pytest.raises(ComplexityError, match='too-small: .*input shape 4x4'):
        _build_and_measure(lambda: nn.Sequential(nn.Conv2d(3, 4, 5)), (4, 4),
                           'too-small')


def test_a_bare_conv_is_its_own_top_level_part():
    report = model_complexity(nn.Conv2d(3, 2, 3, padding=1), (2, 2))
    # One 2x2 tile: 16 products per (input, output) channel pair.
    assert report.parts == {'(top level)': Complexity(56, 216, 96, 96)}


def test_multiplications_under_winograd_tiles_known_answer():
    """One 3x3 conv 8->16 channels at 6x6 (dilation 2: phases of 3), one
    1x1 conv and a linear layer, by hand: F(4x4, 3x3) has 36 products per
    4x4 tile; 3-long phases take one tile each, so 2 x 2 phases x 1 tile."""
    from repseg.analysis import multiplications
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=2, dilation=2),
                          nn.Conv2d(16, 4, 1), nn.Flatten(),
                          nn.Linear(4 * 36, 10))
    x = torch.zeros(1, 8, 6, 6)
    direct = 36 * 9 * 8 * 16 + 36 * 16 * 4 + 4 * 36 * 10
    assert multiplications(model, x, lambda conv: None) == direct
    winograd = (2 * 2) * 36 * 8 * 16 + 36 * 16 * 4 + 4 * 36 * 10
    assert multiplications(model, x, lambda conv: 4) == winograd
    assert multiplications(model, torch.zeros(3, 8, 6, 6),
                           lambda conv: 4) == 3 * winograd
    # Grouped: each output channel reads in_channels / groups.
    grouped = nn.Conv2d(8, 16, 3, padding=1, groups=2)
    assert multiplications(grouped, torch.zeros(1, 8, 4, 4),
                           lambda conv: 2) == 4 * 16 * 16 * 4
