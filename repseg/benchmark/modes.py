"""The benchmark's modes: ``FORM[+OPTION...]``.

* FORM: ``multi-branch`` (the model as built; ``unfused`` is an old
  spelling of it) or ``fused`` (its inference form,
  ``repseg.models.to_inference_form``: RepVGG blocks fused, every conv+BN
  folded, baselines' too).
* options: exact rewrites (``repseg.rewrites``) ``psp`` (PSP head
  factorized), ``s2b`` (dilated RepVGG and ResNet stages as undilated convs
  on a mosaic of the input's polyphase sub-images, space-to-batch),
  ``wino2`` / ``wino4`` (every 3x3 stride-1 conv by Winograd F(2x2, 3x3) /
  F(4x4, 3x3)), ``cl`` (channels-last memory format), and at most one
  runtime: ``jit`` (TorchScript, frozen, optimized for inference),
  ``compile`` (``torch.compile``, inductor with weight freezing), or a
  deployment engine by its alias (``repseg.engines.ENGINES``): ``onnx``
  (ONNX Runtime, all graph optimizations), ``ncnn`` (ncnn via pnnx, its
  Winograd kernels on; one image at a time) or ``openvino`` (OpenVINO's CPU
  plugin, the IR converted from the ONNX export, latency hint), the engines
  on the CPU; and a precision: none for fp32, ``bf16`` for bfloat16 where
  the runtime computes in it (``BF16_RUNTIMES``): eager and ``compile``
  under ``torch.autocast`` in bf16 (with ``cl``, channels-last),
  ``openvino`` with its bf16 precision hint; ``int8`` for the engines with
  an INT8 quantizer (``INT8_RUNTIMES``: ``onnx``, ``openvino``), the
  exported file quantized, calibrated on the benchmark's own input. A
  reduced-precision row is held to its own bounds
  (``repseg.equivalence.BOUNDS``).

Aliases: ``jit``, ``compile``, ``onnx``, ``ncnn``, ``openvino`` mean
``fused+jit`` etc. (alone or as a mode's first part: ``openvino+bf16``),
and ``fast`` means ``FAST_MODE``, what deploy writes for ncnn
(``deployed_mode``): the segmentors' deployment path on a CPU.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..engines import ENGINES, Engine
from ..errors import RepSegError

FORMS = ('multi-branch', 'fused')
#: Old spellings of forms, parsed to the same ``Mode``.
FORM_ALIASES = {'unfused': 'multi-branch'}
REWRITES = ('psp', 's2b', 'wino2', 'wino4', 'cl')
#: Runtimes that run an exported file in a deployment engine (CPU, fp32):
#: each engine by its alias.
ENGINE_RUNTIMES: Dict[str, Engine] = {
    engine.alias: engine for engine in ENGINES.values()}
RUNTIMES = ('jit', 'compile') + tuple(ENGINE_RUNTIMES)
#: Precision options; fp32, the default, has none.
PRECISIONS = ('bf16', 'int8')
#: The runtimes that compute in bf16: PyTorch's under autocast, and the
#: engines that say so (``Engine.precisions``).
BF16_RUNTIMES = ('eager', 'compile') + tuple(
    alias for alias, engine in ENGINE_RUNTIMES.items()
    if 'bf16' in engine.precisions)
#: The runtimes that run an INT8 file: the engines with a quantizer.
INT8_RUNTIMES = tuple(alias for alias, engine in ENGINE_RUNTIMES.items()
                      if engine.quantizer)
OPTIONS = REWRITES + RUNTIMES + PRECISIONS


def deployed_mode(engine: Engine) -> str:
    """The mode that runs what ``repseg.apis.deploy`` writes for
    ``engine``: the fused model with the engine's rewrites, in the engine."""
    return '+'.join(('fused', ) + engine.rewrites + (engine.alias, ))


FAST_MODE = deployed_mode(ENGINES['ncnn'])
ALIASES = {'jit': 'fused+jit', 'compile': 'fused+compile',
           **{alias: f'fused+{alias}' for alias in ENGINE_RUNTIMES},
           'fast': FAST_MODE}


class BenchmarkError(RepSegError, ValueError):
    """Bad input to the benchmark (a mode, a model, a row name)."""


# --------------------------------------------------------------- modes


@dataclass(frozen=True)
class Mode:
    """A parsed mode: the model form, layout options, runtime and
    precision (``'fp32'``, ``'bf16'`` or ``'int8'``)."""
    form: str
    options: Tuple[str, ...] = ()
    runtime: str = 'eager'
    precision: str = 'fp32'

    @property
    def name(self) -> str:
        extras = [o for o in REWRITES if o in self.options]
        if self.runtime != 'eager':
            extras.append(self.runtime)
        if self.precision != 'fp32':
            extras.append(self.precision)
        return '+'.join([self.form] + extras)

    @property
    def engine(self) -> Optional[Engine]:
        """The deployment engine the mode runs in, None for PyTorch."""
        return ENGINE_RUNTIMES.get(self.runtime)


def parse_mode(text: str) -> Mode:
    """``'fused+cl+jit'`` -> ``Mode('fused', ('cl', ), 'jit')``,
    ``'fused+cl+bf16'`` -> ``Mode('fused', ('cl', ), 'eager', 'bf16')``; aliases
    (``jit``, ``onnx``, ``fast`` ...; also as the first part,
    ``openvino+bf16``) are expanded first, and an old form
    spelling (``unfused``) gives the form it stands for."""
    first, _, rest = text.partition('+')
    parts = (ALIASES.get(first, first) + '+' * bool(rest) + rest).split('+')
    form, options = FORM_ALIASES.get(parts[0], parts[0]), parts[1:]
    if form not in FORMS:
        raise BenchmarkError(
            f'mode {text!r}: starts with {form!r}, not one of {FORMS} (or an '
            f'alias: {sorted(ALIASES)})')
    unknown = [o for o in options if o not in OPTIONS]
    if unknown:
        raise BenchmarkError(f'mode {text!r}: unknown option(s) {unknown}; '
                             f'options are {OPTIONS}')
    if len(set(options)) != len(options):
        raise BenchmarkError(f'mode {text!r}: an option is repeated')
    if {'wino2', 'wino4'} <= set(options):
        raise BenchmarkError(f'mode {text!r}: wino2 or wino4, not both')
    runtimes = [o for o in options if o in RUNTIMES]
    if len(runtimes) > 1:
        raise BenchmarkError(f'mode {text!r}: at most one runtime of '
                             f'{RUNTIMES}, got {runtimes}')
    runtime = runtimes[0] if runtimes else 'eager'
    precisions = [o for o in options if o in PRECISIONS]
    if len(precisions) > 1:
        raise BenchmarkError(f'mode {text!r}: one precision, got '
                             f'{precisions}')
    precision = precisions[0] if precisions else 'fp32'
    able = dict(bf16=BF16_RUNTIMES, int8=INT8_RUNTIMES).get(precision)
    if able is not None and runtime not in able:
        raise BenchmarkError(f'mode {text!r}: the {runtime} runtime does not '
                             f'compute in {precision}; {precision} goes with '
                             f'{" or ".join(able)}')
    return Mode(form, tuple(o for o in REWRITES if o in options), runtime,
                precision)
