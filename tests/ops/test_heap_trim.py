"""The heap trimmer gives freed native memory back to the OS (glibc), at most once per
interval of a controllable clock."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from polytraders.ops.heap_trim import HeapTrimmer, trim_heap

MIB = 2**20


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_freed_native_memory_goes_back_to_the_os() -> None:
    if not trim_heap():
        pytest.skip("this C library has no malloc_trim (not glibc)")
    # 48 KiB buffers come from malloc's heaps (below its mmap threshold); keeping every 16th
    # alive pins the heap's top, so glibc cannot shrink it by itself when the rest is freed
    buffers = [bytearray(48 * 1024) for _ in range(4_000)]  # ~190 MiB, touched (zeroed)
    kept = buffers[::16]
    del buffers
    gc.collect()
    before = rss_mib()
    assert trim_heap()
    after = rss_mib()
    assert before - after > 100, (before, after)  # most of the ~178 MiB freed is returned
    del kept


def test_the_trimmer_runs_at_most_once_per_interval() -> None:
    now = [100.0]
    trimmer = HeapTrimmer(interval_s=60.0, clock=lambda: now[0])
    assert not trimmer.maybe_trim()  # the first interval has not passed
    now[0] = 160.0
    trimmed = trimmer.maybe_trim()
    assert trimmed is trim_heap()  # True on glibc; never on a C library without malloc_trim
    assert trimmer.trims == int(trimmed)
    now[0] = 200.0
    assert not trimmer.maybe_trim()
    with pytest.raises(ValueError):
        HeapTrimmer(interval_s=0)
