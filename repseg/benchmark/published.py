"""Published Cityscapes val mIoU of the segmentors the leaderboard places
side by side, each with where it was published.

mmsegmentation's figures are its model zoo's for the very config named
(``configs/<model>/metafile.yaml`` of the installed package, single-scale
``mIoU``); repseg's PSPNets take the RepVGG paper's (Ding et al., CVPR
2021, Cityscapes val, PSPNet head); RDRNet's are its authors' README.
A config without a published figure has ``miou`` None.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

MMSEG_ZOO = "mmsegmentation model zoo ({}/metafile.yaml)"
REPVGG_PAPER = 'RepVGG paper (Ding et al., CVPR 2021), Cityscapes val'
RDRNET_README = "RDRNet authors' README (gyyang23/RDRNet)"


@dataclass(frozen=True)
class Published:
    """A segmentor to place: its label, config (a repseg file or an
    ``mmseg::`` package config), published val mIoU and its source, and
    whether it is one of repseg's own (marked apart on the plot)."""
    label: str
    config: str
    miou: Optional[float]
    source: str
    repseg: bool = False


def _mmseg(label: str, folder: str, name: str, miou: float) -> Published:
    return Published(label, f'mmseg::{folder}/{name}', miou,
                     MMSEG_ZOO.format(folder))


def _repseg(label: str, name: str, miou: Optional[float],
            source: str = REPVGG_PAPER) -> Published:
    return Published(label, f'configs/{name}', miou,
                     source if miou is not None else 'none published', True)


#: repseg's Cityscapes PSPNets (RepVGG backbones, output stride 8).
REPSEG_PSPNETS: Tuple[Published, ...] = (
    _repseg('PSPNet-RepVGG-A0', 'pspnet_repvgg_a0.py', None),
    _repseg('PSPNet-RepVGG-B1g2-fast', 'pspnet_repvgg_b1g2_fast.py', 78.88),
    _repseg('PSPNet-RepVGG-B1g2', 'pspnet_repvgg_b1g2.py', 78.70),
    _repseg('PSPNet-RepVGG-B2-fast', 'pspnet_repvgg_b2_fast.py', 79.52),
    _repseg('PSPNet-RepVGG-B2', 'pspnet_repvgg_b2.py', 80.57),
)

#: RDRNet (reparameterizable DDRNet) in repseg's configs.
RDRNETS: Tuple[Published, ...] = (
    _repseg('RDRNet-S', 'rdrnet_s.py', 76.8, RDRNET_README),
    _repseg('RDRNet-M', 'rdrnet_m.py', 78.9, RDRNET_README),
    _repseg('RDRNet-L', 'rdrnet_l.py', 79.3, RDRNET_README),
)

#: mmsegmentation's PSPNets with dilated ResNets (output stride 8).
MMSEG_PSPNETS: Tuple[Published, ...] = (
    _mmseg('PSPNet-R-18-D8', 'pspnet',
           'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py', 74.87),
    _mmseg('PSPNet-R-50-D8', 'pspnet',
           'pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py', 78.55),
    _mmseg('PSPNet-R-101-D8', 'pspnet',
           'pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py', 79.76),
)

#: mmsegmentation's real-time Cityscapes segmentors.
MMSEG_REALTIME: Tuple[Published, ...] = (
    _mmseg('BiSeNetV1-R18', 'bisenetv1',
           'bisenetv1_r18-d32-in1k-pre_4xb4-160k_cityscapes-1024x1024.py',
           74.37),
    _mmseg('BiSeNetV2', 'bisenetv2',
           'bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py', 73.21),
    _mmseg('STDC1', 'stdc', 'stdc1_in1k-pre_4xb12-80k_cityscapes-512x1024.py',
           74.94),
    _mmseg('STDC2', 'stdc', 'stdc2_in1k-pre_4xb12-80k_cityscapes-512x1024.py',
           76.67),
    _mmseg('DDRNet-23-slim', 'ddrnet',
           'ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py',
           77.84),
    _mmseg('DDRNet-23', 'ddrnet',
           'ddrnet_23_in1k-pre_2xb6-120k_cityscapes-1024x1024.py', 79.99),
    _mmseg('PIDNet-S', 'pidnet', 'pidnet-s_2xb6-120k_1024x1024-cityscapes.py',
           78.74),
    _mmseg('PIDNet-M', 'pidnet', 'pidnet-m_2xb6-120k_1024x1024-cityscapes.py',
           80.22),
    _mmseg('PIDNet-L', 'pidnet', 'pidnet-l_2xb6-120k_1024x1024-cityscapes.py',
           80.89),
    _mmseg('Fast-SCNN', 'fastscnn', 'fast_scnn_8xb4-160k_cityscapes-512x1024.py',
           70.96),
    _mmseg('SegFormer-B0', 'segformer',
           'segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py', 76.54),
)

#: Every segmentor of the leaderboard, in its table's order.
LEADERBOARD_MODELS: Tuple[Published, ...] = (
    REPSEG_PSPNETS + RDRNETS + MMSEG_REALTIME + MMSEG_PSPNETS)
