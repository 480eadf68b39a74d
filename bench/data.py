"""Locate and load the real recorded data the benchmarks run on.

Prefers the repository's shipped copy (``data/samples``), so benchmarks run on a machine without
the shared folder.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from polytraders.model.money import micros_from_recorded

REPO = Path(__file__).resolve().parents[1]
POLYMARKET_SAMPLE = REPO / "data" / "samples" / "polymarket" / "resolvedkit_btc15m"
BINANCE_SAMPLES = REPO / "data" / "samples" / "binance"

Levels = list[tuple[int, int]]
Snapshot = tuple[str, int, Levels, Levels]  # token key, ts_ns, bids best-first, asks best-first


def polymarket_snapshots(path: Path = POLYMARKET_SAMPLE) -> list[Snapshot]:
    """Every row of ``books.parquet`` as (token key ``market_id:side``, ts_ns, bids, asks) in
    micro-units, in file order (time order)."""
    table = pq.read_table(path / "books.parquet")
    rows = table.to_pydict()
    snapshots: list[Snapshot] = []
    for market, ts_ms, side, bid_px, bid_sz, ask_px, ask_sz in zip(
        rows["market_id"],
        rows["ts"],
        rows["side"],
        rows["bid_px"],
        rows["bid_sz"],
        rows["ask_px"],
        rows["ask_sz"],
        strict=True,
    ):
        bids = [
            (micros_from_recorded(p), micros_from_recorded(s))
            for p, s in zip(bid_px, bid_sz, strict=True)
        ]
        asks = [
            (micros_from_recorded(p), micros_from_recorded(s))
            for p, s in zip(ask_px, ask_sz, strict=True)
        ]
        snapshots.append((f"{market}:{side}", ts_ms * 1_000_000, bids, asks))
    return snapshots


LevelUpdate = tuple[int, bool, int, int, int]  # token index, is_bid, price, size, ts_ns


def snapshot_diffs(
    snapshots: list[Snapshot],
) -> tuple[list[str], list[tuple[int, int, Levels, Levels]]]:
    """Turn consecutive snapshots of each token into level deltas (new total; 0 removes).

    Returns (token keys, messages) where each message is (token index, ts_ns, bid changes,
    ask changes); a token's first snapshot becomes a message holding all its levels.
    """
    keys: dict[str, int] = {}
    previous: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
    messages: list[tuple[int, int, Levels, Levels]] = []
    for key, ts_ns, bids, asks in snapshots:
        index = keys.setdefault(key, len(keys))
        new_bids, new_asks = dict(bids), dict(asks)
        old_bids, old_asks = previous.get(index, ({}, {}))
        bid_changes = _diff(old_bids, new_bids)
        ask_changes = _diff(old_asks, new_asks)
        previous[index] = (new_bids, new_asks)
        if bid_changes or ask_changes:
            messages.append((index, ts_ns, bid_changes, ask_changes))
    return list(keys), messages


def _diff(old: dict[int, int], new: dict[int, int]) -> Levels:
    changes = [(price, 0) for price in old if price not in new]
    changes += [(price, size) for price, size in new.items() if old.get(price) != size]
    return changes
