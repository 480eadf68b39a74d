"""The Parquet layout on the real resolvedkit sample: metadata, derived token ids, the
snapshot → delta stream, closing/resolution events, and bad rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polytraders.feeds import BookSet, open_source, parquet_token_id
from polytraders.feeds.parquet import ParquetSource
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus, MarketStatus
from polytraders.model.market import MarketState, market_problems
from polytraders.model.money import ONE
from tests.conftest import POLYMARKET_SAMPLE
from tests.feeds.conftest import RecordedRow

FIRST_MARKET = "0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028"


@pytest.fixture(scope="module")
def sample() -> ParquetSource:
    return ParquetSource(POLYMARKET_SAMPLE)


def test_markets_tokens_and_metadata(sample: ParquetSource) -> None:
    assert len(sample.markets) == 12
    assert len(sample.token_ids()) == len(set(sample.token_ids())) == 24
    first = sample.markets[0]
    assert first.market_id == FIRST_MARKET
    assert first.slug == "btc-updown-15m-1790586000"
    assert first.category == "crypto"
    assert (first.start_ns, first.end_ns) == (1_790_586_000_000_000_000, 1_790_586_900_000_000_000)
    up, down = first.tokens
    assert up.token_id == parquet_token_id(FIRST_MARKET, "UP") == f"{FIRST_MARKET}:UP"
    assert (up.outcome, down.outcome) == ("Up", "Down")
    assert first.payouts == {up.token_id: 0, down.token_id: ONE}  # payout_up 0.0, payout_down 1.0
    assert all(market_problems(m) == [] for m in sample.markets)
    assert all(m.state is MarketState.ACTIVE for m in sample.markets)


def test_stream_is_time_ordered_snapshot_then_deltas_then_close_and_resolve(
    sample: ParquetSource,
) -> None:
    seen_snapshot: set[str] = set()
    closed: dict[str, int] = {}
    resolved: dict[str, MarketStatus] = {}
    previous = 0
    for event in sample.events():
        assert event.ts_recv_ns >= previous
        previous = event.ts_recv_ns
        if isinstance(event, BookSnapshot):
            assert event.token_id not in seen_snapshot  # only the first row is a snapshot
            seen_snapshot.add(event.token_id)
        elif isinstance(event, BookDelta):
            assert event.token_id in seen_snapshot
        elif isinstance(event, MarketStatus):
            if event.state is MarketState.CLOSED:
                closed[event.market_id] = event.ts_event_ns
            else:
                assert event.market_id in closed  # resolution after the close
                resolved[event.market_id] = event
    assert len(seen_snapshot) == 24
    by_id = {m.market_id: m for m in sample.markets}
    assert closed == {m: by_id[m].end_ns for m in by_id}
    for market_id, status in resolved.items():
        assert by_id[market_id].payouts[status.winning_token_id] == ONE
    assert len(resolved) == 12
    stats = sample.stats
    assert stats.counters["rows"] == 25_640
    assert stats.events["book_snapshot"] + stats.events["book_delta"] == 25_640
    assert stats.bad_input_total == 0


def test_deltas_rebuild_every_recorded_snapshot_exactly(
    parquet_events: list[AnyEvent], recorded_rows: list[RecordedRow]
) -> None:
    """Replaying the deltas gives, after every row, the very book the row recorded."""
    assert len(recorded_rows) == 25_640
    books = BookSet()
    rebuilt = []
    for event in parquet_events:
        book = books.apply(event)
        if book is not None:
            rebuilt.append((book.token_id, book.last_update_ns, book.bids(), book.asks()))
    assert rebuilt == recorded_rows


@pytest.mark.parametrize("layout", ["one row group per 1,000 rows", "markets interleaved"])
def test_any_row_group_layout_gives_the_same_stream(
    tmp_path: Path, parquet_events: list[AnyEvent], layout: str
) -> None:
    """The reader takes each market's rows from the row groups holding them, a batch at a
    time: the sample rewritten in small row groups, or with the markets' rows interleaved
    (each market's rows in their order, spread over every group), gives the very same
    events."""
    books = pq.read_table(POLYMARKET_SAMPLE / "books.parquet")
    if layout == "markets interleaved":
        seen: dict[str, int] = {}
        keys = []  # (position among its market's rows, market, row): round-robin by market
        for row, market_id in enumerate(books["market_id"].to_pylist()):
            keys.append((seen.get(market_id, 0), market_id, row))
            seen[market_id] = seen.get(market_id, 0) + 1
        books = books.take(pa.array([row for _, _, row in sorted(keys)]))
    target = tmp_path / "sample"
    target.mkdir()
    (target / "markets.parquet").write_bytes((POLYMARKET_SAMPLE / "markets.parquet").read_bytes())
    pq.write_table(books, target / "books.parquet", row_group_size=1_000)
    assert pq.ParquetFile(target / "books.parquet").num_row_groups > 20
    assert list(ParquetSource(target).events()) == parquet_events


def _write_books(directory: Path, rows: list[dict[str, object]]) -> None:
    directory.mkdir()
    markets = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").slice(0, 1)
    pq.write_table(markets, directory / "markets.parquet")
    schema = pq.read_schema(POLYMARKET_SAMPLE / "books.parquet").remove_metadata()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), directory / "books.parquet")


T0_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z, before the first market's end: hand-made rows are at T0_MS + a few ms."""


def _row(ts: int, side: str, bid: float = 0.5, bid_sz: float = 10.0) -> dict[str, object]:
    return {
        "market_id": FIRST_MARKET,
        "ts": T0_MS + ts,
        "side": side,
        "bid_px": [bid],
        "bid_sz": [bid_sz],
        "ask_px": [0.6],
        "ask_sz": [5.0],
    }


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_row(2, "UP", bid=1.5), "SYS_PRICE_OUT_OF_RANGE"),
        (_row(2, "UP", bid_sz=-3.0), "SYS_NEGATIVE_SIZE"),
        (_row(2, "UP", bid=0.1234567), "SYS_MALFORMED_MESSAGE"),
        ({**_row(2, "UP"), "bid_sz": [1.0, 2.0]}, "SYS_MALFORMED_MESSAGE"),
    ],
)
def test_bad_row_is_counted_marks_stale_and_resyncs(
    tmp_path: Path, bad: dict[str, object], reason: str
) -> None:
    _write_books(
        tmp_path / "set",
        [_row(1, "UP"), _row(1, "DOWN"), bad, _row(3, "UP", bid=0.51), _row(4, "UP", bid=0.52)],
    )
    source = open_source(tmp_path / "set")
    events = list(source.events())
    token = parquet_token_id(FIRST_MARKET, "UP")
    assert source.stats.bad_input == {reason: 1}
    statuses = [e for e in events if isinstance(e, FeedStatus)]
    assert [(s.token_id, s.stale, s.reason_code) for s in statuses] == [
        (token, True, reason),
        (token, False, "SYS_FEED_RESYNCED"),
    ]
    # the row after the bad one is a snapshot (resync), then deltas resume
    kinds = [type(e).__name__ for e in events if getattr(e, "token_id", "") == token]
    assert kinds == ["BookSnapshot", "FeedStatus", "BookSnapshot", "FeedStatus", "BookDelta"]
    books = BookSet()
    for event in events:
        books.apply(event)
    assert books.books[token].bids() == [(520_000, 10_000_000)]
    assert token not in books.stale


def test_finer_tick_is_announced_before_the_first_sub_cent_book() -> None:
    """The sample has no tick events; a snapshot priced off the 0.01 grid is the evidence that
    Polymarket moved the market to 0.001, announced for both tokens before that book."""
    from polytraders.feeds import open_source
    from polytraders.model.events import BookDelta, BookSnapshot, TickSizeChange
    from tests.conftest import POLYMARKET_SAMPLE

    tick: dict[str, int] = {}
    announced: list[TickSizeChange] = []
    for event in open_source(POLYMARKET_SAMPLE).events():
        if isinstance(event, TickSizeChange):
            assert tick.get(event.token_id, 10_000) == event.old_tick_size
            tick[event.token_id] = event.new_tick_size
            announced.append(event)
        elif isinstance(event, BookSnapshot | BookDelta):
            current = tick.get(event.token_id, 10_000)
            assert all(p % current == 0 for p, _ in [*event.bids, *event.asks])
    assert len(announced) == 14
    markets = {e.token_id.rsplit(":", 1)[0] for e in announced}
    assert len(markets) == 7  # both tokens of each market switch together
