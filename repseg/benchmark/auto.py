"""``auto``: the fastest verified path of a model on this machine.

The candidates are the paths repseg deploys (the fused model with the exact
rewrites its engine takes, on every engine, and PyTorch itself) in every
precision this processor computes natively (``repseg.processor``): fp32
everywhere; bf16 with AVX512-BF16 or AMX (PyTorch's autocast in
channels-last, OpenVINO's bf16 hint); int8, when asked for, with VNNI or
AMX (ONNX Runtime's and OpenVINO's quantized files). One interleaved run
of the benchmark times them all, each checked against the fp32 model to
its precision's bound (``repseg.equivalence.BOUNDS``), and the fastest
verified one is chosen. A processor without bf16 or VNNI units gets fp32
candidates only, among them ncnn's Winograd path.
"""
from typing import List, Optional, Sequence

from ..engines import ENGINES
from ..processor import describe, detect_processor, has_native_units
from ..results import BenchmarkReport, FastestPath, ProcessorInfo
from .models import ModelSpec
from .modes import BenchmarkError, deployed_mode, parse_mode
from .run import benchmark

#: The PyTorch paths: the fused model with the exact PSP factorization,
#: channels-last (oneDNN's preferred layout), in each precision.
PYTORCH_MODES = dict(fp32='fused+psp+cl', bf16='fused+psp+cl+bf16')


def engine_modes(precision: str) -> List[str]:
    """Every engine's deployed path (``deployed_mode``) in ``precision``,
    where the engine computes in it."""
    modes = []
    for engine in ENGINES.values():
        if precision == 'int8' and not engine.quantizer:
            continue
        if precision == 'bf16' and 'bf16' not in engine.precisions:
            continue
        mode = deployed_mode(engine)
        modes.append(mode if precision == 'fp32' else f'{mode}+{precision}')
    return modes


def native_precisions(processor: ProcessorInfo,
                      precisions: Sequence[str]) -> List[str]:
    """The ones of ``precisions`` this processor computes natively (fp32
    always; unknown instruction sets: fp32 only)."""
    return [p for p in precisions if has_native_units(processor, p)]


def candidate_modes(processor: Optional[ProcessorInfo] = None,
                    precisions: Sequence[str] = ('fp32', 'bf16')
                    ) -> List[str]:
    """The benchmark modes ``auto`` times on ``processor`` (this one by
    default), for the ``precisions`` allowed."""
    processor = processor or detect_processor()
    modes = []
    for precision in native_precisions(processor, precisions):
        if precision in PYTORCH_MODES:
            modes.append(PYTORCH_MODES[precision])
        modes += engine_modes(precision)
    return modes


def engine_of(mode: str) -> str:
    """The engine a mode runs in (``pytorch`` for PyTorch's runtimes)."""
    parsed = parse_mode(mode)
    return parsed.engine.name if parsed.engine else 'pytorch'


def fastest_paths(report: BenchmarkReport) -> List[FastestPath]:
    """Each model's fastest row of ``report``, with the others as
    runners-up and the report's failures of that model."""
    processor = describe(report.processor) if report.processor else 'unknown'
    shape = report.environment.get('input_shape')
    choices = []
    for model in dict.fromkeys(r.model for r in report.rows):
        rows = sorted((r for r in report.rows if r.model == model),
                      key=lambda r: r.median_ms)
        best = rows[0]
        failures = {name.split(':', 1)[1]: why
                    for name, why in report.failures.items()
                    if name.split(':', 1)[0] == model}
        choices.append(FastestPath(
            model=model, mode=best.mode, engine=engine_of(best.mode),
            precision=best.precision, median_ms=best.median_ms,
            input_shape=list(shape) if shape else [],
            processor=processor,
            runners_up=[[r.mode, r.median_ms] for r in rows[1:]],
            failures=failures))
    return choices


def find_fastest(specs: Sequence[ModelSpec],
                 shape: Optional[Sequence[int]] = None,
                 precisions: Sequence[str] = ('fp32', 'bf16'),
                 repeat: int = 5, warmup: int = 1,
                 min_agreement: Optional[float] = None,
                 modes: Optional[Sequence[str]] = None
                 ) -> (BenchmarkReport, List[FastestPath]):
    """Time every candidate path (``candidate_modes``, or ``modes``) of
    every model in one interleaved run, going on past the paths an engine
    cannot take; the report and each model's ``FastestPath``."""
    modes = list(modes or candidate_modes(precisions=precisions))
    if not modes:
        raise BenchmarkError('auto: no candidate path for precisions '
                             f'{list(precisions)} on this processor')
    report = benchmark(specs, modes, shape=shape, repeat=repeat,
                       warmup=warmup, min_agreement=min_agreement,
                       keep_going=True)
    return report, fastest_paths(report)


def deploy_fastest(config, checkpoint: str, out_dir: str,
                   shape: Optional[Sequence[int]] = None,
                   precisions: Sequence[str] = ('fp32', 'bf16'),
                   repeat: int = 5, warmup: int = 1,
                   calib_images: int = 32, calib_dir: Optional[str] = None,
                   min_agreement: Optional[float] = None):
    """``repseg.apis.deploy`` of the fastest verified path of the trained
    model (``find_fastest``, with its weights, at ``shape``): the fp32 files
    and the chosen engine and precision, with the choice and the
    runners-up in ``deploy.json`` (``DeployReport.fastest``), which
    ``init_model``, ``tools/infer.py`` and ``tools/test.py`` run when given
    the folder. The report and the benchmark's."""
    from ..apis.deploy import deploy
    from .models import model_from_config
    spec = model_from_config(config, checkpoint)
    timed, (choice, ) = find_fastest([spec], shape, precisions, repeat,
                                     warmup, min_agreement)
    engines = [] if choice.engine == 'pytorch' else [choice.engine]
    deployed = deploy(config, checkpoint, out_dir, shape, engines,
                      precisions=dict.fromkeys(['fp32', choice.precision]),
                      calib_images=calib_images, calib_dir=calib_dir,
                      min_agreement=min_agreement, fastest=choice)
    return deployed, timed
