"""Side-by-side inference benchmark of the forms and runtimes of models.

A *row* is one model (a config, a RepVGG arch) in one *mode*
(``repseg.benchmark.modes``). All rows see the same input and are timed
interleaved (at each repeat every row runs once, starting from a rotating
position), so that machine noise hits every row alike; before timing,
every row's output is compared with the model's eager fused output.
"""
from .models import (ModelSpec, model_from_arch, model_from_config,
                     randomize_bn_statistics)
from .modes import (ALIASES, BF16_RUNTIMES, ENGINE_RUNTIMES, FAST_MODE,
                    FORM_ALIASES, FORMS, OPTIONS, PRECISIONS, REWRITES,
                    RUNTIMES, BenchmarkError, Mode, deployed_mode, parse_mode)
from ..equivalence import BF16_MIN_AGREEMENT, BF16_TOLERANCE, argmax_agreement
from ..processor import (INSTRUCTION_SETS, detect_processor, has_native_units,
                        parse_cpuinfo)
from .profile import format_profile, model_parts, profile_row
from .rows import Row, RowBuilder, build_rows, eager_reference, fused_form
from .run import benchmark, build_specs, environment
from .summary import (find_row, format_machine, format_table, row_names,
                      summarize)
from .timing import (bf16_rate, gemm_rate, int8_rate, measure_cuda_memory,
                     measured_call, peak_rates, time_rows)

__all__ = [
    'ALIASES', 'BF16_MIN_AGREEMENT', 'BF16_RUNTIMES', 'BF16_TOLERANCE',
    'ENGINE_RUNTIMES', 'FAST_MODE', 'FORM_ALIASES', 'FORMS',
    'INSTRUCTION_SETS', 'OPTIONS', 'PRECISIONS', 'REWRITES', 'RUNTIMES',
    'BenchmarkError', 'Mode', 'ModelSpec', 'Row', 'RowBuilder',
    'argmax_agreement', 'benchmark', 'bf16_rate', 'build_rows',
    'build_specs', 'deployed_mode', 'detect_processor', 'eager_reference',
    'environment', 'find_row', 'format_machine', 'format_profile',
    'format_table', 'fused_form', 'gemm_rate', 'has_native_units',
    'int8_rate', 'measure_cuda_memory', 'measured_call', 'model_from_arch',
    'model_from_config', 'model_parts', 'parse_cpuinfo', 'parse_mode',
    'peak_rates', 'profile_row', 'randomize_bn_statistics', 'row_names',
    'summarize', 'time_rows'
]
