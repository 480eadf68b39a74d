"""A benchmark child's peak memory is its own (``VmHWM``), not the parent's resident set that
Linux carries into ``ru_maxrss`` across the exec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench.memory import peak_rss_mib, rss_mib

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_a_child_started_by_a_big_process_reports_its_own_peak() -> None:
    ballast = bytearray(300 * 2**20)  # 300 MiB resident in this (the parent) process
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert rss_mib() > 300
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource; from bench.memory import peak_rss_mib; "
            "print(peak_rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    own_peak, maxrss = (float(x) for x in child.stdout.split())
    assert own_peak < 100  # an interpreter that imported almost nothing
    assert maxrss > 300  # what ru_maxrss says: the parent's resident set at the fork
    assert peak_rss_mib() >= rss_mib()
    del ballast
