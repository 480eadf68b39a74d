"""Binance diff-depth recordings (spot and USDⓈ-M futures) → events.

Format (``../shared/data/README.md``): gzip or plain lines ``<local receive ts ns> <raw JSON>``,
each a combined-stream message ``{"stream": "<sym>@depth@0ms" | "<sym>@trade" |
"<sym>@bookTicker", "data": {...}}``, plus REST depth snapshot lines ``{"lastUpdateId": …,
"bids": […], "asks": […]}``. One symbol per file (the REST snapshot names none).

Book synchronisation follows Binance's documented diff-depth rules (Binance API docs, "How to
manage a local order book correctly", spot and USDⓈ-M futures):

- depth events received before the snapshot are buffered; at the snapshot (``lastUpdateId``
  L) events with ``u`` ≤ L (spot) / ``u`` < L (futures) are dropped; the first applied event
  must have ``U`` ≤ L+1 ≤ ``u`` (spot) / ``U`` ≤ L ≤ ``u`` (futures; an event whose ``pu``
  equals L also continues the snapshot exactly and is accepted);
- afterwards each event must continue the chain: ``U`` = previous ``u`` + 1 (spot) /
  ``pu`` = previous ``u`` (futures).

A broken chain is a gap: ``SYS_FEED_GAP`` is counted, ``FeedStatus(stale=True,
reason_code="SYS_FEED_GAP")`` emitted, and depth events are dropped until the next snapshot
re-bootstraps the book (then ``FeedStatus(stale=False, reason_code="SYS_FEED_RESYNCED")``).
Buffered events applied at a snapshot are emitted right after it with the snapshot's receive
time (the time the book could first be built), so the stream stays time-ordered.

Events: ``BookSnapshot`` (``sequence`` = L), ``BookDelta`` (``first_sequence`` U,
``sequence`` u, ``prev_sequence`` pu or 0), ``BestBidAsk`` from bookTicker (``sequence`` u),
``Trade`` (``aggressor`` SELL when the buyer is the maker, ``trade_id`` = ``t``). Token id
``f"{venue}:{symbol}"``, venue ``binance-spot`` or ``binance-usdm`` (futures depth events carry
``pu``).

Times. ``ts_recv_ns`` is the line's local receive time; ``ts_event_ns`` is venue time (ms →
ns): depth ``E``, trade ``T``, futures bookTicker ``T`` (else ``E``), the REST snapshot's
``E`` (else ``T``). The two clocks differ (the recorder's clock ran about 1.27 s behind
Binance's in the shipped samples), so a receive time is never used as a venue time: a message
without one (spot bookTicker, the spot REST snapshot) gets the venue time of the latest message
that had one (its ``E``) plus the local time elapsed since that message was received. The file
is replayed in receive order, and the three streams interleave venue times (a trade printed
before a depth event can arrive after it; a REST snapshot arrives after depth events newer than
it): :meth:`~polytraders.feeds.source.Source.events` raises such an older venue time to the
latest one already yielded (counter ``venue_time_raised``), so venue time never goes backwards.

Bad input: unreadable lines/JSON/numbers (and a receive time beyond int64 ns)
``SYS_MALFORMED_MESSAGE``; a non-positive price ``SYS_PRICE_OUT_OF_RANGE``; a negative size
``SYS_NEGATIVE_SIZE``; another symbol ``SYS_UNKNOWN_TOKEN``; unknown streams
``SYS_UNKNOWN_EVENT``; receive time going backwards ``SYS_NON_MONOTONIC_TIME``; a venue time
(``E`` or ``T``) outside the :class:`~polytraders.feeds.config.EventTimeWindow`
``SYS_EVENT_TIME_OUT_OF_RANGE`` (the message is refused before its time is used, so it never
moves the venue clock anchor nor the stream's venue time). A bad depth event breaks the chain
(the book is stale until the next snapshot); other bad lines are skipped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import msgspec

from polytraders.feeds.config import EventTimeWindow, TimeBounds
from polytraders.feeds.decimal_text import micros
from polytraders.feeds.errors import FeedError
from polytraders.feeds.guard import EVENT_TIME_OUT_OF_RANGE
from polytraders.feeds.lines import count_lines, iter_raw_lines, receive_time, split_line
from polytraders.feeds.polymarket_wire import (
    DECODE_ERRORS,
    MALFORMED,
    NEGATIVE_SIZE,
    PRICE_OUT_OF_RANGE,
    UNKNOWN_EVENT,
)
from polytraders.feeds.source import Source
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import (
    AnyEvent,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    FeedStatus,
    Level,
    Trade,
)
from polytraders.model.market import BINANCE_SPOT, BINANCE_USDM, Instrument
from polytraders.model.orders import Side

FEED_GAP = "SYS_FEED_GAP"
RESYNCED = "SYS_FEED_RESYNCED"
UNKNOWN_TOKEN = "SYS_UNKNOWN_TOKEN"
NON_MONOTONIC_TIME = "SYS_NON_MONOTONIC_TIME"
SPOT = BINANCE_SPOT
USDM = BINANCE_USDM
MAX_BUFFERED_EVENTS = 100_000
"""Depth events kept while waiting for a snapshot; older ones are dropped (counted)."""

KNOWN_INSTRUMENTS: dict[tuple[str, str], tuple[int, int, int]] = {
    (USDM, "BTCUSDT"): (100_000, 1_000, 1_000),
    (USDM, "ETHUSDT"): (10_000, 1_000, 1_000),
    (SPOT, "BTCUSDT"): (10_000, 10, 10),
}
"""(venue, symbol) → (price increment, size increment, minimum size) in micro-units, from
Binance ``exchangeInfo`` filters PRICE_FILTER.tickSize / LOT_SIZE.stepSize / minQty as of
August 2024 (the sample's date). Other symbols get increments inferred from the data."""

_NS_PER_MS = 1_000_000
_CACHE_LIMIT = 500_000


# ------------------------------------------------------------------------------ wire structs
class _Depth(msgspec.Struct):
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    T: int = 0
    pu: int | None = None


class _DepthMessage(msgspec.Struct):
    data: _Depth


class _Ticker(msgspec.Struct):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    E: int = 0
    T: int = 0


class _TickerMessage(msgspec.Struct):
    data: _Ticker


class _TradeData(msgspec.Struct):
    E: int
    T: int
    s: str
    t: int
    p: str
    q: str
    m: bool


class _TradeMessage(msgspec.Struct):
    data: _TradeData


class _Snapshot(msgspec.Struct):
    lastUpdateId: int  # noqa: N815 (venue field name)
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    E: int = 0
    T: int = 0


class _AnyMessage(msgspec.Struct):
    stream: str = ""


_DEPTH = msgspec.json.Decoder(_DepthMessage)
_TICKER = msgspec.json.Decoder(_TickerMessage)
_TRADE = msgspec.json.Decoder(_TradeMessage)
_SNAPSHOT = msgspec.json.Decoder(_Snapshot)
_ANY = msgspec.json.Decoder(_AnyMessage)


class _BadValueError(Exception):
    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code


class _VenueTimes:
    """Checks a message's venue stamps (ms; 0 = absent) against the window, before use."""

    __slots__ = ("_bounds", "_window")

    def __init__(self, window: EventTimeWindow) -> None:
        self._window = window
        self._bounds: TimeBounds = window.bounds()

    def check(self, ts_recv_ns: int, *stamps_ms: int) -> None:
        """Raises _BadValueError(SYS_EVENT_TIME_OUT_OF_RANGE) for a present stamp outside the
        window."""
        accepts = self._bounds.accepts
        for stamp_ms in stamps_ms:
            if stamp_ms and not accepts(stamp_ms * _NS_PER_MS, ts_recv_ns):
                problem = self._window.problem(stamp_ms * _NS_PER_MS, ts_recv_ns)
                raise _BadValueError(EVENT_TIME_OUT_OF_RANGE, problem)


class _PriceMicros(dict[str, int]):
    """Memo of price text → micro-units; a miss parses and validates (price > 0)."""

    def __missing__(self, text: str) -> int:
        try:
            value = micros(text)
        except ValueError as exc:
            raise _BadValueError(MALFORMED, f"price {text!r}: {exc}") from None
        if value <= 0:
            raise _BadValueError(PRICE_OUT_OF_RANGE, f"price {text!r} is not positive")
        self[text] = value
        return value


class _SizeMicros(dict[str, int]):
    """Memo of size text → micro-units; a miss parses and validates (size ≥ 0)."""

    def __missing__(self, text: str) -> int:
        try:
            value = micros(text)
        except ValueError as exc:
            raise _BadValueError(MALFORMED, f"size {text!r}: {exc}") from None
        if value < 0:
            raise _BadValueError(NEGATIVE_SIZE, f"size {text!r} is negative")
        self[text] = value
        return value


_HEAD_ERRORS: tuple[type[Exception], ...] = (ValueError, *DECODE_ERRORS)
"""A head line that cannot be read (bad framing, JSON or number) while probing."""
_LINE_ERRORS: tuple[type[Exception], ...] = (*DECODE_ERRORS, _BadValueError)
"""A line that cannot be read while streaming (counted under its reason code)."""


# ------------------------------------------------------------------------------ metadata
class _Probe(msgspec.Struct, frozen=True):
    """What the head of a recording says: venue, symbol, the first REST snapshot's prices and
    sizes (for increments), and the first depth event's venue and receive times (ns)."""

    venue: str
    symbol: str
    prices: list[int]
    sizes: list[int]
    first_venue_ns: int
    first_recv_ns: int


def _probe(path: Path, max_lines: int = 20_000) -> _Probe:
    """Read the head of a recording (at most ``max_lines`` lines, until a depth event and a
    snapshot were seen).

    Raises:
        FeedError: no depth event within ``max_lines`` lines.
    """
    venue = symbol = ""
    prices: list[int] = []
    sizes: list[int] = []
    first_venue_ns = first_recv_ns = 0
    for count, line in enumerate(iter_raw_lines(path)):
        if count >= max_lines or (symbol and prices):
            break
        try:
            ts_recv_ns, frame = split_line(line)
            if frame.startswith(b'{"lastUpdateId"') and not prices:
                snap = _SNAPSHOT.decode(frame)
                prices = [micros(p) for p, _ in snap.bids + snap.asks]
                sizes = [micros(q) for _, q in snap.bids + snap.asks]
            elif b"@depth" in frame[:64] and not symbol:
                depth = _DEPTH.decode(frame).data
                symbol = depth.s
                venue = USDM if depth.pu is not None else SPOT
                first_venue_ns, first_recv_ns = depth.E * _NS_PER_MS, ts_recv_ns
        except _HEAD_ERRORS:
            continue
    if not symbol:
        raise FeedError(path, f"no Binance depthUpdate in its first {max_lines:,} lines")
    return _Probe(venue, symbol, prices, sizes, first_venue_ns, first_recv_ns)


def _instrument(venue: str, symbol: str, prices: list[int], sizes: list[int]) -> Instrument:
    known = KNOWN_INSTRUMENTS.get((venue, symbol))
    if known is not None:
        tick, step, minimum = known
    else:
        positive_prices = [p for p in prices if p > 0]
        positive_sizes = [q for q in sizes if q > 0]
        tick = math.gcd(*positive_prices) if positive_prices else 1
        step = math.gcd(*positive_sizes) if positive_sizes else 1
        minimum = step
    return Instrument(
        venue=venue, symbol=symbol, price_increment=tick, size_increment=step, min_size=minimum
    )


def is_binance_recording(path: Path) -> bool:
    """True when the first lines look like a Binance combined-stream recording."""
    try:
        for count, line in enumerate(iter_raw_lines(path)):
            if count >= 50:
                return False
            try:
                _, frame = split_line(line)
            except ValueError:
                continue
            head = frame[:80]
            if frame.startswith(b'{"stream"') and (
                b"@depth" in head or b"@trade" in head or b"@bookTicker" in head
            ):
                return True
    except (OSError, EOFError):
        return False
    return False


# ------------------------------------------------------------------------------ the source
class BinanceDepthSource(Source):
    """A Binance diff-depth recording (see the module docstring for rules and events).

    Args:
        path: the recording.
        book_only: emit only book events (snapshots, deltas, FeedStatus): trade and bookTicker
            lines are recognised by their stream name and skipped without being examined
            further (not decoded, their times not checked; counted in ``skipped_book_only``),
            for consumers that only need the book.
        window: the venue times accepted (default :class:`EventTimeWindow`'s defaults).

    Stats counters: ``lines``, ``buffered`` (depth events waiting for a snapshot),
    ``presync_dropped`` (older than the snapshot), ``dropped_while_stale``,
    ``buffer_overflow``, ``skipped_book_only``, ``old_snapshot_skipped``.

    Raises (constructor):
        FileNotFoundError: no such file.
        FeedError: no depth event in the head of the file.
    """

    kind = "binance"
    record_counter = "lines"

    def __init__(
        self, path: str | Path, *, book_only: bool = False, window: EventTimeWindow | None = None
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(self.path)
        self.book_only = book_only
        self.window = window or EventTimeWindow()
        self._head = head = _probe(self.path)
        self.venue = head.venue
        self.symbol = head.symbol
        self.futures = head.venue == USDM
        instrument = _instrument(head.venue, head.symbol, head.prices, head.sizes)
        self.token_id = instrument.token_id
        super().__init__(
            str(self.path),
            instruments=[instrument],
        )

    def expected_records(self) -> int:
        """The file's lines (counted by reading it once)."""
        return count_lines(self.path)

    def _events(self) -> Iterator[AnyEvent]:
        sync = DepthSync(self.token_id, self.futures, self.stats)
        stats = self.stats
        counters = stats.counters
        symbol = self.symbol
        token = self.token_id
        prices = _PriceMicros()
        sizes = _SizeMicros()
        stream = b'{"stream":"' + symbol.lower().encode()
        ticker_prefix, trade_prefix, depth_prefix = (
            stream + b"@bookTicker",
            stream + b"@trade",
            stream + b"@depth",
        )
        decode_ticker, decode_trade, decode_depth = _TICKER.decode, _TRADE.decode, _DEPTH.decode
        book_only = self.book_only
        venue_times = _VenueTimes(self.window)
        skipped = 0
        last_recv = -1
        # venue clock anchor: venue time (E) and receive time of the latest message with an E
        anchor_venue_ns, anchor_recv_ns = self._head.first_venue_ns, self._head.first_recv_ns
        out: list[AnyEvent] = []
        for line in iter_raw_lines(self.path):
            counters["lines"] += 1
            space = line.find(b" ")
            start = space + 1
            if space > 0 and line.startswith(ticker_prefix, start):
                kind = _TICKER_KIND
            elif space > 0 and line.startswith(trade_prefix, start):
                kind = _TRADE_KIND
            elif space > 0 and line.startswith(depth_prefix, start):
                kind = _DEPTH_KIND
            else:
                kind = _kind(line[start:])
            if book_only and kind in (_TICKER_KIND, _TRADE_KIND):
                skipped += 1  # not examined at all (not even its time)
                continue
            try:
                ts_recv_ns = receive_time(line[:space] if space > 0 else b"")
            except ValueError as exc:
                sync.bad_depth(
                    FeedIssue(
                        reason_code=MALFORMED,
                        ts_recv_ns=max(last_recv, 0),
                        token_id=token,
                        detail=f"line does not start with '<receive ts ns> ' ({exc}): "
                        f"{line[:60]!r}",
                    ),
                    out,
                )
                yield from out
                out.clear()
                continue
            frame = memoryview(line)[start:]
            if ts_recv_ns < last_recv:
                issue = FeedIssue(
                    reason_code=NON_MONOTONIC_TIME,
                    ts_recv_ns=ts_recv_ns,
                    token_id=token,
                    detail=f"line received at {ts_recv_ns} ns after {last_recv} ns",
                )
                if kind in (_DEPTH_KIND, _SNAPSHOT_KIND):
                    sync.bad_depth(issue, out)
                    yield from out
                    out.clear()
                else:
                    stats.record(issue)
                continue
            last_recv = ts_recv_ns
            try:
                if kind == _TICKER_KIND:
                    ticker = decode_ticker(frame).data
                    if ticker.s != symbol:
                        stats.record(_unknown_symbol(ticker.s, ts_recv_ns))
                        continue
                    venue_times.check(ts_recv_ns, ticker.E, ticker.T)
                    if ticker.E:
                        anchor_venue_ns, anchor_recv_ns = ticker.E * _NS_PER_MS, ts_recv_ns
                    stamp_ms = ticker.T or ticker.E
                    yield BestBidAsk(
                        ts_event_ns=stamp_ms * _NS_PER_MS
                        if stamp_ms
                        else anchor_venue_ns + ts_recv_ns - anchor_recv_ns,
                        ts_recv_ns=ts_recv_ns,
                        token_id=token,
                        bid_price=prices[ticker.b],
                        bid_size=sizes[ticker.B],
                        ask_price=prices[ticker.a],
                        ask_size=sizes[ticker.A],
                        sequence=ticker.u,
                    )
                elif kind == _DEPTH_KIND:
                    depth = decode_depth(frame).data
                    if depth.s != symbol:
                        stats.record(_unknown_symbol(depth.s, ts_recv_ns))
                        continue
                    venue_times.check(ts_recv_ns, depth.E, depth.T)
                    if depth.E:
                        anchor_venue_ns, anchor_recv_ns = depth.E * _NS_PER_MS, ts_recv_ns
                    stamp_ms = depth.E or depth.T
                    delta = BookDelta(
                        ts_event_ns=stamp_ms * _NS_PER_MS
                        if stamp_ms
                        else anchor_venue_ns + ts_recv_ns - anchor_recv_ns,
                        ts_recv_ns=ts_recv_ns,
                        token_id=token,
                        bids=[(prices[p], sizes[q]) for p, q in depth.b],
                        asks=[(prices[p], sizes[q]) for p, q in depth.a],
                        sequence=depth.u,
                        first_sequence=depth.U,
                        prev_sequence=depth.pu or 0,
                    )
                    if sync.synced and sync.chains(delta):
                        sync.last_u = delta.sequence
                        yield delta
                    else:
                        sync.depth(delta, out)
                        if out:
                            yield from out
                            out.clear()
                elif kind == _TRADE_KIND:
                    trade = decode_trade(frame).data
                    if trade.s != symbol:
                        stats.record(_unknown_symbol(trade.s, ts_recv_ns))
                        continue
                    venue_times.check(ts_recv_ns, trade.E, trade.T)
                    if trade.E:
                        anchor_venue_ns, anchor_recv_ns = trade.E * _NS_PER_MS, ts_recv_ns
                    size = sizes[trade.q]
                    if not size:
                        raise _BadValueError(MALFORMED, "trade of size 0")
                    yield Trade(
                        ts_event_ns=(trade.T or trade.E) * _NS_PER_MS,
                        ts_recv_ns=ts_recv_ns,
                        token_id=token,
                        price=prices[trade.p],
                        size=size,
                        aggressor=Side.SELL if trade.m else Side.BUY,
                        trade_id=str(trade.t),
                    )
                elif kind == _SNAPSHOT_KIND:
                    snap = _SNAPSHOT.decode(frame)
                    venue_times.check(ts_recv_ns, snap.E, snap.T)
                    if snap.E:
                        anchor_venue_ns, anchor_recv_ns = snap.E * _NS_PER_MS, ts_recv_ns
                    stamp_ms = snap.E or snap.T
                    sync.snapshot(
                        BookSnapshot(
                            ts_event_ns=stamp_ms * _NS_PER_MS
                            if stamp_ms
                            else anchor_venue_ns + ts_recv_ns - anchor_recv_ns,
                            ts_recv_ns=ts_recv_ns,
                            token_id=token,
                            bids=_sorted_levels(snap.bids, prices, sizes, descending=True),
                            asks=_sorted_levels(snap.asks, prices, sizes, descending=False),
                            sequence=snap.lastUpdateId,
                        ),
                        out,
                    )
                    yield from out
                    out.clear()
                else:
                    self._unknown(bytes(frame), ts_recv_ns)
            except _LINE_ERRORS as exc:
                reason = exc.reason_code if isinstance(exc, _BadValueError) else MALFORMED
                issue = FeedIssue(
                    reason_code=reason, ts_recv_ns=ts_recv_ns, token_id=token, detail=str(exc)
                )
                if kind in (_DEPTH_KIND, _SNAPSHOT_KIND):
                    sync.bad_depth(issue, out)
                    yield from out
                    out.clear()
                else:
                    stats.record(issue)
            if len(prices) > _CACHE_LIMIT:
                prices.clear()
            if len(sizes) > _CACHE_LIMIT:
                sizes.clear()
        if skipped:
            counters["skipped_book_only"] = skipped

    def _unknown(self, frame: bytes, ts_recv_ns: int) -> None:
        try:
            stream = _ANY.decode(frame).stream
        except DECODE_ERRORS as exc:
            raise _BadValueError(MALFORMED, f"not a Binance message: {exc}") from None
        self.stats.record(
            FeedIssue(
                reason_code=UNKNOWN_EVENT,
                ts_recv_ns=ts_recv_ns,
                token_id=self.token_id,
                detail=f"stream {stream!r} is not depth, trade or bookTicker",
            )
        )


_TICKER_KIND, _TRADE_KIND, _DEPTH_KIND, _SNAPSHOT_KIND, _OTHER_KIND = range(5)


def _kind(frame: bytes) -> int:
    """Message kind from the head of a frame (slow path: any symbol, any spacing)."""
    if frame.startswith(b'{"lastUpdateId"'):
        return _SNAPSHOT_KIND
    head = frame[:64]
    if b"@depth" in head:
        return _DEPTH_KIND
    if b"@bookTicker" in head:
        return _TICKER_KIND
    if b"@trade" in head:
        return _TRADE_KIND
    return _OTHER_KIND


def _unknown_symbol(symbol: str, ts_recv_ns: int) -> FeedIssue:
    return FeedIssue(
        reason_code=UNKNOWN_TOKEN,
        ts_recv_ns=ts_recv_ns,
        token_id=symbol,
        detail=f"symbol {symbol} is not the recording's symbol",
    )


def _sorted_levels(
    levels: list[tuple[str, str]], prices: _PriceMicros, sizes: _SizeMicros, *, descending: bool
) -> list[Level]:
    book: dict[int, int] = {}
    for p, q in levels:
        price = prices[p]
        if price in book:
            raise _BadValueError(MALFORMED, f"price {p} listed twice in a snapshot")
        book[price] = sizes[q]
    return sorted(((p, s) for p, s in book.items() if s), reverse=descending)


class DepthSync:
    """Binance update-id state machine of one symbol (module docstring); shared by the
    recorded source and the live feed (:mod:`polytraders.feeds.live.binance_depth`).

    Use: :meth:`snapshot` for each REST snapshot; for each depth event, when :attr:`synced`
    and :meth:`chains`, set :attr:`last_u` and apply it, else :meth:`depth`; the events to
    emit are appended to ``out``."""

    __slots__ = (
        "_buffer",
        "_futures",
        "_snapshot_id",
        "_stale",
        "_stats",
        "_token",
        "last_u",
        "synced",
    )

    def __init__(self, token_id: str, futures: bool, stats: FeedStats) -> None:
        self._token = token_id
        self._futures = futures
        self._stats = stats
        self._buffer: deque[BookDelta] = deque()
        self._snapshot_id: int | None = None  # set while bootstrapping from a snapshot
        self._stale = False
        self.synced = False
        self.last_u = 0

    @property
    def stale(self) -> bool:
        """True after a gap or bad input, until a snapshot re-bootstraps the book."""
        return self._stale

    def chains(self, delta: BookDelta) -> bool:
        """True when ``delta`` continues the applied chain."""
        if self._futures:
            return delta.prev_sequence == self.last_u
        return delta.first_sequence == self.last_u + 1

    def depth(self, delta: BookDelta, out: list[AnyEvent]) -> None:
        """A depth event that is not a plain continuation (bootstrapping, waiting, or a gap)."""
        counters = self._stats.counters
        if self.synced:  # it does not chain: gap
            self._gap(
                delta, f"update {delta.first_sequence}..{delta.sequence} after {self.last_u}", out
            )
            return
        if self._snapshot_id is None:  # waiting for a snapshot
            if self._stale:
                counters["dropped_while_stale"] += 1
                return
            counters["buffered"] += 1
            self._buffer.append(delta)
            if len(self._buffer) > MAX_BUFFERED_EVENTS:
                self._buffer.popleft()
                counters["buffer_overflow"] += 1
            return
        self._bootstrap(delta, out)

    def _bootstrap(self, delta: BookDelta, out: list[AnyEvent]) -> None:
        snapshot_id = self._snapshot_id
        assert snapshot_id is not None
        if self._futures:
            too_old = delta.sequence < snapshot_id
            straddles = delta.first_sequence <= snapshot_id <= delta.sequence or (
                delta.prev_sequence == snapshot_id
            )
        else:
            too_old = delta.sequence <= snapshot_id
            straddles = delta.first_sequence <= snapshot_id + 1 <= delta.sequence
        if too_old:
            self._stats.counters["presync_dropped"] += 1
            return
        if not straddles:
            self._snapshot_id = None
            self._gap(
                delta, f"first update {delta.first_sequence}.. after snapshot {snapshot_id}", out
            )
            return
        self._snapshot_id = None
        self.synced = True
        self.last_u = delta.sequence
        out.append(delta)

    def snapshot(self, snapshot: BookSnapshot, out: list[AnyEvent]) -> None:
        """A REST snapshot: (re)bootstrap the book; replay buffered events per the rules.

        A snapshot no newer than the chain already applied to a synced book carries nothing
        new and would roll the book back: it is skipped (counter ``old_snapshot_skipped``)."""
        if self.synced and snapshot.sequence <= self.last_u:
            self._stats.counters["old_snapshot_skipped"] += 1
            return
        out.append(snapshot)
        if self._stale:
            self._stale = False
            out.append(
                FeedStatus(
                    ts_event_ns=snapshot.ts_event_ns,
                    ts_recv_ns=snapshot.ts_recv_ns,
                    token_id=self._token,
                    stale=False,
                    reason_code=RESYNCED,
                )
            )
        self.synced = False
        self._snapshot_id = snapshot.sequence
        buffered, self._buffer = self._buffer, deque()
        for delta in buffered:
            restamped = msgspec.structs.replace(delta, ts_recv_ns=snapshot.ts_recv_ns)
            if self.synced:
                if self.chains(restamped):
                    self.last_u = restamped.sequence
                    out.append(restamped)
                else:
                    self._gap(restamped, "buffered update does not chain", out)
                    return
            elif self._snapshot_id is not None:
                self._bootstrap(restamped, out)
            else:
                self._stats.counters["dropped_while_stale"] += 1

    def bad_depth(self, issue: FeedIssue, out: list[AnyEvent]) -> None:
        """A depth/snapshot line that could not be read: the chain is broken."""
        self._stats.record(issue)
        self.synced = False
        self._snapshot_id = None
        self._buffer.clear()
        self._mark_stale(issue.reason_code, issue.ts_recv_ns, out)

    def _gap(self, delta: BookDelta, detail: str, out: list[AnyEvent]) -> None:
        self._stats.record(
            FeedIssue(
                reason_code=FEED_GAP,
                ts_recv_ns=delta.ts_recv_ns,
                token_id=self._token,
                detail=detail,
            )
        )
        self.synced = False
        self._buffer.clear()
        self._mark_stale(FEED_GAP, delta.ts_recv_ns, out)

    def _mark_stale(self, reason_code: str, ts_recv_ns: int, out: list[AnyEvent]) -> None:
        if self._stale:
            return
        self._stale = True
        out.append(
            FeedStatus(
                ts_event_ns=ts_recv_ns,
                ts_recv_ns=ts_recv_ns,
                token_id=self._token,
                stale=True,
                reason_code=reason_code,
            )
        )
