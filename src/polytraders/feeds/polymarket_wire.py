"""Polymarket CLOB market-channel wire format: parse frames to events, encode events to frames.

The format is the websocket market channel as ``../shared/POLYMARKET.md`` "Market data"
describes it: a frame is one JSON event object or a JSON array of them, tagged by
``event_type``; prices and sizes are decimal strings, ``timestamp`` is a ms-epoch string.

Supported ``event_type``\\ s and the events they become:

- ``book`` → :class:`BookSnapshot` (levels re-sorted best first; the REST book lists the best
  price last).
- ``price_change`` → one :class:`BookDelta` per token, both schemas: the current one (since
  2025-09-15: ``price_changes[{asset_id, price, size, side, hash, best_bid, best_ask}]``) and
  the earlier one (``asset_id`` + ``changes[{price, side, size}]``). ``side`` BUY is the bid
  side, SELL the ask side; ``size`` is the new total, "0" removes the level.
- ``last_trade_price`` → :class:`Trade` (``side`` taken as the taker's side).
- ``tick_size_change`` → :class:`TickSizeChange`.
- ``best_bid_ask`` → :class:`BestBidAsk` (the channel publishes no sizes: sizes are 0).
- ``market_resolved`` → :class:`MarketStatus` RESOLVED with ``winning_token_id``.
- ``new_market`` is recognised and produces no event; the text keep-alive ``PONG`` produces
  nothing.

The parser is stateless (the live websocket client and the local CLOB simulator reuse it) and
uses msgspec typed decoding; a frame that fails the typed decode (an unknown ``event_type`` in an
array, a missing field) is decoded element by element so its good events survive.

Bad input never passes silently: each problem becomes a :class:`FeedIssue` with a registered
reason code — ``SYS_MALFORMED_MESSAGE`` (bad JSON, missing fields, unparsable numbers,
duplicate levels), ``SYS_UNKNOWN_EVENT``, ``SYS_PRICE_OUT_OF_RANGE`` (a binary-token price not in
(0, 1)), ``SYS_NEGATIVE_SIZE``. With ``issues=`` given they are appended and the affected event
(the whole token part of a ``price_change``, the whole ``book``) is dropped; without it the first
problem raises :class:`WireFormatError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import msgspec

from polytraders.feeds.config import MAX_TS_NS
from polytraders.feeds.decimal_text import micros, text
from polytraders.feeds.stats import FeedIssue
from polytraders.model.events import (
    AnyEvent,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Level,
    MarketStatus,
    TickSizeChange,
    Trade,
)
from polytraders.model.market import MarketState
from polytraders.model.money import ONE
from polytraders.model.orders import Side

MALFORMED = "SYS_MALFORMED_MESSAGE"
UNKNOWN_EVENT = "SYS_UNKNOWN_EVENT"
PRICE_OUT_OF_RANGE = "SYS_PRICE_OUT_OF_RANGE"
NEGATIVE_SIZE = "SYS_NEGATIVE_SIZE"
DECODE_ERRORS: tuple[type[Exception], ...] = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    UnicodeDecodeError,
    RecursionError,
)
"""What msgspec raises for undecodable JSON: invalid JSON, a wrong shape, invalid UTF-8 in a
string, nesting deeper than its limit."""

_NS_PER_MS = 1_000_000


class WireFormatError(ValueError):
    """A frame (or part of it) is not valid market-channel data.

    Attributes:
        issue: the :class:`FeedIssue` describing it (reason code, token, detail).
    """

    def __init__(self, issue: FeedIssue) -> None:
        super().__init__(f"{issue.reason_code}: {issue.detail}")
        self.issue = issue


# ------------------------------------------------------------------------------ wire structs
class WireLevel(msgspec.Struct, frozen=True):
    """``{"price": "0.45", "size": "100"}``."""

    price: str
    size: str


class WireBook(
    msgspec.Struct,
    frozen=True,
    tag_field="event_type",
    tag="book",
    kw_only=True,
    omit_defaults=True,
):
    """``book``: a full L2 snapshot of one token."""

    asset_id: str
    market: str = ""
    bids: list[WireLevel] = []
    asks: list[WireLevel] = []
    timestamp: str | int
    hash: str = ""


class WirePriceChangeItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One level change of the current ``price_change`` schema."""

    asset_id: str
    price: str
    size: str
    side: str
    hash: str = ""
    best_bid: str = ""
    best_ask: str = ""


class WireLegacyChange(msgspec.Struct, frozen=True, kw_only=True):
    """One level change of the pre-2025-09-15 ``price_change`` schema."""

    price: str
    side: str
    size: str


class WirePriceChange(
    msgspec.Struct,
    frozen=True,
    tag_field="event_type",
    tag="price_change",
    kw_only=True,
    omit_defaults=True,
):
    """``price_change``, either schema: ``price_changes`` (current) or ``asset_id`` +
    ``changes`` (pre-2025-09-15)."""

    market: str = ""
    timestamp: str | int
    price_changes: list[WirePriceChangeItem] | None = None
    asset_id: str | None = None
    changes: list[WireLegacyChange] | None = None
    hash: str = ""


class WireLastTrade(
    msgspec.Struct, frozen=True, tag_field="event_type", tag="last_trade_price", kw_only=True
):
    """``last_trade_price``: a public trade."""

    asset_id: str
    market: str = ""
    price: str
    size: str
    side: str = ""
    fee_rate_bps: str = ""
    timestamp: str | int
    transaction_hash: str = ""


class WireTickSizeChange(
    msgspec.Struct, frozen=True, tag_field="event_type", tag="tick_size_change", kw_only=True
):
    """``tick_size_change``."""

    asset_id: str
    market: str = ""
    old_tick_size: str
    new_tick_size: str
    timestamp: str | int


class WireBestBidAsk(
    msgspec.Struct, frozen=True, tag_field="event_type", tag="best_bid_ask", kw_only=True
):
    """``best_bid_ask`` (custom feature): top of book prices, no sizes."""

    asset_id: str
    market: str = ""
    best_bid: str = ""
    best_ask: str = ""
    spread: str = ""
    timestamp: str | int


class WireMarketResolved(
    msgspec.Struct, frozen=True, tag_field="event_type", tag="market_resolved", kw_only=True
):
    """``market_resolved`` (custom feature)."""

    market: str
    winning_asset_id: str
    winning_outcome: str = ""
    assets_ids: list[str] = []
    timestamp: str | int


class WireNewMarket(
    msgspec.Struct, frozen=True, tag_field="event_type", tag="new_market", kw_only=True
):
    """``new_market`` (custom feature): recognised, produces no event."""

    market: str = ""


WireEvent = (
    WireBook
    | WirePriceChange
    | WireLastTrade
    | WireTickSizeChange
    | WireBestBidAsk
    | WireMarketResolved
    | WireNewMarket
)
KNOWN_EVENT_TYPES = frozenset(
    {
        "book",
        "price_change",
        "last_trade_price",
        "tick_size_change",
        "best_bid_ask",
        "market_resolved",
        "new_market",
    }
)

_FRAME_DECODER = msgspec.json.Decoder(list[WireEvent] | WireEvent)
_ONE_DECODER = msgspec.json.Decoder(WireEvent)
_RAW_DECODER = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, msgspec.Raw])
_LOOSE_DECODER = msgspec.json.Decoder(dict[str, object])
_ENCODER = msgspec.json.Encoder()


# ------------------------------------------------------------------------------ parsing
class _BadError(Exception):
    """Internal: one wire event is bad; carries the issue."""

    def __init__(self, reason_code: str, token_id: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.token_id = token_id
        self.detail = detail


def parse_market_frame(
    frame: str | bytes,
    ts_recv_ns: int,
    *,
    issues: list[FeedIssue] | None = None,
    synthetic: bool = False,
) -> list[AnyEvent]:
    """Parse one market-channel frame into events (in frame order).

    Args:
        frame: the raw websocket text (one JSON event, a JSON array of events, or ``PONG``).
        ts_recv_ns: our receive time of the frame (ns since epoch); becomes ``ts_recv_ns`` of
            every event. ``ts_event_ns`` comes from the event's ms ``timestamp``.
        issues: if given, problems are appended here (and the bad parts skipped); if None, the
            first problem raises.
        synthetic: value of ``synthetic`` on every event produced.

    Returns:
        The events, possibly empty (keep-alive, ``new_market``, or everything bad).

    Raises:
        WireFormatError: a problem and ``issues`` is None.
    """
    data = frame.encode() if isinstance(frame, str) else frame
    out: list[AnyEvent] = []
    stripped = data.strip()
    if stripped in {b"PONG", b"PING"}:
        return out
    try:
        decoded = _FRAME_DECODER.decode(data)
    except DECODE_ERRORS:
        return _parse_slow(data, ts_recv_ns, issues, synthetic)
    items = decoded if isinstance(decoded, list) else [decoded]
    for item in items:
        try:
            _convert(item, ts_recv_ns, synthetic, out, issues)
        except _BadError as bad:
            _report(bad.reason_code, bad.token_id, bad.detail, ts_recv_ns, issues)
    return out


def _report(
    reason_code: str,
    token_id: str,
    detail: str,
    ts_recv_ns: int,
    issues: list[FeedIssue] | None,
) -> None:
    issue = FeedIssue(
        reason_code=reason_code, ts_recv_ns=ts_recv_ns, token_id=token_id, detail=detail[:200]
    )
    if issues is None:
        raise WireFormatError(issue)
    issues.append(issue)


def _parse_slow(
    data: bytes, ts_recv_ns: int, issues: list[FeedIssue] | None, synthetic: bool
) -> list[AnyEvent]:
    """Element-by-element decode after the typed frame decode failed."""
    out: list[AnyEvent] = []
    try:
        raw = _RAW_DECODER.decode(data)
    except DECODE_ERRORS as exc:
        _report(MALFORMED, "", f"not a JSON object or array: {exc}", ts_recv_ns, issues)
        return out
    elements: list[msgspec.Raw] = raw if isinstance(raw, list) else [msgspec.Raw(data)]
    for element in elements:
        try:
            item = _ONE_DECODER.decode(element)
        except DECODE_ERRORS as exc:
            reason, token = _classify(element)
            _report(reason, token, f"{reason}: {exc}", ts_recv_ns, issues)
            continue
        try:
            _convert(item, ts_recv_ns, synthetic, out, issues)
        except _BadError as bad:
            _report(bad.reason_code, bad.token_id, bad.detail, ts_recv_ns, issues)
    return out


def _classify(element: msgspec.Raw) -> tuple[str, str]:
    """Reason code and token (if any) of an element that failed the typed decode."""
    try:
        loose = _LOOSE_DECODER.decode(element)
    except DECODE_ERRORS:
        return MALFORMED, ""
    event_type = loose.get("event_type")
    token = loose.get("asset_id")
    token_id = token if isinstance(token, str) else ""
    changes = loose.get("price_changes")
    if not token_id and isinstance(changes, list):
        ids = {
            c["asset_id"]
            for c in changes
            if isinstance(c, dict) and isinstance(c.get("asset_id"), str)
        }
        if len(ids) == 1:
            token_id = ids.pop()
    if event_type is not None and not isinstance(event_type, str):
        return MALFORMED, token_id  # a tag that is no string: not an event type at all
    if event_type not in KNOWN_EVENT_TYPES:
        return UNKNOWN_EVENT, token_id
    return MALFORMED, token_id


_MAX_TS_DIGITS = 13  # ms timestamps up to 9,223,372,036,854 (MAX_TS_NS in ms)


def _ts_ns(timestamp: str | int, token_id: str) -> int:
    """ns of a ms timestamp (int or digit string), 0 ≤ t ≤ :data:`MAX_TS_NS`; the length is
    checked before any conversion (a 5,000-digit string is refused at once)."""
    if isinstance(timestamp, str):
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TS_DIGITS):
            raise _BadError(
                MALFORMED, token_id, f"timestamp {timestamp[:40]!r} is not an integer ms string"
            )
        timestamp = int(timestamp)
    ts_ns = timestamp * _NS_PER_MS
    if not 0 <= ts_ns <= MAX_TS_NS:
        raise _BadError(MALFORMED, token_id, f"timestamp {timestamp} ms is outside 0..2262")
    return ts_ns


def _price(text: str, token_id: str) -> int:
    try:
        value = micros(text)
    except ValueError as exc:
        raise _BadError(MALFORMED, token_id, f"price {text!r}: {exc}") from None
    if not 0 < value < ONE:
        raise _BadError(PRICE_OUT_OF_RANGE, token_id, f"price {text!r} outside (0, 1)")
    return value


def _size(text: str, token_id: str) -> int:
    try:
        value = micros(text)
    except ValueError as exc:
        raise _BadError(MALFORMED, token_id, f"size {text!r}: {exc}") from None
    if value < 0:
        raise _BadError(NEGATIVE_SIZE, token_id, f"size {text!r} is negative")
    return value


def _book_side(levels: list[WireLevel], token_id: str, descending: bool) -> list[Level]:
    seen: dict[int, int] = {}
    for level in levels:
        price = _price(level.price, token_id)
        if price in seen:
            raise _BadError(MALFORMED, token_id, f"price {level.price} listed twice in a book")
        seen[price] = _size(level.size, token_id)
    return sorted(((p, s) for p, s in seen.items() if s), reverse=descending)


def _convert(
    item: WireEvent,
    ts_recv_ns: int,
    synthetic: bool,
    out: list[AnyEvent],
    issues: list[FeedIssue] | None,
) -> None:
    """Append the events of one decoded wire event (raises _BadError; appends nothing then)."""
    if isinstance(item, WirePriceChange):
        _convert_price_change(item, ts_recv_ns, synthetic, out, issues)
    elif isinstance(item, WireBook):
        token = item.asset_id
        out.append(
            BookSnapshot(
                ts_event_ns=_ts_ns(item.timestamp, token),
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                token_id=token,
                bids=_book_side(item.bids, token, descending=True),
                asks=_book_side(item.asks, token, descending=False),
            )
        )
    elif isinstance(item, WireLastTrade):
        token = item.asset_id
        size = _size(item.size, token)
        if not size:
            raise _BadError(MALFORMED, token, "trade of size 0")
        out.append(
            Trade(
                ts_event_ns=_ts_ns(item.timestamp, token),
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                token_id=token,
                price=_price(item.price, token),
                size=size,
                aggressor=_side_or_none(item.side, token),
                trade_id=item.transaction_hash,
            )
        )
    elif isinstance(item, WireBestBidAsk):
        token = item.asset_id
        bid = _top_price(item.best_bid, token)
        ask = _top_price(item.best_ask, token)
        out.append(
            BestBidAsk(
                ts_event_ns=_ts_ns(item.timestamp, token),
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                token_id=token,
                bid_price=bid,
                bid_size=0,
                ask_price=ask,
                ask_size=0,
            )
        )
    elif isinstance(item, WireTickSizeChange):
        token = item.asset_id
        out.append(
            TickSizeChange(
                ts_event_ns=_ts_ns(item.timestamp, token),
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                token_id=token,
                old_tick_size=_price(item.old_tick_size, token),
                new_tick_size=_price(item.new_tick_size, token),
            )
        )
    elif isinstance(item, WireMarketResolved):
        out.append(
            MarketStatus(
                ts_event_ns=_ts_ns(item.timestamp, item.winning_asset_id),
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                market_id=item.market,
                state=MarketState.RESOLVED,
                accepting_orders=False,
                winning_token_id=item.winning_asset_id,
            )
        )
    # WireNewMarket: recognised, no event.


def _top_price(text: str, token_id: str) -> int:
    """Top-of-book price where "" or "0" means an empty side."""
    if text in ("", "0"):
        return 0
    return _price(text, token_id)


def _side_or_none(text: str, token_id: str) -> Side | None:
    if not text:
        return None
    if text == "BUY":
        return Side.BUY
    if text == "SELL":
        return Side.SELL
    raise _BadError(MALFORMED, token_id, f"side {text!r} is not BUY or SELL")


def _convert_price_change(
    item: WirePriceChange,
    ts_recv_ns: int,
    synthetic: bool,
    out: list[AnyEvent],
    issues: list[FeedIssue] | None,
) -> None:
    """One BookDelta per token, in order of first appearance. A bad change drops that token's
    whole delta (reported); the other tokens' deltas of the frame are kept."""
    if item.price_changes is not None:
        changes: Sequence[WirePriceChangeItem | WireLegacyChange] = item.price_changes
        legacy_token = None
    elif item.asset_id is not None and item.changes is not None:
        changes = item.changes
        legacy_token = item.asset_id
    else:
        raise _BadError(
            MALFORMED, item.asset_id or "", "price_change without price_changes/changes"
        )
    grouped: dict[str, tuple[list[Level], list[Level]]] = {}
    bad: dict[str, _BadError] = {}
    for change in changes:
        token = legacy_token if legacy_token is not None else change.asset_id  # type: ignore[union-attr]
        if token in bad:
            continue
        try:
            level = (_price(change.price, token), _size(change.size, token))
            if change.side == "BUY":
                grouped.setdefault(token, ([], []))[0].append(level)
            elif change.side == "SELL":
                grouped.setdefault(token, ([], []))[1].append(level)
            else:
                raise _BadError(MALFORMED, token, f"side {change.side!r} is not BUY or SELL")
        except _BadError as exc:
            bad[token] = exc
            grouped.pop(token, None)
    if legacy_token is not None and not changes:
        grouped[legacy_token] = ([], [])  # an update naming its token with no level change
    ts_event_ns = _ts_ns(item.timestamp, legacy_token or next(iter(grouped), ""))
    for token, (bids, asks) in grouped.items():
        out.append(
            BookDelta(
                ts_event_ns=ts_event_ns,
                ts_recv_ns=ts_recv_ns,
                synthetic=synthetic,
                token_id=token,
                bids=bids,
                asks=asks,
            )
        )
    for problem in bad.values():
        _report(problem.reason_code, problem.token_id, problem.detail, ts_recv_ns, issues)


# ------------------------------------------------------------------------------ encoding
TopOfBook = Callable[[str], tuple[int | None, int | None]]
"""token id → (best bid, best ask) after the change, for ``price_change`` ``best_bid/best_ask``."""


def _ms_text(ts_ns: int) -> str:
    ms, rest = divmod(ts_ns, _NS_PER_MS)
    if rest:
        raise ValueError(f"{ts_ns} ns is not a whole millisecond; the wire format carries ms")
    return str(ms)


def _px_text(price: int | None) -> str:
    return "" if price is None else text(price)


def encode_market_frame(
    events: Sequence[AnyEvent],
    *,
    market_of: Mapping[str, str],
    top_of_book: TopOfBook | None = None,
    legacy_price_change: bool = False,
) -> bytes:
    """Encode market events as one market-channel frame (the inverse of
    :func:`parse_market_frame`).

    ``BookSnapshot`` → ``book`` (levels listed best last, as the REST book does);
    ``BookDelta`` → ``price_change`` (consecutive deltas of one market with the same time share
    one message in the current schema; ``legacy_price_change`` writes the pre-2025-09-15 schema,
    one message per token); ``Trade`` → ``last_trade_price``; ``TickSizeChange`` →
    ``tick_size_change``; ``BestBidAsk`` → ``best_bid_ask``; ``MarketStatus`` RESOLVED →
    ``market_resolved``. One event gives a JSON object, several a JSON array.

    Args:
        events: market events, each with a ms-aligned ``ts_event_ns``.
        market_of: token id → market (condition) id.
        top_of_book: the book's best bid/ask after each delta, written as ``best_bid`` and
            ``best_ask`` of the current ``price_change`` schema ("" when not given or empty).
        legacy_price_change: write the pre-2025-09-15 ``price_change`` schema.

    Raises:
        ValueError: an event with no wire form (FeedStatus, MarketStatus other than RESOLVED,
            a non-market event, an empty delta in the current schema), a time not on a whole
            ms, or no events.
        KeyError: a token missing from ``market_of``.
    """
    items: list[object] = []
    pending: WirePriceChange | None = None
    for event in events:
        if isinstance(event, BookDelta) and not legacy_price_change:
            if not event.bids and not event.asks:
                raise ValueError(
                    "an empty delta has no current-schema price_change form; encode a book"
                )
            market = market_of[event.token_id]
            stamp = _ms_text(event.ts_event_ns)
            best_bid, best_ask = top_of_book(event.token_id) if top_of_book else (None, None)
            bid_text, ask_text = _px_text(best_bid), _px_text(best_ask)
            changes = [
                WirePriceChangeItem(
                    asset_id=event.token_id,
                    price=text(p),
                    size=text(s),
                    side=side,
                    best_bid=bid_text,
                    best_ask=ask_text,
                )
                for side, levels in (("BUY", event.bids), ("SELL", event.asks))
                for p, s in levels
            ]
            if pending is not None and pending.market == market and pending.timestamp == stamp:
                assert pending.price_changes is not None
                pending.price_changes.extend(changes)
                continue
            pending = WirePriceChange(market=market, timestamp=stamp, price_changes=changes)
            items.append(pending)
            continue
        pending = None
        items.append(_encode_one(event, market_of))
    if not items:
        raise ValueError("no events to encode")
    return _ENCODER.encode(items[0] if len(items) == 1 else items)


def _encode_one(event: AnyEvent, market_of: Mapping[str, str]) -> object:
    if isinstance(event, BookSnapshot):
        return WireBook(
            asset_id=event.token_id,
            market=market_of[event.token_id],
            bids=[WireLevel(text(p), text(s)) for p, s in reversed(event.bids)],
            asks=[WireLevel(text(p), text(s)) for p, s in reversed(event.asks)],
            timestamp=_ms_text(event.ts_event_ns),
        )
    if isinstance(event, BookDelta):
        return WirePriceChange(
            market=market_of[event.token_id],
            timestamp=_ms_text(event.ts_event_ns),
            asset_id=event.token_id,
            changes=[
                WireLegacyChange(price=text(p), side=side, size=text(s))
                for side, levels in (("BUY", event.bids), ("SELL", event.asks))
                for p, s in levels
            ],
        )
    if isinstance(event, Trade):
        return WireLastTrade(
            asset_id=event.token_id,
            market=market_of[event.token_id],
            price=text(event.price),
            size=text(event.size),
            side=event.aggressor.value if event.aggressor else "",
            timestamp=_ms_text(event.ts_event_ns),
            transaction_hash=event.trade_id,
        )
    if isinstance(event, TickSizeChange):
        return WireTickSizeChange(
            asset_id=event.token_id,
            market=market_of[event.token_id],
            old_tick_size=text(event.old_tick_size),
            new_tick_size=text(event.new_tick_size),
            timestamp=_ms_text(event.ts_event_ns),
        )
    if isinstance(event, BestBidAsk):
        bid = event.bid_price or None
        ask = event.ask_price or None
        spread = "" if bid is None or ask is None else text(ask - bid)
        return WireBestBidAsk(
            asset_id=event.token_id,
            market=market_of[event.token_id],
            best_bid=_px_text(bid),
            best_ask=_px_text(ask),
            spread=spread,
            timestamp=_ms_text(event.ts_event_ns),
        )
    if isinstance(event, MarketStatus) and event.state is MarketState.RESOLVED:
        return WireMarketResolved(
            market=event.market_id,
            winning_asset_id=event.winning_token_id,
            timestamp=_ms_text(event.ts_event_ns),
        )
    raise ValueError(f"{type(event).__name__} has no market-channel wire form")
