"""Events: everything that happens to the desk, as immutable msgspec structs.

Every event carries ``ts_event_ns`` (venue/exchange time, ns since the Unix epoch, UTC) and
``ts_recv_ns`` (our receive time). Market events also carry ``synthetic`` (True when the event
was generated rather than recorded; it must be visible in every output it reaches). Prices and
sizes are micro-units. Source of the shapes: DESIGN.md "Events" and ``../shared/POLYMARKET.md``
"Market data".

Events are tagged (``"type"`` field) so a timeline of mixed events encodes to JSON lines and
decodes back exactly (:data:`EVENT_DECODER`).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polytraders.model.fills import Fill
from polytraders.model.market import MarketState
from polytraders.model.orders import Side

Level = tuple[int, int]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of all events."""

    ts_event_ns: int
    ts_recv_ns: int = 0


class MarketEvent(Event, frozen=True, kw_only=True):
    """Base of market-data events."""

    synthetic: bool = False


# ---------------------------------------------------------------- market events
class BookSnapshot(MarketEvent, frozen=True, kw_only=True, tag="book_snapshot"):
    """Full L2 book of one token: levels (price, size), bids best first, asks best first.

    ``sequence`` is the venue's update id where it has one (Binance ``lastUpdateId``), else 0.
    """

    token_id: str
    bids: list[Level]
    asks: list[Level]
    sequence: int = 0


class BookDelta(MarketEvent, frozen=True, kw_only=True, tag="book_delta"):
    """Level changes of one token's book; each size is the new total at that price (0 removes).

    ``first_sequence``/``sequence`` are the venue's first and last update ids (Binance ``U``/``u``)
    and ``prev_sequence`` its previous final id (``pu``, futures); 0 where the venue has none.
    """

    token_id: str
    bids: list[Level]
    asks: list[Level]
    sequence: int = 0
    first_sequence: int = 0
    prev_sequence: int = 0


class Trade(MarketEvent, frozen=True, kw_only=True, tag="trade"):
    """A public trade. ``aggressor`` is the taker's side when known, else None."""

    token_id: str
    price: int
    size: int
    aggressor: Side | None = None
    trade_id: str = ""


class BestBidAsk(MarketEvent, frozen=True, kw_only=True, tag="best_bid_ask"):
    """Top of book as the venue publishes it (Polymarket ``best_bid_ask``, Binance bookTicker).

    Prices are 0 and sizes 0 on an empty side. ``sequence`` is the venue update id if any.
    """

    token_id: str
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int
    sequence: int = 0


class TickSizeChange(MarketEvent, frozen=True, kw_only=True, tag="tick_size_change"):
    """The token's tick size changed (micro-units); resting prices off the new grid are invalid."""

    token_id: str
    old_tick_size: int
    new_tick_size: int


class MarketStatus(MarketEvent, frozen=True, kw_only=True, tag="market_status"):
    """A market's state changed. ``winning_token_id`` is set when RESOLVED."""

    market_id: str
    state: MarketState
    accepting_orders: bool
    winning_token_id: str = ""


class FeedStatus(MarketEvent, frozen=True, kw_only=True, tag="feed_status"):
    """A feed marks a token stale (gap, disconnect, bad data) or fresh again.

    ``reason_code`` is a registered ``SYS_…`` code explaining why (empty when fresh).
    """

    token_id: str
    stale: bool
    reason_code: str = ""
    detail: str = ""


class FundingRate(MarketEvent, frozen=True, kw_only=True, tag="funding_rate"):
    """A perpetual's current funding rate (Binance USDⓈ-M ``premiumIndex`` ``lastFundingRate``,
    ccxt ``fetch_funding_rate``).

    ``rate_ppb`` parts per billion (``"0.00010000"`` → 100_000), signed as the venue prints it:
    positive, longs pay shorts at the next funding time; negative, shorts pay longs
    (:func:`polytraders.model.perp.funding_payment`). ``next_funding_ns`` is the next funding
    time (ns since epoch; 0 when unknown).
    """

    token_id: str
    rate_ppb: int
    next_funding_ns: int = 0


# ---------------------------------------------------------------- venue events
class OrderAccepted(Event, frozen=True, kw_only=True, tag="order_accepted"):
    """The venue accepted (rests or is working) an order."""

    client_order_id: str
    venue_order_id: str


class OrderRejected(Event, frozen=True, kw_only=True, tag="order_rejected"):
    """The venue refused an order; ``reason_code`` is registered, ``message`` the venue's text."""

    client_order_id: str
    reason_code: str
    message: str = ""


class OrderCanceled(Event, frozen=True, kw_only=True, tag="order_canceled"):
    """An order was cancelled (by us, by the venue, or by a dead-man switch)."""

    client_order_id: str
    venue_order_id: str = ""
    reason_code: str = ""


class OrderExpired(Event, frozen=True, kw_only=True, tag="order_expired"):
    """A GTD order reached its expiry unfilled (or partly filled)."""

    client_order_id: str
    venue_order_id: str = ""


class FundingPayment(Event, frozen=True, kw_only=True, tag="funding_payment"):
    """A perpetual's funding settled on our account at a funding time (``ts_event_ns``).

    Fields:
        funding_id: the venue's id of the payment, unique per account (the paper venue's
            ``<run id>/funding/<token id>/<funding time ns>``; Binance's ``tranId`` as
            ``<token id>/f<tranId>``): a payment reported twice (re-polled, replayed after a
            restart) is booked once.
        token_id: the perpetual.
        amount: money received, signed (negative: paid), integer micro-units of the
            collateral (micro-USDT).
        size: our signed position at the funding time (micro-units of the base asset);
        mark_price: the price it was valued at (micro-quote per unit);
        rate_ppb: the funding rate (parts per billion, signed as the venue prints it):
            each 0 when the venue does not report it (Binance's income rows carry only the
            amount).
    """

    funding_id: str
    token_id: str
    amount: int
    size: int = 0
    mark_price: int = 0
    rate_ppb: int = 0


# ---------------------------------------------------------------- desk events
class TradingState(StrEnum):
    """Desk trading state: ACTIVE, REDUCING (only exposure-reducing intents pass) or HALTED
    (nothing but cancels)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Timer(Event, frozen=True, kw_only=True, tag="timer"):
    """A timer fired. ``name`` identifies the schedule."""

    name: str


class TradingStateChanged(Event, frozen=True, kw_only=True, tag="trading_state_changed"):
    """The desk's trading state changed, because of ``reason_code`` raised by ``source``."""

    old_state: TradingState
    new_state: TradingState
    reason_code: str
    source: str


class KillSwitchTripped(Event, frozen=True, kw_only=True, tag="kill_switch_tripped"):
    """The kill switch tripped; it stays tripped until an operator resets it."""

    reason_code: str
    source: str
    detail: str = ""


class BotModeChanged(Event, frozen=True, kw_only=True, tag="bot_mode_changed"):
    """The desk changed a bot's mode on its own authority (not an operator's command), because
    of ``reason_code`` raised by ``source``: automatic demotion takes a demoted bot out of
    ENFORCED (``GOV_DEMOTION_APPLIED``). Modes are the
    :class:`~polytraders.contracts.modes.Mode` values as text."""

    bot_id: str
    old_mode: str
    new_mode: str
    reason_code: str
    source: str
    detail: str = ""


class OperatorCommand(Event, frozen=True, kw_only=True, tag="operator_command"):
    """An authenticated operator's command (kill, reset, set mode, …)."""

    command: str
    operator: str
    args: dict[str, str] = msgspec.field(default_factory=dict)


AnyEvent = (
    BookSnapshot
    | BookDelta
    | Trade
    | BestBidAsk
    | TickSizeChange
    | MarketStatus
    | FeedStatus
    | FundingRate
    | OrderAccepted
    | OrderRejected
    | OrderCanceled
    | OrderExpired
    | FundingPayment
    | Fill
    | Timer
    | TradingStateChanged
    | KillSwitchTripped
    | OperatorCommand
)
"""Union of every event type (tagged by ``type``)."""

EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
