"""Input that used to escape the parsers as another exception (or never finish) is now a
counted, skipped record: invalid UTF-8 inside a JSON string and JSON nested past the decoder's
limit (``UnicodeDecodeError`` / ``RecursionError`` from msgspec), and a number whose exact
value is astronomically large (``"61826.621e400000000"``, found by fuzzing the Binance sample:
``to_micros`` would build a 400-million-digit integer)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.decimal_text import micros
from polytraders.feeds.polymarket_wire import WireFormatError, parse_market_frame
from polytraders.feeds.stats import FeedIssue
from polytraders.model.money import to_micros
from tests.conftest import BINANCE_SAMPLES

HOSTILE_PRICES = [
    b"61826.621e400000000",
    b"1e-400000000",
    b"9" * 5_000,
    b"1" + b"0" * 70 + b".5e1",
]


@pytest.mark.parametrize("text", [t.decode() for t in HOSTILE_PRICES])
def test_numbers_beyond_any_venue_are_refused_at_once(text: str) -> None:
    with pytest.raises(ValueError):
        micros(text)


def test_bounded_exponents_still_parse_exactly() -> None:
    assert micros("6.18003e4") == 61_800_300_000
    assert micros("1E-6") == 1
    assert micros("-2.5e+1") == -25_000_000


def _ticker_lines() -> tuple[list[bytes], int]:
    with gzip.open(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz") as handle:
        lines = [handle.readline().rstrip(b"\n") for _ in range(400)]
    snap = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    tickers = [i for i, line in enumerate(lines) if i > snap and b"@bookTicker" in line[:60]]
    return lines, tickers[5]


def test_hostile_binance_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    lines, at = _ticker_lines()
    stamp, ticker = lines[at].split(b" ", 1)
    price = ticker.split(b'"b":"', 1)[1].split(b'"', 1)[0]
    hostile = [stamp + b" " + ticker.replace(price, bad, 1) for bad in HOSTILE_PRICES]
    hostile.append(stamp + b" " + ticker.replace(b'"BTCUSDT"', b'"BTC\xe9USDT"'))  # bad UTF-8
    hostile.append(stamp + b' {"stream":"btcusdt@bookTicker","data":' + b"[" * 100_000)
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"\n".join([*lines[: at + 1], *hostile, *lines[at + 1 :]]) + b"\n")
    clean_path = tmp_path / "clean.txt"
    clean_path.write_bytes(b"\n".join(lines) + b"\n")
    source = BinanceDepthSource(path)
    events = list(source.events())
    clean = list(BinanceDepthSource(clean_path).events())
    assert source.stats.bad_input == {"SYS_MALFORMED_MESSAGE": len(hostile)}
    assert events == clean  # ticker lines: skipped without touching the book


@pytest.mark.parametrize(
    "frame",
    [
        b'{"event_type":"book","asset_id":"\xe9","market":"m","bids":[],"asks":[]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event_type":"price_change","market":"m","timestamp":"1","price_changes":'
        b'[{"asset_id":"a","price":"0.5e999999999","size":"1","side":"BUY"}]}',
    ],
    ids=["bad-utf8", "deep-nesting", "huge-exponent"],
)
def test_hostile_polymarket_frames_are_reported(frame: bytes) -> None:
    issues: list[FeedIssue] = []
    assert parse_market_frame(frame, 1, issues=issues) == []
    assert [i.reason_code for i in issues] == ["SYS_MALFORMED_MESSAGE"]


@given(st.text(alphabet="0123456789.eE+- ", max_size=90))
def test_feed_fast_path_agrees_with_to_micros(text: str) -> None:
    """``feeds.decimal_text.micros`` (the feeds' memoised fast path) gives the same value or
    the same refusal as ``to_micros`` on any text, bounds included."""
    try:
        expected: int | None = to_micros(text)
    except ValueError:
        expected = None
    try:
        got: int | None = micros(text)
    except ValueError:
        got = None
    assert got == expected


# ------------------------------------------------------- issue 12: frames that escaped as errors
TS = b'"timestamp":"1767225600000"'
ISSUE_12_FRAMES = {
    "event-type-list": (b'[{"event_type":[1]}]', "SYS_MALFORMED_MESSAGE"),
    "event-type-object": (b'{"event_type":{"a":1},"asset_id":"a"}', "SYS_MALFORMED_MESSAGE"),
    "asset-id-object": (b'{"price_changes":[{"asset_id":{}}]}', "SYS_UNKNOWN_EVENT"),
    "asset-id-object-typed": (
        b'{"event_type":"price_change","market":"m",' + TS + b',"price_changes":'
        b'[{"asset_id":{},"price":"0.5","size":"1","side":"BUY"}]}',
        "SYS_MALFORMED_MESSAGE",
    ),
    "asset-id-list": (
        b'{"event_type":"book","asset_id":[[]],' + TS + b"}",
        "SYS_MALFORMED_MESSAGE",
    ),
    "timestamp-5000-digits": (
        b'{"event_type":"book","asset_id":"a","timestamp":"' + b"9" * 5_000 + b'"}',
        "SYS_MALFORMED_MESSAGE",
    ),
    "timestamp-5000-digits-number": (
        b'{"event_type":"book","asset_id":"a","timestamp":' + b"9" * 5_000 + b"}",
        "SYS_MALFORMED_MESSAGE",
    ),
    "timestamp-negative": (
        b'{"event_type":"book","asset_id":"a","timestamp":-5}',
        "SYS_MALFORMED_MESSAGE",
    ),
    "timestamp-beyond-int64-ns": (
        b'{"event_type":"book","asset_id":"a","timestamp":"10000000000000000000000000"}',
        "SYS_MALFORMED_MESSAGE",
    ),
    "utf8-in-event-type": (b'{"event_type":"bo\xffok","asset_id":"a",' + TS + b"}", None),
    "utf8-in-key": (b'{"event_\xfftype":"book","asset_id":"a",' + TS + b"}", None),
    "utf8-in-array": (b'[{"event_type":"book","asset_id":"\xc3",' + TS + b"}]", None),
    "utf8-bare": (b"\xff\xfe\xfd", None),
}


@pytest.mark.parametrize(
    ("frame", "code"), list(ISSUE_12_FRAMES.values()), ids=list(ISSUE_12_FRAMES)
)
def test_issue_12_frames_become_issues_or_wire_format_errors(
    frame: bytes, code: str | None
) -> None:
    issues: list[FeedIssue] = []
    assert parse_market_frame(frame, 1_767_225_600_000_000_000, issues=issues) == []
    assert len(issues) == 1
    assert issues[0].reason_code == (code or "SYS_MALFORMED_MESSAGE")
    with pytest.raises(WireFormatError):
        parse_market_frame(frame, 1_767_225_600_000_000_000)
