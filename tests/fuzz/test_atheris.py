"""A short coverage-guided atheris run (issue 12: "atheris where it runs") of the parsers that
face the network: the market channel, Binance lines and the user channel with its trades. Each
gets its seed corpus plus up to 1,000 mutated inputs (at most 2 s), in a subprocess, two at a
time (an instrumented start costs about 4 s, so the loaders, fuzzed by hypothesis, are left to
runs by hand: ``python -m tests.fuzz.atheris_main TARGET``). Skipped where atheris is not
installed (it ships Linux x86-64 wheels); deselect with ``-m "not atheris"``."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("atheris")
REPO = Path(__file__).resolve().parents[2]


def _fuzz(name: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.atheris_main",
            name,
            "-runs=1000",
            "-max_total_time=2",
            "-seed=12",
            "-timeout=5",
        ],
        cwd=scratch,
        env={**os.environ, "PYTHONPATH": str(REPO), "POLYTRADERS_FUZZ_SCRATCH": str(scratch)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.atheris
def test_the_network_parsers_survive_a_short_atheris_run(tmp_path: Path) -> None:
    names = ["binance_lines", "polymarket_wire", "user_channel"]
    for name in names:
        (tmp_path / name).mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(names, pool.map(lambda n: _fuzz(n, tmp_path / n), names), strict=True))
    for name, result in results.items():
        assert result.returncode == 0, f"{name}:\n{result.stderr[-3000:]}"
        assert "Done " in result.stderr, (
            f"{name}: libFuzzer did not finish\n{result.stderr[-2000:]}"
        )
        assert not list((tmp_path / name).glob("crash-*"))
