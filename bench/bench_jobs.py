"""Runs split by market, on one and on two processes.

The per-market desk (``examples/desk_per_market.toml``: strat.maker_tight, the four per-market
guards, exec.smartrouter) over the shipped Polymarket sample (12 markets, each its own
sub-run), exactly as ``polytraders backtest --jobs N`` runs it (the fill model's bounds
included), without outputs or store. Figures per ``--jobs``:

- ``wall_s`` — from opening the data to the merged result (worker start-up included);
- ``cpu_s`` — CPU time of this process and of the worker processes together (what the split
  costs: each worker imports the engine, events and results travel between processes);
- ``level_updates_per_s`` — price-level changes in the data per wall second (the unit of
  ``bench pipeline``);

then ``speedup`` (wall time with one job over wall time with two) and ``identical``: whether
both runs gave the same ``envelopes_sha256`` (they must). The machine's other load shows in
the figures: ``cpus`` is what this process may use; ``load_1min`` the load average before the
runs.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

from bench.data import POLYMARKET_SAMPLE, REPO
from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.feeds import open_source
from polytraders.model.events import BookDelta, BookSnapshot

DESCRIPTION = "runs split by market: the per-market desk on the real sample, --jobs 1 and 2"
DESK = REPO / "examples" / "desk_per_market.toml"


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its ended child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(quick: bool = False) -> dict[str, Any]:
    level_updates = sum(
        len(e.bids) + len(e.asks)
        for e in open_source(POLYMARKET_SAMPLE).events()
        if isinstance(e, BookSnapshot | BookDelta)
    )
    desk = DeskFile.load(DESK)
    figures: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)),
        "load_1min": round(os.getloadavg()[0], 2),
        "level_updates": level_updates,
    }
    digests: dict[int, str] = {}
    walls: dict[int, float] = {}
    for jobs in (1, 2):
        best, best_cpu = float("inf"), 0.0
        for _ in range(1 if quick else 2):
            started, cpu = time.perf_counter(), _cpu_s()
            outcome = run_desk(data=str(POLYMARKET_SAMPLE), desk_file=desk, jobs=jobs)
            wall = time.perf_counter() - started
            if wall < best:
                best, best_cpu = wall, _cpu_s() - cpu
        digests[jobs] = outcome.result.envelopes_sha256
        walls[jobs] = best
        figures[f"jobs{jobs}_sub_runs"] = outcome.partitions
        figures[f"jobs{jobs}_wall_s"] = round(best, 3)
        figures[f"jobs{jobs}_cpu_s"] = round(best_cpu, 3)
        figures[f"jobs{jobs}_level_updates_per_s"] = level_updates / best
    figures["speedup"] = round(walls[1] / walls[2], 3)
    figures["identical"] = digests[1] == digests[2]
    figures["envelopes_sha256"] = digests[1][:16]
    return figures
