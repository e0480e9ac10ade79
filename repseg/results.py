"""The JSON reports repseg's tools write, each defined once.

``tools/deploy.py`` writes a ``DeployReport`` (``deploy.json``),
``tools/test.py --report`` an ``EvaluationReport`` and
``tools/analysis_tools/benchmark.py --json`` a ``BenchmarkReport`` and
``tools/infer.py --json`` an ``InferenceReport``; the demo
report reads them back through the same classes, so a renamed or missing
key fails where the file is read, naming the file and the key.
"""
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Type, TypeVar

from .errors import RepSegError
from .fileio import atomic_output

T = TypeVar('T', bound='JsonRecord')

# The older name of ``EvaluationReport.fused``, still read from a report.
LEGACY_FUSED_KEY = 'reparameterized'


class ReportFormatError(RepSegError, ValueError):
    """A report file does not hold what its class defines."""


class JsonRecord:
    """A dataclass written as a JSON object, field for field, and read back
    strictly: a missing or unknown key is an error."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: Type[T], data: dict, source: str = 'report') -> T:
        if not isinstance(data, dict):
            raise ReportFormatError(f'{source}: expected a JSON object for '
                                    f'{cls.__name__}, got {type(data).__name__}')
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = {name for name, f in fields.items()
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(data))
        unknown = sorted(set(data) - set(fields))
        if missing or unknown:
            raise ReportFormatError(
                f'{source}: not a {cls.__name__}: missing keys {missing}, '
                f'unknown keys {unknown}')
        return cls(**data)

    def dump(self, path) -> None:
        """Write the record as indented JSON, atomically."""
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + '\n')

    @classmethod
    def load(cls: Type[T], path) -> T:
        """Read a record that ``dump`` (or the same tool) wrote."""
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError) as err:
            raise ReportFormatError(f'{path}: cannot read a '
                                    f'{cls.__name__}: {err}') from err
        return cls.from_dict(data, source=str(path))


@dataclass
class EngineCheck(JsonRecord):
    """One engine's exported file, as ``tools/deploy.py`` checked it.

    Args:
        file: Its name in the deploy folder.
        max_rel_diff: Its largest output difference from the trained
            model, over the largest output.
        tolerance: The bound it was held to.
        fp16: Whether its weights are half precision.
        dynamic_image_size: Whether it takes any image size.
        rewrites: The exact rewrites (``repseg.rewrites``) of the exported
            model.
        precision: What the engine computed in (``fp32``, ``bf16``,
            ``int8``; ``repseg.equivalence.PRECISIONS``).
        argmax_agreement: The share of output positions where it picks the
            trained model's class.
        min_agreement: The agreement it was held to (None: fp32, held to
            ``tolerance`` alone).
        options: The engine's own settings it ran with, by the engine's
            names (``Backend.options``): what an application sets to get
            the same outputs.
        checked_on: ``'random'`` inputs, or the ``'calibration images'``
            (INT8: its scales are fitted to real images).
    """
    file: str
    max_rel_diff: float
    tolerance: float
    fp16: bool
    dynamic_image_size: bool
    rewrites: List[str] = field(default_factory=list)
    precision: str = 'fp32'
    argmax_agreement: Optional[float] = None
    min_agreement: Optional[float] = None
    options: dict = field(default_factory=dict)
    checked_on: str = 'random'


@dataclass
class FastestPath(JsonRecord):
    """The fastest verified path of a model on one machine, as
    ``repseg.benchmark.auto`` found it in one interleaved run.

    Args:
        model: The model's label.
        mode: The benchmark mode of the chosen path (``fused+psp+s2b+ncnn``,
            ``fused+psp+openvino+bf16`` ...).
        engine: Its engine (``ncnn`` ...), or ``pytorch``.
        precision: What it computes in.
        file: Its file in the deploy folder (``deploy.ncnn.param``,
            ``deploy.pth`` ...); empty before it is deployed.
        median_ms: Its median latency.
        input_shape: The input it was timed on, N C H W.
        processor: The CPU, in one line (``repseg.processor.describe``).
        runners_up: ``[mode, median_ms]`` of every other verified path,
            fastest first.
        failures: Mode -> why that path could not run or was refused.
    """
    model: str
    mode: str
    engine: str
    precision: str
    median_ms: float
    input_shape: List[int]
    processor: str
    runners_up: List[list] = field(default_factory=list)
    failures: Dict[str, str] = field(default_factory=dict)
    file: str = ''

    def lines(self) -> List[str]:
        """The choice and the runners-up, for a terminal."""
        lines = [f'fastest path of {self.model} on {self.processor}, input '
                 f'{"x".join(map(str, self.input_shape))}:',
                 f'  {self.mode} ({self.engine}, {self.precision}): '
                 f'{self.median_ms:.1f} ms']
        lines += [f'  runner-up {mode}: {ms:.1f} ms ({ms / self.median_ms:.2f}x)'
                  for mode, ms in self.runners_up]
        lines += [f'  not possible {mode}: {why}'
                  for mode, why in self.failures.items()]
        return lines


@dataclass
class DeployReport(JsonRecord):
    """What ``tools/deploy.py`` verified (``deploy.json``).

    Args:
        max_abs_diff: Largest |fused - trained| output difference.
        max_rel_diff: The same over the largest |trained output|.
        input_shape: The verification input, N C H W.
        folded: conv+BN pairs folded, per top-level part of the model.
        before / after: ``params``, ``convs`` and ``norms`` (BN layers) of
            the trained and the deployed model.
        engines: What each engine's exported file was checked to, by engine
            name (``--backend``) for fp32 and ``ENGINE:PRECISION``
            (``openvino:bf16``, ``onnxruntime:int8``, ``pytorch:bf16``)
            for the other precisions (``check_key``).
        fastest: With ``--auto``: the path deploy chose and wrote
            (``FastestPath``); infer and test run it when given the folder.
    """
    max_abs_diff: float
    max_rel_diff: float
    input_shape: List[int]
    folded: Dict[str, int]
    before: Dict[str, int]
    after: Dict[str, int]
    engines: Dict[str, 'EngineCheck'] = field(default_factory=dict)
    fastest: Optional['FastestPath'] = None

    def to_dict(self) -> dict:
        data = super().to_dict()
        if data['fastest'] is None:  # a plain deploy: as before --auto
            del data['fastest']
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = 'report'):
        report = super().from_dict(data, source)
        if isinstance(report.fastest, dict):
            report.fastest = FastestPath.from_dict(report.fastest,
                                                   f'{source}: fastest')
        report.engines = {
            name: check if isinstance(check, EngineCheck) else
            EngineCheck.from_dict(check, f'{source}: engines.{name}')
            for name, check in report.engines.items()}
        return report


@dataclass
class EvaluationReport(JsonRecord):
    """What ``tools/test.py --report`` measured.

    In the file the summary metrics stand at the top level under the names
    the evaluators give them (``mIoU``, ``mAcc``, ``aAcc``;
    ``accuracy/top1`` ...), next to the other fields. Older reports call
    ``fused`` ``reparameterized``, and are read the same way.

    Args:
        metrics: Summary metrics (None for NaN).
        fused: Whether the fused model was evaluated (else the multi-branch
            one, as trained).
        config / checkpoint: Absolute paths of what was evaluated.
        per_class: IoU per class name (segmentation only).
        backend: What ran it: ``pytorch`` or an engine (``onnxruntime`` ...).
        precision: What it computed in (``fp32``, ``bf16``, ``int8``).
    """
    metrics: Dict[str, Optional[float]]
    fused: bool
    config: str
    checkpoint: str
    per_class: Dict[str, Optional[float]] = field(default_factory=dict)
    backend: str = 'pytorch'
    precision: str = 'fp32'

    def to_dict(self) -> dict:
        data = dict(self.metrics, fused=self.fused,
                    config=self.config, checkpoint=self.checkpoint,
                    backend=self.backend, precision=self.precision)
        if self.per_class:
            data['per_class'] = dict(self.per_class)
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = 'report'):
        if not isinstance(data, dict):
            raise ReportFormatError(f'{source}: expected a JSON object for '
                                    f'{cls.__name__}')
        data = dict(data)
        legacy = data.pop(LEGACY_FUSED_KEY, None)
        if legacy is not None:
            data.setdefault('fused', legacy)
        missing = [k for k in ('fused', 'config', 'checkpoint')
                   if k not in data]
        if missing:
            raise ReportFormatError(f'{source}: not an {cls.__name__}: '
                                    f'missing keys {missing}')
        fixed = {k: data.pop(k) for k in ('fused', 'config', 'checkpoint')}
        per_class = data.pop('per_class', {})
        backend = data.pop('backend', 'pytorch')
        precision = data.pop('precision', 'fp32')
        return cls(metrics=data, per_class=per_class, backend=backend,
                   precision=precision, **fixed)

    def metric(self, name: str) -> Optional[float]:
        """One summary metric; ``KeyError`` naming the ones there are."""
        if name not in self.metrics:
            raise KeyError(f'no metric {name!r} in the report; it has '
                           f'{sorted(self.metrics)}')
        return self.metrics[name]


@dataclass
class BenchmarkRow(JsonRecord):
    """One model in one mode, as timed.

    Latencies in milliseconds (median, quartiles, extremes, every call),
    ``images_per_s`` from the median, ``peak_memory_mib`` None where it
    could not be measured, ``max_rel_diff`` from the eager fused model and
    ``speedup`` over the report's reference row; ``multiplications`` per
    call under the row's Winograd tiles and ``machine_fraction``, their rate
    over the peak rate of the row's ``precision`` measured in the same run
    (None where not known).

    ``tolerance`` is the bound ``max_rel_diff`` was held to. A bf16 row is
    also held to ``min_agreement``: ``argmax_agreement`` is the share of
    output positions (over the class / channel axis) where it picks what
    the fp32 eager fused model picks. ``native_units``: whether the
    processor has instructions for the row's precision (False: emulated;
    None: not known).
    """
    row: str
    model: str
    mode: str
    batch_size: int
    repeats: int
    median_ms: float
    q1_ms: float
    q3_ms: float
    min_ms: float
    max_ms: float
    images_per_s: float
    peak_memory_mib: Optional[float]
    max_rel_diff: float
    speedup: float
    latencies_ms: List[float]
    multiplications: Optional[int] = None
    machine_fraction: Optional[float] = None
    precision: str = 'fp32'
    tolerance: Optional[float] = None
    argmax_agreement: Optional[float] = None
    min_agreement: Optional[float] = None
    native_units: Optional[bool] = None


@dataclass
class ProcessorInfo(JsonRecord):
    """The CPU the figures were measured on
    (``repseg.processor``).

    Args:
        model: Its model name.
        instruction_sets: Those of ``INSTRUCTION_SETS`` it has, None where
            they could not be read.
        source: Where both were read from.
    """
    model: str
    instruction_sets: Optional[List[str]]
    source: str


@dataclass
class ProfilePart(JsonRecord):
    """One part of a profiled row (``repseg.benchmark.profile``), timed
    alone in the row's mode: median latency (ms), multiplications per call
    under the row's Winograd tiles and their rate over the run's peak rate
    of the row's precision."""
    part: str
    input_shape: List[int]
    output_shape: List[int]
    median_ms: float
    multiplications: int
    machine_fraction: float


@dataclass
class BenchmarkReport(JsonRecord):
    """What ``tools/analysis_tools/benchmark.py --json`` measured.

    Args:
        environment: Device, input shape, threads, versions, ...
        reference: The row the speed-ups are relative to.
        tolerance: The output bound of the fp32 rows (every row records
            the bounds it was held to).
        rows: The rows, in the order they were built.
        profiles: Row name -> its parts, for the rows profiled.
        processor: The CPU (also for a CUDA run: it drives the engines).
        peak_macs_per_s: Precision (``fp32``, ``bf16``, ``int8``) -> the
            multiply-add rate of the device's matrix products in it, the
            better of before and after the timing.
        failures: Row name -> why it could not be built or checked (the
            exception's type and first line), for a run that goes on past
            them (``keep_going``).
    """
    environment: dict
    reference: str
    tolerance: float
    rows: List[BenchmarkRow]
    profiles: Dict[str, List[ProfilePart]] = field(default_factory=dict)
    processor: Optional[ProcessorInfo] = None
    peak_macs_per_s: Dict[str, float] = field(default_factory=dict)
    failures: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict, source: str = 'report'):
        report = super().from_dict(data, source)
        if isinstance(report.processor, dict):
            report.processor = ProcessorInfo.from_dict(
                report.processor, f'{source}: processor')
        report.rows = [row if isinstance(row, BenchmarkRow) else
                       BenchmarkRow.from_dict(row, f'{source}: rows[{i}]')
                       for i, row in enumerate(report.rows)]
        report.profiles = {
            name: [part if isinstance(part, ProfilePart) else
                   ProfilePart.from_dict(part, f'{source}: profiles[{name}]')
                   for part in parts]
            for name, parts in report.profiles.items()}
        return report


@dataclass
class InferenceReport(JsonRecord):
    """What ``tools/infer.py`` did (``--json``).

    Args:
        kind: ``'images'``, ``'video'`` or ``'camera'``.
        done: Images or frames segmented.
        failures: ``[input, reason]`` of each input that failed.
        median_latency_ms: The model's median time per image (the test
            pipeline and the model call).
        fps: Images or frames per second end to end (reading and writing
            included).
        backend / device / threads: Where it ran.
        precision: What the network computed in.
    """
    kind: str
    done: int
    failures: List[List[str]]
    median_latency_ms: Optional[float]
    fps: Optional[float]
    backend: str
    device: str
    threads: int
    precision: str = 'fp32'

    def lines(self) -> List[str]:
        unit = 'frames' if self.kind in ('video', 'camera') else 'images'
        latency = ('n/a' if self.median_latency_ms is None else
                   f'{self.median_latency_ms:.1f} ms')
        fps = 'n/a' if self.fps is None else f'{self.fps:.2f}'
        lines = [f'{unit}: {self.done}, median latency per image: {latency}, '
                 f'FPS: {fps}, backend: {self.backend}, device: '
                 f'{self.device}, threads: {self.threads}, precision: '
                 f'{self.precision}']
        if self.failures:
            lines.append(f'{len(self.failures)} failed:')
            lines += [f'  {reason}' if reason.startswith(item) else
                      f'  {item}: {reason}' for item, reason in self.failures]
        return lines


@dataclass
class QuantizeReport(JsonRecord):
    """What ``tools/quantize.py`` did (``quantize.json``).

    Args:
        backend: The engine that runs both files.
        fp32_file / int8_file: The exported model and its INT8 form.
        input_shape: What both take, N C H W.
        calibration_images / calibration_source: How many images, and from
            where (a folder, or the config's training set).
        settings: The quantizer's settings (library, format, weights,
            activations, calibration, reduce_range).
        fp32_max_rel_diff: The fp32 file against the trained model
            (``tools/deploy.py``'s check).
        int8_max_rel_diff: The INT8 file against the trained model on the
            calibration images, over the largest fp32 logit.
        int8_agreement: The share of the engine's output positions (the
            decode head's logits before resizing; images, for a classifier)
            where both pick the same class, on the calibration images.
    """
    backend: str
    fp32_file: str
    int8_file: str
    input_shape: List[int]
    calibration_images: int
    calibration_source: str
    settings: dict
    fp32_max_rel_diff: float
    int8_max_rel_diff: float
    int8_agreement: float
