"""Venue times outside the feeds' window are refused, counted and never move a token's clock
(issue 12: a far-future timestamp, ``10**27`` or year 2100, was accepted and every later update
of the token was then refused as out of order; also Binance and Parquet)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.feeds import FeedError, open_source
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.config import MAX_TS_NS, EventTimeWindow
from polytraders.feeds.guard import BookGuard
from polytraders.feeds.polymarket_lines import WireReplay
from polytraders.feeds.stats import FeedStats
from polytraders.model.events import (
    AnyEvent,
    BookDelta,
    BookSnapshot,
    FeedStatus,
    MarketStatus,
    Trade,
)
from tests.conftest import BINANCE_SAMPLES, POLYMARKET_SAMPLE

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
T0_MS = T0 // 1_000_000
HOUR_NS = 3_600 * 10**9
YEAR_2100_MS = 4_102_444_800_000
CODE = "SYS_EVENT_TIME_OUT_OF_RANGE"


def _book(ts_ms: int, bid: str = "0.4") -> bytes:
    return json.dumps(
        {
            "event_type": "book",
            "asset_id": "A",
            "market": "m",
            "timestamp": str(ts_ms),
            "bids": [{"price": bid, "size": "10"}],
            "asks": [{"price": "0.6", "size": "10"}],
        }
    ).encode()


def _change(ts_ms: int, price: str = "0.41") -> bytes:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": "m",
            "timestamp": str(ts_ms),
            "price_changes": [{"asset_id": "A", "price": price, "size": "5", "side": "BUY"}],
        }
    ).encode()


def _trade(ts_ms: int) -> bytes:
    return json.dumps(
        {
            "event_type": "last_trade_price",
            "asset_id": "A",
            "market": "m",
            "price": "0.5",
            "size": "1",
            "side": "BUY",
            "timestamp": str(ts_ms),
        }
    ).encode()


@pytest.mark.parametrize(
    "bogus_ms",
    [YEAR_2100_MS, T0_MS + 3_600_001, 1_000, 0],
    ids=["year-2100", "1h-and-1ms-ahead", "1970", "zero"],
)
def test_a_frame_out_of_the_window_is_refused_and_the_token_keeps_its_clock(
    bogus_ms: int,
) -> None:
    stats = FeedStats()
    replay = WireReplay(stats)
    out: list[AnyEvent] = []
    replay.feed(T0, _book(T0_MS), out)
    replay.feed(T0 + 1, _change(bogus_ms), out)  # refused: the token is stale
    replay.feed(T0 + 2, _trade(bogus_ms), out)  # refused: skipped, nothing to distrust
    replay.feed(T0 + 3, _book(T0_MS + 3, bid="0.42"), out)  # a fresh snapshot is admitted
    replay.feed(T0 + 4, _change(T0_MS + 4), out)  # and the deltas after it
    assert stats.bad_input == {CODE: 2}
    assert [type(e).__name__ for e in out] == [
        "BookSnapshot",
        "FeedStatus",
        "BookSnapshot",
        "FeedStatus",
        "BookDelta",
    ]
    stale, fresh = (e for e in out if isinstance(e, FeedStatus))
    assert (stale.stale, stale.reason_code, stale.ts_event_ns) == (True, CODE, T0 + 1)
    assert (fresh.stale, fresh.reason_code) == (False, "SYS_FEED_RESYNCED")
    assert max(e.ts_event_ns for e in out) == (T0_MS + 4) * 1_000_000
    assert "SYS_NON_MONOTONIC_TIME" not in stats.bad_input


def test_the_issue_timestamp_10_pow_27_is_malformed_and_never_admitted() -> None:
    stats = FeedStats()
    out: list[AnyEvent] = []
    replay = WireReplay(stats)
    replay.feed(T0, _book(T0_MS), out)
    replay.feed(T0 + 1, _book(10**27), out)
    replay.feed(T0 + 2, _change(T0_MS + 2), out)
    assert stats.bad_input == {"SYS_MALFORMED_MESSAGE": 1}
    assert [type(e).__name__ for e in out] == ["BookSnapshot", "FeedStatus"]  # stale until a book
    replay.feed(T0 + 3, _book(T0_MS + 3), out)
    assert isinstance(out[-1], FeedStatus) and not out[-1].stale


def test_a_venue_time_behind_the_receive_time_is_accepted() -> None:
    """A recording or the simulator serving recorded books lags the receiving clock."""
    stats = FeedStats()
    out: list[AnyEvent] = []
    WireReplay(stats).feed(T0 + 200 * 24 * HOUR_NS, _book(T0_MS), out)
    assert [type(e) for e in out] == [BookSnapshot] and not stats.bad_input


def test_the_window_is_a_setting() -> None:
    window = EventTimeWindow(min_event_ts_ns=0, max_event_ahead_ms=10)
    stats = FeedStats()
    out: list[AnyEvent] = []
    guard = BookGuard(stats, window=window)
    guard.admit(BookSnapshot(ts_event_ns=5, ts_recv_ns=5, token_id="A", bids=[], asks=[]), out)
    guard.admit(
        BookDelta(ts_event_ns=6 + 10_000_001, ts_recv_ns=6, token_id="A", bids=[], asks=[]), out
    )
    assert stats.bad_input == {CODE: 1}
    assert "more than 10 ms after" in stats.issues[0].detail
    with pytest.raises(ValidationError):
        EventTimeWindow(max_event_ahead_ms=-1)
    with pytest.raises(ValidationError):
        EventTimeWindow(min_event_ts_ns=-1)
    with pytest.raises(ValidationError):
        EventTimeWindow(max_ahead_ms=1)  # type: ignore[call-arg]


@given(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=2**64),
    st.integers(min_value=0, max_value=86_400_000),
)
def test_the_guard_refuses_exactly_what_the_window_calls_a_problem(
    ts_event_ns: int, ts_recv_ns: int, ahead_ms: int
) -> None:
    window = EventTimeWindow(max_event_ahead_ms=ahead_ms)
    stats = FeedStats()
    out: list[AnyEvent] = []
    trade = Trade(
        ts_event_ns=ts_event_ns, ts_recv_ns=ts_recv_ns, token_id="A", price=500_000, size=1
    )
    BookGuard(stats, window=window).admit(trade, out)
    refused = window.problem(ts_event_ns, ts_recv_ns) != ""
    assert (out == []) is refused
    assert (stats.bad_input == {CODE: 1}) is refused
    if not refused:
        assert 0 <= ts_event_ns <= MAX_TS_NS


# ------------------------------------------------------------------------------ Binance
def _binance_head(count: int) -> list[bytes]:
    with gzip.open(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz", "rb") as handle:
        return [next(handle).rstrip(b"\n") for _ in range(count)]


def _restamp(line: bytes, **stamps: int) -> bytes:
    stamp, frame = line.split(b" ", 1)
    message = json.loads(frame)
    message["data"].update(stamps)
    return stamp + b" " + json.dumps(message, separators=(",", ":")).encode()


@pytest.mark.parametrize("field", ["E", "T"])
@pytest.mark.parametrize("bogus_ms", [YEAR_2100_MS, -5, 1_000])
def test_binance_messages_out_of_the_window_are_refused_without_raising_venue_time(
    tmp_path: Path, field: str, bogus_ms: int
) -> None:
    lines = _binance_head(600)
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    trade_at = next(i for i, line in enumerate(lines) if i > snap_at and b"@trade" in line[:60])
    ticker_at = next(
        i for i, line in enumerate(lines) if i > snap_at and b"@bookTicker" in line[:60]
    )
    at = max(trade_at, ticker_at) + 1
    received = lines[at - 1].split(b" ", 1)[0]  # in receive order
    hostile = [
        received + b" " + _restamp(lines[i], **{field: bogus_ms}).split(b" ", 1)[1]
        for i in (trade_at, ticker_at)
    ]
    clean_path = tmp_path / "clean.txt"
    clean_path.write_bytes(b"\n".join(lines) + b"\n")
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"\n".join([*lines[:at], *hostile, *lines[at:]]) + b"\n")
    source = BinanceDepthSource(path)
    events = list(source.events())
    assert source.stats.bad_input == {CODE: 2}
    assert events == list(BinanceDepthSource(clean_path).events())


def test_a_binance_depth_event_out_of_the_window_makes_the_book_stale(tmp_path: Path) -> None:
    lines = _binance_head(600)
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    depth_at = [i for i, line in enumerate(lines) if i > snap_at and b"@depth" in line[:64]]
    bad = depth_at[10]
    lines[bad] = _restamp(lines[bad], E=YEAR_2100_MS)
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = BinanceDepthSource(path)
    events = list(source.events())
    assert source.stats.bad_input == {CODE: 1}
    statuses = [e for e in events if isinstance(e, FeedStatus)]
    assert [(s.stale, s.reason_code) for s in statuses] == [(True, CODE)]
    assert max(e.ts_event_ns for e in events) < YEAR_2100_MS * 1_000_000
    assert source.stats.counters["dropped_while_stale"] > 0


@pytest.mark.parametrize("stamp", [b"9" * 5_000, b"9" * 20])
def test_a_binance_receive_stamp_beyond_int64_is_a_malformed_line(
    tmp_path: Path, stamp: bytes
) -> None:
    lines = _binance_head(300)
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    trade_at = next(i for i, line in enumerate(lines) if i > snap_at and b"@trade" in line[:60])
    lines[trade_at] = stamp + b" " + lines[trade_at].split(b" ", 1)[1]
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = BinanceDepthSource(path)
    list(source.events())
    assert source.stats.bad_input == {"SYS_MALFORMED_MESSAGE": 1}


# ------------------------------------------------------------------------------ Parquet
def _parquet_with(directory: Path, extra_ts_ms: list[int]) -> tuple[Path, int]:
    """The sample's first market, its first 60 rows, plus copies of its 10th row at
    ``extra_ts_ms``; returns the directory and the market's last in-window ts (ms)."""
    markets = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").slice(0, 1)
    market_id = markets["market_id"][0].as_py()
    books = pq.read_table(POLYMARKET_SAMPLE / "books.parquet")
    books = books.filter(pa.compute.equal(books["market_id"], market_id)).slice(0, 60)
    row = books.slice(10, 1).to_pylist()[0]
    extra = pa.Table.from_pylist([{**row, "ts": ts} for ts in extra_ts_ms], schema=books.schema)
    directory.mkdir()
    pq.write_table(markets, directory / "markets.parquet")
    pq.write_table(pa.concat_tables([books, extra]), directory / "books.parquet")
    return directory, max(books["ts"].to_pylist())


def test_parquet_rows_out_of_the_window_are_counted_and_skipped(tmp_path: Path) -> None:
    clean, last_ms = _parquet_with(tmp_path / "clean", [])
    hostile, _ = _parquet_with(tmp_path / "hostile", [1_000, -5, 9_223_372_036_855])
    expected = list(open_source(clean).events())
    source = open_source(hostile)
    events = list(source.events())
    assert source.stats.bad_input == {CODE: 3}
    assert source.stats.counters["rows"] == 63  # read and counted, not replayed
    assert events == expected
    resolved = [e for e in events if isinstance(e, MarketStatus)]
    assert all(e.ts_event_ns <= last_ms * 1_000_000 for e in resolved)


def test_parquet_window_is_a_setting(tmp_path: Path) -> None:
    hostile, _ = _parquet_with(tmp_path / "hostile", [1_000])
    source = open_source(hostile, window=EventTimeWindow(min_event_ts_ns=0))
    events = list(source.events())
    assert source.stats.bad_input == {}
    assert events[0].ts_event_ns == 1_000 * 1_000_000


def test_a_parquet_set_with_no_row_inside_the_window_is_refused_at_open(tmp_path: Path) -> None:
    markets = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").slice(0, 1)
    books = pq.read_table(POLYMARKET_SAMPLE / "books.parquet").slice(0, 3)
    books = books.set_column(
        books.column_names.index("ts"), "ts", pa.array([1_000, 2_000, -5], pa.int64())
    )
    directory = tmp_path / "old"
    directory.mkdir()
    pq.write_table(markets, directory / "markets.parquet")
    pq.write_table(books, directory / "books.parquet")
    with pytest.raises(FeedError) as caught:
        open_source(directory)
    assert str(caught.value) == (
        f"{directory / 'books.parquet'}: none of its 3 book rows has a ts inside the "
        "event-time window (1577836800000..9223372036854 ms): nothing to replay"
    )
