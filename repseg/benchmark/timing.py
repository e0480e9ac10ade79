"""Timing rows interleaved, and measuring their peak memory.

Anything with a ``run()`` and a ``times`` list is timed (``Timed``; the
benchmark's ``Row``), so that this module needs nothing of ``rows``.
"""
import ctypes
import gc
import resource
import time
from typing import (Callable, Dict, List, Optional, Protocol, Sequence,
                    Tuple)

import torch
import torch.nn.functional as F
from torch import Tensor


class Timed(Protocol):
    """What timing needs of a row: the call to time, and a list that
    collects its latencies (s); ``loaded`` and ``release`` for timing rows
    that are not all kept loaded (``Row``'s)."""
    run: Callable[[], Tuple[Tensor, ...]]
    times: List[float]

    def loaded(self) -> Callable[[], Tuple[Tensor, ...]]:
        ...

    def release(self) -> None:
        ...


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_rows(rows: Sequence[Timed], repeat: int, warmup: int,
              device: str = 'cpu', resident: bool = True) -> None:
    """Time every row ``repeat`` times, interleaved: repeat ``r`` runs all
    rows once, starting at row ``r mod len(rows)``, so that slow phases of a
    shared machine fall on every row alike. ``warmup`` untimed rounds first
    (same interleaving). Latencies (s) go to ``row.times``.

    Not ``resident``: each row is loaded before each of its calls, called
    once untimed (the first call's allocations and kernel choices), timed
    and released, so that one row's memory is in use at a time."""
    device = torch.device(device)
    count = len(rows)
    for round_index in range(warmup + repeat):
        start = round_index % count
        for row in list(rows[start:]) + list(rows[:start]):
            if resident:
                run = row.run
            else:
                run = row.loaded()
                run()  # the first call after loading: allocations, kernels
            _synchronize(device)
            began = time.perf_counter()
            run()
            _synchronize(device)
            if round_index >= warmup:
                row.times.append(time.perf_counter() - began)
            if not resident:
                del run
                row.release()
                gc.collect()


def _best_time(call: Callable[[], object], device: torch.device,
               repeat: int) -> float:
    call()  # warm-up: threads, allocations, kernel choice
    best = float('inf')
    for _ in range(repeat):
        _synchronize(device)
        began = time.perf_counter()
        call()
        _synchronize(device)
        best = min(best, time.perf_counter() - began)
    return best


# 1x1 convolutions (channels, map side, channels-last) that oneDNN runs as
# GEMMs; which shape is fastest depends on the processor and on the run,
# so the rate is the best of them.
ONEDNN_GEMMS = ((512, 64, True), (1024, 64, True), (1024, 32, False))


def gemm_rate(device: str = 'cpu', size: int = 2048, repeat: int = 5) -> float:
    """The machine's fp32 multiply rate (multiply-adds per second): the best
    of ``repeat`` calls of GEMMs at torch's thread count, a square ``size``
    x ``size`` product (``torch.mm``: MKL on the CPU, cuBLAS on a GPU) and,
    on the CPU, the 1x1 convolutions of ``ONEDNN_GEMMS`` (oneDNN's GEMM
    kernels). Both, because MKL runs below the peak on AMD processors, where
    oneDNN does not."""
    device = torch.device(device)
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    rate = size**3 / _best_time(lambda: torch.mm(a, b), device, repeat)
    if device.type != 'cpu':
        return rate
    for channels, side, channels_last in ONEDNN_GEMMS:
        x = torch.randn(1, channels, side, side)
        w = torch.randn(channels, channels, 1, 1)
        if channels_last:
            x, w = (t.contiguous(memory_format=torch.channels_last)
                    for t in (x, w))
        seconds = _best_time(lambda: F.conv2d(x, w), device, repeat)
        rate = max(rate, channels**2 * side**2 / seconds)
    return rate


def bf16_rate(device: str = 'cpu', size: int = 2048,
              repeat: int = 5) -> float:
    """The machine's bf16 multiply rate (multiply-adds per second): the best
    of ``repeat`` square ``torch.matmul`` products of bf16 tensors (oneDNN's
    bf16 kernels on the CPU, emulated where it has no bf16 units)."""
    device = torch.device(device)
    a, b = (torch.randn(size, size, device=device, dtype=torch.bfloat16)
            for _ in range(2))
    return size**3 / _best_time(lambda: torch.matmul(a, b), device, repeat)


def int8_rate(device: str = 'cpu', size: int = 2048,
              repeat: int = 5) -> Optional[float]:
    """The machine's int8 multiply rate (multiply-adds per second): the best
    of ``repeat`` square ``torch._int_mm`` products (int8 x int8 -> int32;
    oneDNN on the CPU); None where this PyTorch lacks it."""
    device = torch.device(device)
    a, b = (torch.randint(-128, 128, (size, size), device=device,
                          dtype=torch.int8) for _ in range(2))
    try:
        return size**3 / _best_time(lambda: torch._int_mm(a, b), device,
                                    repeat)
    except (AttributeError, RuntimeError, NotImplementedError):
        return None


#: Precision -> how its peak rate is measured, in the report's order.
PEAK_RATES = dict(fp32=gemm_rate, bf16=bf16_rate, int8=int8_rate)


def peak_rates(device: str = 'cpu') -> Dict[str, float]:
    """Each precision's peak multiply rate (``PEAK_RATES``), those that can
    be measured."""
    rates = {precision: rate(device)
             for precision, rate in PEAK_RATES.items()}
    return {precision: rate for precision, rate in rates.items()
            if rate is not None}


def memory_is_short(reserve: float = 0.25) -> bool:
    """Whether the memory still available to programs (``MemAvailable`` of
    /proc/meminfo) is below ``reserve`` of the machine's; False where it
    cannot be read."""
    try:
        with open('/proc/meminfo') as meminfo:
            fields = dict(line.split(':', 1) for line in meminfo)
        available = int(fields['MemAvailable'].split()[0])
        total = int(fields['MemTotal'].split()[0])
    except (OSError, KeyError, ValueError):
        return False
    return available < reserve * total


def _current_rss() -> int:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``ru_maxrss``) to the current RSS,
    first returning freed heap pages to the system; False where this is not
    possible (not Linux >= 4.0)."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
        return True
    except OSError:
        return False


def measured_call(row: Timed,
                  device) -> Tuple[Tuple[Tensor, ...], Optional[int]]:
    """Call ``row`` once; its outputs and the peak memory of the call above
    what was in use before it (bytes; None where it cannot be measured).

    CPU: growth of the process's peak resident set size (``ru_maxrss`` of
    ``resource.getrusage``, its mark reset just before the call). RSS sees
    every allocator alike (torch, oneDNN, ONNX Runtime), but runtimes keep
    memory between calls (ONNX Runtime's arena), so this is measured on the
    row's first call after it is built. CUDA: ``max_memory_allocated``
    growth, exact per call (``measure_cuda_memory``, after the timing).
    """
    device = torch.device(device)
    if device.type == 'cuda' or not _reset_peak_rss():
        return row.run(), None
    before = _current_rss()
    outputs = row.run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return outputs, max(0, peak - before)


def measure_cuda_memory(row: Timed, device='cuda') -> int:
    """Peak CUDA memory of one call of ``row`` above what was allocated
    before it (``torch.cuda.max_memory_allocated``), in bytes."""
    device = torch.device(device)
    gc.collect()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    run = row.loaded()
    before = torch.cuda.memory_allocated(device)
    run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before
