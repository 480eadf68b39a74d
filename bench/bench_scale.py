"""Scale: the default run over N× the shipped sample; cost per level update and peak memory.

The input is the shipped Polymarket sample (``data/samples/polymarket/resolvedkit_btc15m``,
12 markets over about 4.75 h) replicated N times (:func:`replicate`) into a temporary Parquet
directory of the layout the feed reads (:mod:`polytraders.feeds.parquet`). Copy ``k`` runs
in time slot ``k // LANES`` and lane ``k % LANES`` (one lane at 1×): a time slot shifts every
timestamp of the copy (book rows, market start and end) by a whole number of sample spans
(:data:`SLOT_MS`, 5 h: the span rounded up to whole 15-minute periods, so copies never overlap
and slugs keep naming their period), and a lane gives the copy's markets new, distinct,
deterministic ids and slugs, so parallel lanes are separate markets trading at the same time.
Copy 0 is the sample itself (ids and times unchanged). Books, payouts and categories are the
sample's; the files are written one row group per market, as a partitioned writer would.

Each size runs in a fresh child process (:mod:`bench.scale_run`) through
:func:`polytraders.backtest.engine.run_desk`, the code path of ``polytraders run``: the default
desk on the paper venue with both fill bounds, the store on a temporary SQLite file and the
outputs (result.json, envelopes.jsonl, fills.csv, report.html) in a temporary folder. The child
reports its own peak resident memory (``VmHWM``, not ``ru_maxrss``, which Linux carries across
the exec from the benchmark process: :mod:`bench.memory`), so each size's figure is its own.
``python -m bench.bench_scale N DIR`` writes the N× input alone (for profiling).

Figures per size (``1x_…``, ``5x_…``, ``20x_…``; ``--quick``: 1×, 2×, 5×):
``level_updates`` (price-level changes the feed gives the desk, counted by a separate pass of
the feed), ``events``, ``envelopes``, ``orders``, ``wall_s`` (the whole ``run_desk`` call:
replay, store, outputs) and ``cpu_s`` (the child's CPU time for it), ``level_updates_per_s``
and ``level_updates_per_cpu_s`` (on a shared machine the CPU figure shows the cost without the
wait for a core) and ``peak_rss_mib``; then, for each larger size, ``throughput_<N>x_vs_1x``
(and ``throughput_per_cpu_<N>x_vs_1x``) and ``rss_<N>x_vs_1x``. Goal (issue 20): throughput
within 20 % of 1× (ratio ≥ 0.8) and RSS growing sub-linearly in N.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.data import POLYMARKET_SAMPLE, REPO
from polytraders.feeds import open_source
from polytraders.feeds.parquet_schema import BOOKS_FILE, MARKETS_FILE
from polytraders.model.events import BookDelta, BookSnapshot

DESCRIPTION = "default run over 1x/5x/20x the sample (time x markets): throughput, peak RSS"

SIZES = (1, 5, 20)
QUICK_SIZES = (1, 2, 5)
LANES = 2
"""Copies trading side by side (as distinct markets) in each time slot, from 2× on."""
SLOT_MS = 5 * 3_600_000
"""Shift between time slots (ms): the sample's span (about 4.75 h) rounded up to whole
15-minute periods."""
_PERIOD_MS = 15 * 60_000


def replicate(sample: Path, target: Path, copies: int) -> None:
    """Write ``copies`` copies of the Parquet-layout ``sample`` into ``target`` (created),
    placed as the module docstring says.

    Raises:
        ValueError: ``copies`` < 1, or the sample's span does not fit :data:`SLOT_MS`.
    """
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    markets = pq.read_table(sample / MARKETS_FILE)
    books = pq.read_table(sample / BOOKS_FILE)
    ts = books["ts"]
    span_ms = pc.max(ts).as_py() - pc.min(ts).as_py()
    if span_ms >= SLOT_MS or SLOT_MS % _PERIOD_MS:
        raise ValueError(f"sample span {span_ms} ms does not fit a {SLOT_MS} ms time slot")
    lanes = LANES if copies > 1 else 1
    ids = markets["market_id"].to_pylist()
    slugs = markets["slug"].to_pylist()
    questions = markets["question"].to_pylist()
    rows_of = {
        market_id: books.filter(pc.equal(books["market_id"], market_id)).sort_by("ts")
        for market_id in ids
    }
    target.mkdir(parents=True)
    copied_markets = []
    writer = pq.ParquetWriter(target / BOOKS_FILE, books.schema)
    try:
        for k in range(copies):
            slot, lane = divmod(k, lanes)
            shift_ms = slot * SLOT_MS
            new_ids = [_copy_id(market_id, k) for market_id in ids]
            copied_markets.append(
                _shifted(markets, shift_ms)
                .set_column(0, "market_id", pa.array(new_ids, markets.schema.field(0).type))
                .set_column(
                    markets.schema.get_field_index("slug"),
                    "slug",
                    pa.array(
                        [_copy_slug(s, shift_ms, lane) for s in slugs],
                        markets.schema.field("slug").type,
                    ),
                )
                .set_column(
                    markets.schema.get_field_index("question"),
                    "question",
                    pa.array(
                        [_copy_question(q, k, shift_ms, lane) for q in questions],
                        markets.schema.field("question").type,
                    ),
                )
            )
            for market_id, new_id in zip(ids, new_ids, strict=True):
                rows = rows_of[market_id]
                rows = rows.set_column(
                    0, "market_id", pa.array([new_id] * rows.num_rows, books.schema.field(0).type)
                ).set_column(1, "ts", pc.add(rows["ts"], shift_ms))
                writer.write_table(rows, row_group_size=rows.num_rows)
    finally:
        writer.close()
    pq.write_table(pa.concat_tables(copied_markets), target / MARKETS_FILE)


def _copy_id(market_id: str, k: int) -> str:
    """Copy ``k``'s id of ``market_id``: itself for copy 0, else a deterministic 0x + 64 hex."""
    if k == 0:
        return market_id
    return "0x" + hashlib.sha256(f"{market_id}|copy {k}".encode()).hexdigest()


def _copy_question(question: str, k: int, shift_ms: int, lane: int) -> str:
    """The question of a copy: the sample's, saying which copy it is (its date is the sample's)."""
    if k == 0:
        return question
    return f"{question} [copy {k}: {shift_ms // 3_600_000:+d} h, lane {lane}]"


def _copy_slug(slug: str, shift_ms: int, lane: int) -> str:
    """The slug of a copy: a trailing start time (s) moves with the copy; lanes > 0 add
    ``-lane<N>`` so parallel copies differ."""
    head, _, tail = slug.rpartition("-")
    if head and tail.isdigit():
        slug = f"{head}-{int(tail) + shift_ms // 1_000}"
    return f"{slug}-lane{lane}" if lane else slug


def _shifted(markets: pa.Table, shift_ms: int) -> pa.Table:
    """``markets`` with ``start_ts`` and ``end_ts`` moved by ``shift_ms``."""
    for name in ("start_ts", "end_ts"):
        index = markets.schema.get_field_index(name)
        markets = markets.set_column(index, name, pc.add(markets[name], shift_ms))
    return markets


def level_updates(data: Path) -> tuple[int, int]:
    """(level updates, events) of one pass of the feed over ``data``."""
    updates = events = 0
    for event in open_source(data).events():
        events += 1
        if isinstance(event, BookSnapshot | BookDelta):
            updates += len(event.bids) + len(event.asks)
    return updates, events


def _run_child(data: Path, work: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale_run", str(data), str(work)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale child over {data} failed ({done.returncode}): {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> dict[str, float | int | str]:
    sizes = QUICK_SIZES if quick else SIZES
    figures: dict[str, float | int | str] = {}
    base: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for size in sizes:
            folder = Path(tmp) / f"{size}x"
            data = folder / "data"
            replicate(POLYMARKET_SAMPLE, data, size)
            updates, feed_events = level_updates(data)
            child = _run_child(data, folder)
            if child["events"] != feed_events:
                raise RuntimeError(
                    f"{size}x: the run processed {child['events']} events, the feed gave "
                    f"{feed_events}"
                )
            per_s = updates / child["wall_s"]
            per_cpu_s = updates / child["cpu_s"]
            figures.update(
                {
                    f"{size}x_level_updates": updates,
                    f"{size}x_events": child["events"],
                    f"{size}x_envelopes": child["envelopes"],
                    f"{size}x_orders": child["orders"],
                    f"{size}x_fills": child["fills"],
                    f"{size}x_pnl_usd": child["pnl_usd"],
                    f"{size}x_status": child["status"],
                    f"{size}x_wall_s": round(child["wall_s"], 3),
                    f"{size}x_cpu_s": round(child["cpu_s"], 3),
                    f"{size}x_level_updates_per_s": round(per_s, 1),
                    f"{size}x_level_updates_per_cpu_s": round(per_cpu_s, 1),
                    f"{size}x_peak_rss_mib": round(child["peak_rss_mib"], 1),
                }
            )
            if size == 1:
                base = {"per_s": per_s, "per_cpu_s": per_cpu_s, "rss": child["peak_rss_mib"]}
            else:
                figures[f"throughput_{size}x_vs_1x"] = round(per_s / base["per_s"], 3)
                figures[f"throughput_per_cpu_{size}x_vs_1x"] = round(
                    per_cpu_s / base["per_cpu_s"], 3
                )
                figures[f"rss_{size}x_vs_1x"] = round(child["peak_rss_mib"] / base["rss"], 3)
            shutil.rmtree(folder)  # the next size's data and store need the disk
    return figures


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.bench_scale COPIES TARGET``: write the N× input only (to profile it)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale", description=__doc__)
    parser.add_argument("copies", type=int, help="copies of the sample (N)")
    parser.add_argument("target", type=Path, help="new folder for markets/books.parquet")
    args = parser.parse_args(argv)
    replicate(POLYMARKET_SAMPLE, args.target, args.copies)


if __name__ == "__main__":
    main()
