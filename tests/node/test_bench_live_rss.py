"""The live-session memory benchmark (bench/bench_live_rss.py): its RSS reading, slope and
summary on known series, and a short session against the simulator that reports samples.
The memory figures themselves are the benchmark's to print, never asserted here."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.bench_live_rss import (
    Sample,
    rss_mib,
    run_session,
    slope_per_hour,
    summarize,
    verdict_from_s,
)

from polytraders.store import EventStore


def _sample(t_s: float, rss: float, events: int = 0, sqlite: float = 0.0) -> Sample:
    return Sample(t_s, rss, sqlite, 50.0, events, events // 10, 0, 0, events * 2, 0)


def test_the_slope_is_per_hour_and_least_squares() -> None:
    assert slope_per_hour([(t, 100.0 + 0.01 * t) for t in range(0, 600, 5)]) == pytest.approx(36)
    assert slope_per_hour([(0, 5.0), (10, 5.0), (20, 5.0)]) == 0
    # the least-squares fit, not the end points: these rise by 2 but fit a flat line
    assert slope_per_hour([(0, 10.0), (1, 14.0), (2, 8.0), (3, 12.0)]) == 0
    with pytest.raises(ValueError, match="two distinct times"):
        slope_per_hour([(3, 1.0), (3, 2.0)])


def test_the_summary_leaves_the_warm_up_out_of_the_growth_but_not_the_peak() -> None:
    samples = [
        _sample(0, 100.0),
        _sample(5, 180.0, 500),  # warm-up: imports, caches
        _sample(10, 150.0, 1_000, sqlite=10.0),
        _sample(15, 160.0, 1_500, sqlite=20.0),  # SQLite's page cache filling
        _sample(20, 170.0, 2_000, sqlite=30.0),
    ]
    summary = summarize(samples, warmup_s=10)
    assert summary["rss_first_mib"] == 150 and summary["rss_last_mib"] == 170
    assert summary["rss_peak_mib"] == 180
    assert summary["rss_growth_mib_per_hour"] == 2 * 3_600
    assert summary["rss_less_sqlite_growth_mib_per_hour"] == 0
    assert (summary["sqlite_first_mib"], summary["sqlite_last_mib"]) == (10, 30)
    assert summary["events_per_s"] == 100
    assert (summary["samples"], summary["orders"], summary["envelopes"]) == (5, 200, 4_000)
    with pytest.raises(ValueError, match="1 sample"):
        summarize(samples, warmup_s=20)


def test_rss_is_read_from_proc_for_this_process_and_another() -> None:
    assert rss_mib() > 1
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"
        assert 1 < rss_mib(child.pid) < rss_mib()
    finally:
        child.communicate(b"")
    with pytest.raises(OSError):
        rss_mib(2**22 + os.getpid())  # above the kernel's pid limit: no such process


@pytest.mark.slow
def test_a_short_session_reports_samples_while_the_desk_trades(tmp_path: Path) -> None:
    reported: list[Sample] = []
    store = tmp_path / "desk.sqlite"
    observed = run_session(25.0, store, sample_s=2.0, report=reported.append)
    samples = observed.samples
    assert samples == reported
    assert samples[0].t_s == 0 and samples[-1].t_s >= 25
    assert len(samples) >= 8  # one every 2 s, give or take a slow round on a loaded machine
    assert all(a.t_s < b.t_s for a, b in itertools.pairwise(samples))
    for field in ("events", "orders", "envelopes"):
        series = [getattr(s, field) for s in samples]
        assert series == sorted(series) and series[-1] > 0, field
    assert all(s.rss_mib > 0 and s.sqlite_mib > 0 and s.sim_rss_mib > 0 for s in samples)
    assert observed.trading_state == "ACTIVE"
    assert observed.horizon_s == 360  # the node's default: 300 s venue retention + 60 s
    assert observed.store_mib > 0
    summary = summarize(samples, warmup_s=5)
    assert summary["orders"] == samples[-1].orders and summary["events_per_s"] > 0
    with EventStore.open(str(store), create=False) as opened:
        (run,) = opened.runs()
        assert run.run_id == "bench-live-rss"
        assert opened.counts(run.ref).envelopes == samples[-1].envelopes


def test_the_verdict_waits_for_the_memory_horizon_when_the_run_allows() -> None:
    assert verdict_from_s(900, 360) == 450  # the second half is past the horizon + 1 min
    assert verdict_from_s(600, 360) == 420  # a 10-minute run: from a minute past it
    assert verdict_from_s(60, 360) == 30  # --quick: no room, judged on its second half
