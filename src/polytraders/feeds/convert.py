"""Conversions between the Parquet layout and the Polymarket market-channel line format.

Synthetic data stays labelled: the sidecar and the ``synthetic`` column carry the flag and the
sources reading them flag every event.

- :func:`to_lines`: any Polymarket-style source (Parquet directory, line file, synthetic spec)
  → a line recording ``<receive ts ns> <frame>`` (gzip when the name ends in ``.gz``) plus its
  ``.markets.json`` sidecar. Snapshots become ``book`` frames; the deltas of one market at
  one time become one ``price_change`` frame (current schema, with ``best_bid``/``best_ask``
  after the change; ``legacy_price_change`` writes the pre-2025-09-15 schema); an empty delta
  (the Parquet row repeated the previous book) becomes a ``book`` frame of the unchanged book;
  trades, tick-size changes and top-of-book messages their own frames; ``MarketStatus``
  RESOLVED a ``market_resolved`` frame. ``MarketStatus`` CLOSED has no wire form: it is
  re-derived from the sidecar's end times on replay. ``FeedStatus`` events (stale marks from
  bad input in the source) have no wire form either and are counted in the result.
- :func:`to_parquet`: a Polymarket-style source → the two-file Parquet layout: every book
  update becomes a row holding the token's whole book after it (first token ``UP``, second
  ``DOWN``), markets from the source metadata (plus a ``synthetic`` column when the source is
  synthetic, so the label survives the conversion).

Replaying the converted data gives identical books at every update (tested on the real
sample).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from polytraders.feeds.books import BookSet
from polytraders.feeds.lines import format_line, open_writer
from polytraders.feeds.parquet_schema import BOOKS_FILE, MARKETS_FILE
from polytraders.feeds.polymarket_lines import write_sidecar
from polytraders.feeds.polymarket_wire import encode_market_frame
from polytraders.feeds.source import Source
from polytraders.model.events import (
    AnyEvent,
    BookDelta,
    BookSnapshot,
    FeedStatus,
    MarketStatus,
)
from polytraders.model.market import MarketState
from polytraders.model.money import MICROS


class ConvertResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a conversion wrote.

    Fields:
        output: the written file or directory.
        items: lines (to_lines) or book rows (to_parquet) written.
        events_in: events read from the source.
        skipped: events with no representation in the output, by type tag.
    """

    output: str
    items: int
    events_in: int
    skipped: dict[str, int]


def to_lines(
    source: Source, output: str | Path, *, legacy_price_change: bool = False
) -> ConvertResult:
    """Write ``source`` as a market-channel line recording (+ sidecar); see the module doc.

    Raises:
        ValueError: the source has no markets (not Polymarket-style), or an event time is not
            a whole millisecond.
    """
    if not source.markets:
        raise ValueError(
            f"{source.name} has no Polymarket markets to write as market-channel frames"
        )
    path = Path(output)
    market_of = {t.token_id: m.market_id for m in source.markets for t in m.tokens}
    books = BookSet()
    skipped: dict[str, int] = {}
    lines = events_in = 0

    def top(token_id: str) -> tuple[int | None, int | None]:
        book = books.books[token_id]
        return book.best_bid(), book.best_ask()

    with open_writer(path) as handle:
        for ts_recv_ns, group in _frames(source.events(), market_of):
            frame_events: list[AnyEvent] = []
            for event in group:
                events_in += 1
                books.apply(event)
                if isinstance(event, BookDelta) and not event.bids and not event.asks:
                    book = books.books[event.token_id]
                    frame_events.append(
                        BookSnapshot(
                            ts_event_ns=event.ts_event_ns,
                            ts_recv_ns=event.ts_recv_ns,
                            token_id=event.token_id,
                            bids=book.bids(),
                            asks=book.asks(),
                        )
                    )
                elif isinstance(event, FeedStatus) or (
                    isinstance(event, MarketStatus) and event.state is not MarketState.RESOLVED
                ):
                    name = type(event).__name__
                    skipped[name] = skipped.get(name, 0) + 1
                else:
                    frame_events.append(event)
            if frame_events:
                frame = encode_market_frame(
                    frame_events,
                    market_of=market_of,
                    top_of_book=top,
                    legacy_price_change=legacy_price_change,
                )
                handle.write(format_line(ts_recv_ns, frame))
                lines += 1
    write_sidecar(path, source.markets)
    return ConvertResult(output=str(path), items=lines, events_in=events_in, skipped=skipped)


def _frames(
    events: Iterator[AnyEvent], market_of: dict[str, str]
) -> Iterator[tuple[int, list[AnyEvent]]]:
    """Group consecutive events of one receive time and one market into frames; book deltas
    of one market share a frame, every other event gets its own."""
    group: list[AnyEvent] = []
    key: tuple[int, str] | None = None
    for event in events:
        if isinstance(event, BookDelta) and (event.bids or event.asks):
            this = (event.ts_recv_ns, market_of[event.token_id])
            if key == this:
                group.append(event)
                continue
            if group:
                yield group[0].ts_recv_ns, group
            group, key = [event], this
            continue
        if group:
            yield group[0].ts_recv_ns, group
            group, key = [], None
        yield event.ts_recv_ns, [event]
    if group:
        yield group[0].ts_recv_ns, group


def to_parquet(source: Source, output: str | Path) -> ConvertResult:
    """Write ``source`` in the two-file Parquet layout (directory ``output``).

    Raises:
        ValueError: a market without exactly two tokens.
    """
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    side_of: dict[str, tuple[str, str]] = {}
    for market in source.markets:
        if len(market.tokens) != 2:
            raise ValueError(f"market {market.market_id} has {len(market.tokens)} tokens, not 2")
        side_of[market.tokens[0].token_id] = (market.market_id, "UP")
        side_of[market.tokens[1].token_id] = (market.market_id, "DOWN")
    rows: dict[str, list[object]] = {
        k: [] for k in ("market_id", "ts", "side", "bid_px", "bid_sz", "ask_px", "ask_sz")
    }
    books = BookSet()
    events_in = 0
    skipped: dict[str, int] = {}
    for event in source.events():
        events_in += 1
        book = books.apply(event)
        if book is None:
            name = type(event).__name__
            skipped[name] = skipped.get(name, 0) + 1
            continue
        assert isinstance(event, BookSnapshot | BookDelta)
        market_id, side = side_of[event.token_id]
        if event.ts_event_ns % 1_000_000:
            raise ValueError(f"{event.ts_event_ns} ns is not a whole millisecond")
        rows["market_id"].append(market_id)
        rows["ts"].append(event.ts_event_ns // 1_000_000)
        rows["side"].append(side)
        bids, asks = book.bids(), book.asks()
        rows["bid_px"].append([p / MICROS for p, _ in bids])
        rows["bid_sz"].append([s / MICROS for _, s in bids])
        rows["ask_px"].append([p / MICROS for p, _ in asks])
        rows["ask_sz"].append([s / MICROS for _, s in asks])
    schema = pa.schema(
        [
            ("market_id", pa.large_string()),
            ("ts", pa.int64()),
            ("side", pa.large_string()),
            ("bid_px", pa.list_(pa.float64())),
            ("bid_sz", pa.list_(pa.float64())),
            ("ask_px", pa.list_(pa.float64())),
            ("ask_sz", pa.list_(pa.float64())),
        ]
    )
    pq.write_table(pa.table(rows, schema=schema), directory / BOOKS_FILE)
    markets = {
        "market_id": [m.market_id for m in source.markets],
        "slug": [m.slug for m in source.markets],
        "question": [m.question for m in source.markets],
        "category": [m.category for m in source.markets],
        "timeframe": ["" for _ in source.markets],
        "start_ts": [m.start_ns // 1_000_000 for m in source.markets],
        "end_ts": [m.end_ns // 1_000_000 for m in source.markets],
        "outcome_up": [m.tokens[0].outcome for m in source.markets],
        "outcome_down": [m.tokens[1].outcome for m in source.markets],
        "payout_up": [_payout(m.payouts, m.tokens[0].token_id) for m in source.markets],
        "payout_down": [_payout(m.payouts, m.tokens[1].token_id) for m in source.markets],
    }
    if any(m.synthetic for m in source.markets):
        markets["synthetic"] = [m.synthetic for m in source.markets]
    pq.write_table(pa.table(markets), directory / MARKETS_FILE)
    return ConvertResult(
        output=str(directory), items=len(rows["ts"]), events_in=events_in, skipped=skipped
    )


def _payout(payouts: dict[str, int], token_id: str) -> float:
    value = payouts.get(token_id)
    return float("nan") if value is None else value / MICROS
