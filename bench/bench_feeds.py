"""Feed benchmark: level updates per second from file to updated book, on the real data.

Each figure times one whole pass — read the file (gunzip), decode every message (msgspec typed
decoding), build the events, and apply every book event to an ``OrderBook`` through
``BookSet`` — and divides the number of level updates (levels in applied snapshots and deltas)
by the CPU time of the pass (``time.process_time``: other processes on the machine do not
inflate it; wall-clock figures are reported beside it). Best of several passes on one core.
Trades and bookTicker messages are decoded and turned into events inside the same time, so
the main figure is "file → book" for the whole recording, not only its depth lines; the
``_book_only`` figures are the same pass with ``BinanceDepthSource(book_only=True)``, which
recognises trade/bookTicker lines by their stream name and skips them without decoding (the
throughput of a consumer that only needs the book). ``load_average_1m`` is reported because
figures on a shared machine vary.

Goal (issue 3): ≥ 1,000,000 level updates/s for the Binance files including JSON parsing.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.data import BINANCE_SAMPLES, POLYMARKET_SAMPLE
from polytraders.feeds import BookSet, open_source
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.convert import to_lines
from polytraders.feeds.lines import iter_raw_lines
from polytraders.model.events import BookDelta, BookSnapshot

DESCRIPTION = "Feeds: level updates/s file → book (Binance diff depth, Polymarket Parquet and wire)"


def _pass(location: str, book_only: bool) -> tuple[int, int, float, float]:
    """(events, level updates, CPU s, wall s) of one full replay into books."""
    source = BinanceDepthSource(location, book_only=True) if book_only else open_source(location)
    books = BookSet()
    apply = books.apply
    levels = events = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for event in source.events():
        events += 1
        if isinstance(event, BookDelta | BookSnapshot):
            levels += len(event.bids) + len(event.asks)
            apply(event)
    return events, levels, time.process_time() - cpu0, time.perf_counter() - wall0


def _measure(
    name: str,
    location: str,
    repeats: int,
    figures: dict[str, float | int | str],
    *,
    book_only: bool = False,
) -> None:
    best_cpu = best_wall = float("inf")
    events = levels = 0
    for _ in range(repeats):
        events, levels, cpu_s, wall_s = _pass(location, book_only)
        best_cpu, best_wall = min(best_cpu, cpu_s), min(best_wall, wall_s)
    figures[f"{name}_events"] = events
    figures[f"{name}_level_updates"] = levels
    figures[f"{name}_level_updates_per_s"] = levels / best_cpu
    figures[f"{name}_level_updates_per_wall_s"] = levels / best_wall
    figures[f"{name}_events_per_s"] = events / best_cpu


def _breakdown(location: str, repeats: int, figures: dict[str, float | int | str]) -> None:
    """CPU seconds of the stages of one Binance replay: read + gunzip + split lines; build all
    events (decode, convert, sync; no book); apply the pre-built book events to books."""
    path = Path(location)

    def lines() -> None:
        for _ in iter_raw_lines(path):
            pass

    source = open_source(location)

    def build() -> None:
        for _ in source.events():
            pass

    book_events = [e for e in source.events() if isinstance(e, BookDelta | BookSnapshot)]

    def apply() -> None:
        books = BookSet()
        for event in book_events:
            books.apply(event)

    for stage, function in (("read_lines", lines), ("build_events", build), ("apply", apply)):
        best = float("inf")
        for _ in range(repeats):
            started = time.process_time()
            function()
            best = min(best, time.process_time() - started)
        figures[f"binance_usdm_btcusdt_stage_{stage}_cpu_s"] = round(best, 4)


def run(quick: bool = False) -> dict[str, float | int | str]:
    repeats = 1 if quick else 3
    figures: dict[str, float | int | str] = {"load_average_1m": os.getloadavg()[0]}
    for name in ("usdm_btcusdt_20240808", "usdm_ethusdt_20240808", "spot_btcusdt_20240808"):
        venue, symbol, _ = name.split("_")
        location = str(BINANCE_SAMPLES / f"{name}.gz")
        _measure(f"binance_{venue}_{symbol}", location, repeats, figures)
        _measure(f"binance_{venue}_{symbol}_book_only", location, repeats, figures, book_only=True)
    _breakdown(str(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz"), repeats, figures)
    _measure("polymarket_parquet", str(POLYMARKET_SAMPLE), repeats, figures)
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "polymarket_market_channel.txt"
        to_lines(open_source(str(POLYMARKET_SAMPLE)), recording)
        _measure("polymarket_wire", str(recording), repeats, figures)
    return figures
