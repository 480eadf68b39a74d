"""Order-book benchmark on the real Polymarket L2 sample.

Snapshots are diffed per token into level updates (size = new total, 0 removes), then replayed:
(1) one ``apply_delta`` per level update with best bid and ask read after each, (2) one
``apply_levels`` batch per message with best bid/ask read after each message, (3) walks of the
standing book for a size and for a notional. Figures are the best of several repetitions on
one core. Goal (issue 2): ≥ 1,000,000 level updates/s with best prices readable after each.
"""

from __future__ import annotations

import time

from bench.data import POLYMARKET_SAMPLE, polymarket_level_messages
from polytraders.feeds.parquet import ParquetSource
from polytraders.model.book import OrderBook
from polytraders.model.orders import Side

DESCRIPTION = "L2 order book: level updates/s and walks/s on real Polymarket data"


def run(quick: bool = False) -> dict[str, float | int | str]:
    keys, messages = polymarket_level_messages()
    updates = [
        (token, side, price, size, ts)
        for token, ts, bids, asks in messages
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks))
        for price, size in levels
    ]
    repeats = 2 if quick else 5

    def per_level() -> float:
        books = [OrderBook(k) for k in keys]
        started = time.perf_counter()
        for token, side, price, size, ts in updates:
            book = books[token]
            book.apply_delta(side, price, size, ts)
            book.best_bid()
            book.best_ask()
        return time.perf_counter() - started

    def batched() -> float:
        books = [OrderBook(k) for k in keys]
        started = time.perf_counter()
        for token, ts, bids, asks in messages:
            book = books[token]
            book.apply_levels(bids, asks, ts)
            book.best_bid()
            book.best_ask()
        return time.perf_counter() - started

    per_level_s = min(per_level() for _ in range(repeats))
    batched_s = min(batched() for _ in range(repeats))

    # walks on the standing books at every 10th message
    books = [OrderBook(k) for k in keys]
    states: list[OrderBook] = []
    for i, (token, ts, bids, asks) in enumerate(messages):
        books[token].apply_levels(bids, asks, ts)
        if i % 10 == 0 and books[token].best_ask() is not None:
            snap = OrderBook(keys[token])
            snap.apply_snapshot(books[token].bids(), books[token].asks(), ts)
            states.append(snap)
    started = time.perf_counter()
    walks = 0
    for _ in range(repeats):
        for book in states:
            ask = book.best_ask() or 0
            book.walk(Side.BUY, ask + 50_000, size=100_000_000)
            book.walk(Side.BUY, ask + 50_000, notional=50_000_000)
            walks += 2
    walk_s = time.perf_counter() - started

    return {
        "snapshots": ParquetSource(POLYMARKET_SAMPLE).row_count,
        "tokens": len(keys),
        "messages": len(messages),
        "level_updates": len(updates),
        "per_level_updates_per_s": len(updates) / per_level_s,
        "batched_level_updates_per_s": len(updates) / batched_s,
        "batched_messages_per_s": len(messages) / batched_s,
        "walks_per_s": walks / walk_s,
    }
