"""Locate and load the real recorded data the benchmarks run on.

Prefers the repository's shipped copy (``data/samples``), so benchmarks run on a machine without
the shared folder. Reading goes through :mod:`polytraders.feeds` (the Parquet source), so the
benchmarks use exactly the desk's loader: token keys are the derived ids ``market_id:UP`` /
``market_id:DOWN`` (:func:`polytraders.feeds.parquet_token_id`).
"""

from __future__ import annotations

from pathlib import Path

from polytraders.feeds import open_source
from polytraders.model.events import BookDelta, BookSnapshot

REPO = Path(__file__).resolve().parents[1]
POLYMARKET_SAMPLE = REPO / "data" / "samples" / "polymarket" / "resolvedkit_btc15m"
BINANCE_SAMPLES = REPO / "data" / "samples" / "binance"

Levels = list[tuple[int, int]]
Snapshot = tuple[str, int, Levels, Levels]  # token key, ts_ns, bids best-first, asks best-first


def polymarket_snapshots(path: Path = POLYMARKET_SAMPLE) -> list[Snapshot]:
    """Every row of ``books.parquet`` as (token key ``market_id:side``, ts_ns, bids, asks) in
    micro-units, in time order (rows of one token keep file order)."""
    return [
        (event.token_id, event.ts_event_ns, event.bids, event.asks)
        for event in open_source(path, snapshots_only=True).events()
        if isinstance(event, BookSnapshot)
    ]


def polymarket_level_messages(
    path: Path = POLYMARKET_SAMPLE,
) -> tuple[list[str], list[tuple[int, int, Levels, Levels]]]:
    """The sample as level-update messages: (token keys, messages) where each message is
    (token index, ts_ns, bid changes, ask changes) — a token's first row holds all its levels,
    later rows the levels that changed (new total; 0 removes); rows that changed nothing are
    left out. Built from the Parquet source's snapshot/delta stream."""
    keys: dict[str, int] = {}
    messages: list[tuple[int, int, Levels, Levels]] = []
    for event in open_source(path).events():
        if isinstance(event, BookSnapshot | BookDelta) and (event.bids or event.asks):
            index = keys.setdefault(event.token_id, len(keys))
            messages.append((index, event.ts_event_ns, event.bids, event.asks))
    return list(keys), messages
