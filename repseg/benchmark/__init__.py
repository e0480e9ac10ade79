"""Side-by-side inference benchmark of the forms and runtimes of models.

A *row* is one model (a config, a RepVGG arch) in one *mode*
(``repseg.benchmark.modes``). All rows see the same input and are timed
interleaved (at each repeat every row runs once, starting from a rotating
position), so that machine noise hits every row alike; before timing,
every row's output is compared with the model's eager fused output.
"""
from .models import (ModelSpec, model_from_arch, model_from_config,
                     randomize_bn_statistics)
from .modes import (ALIASES, ENGINE_RUNTIMES, FAST_MODE, FORM_ALIASES, FORMS,
                    OPTIONS, REWRITES, RUNTIMES, BenchmarkError, Mode,
                    deployed_mode, parse_mode)
from .profile import format_profile, model_parts, profile_row
from .rows import Row, RowBuilder, build_rows, eager_reference, fused_form
from .run import benchmark, build_specs, environment
from .summary import find_row, format_table, row_names, summarize
from .timing import gemm_rate, measure_cuda_memory, measured_call, time_rows

__all__ = [
    'ALIASES', 'ENGINE_RUNTIMES', 'FAST_MODE', 'FORM_ALIASES', 'FORMS',
    'OPTIONS', 'REWRITES', 'RUNTIMES', 'BenchmarkError', 'Mode', 'ModelSpec',
    'Row', 'RowBuilder', 'benchmark', 'build_rows', 'build_specs',
    'deployed_mode', 'eager_reference', 'environment',
    'find_row', 'format_profile', 'format_table', 'fused_form', 'gemm_rate',
    'measure_cuda_memory', 'measured_call', 'model_from_arch',
    'model_from_config', 'model_parts', 'parse_mode', 'profile_row',
    'randomize_bn_statistics', 'row_names', 'summarize', 'time_rows'
]
