"""The CPU this runs on: its model name and the instruction sets that
decide which precisions it computes natively (the benchmark's report, and
the INT8 quantizers' settings), read from the Linux kernel's
``/proc/cpuinfo`` flags."""
import platform
from typing import Dict, Optional, Tuple

from .results import ProcessorInfo

CPUINFO = '/proc/cpuinfo'

#: The instruction sets that matter for inference speed: name -> the
#: /proc/cpuinfo flag.
INSTRUCTION_SETS: Dict[str, str] = {
    'AVX2': 'avx2',
    'AVX-VNNI': 'avx_vnni',
    'AVX-512F': 'avx512f',
    'AVX512-VNNI': 'avx512_vnni',
    'AVX512-BF16': 'avx512_bf16',
    'AMX-BF16': 'amx_bf16',
    'AMX-INT8': 'amx_int8',
}

#: Precision -> the instruction sets of which one is enough to compute it
#: natively: bf16 dot products (without them PyTorch and OpenVINO emulate
#: bf16 in fp32) and int8 dot products, VNNI (without them int8 kernels
#: fall back to AVX2's multiply-and-add pairs, which can saturate).
NATIVE_UNITS: Dict[str, Tuple[str, ...]] = {
    'bf16': ('AVX512-BF16', 'AMX-BF16'),
    'int8': ('AVX-VNNI', 'AVX512-VNNI', 'AMX-INT8'),
}


def parse_cpuinfo(text: str, source: str = CPUINFO) -> ProcessorInfo:
    """The processor ``text`` (the contents of /proc/cpuinfo) describes:
    the first ``model name`` and the ``flags`` of the first processor
    (x86; other architectures name neither, and give the machine type
    with unknown instruction sets)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            fields.setdefault(key.strip(), value.strip())
    model = fields.get('model name') or platform.machine() or 'unknown'
    if 'flags' not in fields:
        return ProcessorInfo(model, None, f'{source} (no flags line)')
    flags = set(fields['flags'].split())
    return ProcessorInfo(
        model, [name for name, flag in INSTRUCTION_SETS.items()
                if flag in flags], source)


def detect_processor(path: str = CPUINFO) -> ProcessorInfo:
    """This machine's processor from ``path``; where it cannot be read (not
    Linux), the platform's processor name with unknown instruction sets."""
    try:
        with open(path, encoding='utf-8', errors='replace') as cpuinfo:
            return parse_cpuinfo(cpuinfo.read(), path)
    except OSError:
        model = platform.processor() or platform.machine() or 'unknown'
        return ProcessorInfo(model, None,
                             f'platform module ({path} not readable)')


def has_native_units(processor: ProcessorInfo,
                     precision: str) -> Optional[bool]:
    """Whether ``processor`` computes ``precision`` natively; fp32 always,
    None where its instruction sets are unknown."""
    if precision not in NATIVE_UNITS:
        return True
    if processor.instruction_sets is None:
        return None
    return any(name in processor.instruction_sets
               for name in NATIVE_UNITS[precision])


def describe(processor: ProcessorInfo) -> str:
    """One line: model and instruction sets."""
    sets = ('unknown' if processor.instruction_sets is None else
            ', '.join(processor.instruction_sets) or 'none of '
            + ', '.join(INSTRUCTION_SETS))
    return f'{processor.model} ({sets}; from {processor.source})'
