"""Fuzz targets: each parser or loader that reads untrusted bytes, called on one input, with
the only exceptions it documents. Shared by the hypothesis fuzz tests, the corpus replay and
the atheris run (``tests/fuzz/atheris_main.py``).

A target is called as ``target.run(data, workdir)``: file-based loaders write ``data`` under
``workdir`` first. Anything it raises outside ``target.allowed`` is a defect (an undocumented
exception), as is an assertion inside it failing (a broken invariant)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.live.user_channel import UserAuth, UserChannel
from polytraders.feeds.polymarket_lines import WireReplay
from polytraders.feeds.polymarket_wire import WireFormatError, parse_market_frame
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent
from polytraders.model.money import MAX_DECIMAL_CHARS, Rounding, to_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.node.config import LiveNodeConfig, NodeConfigError
from polytraders.venues.polymarket.credentials import Credentials, CredentialsError
from polytraders.venues.polymarket.trades import TradeTracker
from polytraders.venues.polymarket.wire import Trade, decode
from tests.conftest import BINANCE_SAMPLES

T0 = 1_767_225_600_000_000_000
"""2026-01-01T00:00:00Z: the receive time given to frames."""


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``run(data, workdir)`` and the exceptions it may raise."""

    name: str
    run: Callable[[bytes, Path], object]
    allowed: tuple[type[BaseException], ...] = ()


def _polymarket_wire(data: bytes, _workdir: Path) -> None:
    """The market-channel parser, lenient and strict, then the stream rules and guard: the
    strict parse raises ``WireFormatError`` exactly when the lenient one reports an issue."""
    issues: list[FeedIssue] = []
    events = parse_market_frame(data, T0, issues=issues)
    try:
        strict = parse_market_frame(data, T0)
    except WireFormatError as error:
        assert issues and error.issue == issues[0]
    else:
        assert not issues and strict == events
    out: list[AnyEvent] = []
    WireReplay(FeedStats()).feed(T0, data, out)


def _binance_head() -> bytes:
    """A recording's head: the sample's first depth line and its REST snapshot cut to 5
    levels a side (small, so one call stays cheap)."""
    with gzip.open(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz", "rb") as handle:
        lines = [next(handle).rstrip(b"\n") for _ in range(300)]
    depth = next(line for line in lines if b"@depth" in line[:64])
    snapshot = next(line for line in lines if b"lastUpdateId" in line)
    stamp, frame = snapshot.split(b" ", 1)
    book = json.loads(frame)
    book["bids"], book["asks"] = book["bids"][:5], book["asks"][:5]
    return depth + b"\n" + stamp + b" " + json.dumps(book).encode() + b"\n"


_BINANCE_HEAD = _binance_head()


def _binance_line(data: bytes, workdir: Path) -> None:
    """A Binance recording whose last line(s) are ``data``: every event and count."""
    path = workdir / "binance.txt"
    path.write_bytes(_BINANCE_HEAD + data + b"\n")
    source = BinanceDepthSource(path)
    list(source.events())
    source.stats.as_dict()


_ORDER_HASH = "0x" + "ab" * 32
_ORDER = VenueOrder(
    client_order_id="c-1",
    intent_id="i-1",
    token_id="tok",
    market_id="m",
    side=Side.BUY,
    price=450_000,
    size=10_000_000,
    venue_order_id=_ORDER_HASH,
)


def _user_channel(data: bytes, _workdir: Path) -> None:
    """A user-channel frame, then each trade it carries decoded (:mod:`...wire`) and through
    the trade tracker (the venue's parsing): malformed trades are ``ValueError``, which the
    live desk counts."""
    items: list[dict[str, object]] = []
    UserChannel(UserAuth("k", "s", "p"), lambda item, _ts: items.append(item)).on_frame(T0, data)
    tracker = TradeTracker()
    for item in items:
        if item.get("event_type") != "trade":
            continue
        try:
            trade = decode(item, Trade, "trade")
        except ValueError:
            continue
        updates = tracker.apply(trade, {_ORDER_HASH: _ORDER}, T0)
        for update in updates:
            assert 0 < update.fill.price < 1_000_000 and update.fill.size > 0
            assert update.fill.fee >= 0


def _write(workdir: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
    path = workdir / name
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def _desk_toml(data: bytes, workdir: Path) -> None:
    DeskFile.load(_write(workdir, "desk.toml", data))


def _node_toml(data: bytes, workdir: Path) -> None:
    LiveNodeConfig.load(_write(workdir, "node.toml", data))


def _credentials(data: bytes, workdir: Path) -> None:
    """The credentials file: a refusal is one line that never echoes the file's values."""
    path = _write(workdir, "credentials.env", data, 0o600)
    try:
        Credentials.from_file(path)
    except CredentialsError as error:
        message = str(error).replace(str(path), "<path>")
        assert "\n" not in message
        text = data.decode("utf-8", "replace")
        for line in text.splitlines():
            value = line.partition("=")[2].strip().strip('"')
            if len(value) >= 4:
                assert value not in message, "a refusal echoed a credential value"
        raise


def _decimal(data: bytes, _workdir: Path) -> None:
    """``to_micros`` on any text: an exact value within the bounds, or ``ValueError``."""
    text = data.decode("utf-8", "replace")
    value = to_micros(text, Rounding.HALF_EVEN)
    assert len(text) <= MAX_DECIMAL_CHARS
    assert abs(value) < 10**100


TARGETS = {
    target.name: target
    for target in (
        Target("polymarket_wire", _polymarket_wire),
        Target("binance_lines", _binance_line),
        Target("user_channel", _user_channel),
        Target("desk_toml", _desk_toml, (DeskFileError,)),
        Target("node_toml", _node_toml, (NodeConfigError,)),
        Target("credentials", _credentials, (CredentialsError,)),
        Target("decimal", _decimal, (ValueError,)),
    )
}
"""Every bytes-in fuzz target by name (the Parquet reader is fuzzed on tables:
``test_parquet_fuzz.py``)."""
