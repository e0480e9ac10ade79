"""Where a row's time goes: its model cut into parts (the backbone's stem
and stages, the decode head), each built, checked and timed alone in the
row's mode, with its multiplications and their rate against the machine.

Why parts rather than a runtime's own profiler: the engines' profilers
differ (ncnn's per-layer timing is a build option its pip wheel lacks), and
a part timed alone in the same mode measures every runtime alike. Parts
run one after another, so their sum is close to the row's latency; the
difference (calls into the runtime, copies between parts) is shown too.
"""
import statistics
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..results import ProfilePart
from .models import ModelSpec
from .modes import BenchmarkError, parse_mode
from .rows import RowBuilder, build_rows
from .timing import time_rows


class HeadOnFeature(nn.Module):
    """A decode head as a function of the one backbone output it reads
    (``in_index``), so that it can be built and exported on its own."""

    def __init__(self, head: nn.Module):
        super().__init__()
        if head.input_transform is not None or not isinstance(
                head.in_index, int):
            raise BenchmarkError('profile: the decode head reads several '
                                 'backbone outputs; only heads with one '
                                 'in_index can be profiled part by part')
        self.head = head
        self.in_index = head.in_index  # kept: rewrites may replace the head

    def forward(self, x: Tensor) -> Tensor:
        inputs = [None] * (self.in_index + 1)
        inputs[self.in_index] = x
        return self.head(inputs)


def model_parts(spec: ModelSpec,
                inputs: Tensor) -> List[Tuple[str, nn.Module, Tensor]]:
    """``(name, part, its input)`` for each part of ``spec.model`` in call
    order: the backbone's children (RepVGG: stem, stage_1 ...; mmseg's
    ResNet: stem, maxpool, layer1 ...), then a segmentor's decode head.
    Refused where the children do not compose to the backbone's last
    output, or a head reads several outputs."""
    model = spec.model.eval()
    backbone = model if spec.kind == 'backbone' else model.backbone
    parts, x = [], inputs
    with torch.no_grad():
        expected = backbone(inputs)[-1]
        for name, child in backbone.named_children():
            parts.append((name, child, x))
            x = child(x)
        if x.shape != expected.shape or not torch.allclose(x, expected,
                                                           atol=1e-5):
            raise BenchmarkError(
                f'profile: {spec.label}\'s backbone is not the sequence of '
                'its children; it cannot be profiled part by part')
        if spec.kind == 'segmentor':
            parts.append(('decode_head', HeadOnFeature(model.decode_head),
                          x))
    return parts


def profile_row(spec: ModelSpec, mode: str, builder: RowBuilder,
                gemm_macs_per_s: float, repeat: int = 3,
                warmup: int = 1) -> List[ProfilePart]:
    """Each part of ``spec``'s model in ``mode`` (``model_parts``), built
    like a row on the output of the parts before it (``builder``'s input
    for the first), checked against its own eager fused output and timed
    interleaved with the other parts; ``gemm_macs_per_s`` is the peak rate
    of the mode's precision."""
    mode = builder.with_global_options(parse_mode(mode)).name
    parts, prepared = model_parts(spec, builder.inputs), []
    for name, part, part_inputs in parts:
        part_spec = ModelSpec(f'{spec.label}.{name}', part, 'backbone',
                              tuple(part_inputs.shape[2:]),
                              part_inputs.shape[1])
        part_builder = RowBuilder(part_inputs, builder.workdir,
                                  str(builder.device), builder.fp16,
                                  builder.channels_last)
        # A part's output is a feature map, not classes: a bf16 part is
        # held to bf16's relative bound only, the agreement to the row.
        prepared += build_rows([part_spec], [mode], part_builder,
                               min_agreement=0.0)
    time_rows(prepared, repeat, warmup, str(builder.device))
    profile = []
    for (name, _, part_inputs), row in zip(parts, prepared):
        median = statistics.median(row.times)
        outputs = row.run()
        profile.append(ProfilePart(
            part=name, input_shape=list(part_inputs.shape),
            output_shape=list(outputs[0].shape), median_ms=1e3 * median,
            multiplications=row.multiplications,
            machine_fraction=row.multiplications / median / gemm_macs_per_s))
    return profile


def format_profile(row: str, parts: Sequence[ProfilePart],
                   row_median_ms: float) -> str:
    """A profile as a text table, with the parts' sum against the row."""
    header = (f'{"part":<14} {"output":>20} {"ms":>9} {"share":>6} '
              f'{"G mults":>8} {"% peak":>6}')
    lines = [f'profile of {row}, part by part:', header, '-' * len(header)]
    total = sum(p.median_ms for p in parts)
    for p in parts:
        shape = 'x'.join(str(s) for s in p.output_shape[1:])
        lines.append(f'{p.part:<14} {shape:>20} {p.median_ms:>9.1f} '
                     f'{100 * p.median_ms / total:>5.0f}% '
                     f'{p.multiplications / 1e9:>8.2f} '
                     f'{100 * p.machine_fraction:>5.0f}%')
    lines.append(f'parts {total:.1f} ms against the row\'s {row_median_ms:.1f}'
                 ' ms')
    return '\n'.join(lines)
