"""The read-only :class:`DeskView` every bot decides from.

Bots see the desk only through this protocol: books, market metadata, order rules, positions,
open orders, their worst-case loss at resolution (``exposure``), what became of each intent
(:class:`IntentOutcome`), PnL/equity, trading state, feed and venue health, and the clock.
Time comes from ``now_ns`` (simulated in backtests, live otherwise); bots never read a clock
themselves. All money is in micro-units, all times in ns since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

import msgspec

from polytraders.model.book import BookView
from polytraders.model.events import TradingState
from polytraders.model.exposure import ExposureReport
from polytraders.model.market import Instrument, Market, OutcomeToken
from polytraders.model.orders import IntentAction, Side, VenueOrder


class VenueState(StrEnum):
    """Venue-wide trading mode (``../shared/POLYMARKET.md`` "Dead-man switch and venue states").

    NORMAL; RESTARTING (HTTP 425 during the weekly matching-engine restart: no orders);
    POST_ONLY (about 2 minutes after a restart: only post-only orders and cancels);
    CANCEL_ONLY (only cancels); CLOSED_ONLY (the account may only close positions).
    """

    NORMAL = "NORMAL"
    RESTARTING = "RESTARTING"
    POST_ONLY = "POST_ONLY"
    CANCEL_ONLY = "CANCEL_ONLY"
    CLOSED_ONLY = "CLOSED_ONLY"


class AccountIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who signs and who pays (public addresses only; never a key).

    Fields: ``signer`` (0x address signing orders), ``funder`` (0x address holding the funds),
    ``signature_type`` (0 EOA, 1 proxy, 2 Gnosis Safe, 3 deposit wallet), ``builder_code``
    (bytes32 0x-hex attributing orders, "" if none).
    """

    signer: str = ""
    funder: str = ""
    signature_type: int = 0
    builder_code: str = ""


NO_MAX_PRICE = (1 << 63) - 1
"""``OrderRules.max_price`` of a crypto instrument: prices have no upper bound (int64 max)."""


class OrderRules(msgspec.Struct, frozen=True, kw_only=True):
    """The venue's order rules for one outcome token or crypto instrument (micro-units).

    For an instrument (:meth:`DeskView.instrument`): ``tick_size`` its price increment,
    ``size_step`` its size increment, ``min_order_size`` its minimum size, ``min_price`` one
    tick and ``max_price`` :data:`NO_MAX_PRICE`; no binary price range applies.

    Fields:
        tick_size: price grid (micro-pUSD; 10_000 = 0.01); it can change while a market trades
            (a ``TickSizeChange`` event).
        size_step: size grid (micro-shares): Polymarket sizes are multiples of 0.01 share
            (10_000).
        min_order_size: smallest size of an order sized in shares (micro-shares; typically
            5 shares = 5_000_000).
        min_price, max_price: the valid price range, ``tick_size`` and ``1 − tick_size``.
    """

    tick_size: int
    size_step: int
    min_order_size: int
    min_price: int
    max_price: int


class IntentStatus(StrEnum):
    """What became of an intent (:class:`IntentOutcome`).

    PENDING: approved and sent (or held until the orders it replaces are cancelled); the venue
    has not acknowledged it yet. OPEN: acknowledged and working, nothing filled.
    PARTIALLY_FILLED: working with part filled. FILLED: completely filled. CANCELLED: closed
    before filling completely (by us, the kill switch, shutdown, the venue at market close, or a
    FOK/FAK remainder); ``filled_size`` tells what filled before. EXPIRED: a GTD order's expiry
    came. REFUSED: stopped before reaching the venue by the desk (``decided_by`` "desk"), a risk
    bot or the execution bot (its id). REJECTED: the venue rejected it (``decided_by``
    "venue"). DONE: a CANCEL intent carried out (its target's orders were sent cancels; the
    target's own outcome turns CANCELLED when the venue confirms).
    """

    PENDING = "PENDING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REFUSED = "REFUSED"
    REJECTED = "REJECTED"
    DONE = "DONE"

    @property
    def finished(self) -> bool:
        """True once nothing more can happen to the intent (every status but PENDING, OPEN and
        PARTIALLY_FILLED)."""
        return self not in _WORKING


_WORKING = frozenset({IntentStatus.PENDING, IntentStatus.OPEN, IntentStatus.PARTIALLY_FILLED})


class IntentOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one intent a strategy proposed (ENFORCED strategies only: the intents of
    SHADOW and ADVISORY strategies are never applied and have none).

    Fields:
        intent_id, bot_id, action, token_id, side: the intent.
        status: see :class:`IntentStatus`.
        decided_by: who decided a REFUSED or REJECTED outcome: ``"desk"`` (its gate, intake or
            order manager), a risk bot id, the execution bot id, or ``"venue"``; "" otherwise.
        reason_codes: REFUSED: the refusing step's codes; REJECTED: the venue's code; otherwise
            the codes the intent collected on its way (risk warnings and reshapes, the
            execution bot's codes).
        price, size, notional: the intent as approved, after any risk reshape (micro-pUSD,
            micro-shares, micro-pUSD); as proposed when refused.
        reshaped: a risk bot reshaped it (smaller, post-only, …) before approval.
        filled_size: micro-shares filled so far, over every order sent for it.
        client_order_ids: the venue orders sent for it (more than one when the execution bot
            splits it, e.g. a SELL partly routed as a BUY of the complement).
        ts_proposed_ns: when the desk handled it (desk clock).
        ts_updated_ns: the last change (desk clock or venue event time).
    """

    intent_id: str
    bot_id: str
    action: IntentAction
    token_id: str
    side: Side
    status: IntentStatus
    decided_by: str = ""
    reason_codes: tuple[str, ...] = ()
    price: int = 0
    size: int = 0
    notional: int = 0
    reshaped: bool = False
    filled_size: int = 0
    client_order_ids: tuple[str, ...] = ()
    ts_proposed_ns: int = 0
    ts_updated_ns: int = 0


class PositionView(Protocol):
    """Read-only position: signed micro-shares, cost basis, realized PnL and fees (micro)."""

    @property
    def token_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def cost_basis(self) -> int: ...
    @property
    def realized_pnl(self) -> int: ...
    @property
    def fees(self) -> int: ...


class DeskView(Protocol):
    """What a bot may read. Implemented by the desk; bots must treat it as read-only."""

    @property
    def now_ns(self) -> int:
        """Desk clock (ns since epoch)."""
        ...

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        ...

    @property
    def kill_switch_tripped(self) -> bool:
        """True from a kill-switch trip until an operator reset."""
        ...

    @property
    def venue_state(self) -> VenueState:
        """Venue-wide mode (post-only window, cancel-only, …)."""
        ...

    @property
    def account(self) -> AccountIdentity:
        """The signing identity the desk trades with."""
        ...

    def book(self, token_id: str) -> BookView | None:
        """The token's L2 book, or None if never seen."""
        ...

    def token(self, token_id: str) -> OutcomeToken | None:
        """Token metadata (tick, minimum size, complement), or None if unknown."""
        ...

    def instrument(self, token_id: str) -> Instrument | None:
        """The crypto instrument traded as ``token_id`` (``"<venue>:<symbol>"``), or None for
        a market token or an unknown id. Binary-only rules (complement, neg-risk, payouts, the
        (0, 1) price range) never apply to an instrument."""
        ...

    def order_rules(self, token_id: str) -> OrderRules | None:
        """The token's (or instrument's) tick size, size step, minimum order size and price
        range, or None if unknown."""
        ...

    def market(self, market_id: str) -> Market | None:
        """Market metadata and state, or None if unknown."""
        ...

    def markets(self) -> Sequence[Market]:
        """Every known market."""
        ...

    def is_stale(self, token_id: str) -> bool:
        """True while the feed has marked the token stale (gap, bad data) with no fresh snapshot."""
        ...

    def last_tick_change_ns(self, token_id: str) -> int:
        """Time of the token's last tick-size change (0 if none)."""
        ...

    def position(self, token_id: str) -> PositionView | None:
        """Our position in the token, or None if never traded."""
        ...

    def positions(self) -> Sequence[PositionView]:
        """All positions (including flat ones that were traded)."""
        ...

    def open_orders(self, token_id: str | None = None) -> Sequence[VenueOrder]:
        """Our open orders, optionally for one token."""
        ...

    def exposure(
        self, exclude_intent_ids: frozenset[str] = frozenset(), exactly_one_wins: bool = False
    ) -> ExposureReport:
        """Worst-case loss at resolution of our positions and open orders in market tokens
        (instruments are left out: :meth:`instrument_notional`; each order filling
        adversely), per market, neg-risk event and in total: ``portfolio_exposure(markets(),
        positions(), open_orders(), exclude_intent_ids, exactly_one_wins)``
        (:mod:`polytraders.model.exposure`), maintained as they change. The orders of
        ``exclude_intent_ids`` are left out (an order being replaced). The report holds until
        the desk's markets, positions or open orders next change (then reading it raises
        ``StaleExposureError``).

        Raises:
            UnknownTokenError: a position or an open order (not excluded) in a token of no
                known market.
            ValueError: an open order (not excluded) priced outside ``(0, 1)`` pUSD.
        """
        ...

    def instrument_notional(self, token_id: str) -> int | None:
        """Signed notional of our position in an instrument at its mark (micro-units of the
        quote currency; negative short, 0 flat), or None when ``token_id`` is no known
        instrument."""
        ...

    def funding_rate_ppb(self, token_id: str) -> int | None:
        """The perpetual's current funding rate in parts per billion, signed as the venue
        prints it (positive: longs pay shorts at the next funding time; negative: shorts pay
        longs), from the last ``FundingRate`` event; None when none came (or ``token_id`` is
        not a perpetual)."""
        ...

    def intent_outcome(self, intent_id: str) -> IntentOutcome | None:
        """What became of an intent: always known while it is working, and for the last
        ``DeskConfig.outcomes_kept_per_bot`` finished intents of its bot; None otherwise (never
        proposed by an ENFORCED strategy, or forgotten)."""
        ...

    def intent_outcomes(self, bot_id: str) -> Sequence[IntentOutcome]:
        """A bot's known outcomes: its last ``outcomes_kept_per_bot`` finished intents, oldest
        first, then its working ones in the order they were proposed."""
        ...

    @property
    def cash(self) -> int:
        """Free collateral (micro-pUSD)."""
        ...

    @property
    def equity(self) -> int:
        """Cash + positions marked to mid (micro)."""
        ...

    @property
    def peak_equity(self) -> int:
        """Highest equity seen in this run (micro)."""
        ...

    @property
    def day_start_equity(self) -> int:
        """Equity at the start of the current UTC day (micro)."""
        ...

    @property
    def last_feed_event_ns(self) -> int:
        """Receive time of the last market-data event (0 before any)."""
        ...

    @property
    def last_venue_heartbeat_ns(self) -> int:
        """Time of the last accepted venue heartbeat (0 if the venue has none)."""
        ...

    @property
    def consecutive_errors(self) -> int:
        """Venue or bot errors since the last success."""
        ...
