"""repseg.processor: the CPU model and instruction sets from
/proc/cpuinfo text, and the fallback where it cannot be read."""
from repseg.processor import (INSTRUCTION_SETS, describe,
                                        detect_processor, has_native_units,
                                        parse_cpuinfo)
from repseg.results import ProcessorInfo


def cpuinfo(model, flags, processors=2):
    block = ('processor\t: {i}\nvendor_id\t: X\nmodel name\t: {model}\n'
             'flags\t\t: {flags}\n\n')
    return ''.join(block.format(i=i, model=model, flags=flags)
                   for i in range(processors))


XEON_AMX = cpuinfo('Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz',
                   'fpu sse2 avx avx2 fma avx512f avx512bw avx512vl '
                   'avx_vnni avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 '
                   'amx_tile amx_int8')
EPYC_ZEN4 = cpuinfo('AMD EPYC 9B14', 'fpu sse2 avx avx2 fma avx512f '
                    'avx512_vnni avx512_bf16')
EPYC_ZEN3 = cpuinfo('AMD EPYC 7B13', 'fpu sse2 avx avx2 fma')


def test_parse_cpuinfo_names_model_and_instruction_sets():
    xeon = parse_cpuinfo(XEON_AMX)
    assert xeon.model.startswith('Intel(R) Xeon(R) Platinum 8481C')
    assert xeon.instruction_sets == list(INSTRUCTION_SETS)  # all of them
    zen4 = parse_cpuinfo(EPYC_ZEN4)
    assert zen4.model == 'AMD EPYC 9B14'
    assert zen4.instruction_sets == ['AVX2', 'AVX-512F', 'AVX512-VNNI',
                                     'AVX512-BF16']
    assert parse_cpuinfo(EPYC_ZEN3).instruction_sets == ['AVX2']
    # A flag must match whole: 'avx512f' is not 'avx512fp16'.
    assert parse_cpuinfo(cpuinfo('X', 'avx512fp16')).instruction_sets == []


def test_native_units_per_precision():
    xeon, zen4, zen3 = (parse_cpuinfo(t)
                        for t in (XEON_AMX, EPYC_ZEN4, EPYC_ZEN3))
    assert has_native_units(zen3, 'fp32') is True
    assert [has_native_units(p, 'bf16') for p in (xeon, zen4, zen3)] == [
        True, True, False]
    assert [has_native_units(p, 'int8') for p in (xeon, zen4, zen3)] == [
        True, True, False]
    unknown = ProcessorInfo('arm', None, 'test')
    assert has_native_units(unknown, 'bf16') is None
    assert 'unknown' in describe(unknown)


def test_no_flags_and_no_cpuinfo_fall_back(tmp_path):
    # Other architectures' /proc/cpuinfo has no flags line.
    arm = parse_cpuinfo('processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: '
                        'fp asimd\n')
    assert arm.instruction_sets is None and arm.model
    missing = detect_processor(str(tmp_path / 'no_cpuinfo'))
    assert missing.instruction_sets is None and missing.model
    assert 'no_cpuinfo' in missing.source
    written = tmp_path / 'cpuinfo'
    written.write_text(EPYC_ZEN4)
    assert detect_processor(str(written)) == ProcessorInfo(
        'AMD EPYC 9B14', ['AVX2', 'AVX-512F', 'AVX512-VNNI', 'AVX512-BF16'],
        str(written))


def test_processor_info_round_trips_through_json():
    info = parse_cpuinfo(XEON_AMX)
    assert ProcessorInfo.from_dict(info.to_dict()) == info
