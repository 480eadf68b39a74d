"""Binance diff-depth recordings: bookTicker agreement over the whole real files, update-id
continuity, gaps marking the book stale until the next snapshot, and bad lines counted."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import msgspec
import pytest

from polytraders.feeds import BookSet, open_source
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.checks import TickerCheck
from polytraders.model.events import BestBidAsk, BookDelta, BookSnapshot, FeedStatus, Trade
from polytraders.model.money import from_micros
from polytraders.model.orders import Side
from tests.conftest import BINANCE_SAMPLES

FILES = ["usdm_btcusdt_20240808.gz", "usdm_ethusdt_20240808.gz", "spot_btcusdt_20240808.gz"]


@pytest.mark.parametrize("name", FILES)
def test_book_ticker_agrees_with_rebuilt_book_over_the_whole_file(name: str) -> None:
    """At every bookTicker whose update id is a depth event's final id the rebuilt book's best
    bid/ask (price and size) equal the ticker's; every other ticker is accounted for (its id
    lies inside a batched depth event, before the first snapshot, or after the last depth)."""
    source = open_source(BINANCE_SAMPLES / name)
    assert isinstance(source, BinanceDepthSource)
    books, check = BookSet(), TickerCheck()
    tickers = 0
    for event in source.events():
        book = books.apply(event)
        if book is not None:
            assert isinstance(event, BookSnapshot | BookDelta)
            check.on_book(event, book)
            assert not book.is_crossed()
        elif isinstance(event, BestBidAsk):
            tickers += 1
            check.on_ticker(event)
    check.finish()
    assert check.mismatched == 0, check.examples
    assert check.matched > 500
    assert check.matched + check.inside_batch + check.before_sync + check.not_observed == tickers
    assert check.before_sync < 40 and check.not_observed < 10
    stats = source.stats
    assert stats.bad_input_total == 0  # update-id chains are gap-free
    assert stats.events["book_snapshot"] == 1
    assert stats.events["best_bid_ask"] == tickers


def test_instruments_and_event_fields() -> None:
    source = open_source(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz")
    (instrument,) = source.instruments
    assert (instrument.venue, instrument.symbol) == ("binance-usdm", "BTCUSDT")
    assert (instrument.price_increment, instrument.size_increment) == (100_000, 1_000)
    events = source.events()
    trade = next(e for e in events if isinstance(e, Trade))
    # {"e":"trade","E":1723161256322,"T":1723161256322,"t":5266583935,
    #  "p":"61800.30","q":"0.006","m":false}
    assert trade == Trade(
        ts_event_ns=1_723_161_256_322_000_000,
        ts_recv_ns=1_723_161_255_088_176_367,
        token_id="binance-usdm:BTCUSDT",
        price=61_800_300_000,
        size=6_000,
        aggressor=Side.BUY,
        trade_id="5266583935",
    )
    snapshot = next(e for e in events if isinstance(e, BookSnapshot))
    assert snapshot.sequence == 5_123_107_852_948
    assert snapshot.bids[0] == (61_800_200_000, 2_909_000)
    assert len(snapshot.bids) == len(snapshot.asks) == 1000


def _head(name: str, count: int) -> list[bytes]:
    with gzip.open(BINANCE_SAMPLES / name, "rb") as handle:
        return [next(handle).rstrip(b"\n") for _ in range(count)]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _states(
    path: Path,
) -> tuple[list[object], dict[int, tuple[object, object]], BinanceDepthSource]:
    source = BinanceDepthSource(path)
    books = BookSet()
    events = list(source.events())
    by_u: dict[int, tuple[object, object]] = {}
    for event in events:
        book = books.apply(event)
        if book is not None and isinstance(event, BookDelta):
            by_u[event.sequence] = (book.bids(), book.asks())
    return events, by_u, source


@pytest.mark.parametrize("name", ["spot_btcusdt_20240808.gz", "usdm_btcusdt_20240808.gz"])
def test_gap_marks_stale_until_next_snapshot_then_resyncs_exactly(
    tmp_path: Path, name: str
) -> None:
    lines = _head(name, 2500)
    _, original, _ = _states(_write(tmp_path / "original.txt", lines))
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    depth_at = [i for i, line in enumerate(lines) if b"@depth" in line[:64] and i > snap_at]
    dropped, resync_after = depth_at[20], depth_at[40]
    resync_u = json.loads(lines[resync_after].split(b" ", 1)[1])["data"]["u"]
    bids, asks = original[resync_u]
    snapshot = {
        "lastUpdateId": resync_u,
        "bids": [[from_micros(p), from_micros(s)] for p, s in bids],  # type: ignore[attr-defined]
        "asks": [[from_micros(p), from_micros(s)] for p, s in asks],  # type: ignore[attr-defined]
    }
    stamp = lines[resync_after].split(b" ", 1)[0]
    mutated = lines[:dropped] + lines[dropped + 1 : resync_after + 1]
    mutated += [stamp + b" " + json.dumps(snapshot).encode(), *lines[resync_after + 1 :]]
    events, rebuilt, source = _states(_write(tmp_path / "gap.txt", mutated))
    token = source.token_id
    assert source.stats.bad_input == {"SYS_FEED_GAP": 1}
    statuses = [(e.stale, e.reason_code) for e in events if isinstance(e, FeedStatus)]
    assert statuses == [(True, "SYS_FEED_GAP"), (False, "SYS_FEED_RESYNCED")]
    stale_from = next(i for i, e in enumerate(events) if isinstance(e, FeedStatus))
    resynced = next(i for i, e in enumerate(events) if isinstance(e, FeedStatus) and not e.stale)
    assert not any(isinstance(e, BookDelta) for e in events[stale_from:resynced])
    assert source.stats.counters["dropped_while_stale"] == 40 - 20 - 1
    # before the gap and after the resync every book equals the gap-free replay's
    for u, state in rebuilt.items():
        assert original[u] == state, u
    assert max(rebuilt) == max(original)
    assert all(getattr(e, "token_id", token) == token for e in events)


def test_bad_lines_are_counted_and_distrust_the_book(tmp_path: Path) -> None:
    lines = _head("spot_btcusdt_20240808.gz", 400)
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    after = snap_at + 30
    stamp = lines[after].split(b" ", 1)[0]
    ticker = next(line for line in lines[after:] if b"@bookTicker" in line).split(b" ", 1)[1]
    injected = [
        b"not a line",
        stamp + b" {garbage",
        stamp + b' {"stream":"btcusdt@kline_1m","data":{}}',
        stamp + b" " + ticker.replace(b'"BTCUSDT"', b'"ETHUSDT"'),
        stamp + b" " + ticker.replace(b'"b":"', b'"b":"-'),
        str(int(stamp) - 10**9).encode() + b" " + ticker,
    ]
    mutated = lines[: after + 1] + injected + lines[after + 1 :]
    source = BinanceDepthSource(_write(tmp_path / "bad.txt", mutated))
    events = list(source.events())
    assert source.stats.bad_input == {
        "SYS_MALFORMED_MESSAGE": 2,
        "SYS_UNKNOWN_EVENT": 1,
        "SYS_UNKNOWN_TOKEN": 1,
        "SYS_PRICE_OUT_OF_RANGE": 1,
        "SYS_NON_MONOTONIC_TIME": 1,
    }
    # an unreadable line may have been a depth update: the book is stale from there on
    statuses = [(e.stale, e.reason_code) for e in events if isinstance(e, FeedStatus)]
    assert statuses == [(True, "SYS_MALFORMED_MESSAGE")]
    stale_at = next(i for i, e in enumerate(events) if isinstance(e, FeedStatus))
    assert not any(isinstance(e, BookDelta) for e in events[stale_at:])
    previous = 0
    for event in events:
        assert event.ts_recv_ns >= previous
        previous = event.ts_recv_ns


def test_snapshot_older_than_the_applied_chain_is_skipped(tmp_path: Path) -> None:
    lines = _head("spot_btcusdt_20240808.gz", 600)
    snap_at = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    later = snap_at + 200
    stamp = lines[later].split(b" ", 1)[0]
    old_snapshot = stamp + b" " + lines[snap_at].split(b" ", 1)[1]
    mutated = [*lines[: later + 1], old_snapshot, *lines[later + 1 :]]
    _, original, _ = _states(_write(tmp_path / "original.txt", lines))
    events, rebuilt, source = _states(_write(tmp_path / "old.txt", mutated))
    assert source.stats.counters["old_snapshot_skipped"] == 1
    assert source.stats.bad_input_total == 0
    assert not any(isinstance(e, FeedStatus) for e in events)
    assert rebuilt == original


def test_book_only_gives_the_same_books() -> None:
    """Same book events; only venue times may differ, since without trades and tickers no
    newer venue time raises a book event's (each stream's times never go backwards)."""
    path = BINANCE_SAMPLES / "spot_btcusdt_20240808.gz"
    full = [e for e in BinanceDepthSource(path).events() if isinstance(e, BookSnapshot | BookDelta)]
    lean = BinanceDepthSource(path, book_only=True)
    events = list(lean.events())
    assert [msgspec.structs.replace(e, ts_event_ns=0) for e in events] == [
        msgspec.structs.replace(e, ts_event_ns=0) for e in full
    ]
    assert all(a.ts_event_ns <= f.ts_event_ns for a, f in zip(events, full, strict=True))
    for stream in (events, full):
        assert all(a.ts_event_ns <= b.ts_event_ns for a, b in itertools.pairwise(stream))
    assert lean.stats.counters["skipped_book_only"] == 28_040 + 9_757  # tickers + trades


@pytest.mark.parametrize("name", FILES)
def test_whole_file_is_in_receive_and_venue_time_order(name: str) -> None:
    """The order the desk needs (its clock and the paper venue run on venue time): over the
    whole real file receive times and venue times never go backwards. The three streams
    interleave venue times (thousands of events are raised to the latest venue time), and a
    receive time is never used as a venue time: the recorder's clock ran 1.19–1.28 s behind
    Binance's, and every event, the spot bookTicker and REST snapshot (which carry no time)
    included, keeps that offset."""
    source = open_source(BINANCE_SAMPLES / name)
    events = list(source.events())
    assert all(a.ts_recv_ns <= b.ts_recv_ns for a, b in itertools.pairwise(events))
    assert all(a.ts_event_ns <= b.ts_event_ns for a, b in itertools.pairwise(events))
    assert source.stats.counters["venue_time_raised"] > 1_000
    offsets_ms = [(e.ts_event_ns - e.ts_recv_ns) / 1e6 for e in events]
    assert 1_150 < min(offsets_ms) <= max(offsets_ms) < 1_300
    assert source.stats.bad_input_total == 0
