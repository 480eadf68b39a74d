"""``DeskState``: the concrete, mutable implementation of the bots' ``DeskView``.

The desk owns one ``DeskState`` and updates it from events (:meth:`DeskState.apply_event`);
bots receive it typed as the read-only ``DeskView``. Fixture packs build one directly with
:meth:`DeskState.build` (markets, books from level lists, positions, time, states) without
running a desk.

What it holds: markets and tokens, crypto instruments (:class:`Instrument`, keyed by their
``token_id`` ``"<venue>:<symbol>"``), one L2 :class:`OrderBook` per token or instrument, stale
flags (from ``FeedStatus``; cleared by a fresh ``BookSnapshot``), each perpetual's last funding
rate (from ``FundingRate``), the time of each token's last
tick-size change, the :class:`~polytraders.accounting.ledger.Ledger` (positions, cash, fills),
our open orders (maintained by the order manager), trading state, kill switch, venue state, account
identity, last feed event time, last venue heartbeat, the consecutive-error count, and the
outcome of every intent of the ENFORCED strategies
(:class:`~polytraders.desk.outcomes.OutcomeBook`).

Money is micro-units, time ns since the Unix epoch. Equity is cash plus positions marked to
the book mid (DESIGN.md "The desk"; :meth:`Ledger.equity`): for a linear perpetual, where a SELL
fill credits its notional and a BUY debits it as for any token, that is cash + signed size ×
mark, so a round trip realizes exactly (exit − entry) × size minus fees.

Binary-only figures leave instruments out: :meth:`DeskState.exposure` (worst-case loss at
resolution) counts only the positions and open orders in market tokens; an instrument's
exposure is its signed notional at mark (:meth:`DeskState.instrument_notional`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from polytraders.accounting.ledger import Ledger, Settlement
from polytraders.contracts.id_set import OrderIdSet
from polytraders.contracts.view import (
    NO_MAX_PRICE,
    AccountIdentity,
    DeskView,
    IntentOutcome,
    OrderRules,
    VenueState,
)
from polytraders.desk.outcomes import DEFAULT_FINISHED_PER_BOT, OutcomeBook
from polytraders.desk.slots import Quarantine
from polytraders.model.book import BookView, Level, OrderBook
from polytraders.model.events import (
    AnyEvent,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    BotModeChanged,
    FeedStatus,
    FundingRate,
    KillSwitchTripped,
    MarketStatus,
    TickSizeChange,
    Trade,
    TradingState,
    TradingStateChanged,
)
from polytraders.model.exposure import ExposureBook, ExposureReport
from polytraders.model.market import Instrument, Market, MarketState, OutcomeToken
from polytraders.model.money import ONE
from polytraders.model.orders import SHARE_STEP_MICROS, VenueOrder
from polytraders.model.position import Position

NS_PER_DAY = 86_400 * 1_000_000_000
"""Nanoseconds in a UTC day (day-start equity resets at each UTC midnight)."""

DeskEvent = TradingStateChanged | KillSwitchTripped | BotModeChanged
"""Desk-level events the state records when its trading state or kill switch changes, or when
the desk takes a bot out of ENFORCED on its own authority (automatic demotion)."""


class KillSwitchStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The kill switch: ``tripped``, and for a trip its ``reason_code``, ``source`` (``desk``,
    a bot id or ``operator:<name>``), ``detail`` and desk time ``tripped_ns`` (which also
    names the trip an operator resets)."""

    tripped: bool = False
    reason_code: str = ""
    source: str = ""
    detail: str = ""
    tripped_ns: int = 0


class DeskControls(msgspec.Struct, frozen=True, kw_only=True):
    """The state a restart must not forget (``DeskState.controls``; checkpoints).

    Fields: ``trading_state`` with the ``trading_reason_code`` and ``trading_source`` of its
    latest change ("" before any); ``kill_switch``; ``day_index`` (UTC day, ``now //
    NS_PER_DAY``) and its ``day_start_equity`` (daily loss); ``peak_equity`` (drawdown).
    Money in micro-units.
    """

    trading_state: TradingState
    trading_reason_code: str
    trading_source: str
    kill_switch: KillSwitchStatus
    day_index: int
    day_start_equity: int
    peak_equity: int


class DeskState:
    """Mutable desk state; satisfies :class:`~polytraders.contracts.view.DeskView`.

    Construct empty (``DeskState(ledger=Ledger(cash))``) and feed events, or use
    :meth:`build` for fixtures. Bots must only read it; the desk, the risk chain and the order
    manager mutate it through the methods below.

    Attributes:
        ledger: exact positions and cash.
        orders: client order id → :class:`VenueOrder` for every order the order manager
            tracks: open ones, closed ones with a fill, and closed ones without until the
            order manager retires them (:meth:`retire_order`; a while after they closed,
            once their intent is finished). Add orders with :meth:`add_order` and report final
            statuses with :meth:`order_closed` so :meth:`open_orders` stays an O(open) read
            and the intents' outcomes follow.
        retired_order_ids: the ids of the retired orders (exact, compact:
            :class:`~polytraders.contracts.id_set.OrderIdSet`); :meth:`knows_order` is True for
            them as for every order in ``orders``.
        outcomes: what became of each intent (the desk records its decisions there).
        desk_events: trading-state changes, kill-switch trips and bot-mode changes, in order
            (the desk drains them into its result and the store).
        new_quarantines: bots quarantined since the desk last drained this list (appended by
            :func:`~polytraders.desk.recorder.record_quarantine`; the desk stops a quarantined
            strategy's quotes and keeps the list in ``Desk.quarantines``).
    """

    def __init__(
        self,
        *,
        ledger: Ledger | None = None,
        now_ns: int = 0,
        account: AccountIdentity | None = None,
        outcomes_kept_per_bot: int = DEFAULT_FINISHED_PER_BOT,
    ) -> None:
        self.ledger = ledger if ledger is not None else Ledger()
        self._now_ns = now_ns
        self._markets: dict[str, Market] = {}
        self._tokens: dict[str, OutcomeToken] = {}
        self._instruments: dict[str, Instrument] = {}
        self._books: dict[str, OrderBook] = {}
        self._stale: set[str] = set()
        self._tick_changes: dict[str, int] = {}
        self._funding_ppb: dict[str, int] = {}
        self.orders: dict[str, VenueOrder] = {}
        self.retired_order_ids = OrderIdSet()
        self._open: dict[str, VenueOrder] = {}
        self.outcomes = OutcomeBook(self.orders, outcomes_kept_per_bot)
        self._trading_state = TradingState.ACTIVE
        self._trading_reason = ("", "")
        self._kill_status = KillSwitchStatus()
        self._venue_state = VenueState.NORMAL
        self._account = account if account is not None else AccountIdentity()
        self._last_feed_event_ns = 0
        self._last_venue_heartbeat_ns = 0
        self._consecutive_errors = 0
        self._exposure = ExposureBook()
        self._values: dict[str, int] = {}
        """token id → its position's part of equity, for every non-flat position valued."""
        self._values_total = 0
        self._revalue: set[str] = set()
        """tokens whose value may have changed (position or book) since last valued."""
        self.ledger.watch(self._position_changed)
        for position in self.ledger.positions():
            self._position_changed(position.token_id)
        self._day_index = now_ns // NS_PER_DAY
        self._day_start_equity = self.equity
        self.desk_events: list[DeskEvent] = []
        self.new_quarantines: list[Quarantine] = []

    # ------------------------------------------------------------------ fixtures
    @classmethod
    def build(
        cls,
        *,
        now_ns: int = 0,
        markets: Iterable[Market] = (),
        instruments: Iterable[Instrument] = (),
        books: Mapping[str, tuple[Sequence[Level], Sequence[Level]]] | None = None,
        positions: Mapping[str, tuple[int, int]] | None = None,
        cash: int = 0,
        open_orders: Iterable[VenueOrder] = (),
        trading_state: TradingState = TradingState.ACTIVE,
        kill_switch_tripped: bool = False,
        venue_state: VenueState = VenueState.NORMAL,
        account: AccountIdentity | None = None,
        stale_tokens: Iterable[str] = (),
        tick_changes_ns: Mapping[str, int] | None = None,
        funding_rates_ppb: Mapping[str, int] | None = None,
        peak_equity: int | None = None,
        day_start_equity: int | None = None,
        last_feed_event_ns: int = 0,
        last_venue_heartbeat_ns: int = 0,
        consecutive_errors: int = 0,
    ) -> DeskState:
        """A state for fixture packs and tests, in one call.

        Args:
            now_ns: desk clock.
            markets: known markets (their tokens become known too).
            instruments: known crypto instruments (books and positions by their ``token_id``).
            books: token → (bids, asks) as (price, size) micro-unit levels in any order;
                stamped ``last_update_ns = now_ns``.
            positions: token → (signed micro-shares, cost basis in micro); cash is not moved.
            cash: free collateral (micro), the ledger's initial cash.
            open_orders: orders we have working (status must be open).
            trading_state, kill_switch_tripped, venue_state, account: as in ``DeskView``.
            stale_tokens: tokens the feed has marked stale.
            tick_changes_ns: token → time of its last tick-size change.
            funding_rates_ppb: instrument token → its current funding rate (ppb, signed as
                :class:`~polytraders.model.events.FundingRate`).
            peak_equity, day_start_equity: default to the equity computed from the above.
            last_feed_event_ns, last_venue_heartbeat_ns, consecutive_errors: health figures.

        Raises:
            ValueError: invalid book levels, a flat position with a cost basis, or a closed
                order among ``open_orders``.
        """
        state = cls(ledger=Ledger(cash), now_ns=now_ns, account=account)
        for market in markets:
            state.add_market(market)
        for instrument in instruments:
            state.add_instrument(instrument)
        for token_id, (bids, asks) in (books or {}).items():
            state.set_book(token_id, bids, asks, now_ns)
        for token_id, (size, cost_basis) in (positions or {}).items():
            state.ledger.set_position(token_id, size, cost_basis)
        for order in open_orders:
            if not order.status.is_open:
                raise ValueError(f"order {order.client_order_id} is not open ({order.status})")
            state.add_order(order)
        state._trading_state = trading_state
        if kill_switch_tripped:
            state._kill_status = KillSwitchStatus(tripped=True, tripped_ns=now_ns)
        state._venue_state = venue_state
        state._stale = set(stale_tokens)
        state._tick_changes = dict(tick_changes_ns or {})
        state._funding_ppb = dict(funding_rates_ppb or {})
        equity = state.equity
        state.ledger.peak_equity = equity if peak_equity is None else peak_equity
        state._day_start_equity = equity if day_start_equity is None else day_start_equity
        state._last_feed_event_ns = last_feed_event_ns
        state._last_venue_heartbeat_ns = last_venue_heartbeat_ns
        state._consecutive_errors = consecutive_errors
        return state

    # ------------------------------------------------------------------ DeskView
    @property
    def now_ns(self) -> int:
        """Desk clock (ns since epoch)."""
        return self._now_ns

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self._trading_state

    @property
    def kill_switch_tripped(self) -> bool:
        """True from a kill-switch trip until an operator reset."""
        return self._kill_status.tripped

    @property
    def venue_state(self) -> VenueState:
        """Venue-wide mode."""
        return self._venue_state

    @property
    def account(self) -> AccountIdentity:
        """The signing identity the desk trades with."""
        return self._account

    def book(self, token_id: str) -> BookView | None:
        """The token's L2 book, or None if never seen."""
        return self._books.get(token_id)

    def token(self, token_id: str) -> OutcomeToken | None:
        """Token metadata, or None if unknown."""
        return self._tokens.get(token_id)

    def instruments(self) -> list[Instrument]:
        """The known crypto instruments, in the order they were added."""
        return list(self._instruments.values())

    def instrument(self, token_id: str) -> Instrument | None:
        """The crypto instrument traded as ``token_id``, or None (a market token or unknown)."""
        return self._instruments.get(token_id)

    def order_rules(self, token_id: str) -> OrderRules | None:
        """The token's tick, size step (0.01 share), minimum size and price range, or None if
        the token is unknown. For an instrument: tick ``price_increment``, size step
        ``size_increment``, minimum ``min_size``, prices from one tick up with no upper bound
        (``max_price`` :data:`~polytraders.contracts.view.NO_MAX_PRICE`)."""
        token = self._tokens.get(token_id)
        if token is None:
            instrument = self._instruments.get(token_id)
            if instrument is None:
                return None
            return OrderRules(
                tick_size=instrument.price_increment,
                size_step=instrument.size_increment,
                min_order_size=instrument.min_size,
                min_price=instrument.price_increment,
                max_price=NO_MAX_PRICE,
            )
        tick = token.tick_size
        return OrderRules(
            tick_size=tick,
            size_step=SHARE_STEP_MICROS,
            min_order_size=token.min_order_size,
            min_price=tick,
            max_price=ONE - tick,
        )

    def market(self, market_id: str) -> Market | None:
        """Market metadata and state, or None if unknown."""
        return self._markets.get(market_id)

    def markets(self) -> Sequence[Market]:
        """Every known market, in the order they became known."""
        return list(self._markets.values())

    def is_stale(self, token_id: str) -> bool:
        """True while the feed has the token marked stale and no fresh snapshot came."""
        return token_id in self._stale

    def last_tick_change_ns(self, token_id: str) -> int:
        """Time of the token's last tick-size change (0 if none)."""
        return self._tick_changes.get(token_id, 0)

    def position(self, token_id: str) -> Position | None:
        """Our position in the token, or None if never traded."""
        return self.ledger.position(token_id)

    def positions(self) -> Sequence[Position]:
        """All positions (flat ones that were traded included)."""
        return self.ledger.positions()

    def open_orders(self, token_id: str | None = None) -> Sequence[VenueOrder]:
        """Our open orders (in the order they were added), optionally for one token."""
        if token_id is None:
            return list(self._open.values())
        return [o for o in self._open.values() if o.token_id == token_id]

    def exposure(
        self, exclude_intent_ids: frozenset[str] = frozenset(), exactly_one_wins: bool = False
    ) -> ExposureReport:
        """Worst-case loss at resolution of the positions and open orders in market tokens
        (instruments are left out: :meth:`instrument_notional`), per market, neg-risk
        event and in total: ``portfolio_exposure(markets(), positions(), open_orders(),
        exclude_intent_ids, exactly_one_wins)``, kept up to date as they change. Valid until
        the state's markets, positions or open orders next change.

        Raises:
            polytraders.model.exposure.UnknownTokenError: a position or an open order (not
                excluded) in a token of no known market.
            ValueError: an open order (not excluded) priced outside ``(0, 1)`` pUSD.
        """
        return self._exposure.report(exclude_intent_ids, exactly_one_wins)

    def instrument_notional(self, token_id: str) -> int | None:
        """Signed notional of our position in instrument ``token_id`` at its mark (micro-units of
        the quote currency, ``⌊mark × size / 10⁶⌋``, negative for a short; the mark as
        :meth:`Ledger.mark_price`: the mid, else the last mark, else the position is valued at
        its cost basis). 0 when flat; None when ``token_id`` is not a known instrument."""
        if token_id not in self._instruments:
            return None
        return self.ledger.position_value(token_id, self.mid)

    def funding_rate_ppb(self, token_id: str) -> int | None:
        """The last funding rate a ``FundingRate`` event gave for ``token_id`` (ppb; positive:
        longs pay), or None when none came."""
        return self._funding_ppb.get(token_id)

    def intent_outcome(self, intent_id: str) -> IntentOutcome | None:
        """What became of the intent (None when unknown or forgotten)."""
        return self.outcomes.get(intent_id)

    def intent_outcomes(self, bot_id: str) -> Sequence[IntentOutcome]:
        """The bot's last finished outcomes (oldest first), then its working ones."""
        return self.outcomes.of_bot(bot_id)

    @property
    def cash(self) -> int:
        """Free collateral (micro)."""
        return self.ledger.cash

    @property
    def equity(self) -> int:
        """Cash + positions marked to mid (micro): ``ledger.equity(self.mid)``, revaluing only
        the positions whose size or book changed since the last read."""
        if self._revalue:
            values = self._values
            total = self._values_total
            for token_id in self._revalue:
                total -= values.pop(token_id, 0)
                if self.ledger.size(token_id):
                    value = values[token_id] = self.ledger.position_value(token_id, self.mid)
                    total += value
            self._values_total = total
            self._revalue.clear()
        return self.ledger.cash + self._values_total

    @property
    def peak_equity(self) -> int:
        """Highest equity marked in this run (micro)."""
        return self.ledger.peak_equity

    @property
    def day_start_equity(self) -> int:
        """Equity at the first mark of the current UTC day (micro)."""
        return self._day_start_equity

    @property
    def last_feed_event_ns(self) -> int:
        """Receive time of the last market-data event (0 before any)."""
        return self._last_feed_event_ns

    @property
    def last_venue_heartbeat_ns(self) -> int:
        """Time of the last accepted venue heartbeat (0 if none)."""
        return self._last_venue_heartbeat_ns

    @property
    def consecutive_errors(self) -> int:
        """Venue or bot errors since the last success."""
        return self._consecutive_errors

    # ------------------------------------------------------------------ helpers
    def mid(self, token_id: str) -> int | None:
        """The token's book mid (micro), or None without a two-sided book."""
        book = self._books.get(token_id)
        return book.mid() if book is not None else None

    def complement(self, token_id: str) -> str | None:
        """The complement token id of a known binary token, else None."""
        token = self._tokens.get(token_id)
        return token.complement_token_id if token is not None else None

    # ------------------------------------------------------------------ mutation
    def add_order(self, order: VenueOrder) -> None:
        """Track an order (the order manager's copy); open ones enter the open-order index and
        their intent's outcome."""
        self.orders[order.client_order_id] = order
        if order.status.is_open:
            self._open[order.client_order_id] = order
            if order.token_id not in self._instruments:
                self._exposure.set_order(order.client_order_id, order)
        self.outcomes.order_added(order)

    def order_changed(self, client_order_id: str) -> None:
        """An open order's filled size changed (a fill, or a fill taken back): its open
        remainder is counted again in :meth:`exposure`. Closed or unknown ids are ignored."""
        order = self._open.get(client_order_id)
        if order is not None and order.token_id not in self._instruments:
            self._exposure.set_order(client_order_id, order)

    def order_closed(
        self, client_order_id: str, rejected_by: str = "", reason_code: str = ""
    ) -> None:
        """An order reached a final status: drop it from the open-order index and update its
        intent's outcome (``rejected_by`` "desk" or "venue" and the code when it was
        rejected)."""
        self._open.pop(client_order_id, None)
        self._exposure.remove_order(client_order_id)
        order = self.orders.get(client_order_id)
        if order is not None:
            self.outcomes.order_closed(order, rejected_by, reason_code)

    def knows_order(self, client_order_id: str) -> bool:
        """True for an order in :attr:`orders` or retired from it: the id was used."""
        return client_order_id in self.orders or client_order_id in self.retired_order_ids

    def retire_order(self, client_order_id: str) -> VenueOrder:
        """Drop a closed order from :attr:`orders`, keeping its id in
        :attr:`retired_order_ids`; returns the order.

        Raises:
            KeyError: no such order.
            ValueError: the order is still open.
        """
        order = self.orders[client_order_id]
        if order.status.is_open:
            raise ValueError(f"order {client_order_id} is {order.status}: only closed ones retire")
        del self.orders[client_order_id]
        self.retired_order_ids.add(client_order_id)
        return order

    def set_time(self, now_ns: int) -> None:
        """Advance the desk clock.

        Raises:
            ValueError: time going backwards.
        """
        if now_ns < self._now_ns:
            raise ValueError(f"desk time cannot go back from {self._now_ns} to {now_ns}")
        self._now_ns = now_ns

    def add_market(self, market: Market) -> None:
        """Learn (or update) a market and its tokens."""
        self._markets[market.market_id] = market
        for token in market.tokens:
            self._tokens[token.token_id] = token
        self.ledger.register_market(market)
        self._exposure.add_market(market)

    def add_instrument(self, instrument: Instrument) -> None:
        """Learn (or update) a crypto instrument, known from then on by its ``token_id``; a
        position or open orders already held in it leave the binary :meth:`exposure`.

        Raises:
            ValueError: a non-positive increment, a negative minimum size, or its token id
                already a market token's.
        """
        token_id = instrument.token_id
        if instrument.price_increment <= 0 or instrument.size_increment <= 0:
            raise ValueError(f"instrument {token_id}: increments must be positive")
        if instrument.min_size < 0:
            raise ValueError(f"instrument {token_id}: negative minimum size")
        if token_id in self._tokens:
            raise ValueError(f"instrument {token_id} is also a market token")
        self._instruments[token_id] = instrument
        self._exposure.set_holding(token_id, 0, 0)
        for cid, order in self._open.items():
            if order.token_id == token_id:
                self._exposure.remove_order(cid)

    def set_book(
        self, token_id: str, bids: Iterable[Level], asks: Iterable[Level], ts_ns: int
    ) -> None:
        """Replace a token's book with the given levels (a snapshot).

        Raises:
            ValueError: a negative size or non-positive price (book unchanged).
        """
        book = self._books.get(token_id)
        if book is None:
            book = self._books[token_id] = OrderBook(token_id)
        book.apply_snapshot(bids, asks, ts_ns)
        if token_id in self._values:
            self._revalue.add(token_id)

    def apply_event(self, event: AnyEvent) -> list[Settlement]:
        """Update the state from one market event (books, tick sizes, market status, stale
        flags, funding rates, last feed time). A RESOLVED ``MarketStatus`` with a winning token
        settles our positions in that market (returned). Other event types are ignored here:
        venue events go through the order manager, desk events through the desk.

        Raises:
            ValueError: invalid book levels (the book is left unchanged).
        """
        if isinstance(event, BookDelta):
            book = self._books.get(event.token_id)
            if book is None:
                book = self._books[event.token_id] = OrderBook(event.token_id)
            book.apply_levels(event.bids, event.asks, event.ts_event_ns)
            if event.token_id in self._values:
                self._revalue.add(event.token_id)
        elif isinstance(event, BookSnapshot):
            self.set_book(event.token_id, event.bids, event.asks, event.ts_event_ns)
            self._stale.discard(event.token_id)
        elif isinstance(event, FeedStatus):
            if event.stale:
                self._stale.add(event.token_id)
            else:
                self._stale.discard(event.token_id)
        elif isinstance(event, TickSizeChange):
            token = self._tokens.get(event.token_id)
            if token is not None:
                self._tokens[event.token_id] = msgspec.structs.replace(
                    token, tick_size=event.new_tick_size
                )
            self._tick_changes[event.token_id] = event.ts_event_ns
        elif isinstance(event, MarketStatus):
            return self._apply_status(event)
        elif isinstance(event, FundingRate):
            self._funding_ppb[event.token_id] = event.rate_ppb
        elif not isinstance(event, Trade | BestBidAsk):
            return []
        self._last_feed_event_ns = event.ts_recv_ns or event.ts_event_ns
        return []

    def _apply_status(self, event: MarketStatus) -> list[Settlement]:
        self._last_feed_event_ns = event.ts_recv_ns or event.ts_event_ns
        market = self._markets.get(event.market_id)
        payouts: dict[str, int] = {}
        if event.state is MarketState.RESOLVED and event.winning_token_id:
            token_ids = [t.token_id for t in market.tokens] if market is not None else []
            if event.winning_token_id not in token_ids and market is not None:
                raise ValueError(
                    f"winning token {event.winning_token_id} is not in market {event.market_id}"
                )
            payouts = {t: (ONE if t == event.winning_token_id else 0) for t in token_ids}
        if market is not None:
            self._markets[event.market_id] = msgspec.structs.replace(
                market, state=event.state, payouts=payouts or market.payouts
            )
        if payouts:
            return self.ledger.settle(event.market_id, payouts, event.ts_event_ns)
        return []

    def set_trading_state(
        self, new_state: TradingState, reason_code: str, source: str
    ) -> TradingStateChanged | None:
        """Enter ``new_state``; records and returns the change (None when unchanged). While the
        kill switch is tripped the state stays HALTED (a request to leave it is ignored and
        returns None)."""
        if new_state is self._trading_state:
            return None
        if self._kill_status.tripped and new_state is not TradingState.HALTED:
            return None
        change = TradingStateChanged(
            ts_event_ns=self._now_ns,
            ts_recv_ns=self._now_ns,
            old_state=self._trading_state,
            new_state=new_state,
            reason_code=reason_code,
            source=source,
        )
        self._trading_state = new_state
        self._trading_reason = (reason_code, source)
        self.desk_events.append(change)
        return change

    def trip_kill_switch(self, reason_code: str, source: str, detail: str = "") -> bool:
        """Trip the kill switch: HALTED until an operator reset. Returns False if it was
        already tripped (nothing recorded again). Cancelling orders is the desk's job."""
        if self._kill_status.tripped:
            return False
        self.set_trading_state(TradingState.HALTED, reason_code, source)
        self._kill_status = KillSwitchStatus(
            tripped=True,
            reason_code=reason_code,
            source=source,
            detail=detail,
            tripped_ns=self._now_ns,
        )
        self.desk_events.append(
            KillSwitchTripped(
                ts_event_ns=self._now_ns,
                ts_recv_ns=self._now_ns,
                reason_code=reason_code,
                source=source,
                detail=detail,
            )
        )
        return True

    def reset_kill_switch(self) -> bool:
        """Operator reset: the switch opens; the trading state stays HALTED until an operator
        sets another. Returns False if it was not tripped."""
        if not self._kill_status.tripped:
            return False
        self._kill_status = KillSwitchStatus()
        return True

    def controls(self) -> DeskControls:
        """The trading state and kill switch with their reasons, the day-start and peak
        equity: what a checkpoint keeps."""
        return DeskControls(
            trading_state=self._trading_state,
            trading_reason_code=self._trading_reason[0],
            trading_source=self._trading_reason[1],
            kill_switch=self._kill_status,
            day_index=self._day_index,
            day_start_equity=self._day_start_equity,
            peak_equity=self.ledger.peak_equity,
        )

    def restore_controls(self, controls: DeskControls) -> None:
        """Put back the controls of a checkpoint (restart); no event is recorded, as nothing
        changed. The day-start equity comes back only within the same UTC day (a restart on
        a later day starts that day at the equity it finds); the peak equity is the higher of
        the checkpoint's and the current one."""
        self._trading_state = controls.trading_state
        self._trading_reason = (controls.trading_reason_code, controls.trading_source)
        self._kill_status = controls.kill_switch
        if controls.day_index == self._now_ns // NS_PER_DAY:
            self._day_index = controls.day_index
            self._day_start_equity = controls.day_start_equity
        self.ledger.peak_equity = max(self.ledger.peak_equity, controls.peak_equity)

    def set_venue_state(self, venue_state: VenueState) -> None:
        """Record the venue's mode (post-only window, cancel-only, …)."""
        self._venue_state = venue_state

    def record_heartbeat(self, ts_ns: int) -> None:
        """An accepted venue heartbeat at ``ts_ns``."""
        self._last_venue_heartbeat_ns = ts_ns

    def record_error(self) -> int:
        """Count one venue or bot error; return the consecutive count."""
        self._consecutive_errors += 1
        return self._consecutive_errors

    def record_success(self) -> None:
        """A successful venue interaction resets the consecutive-error count."""
        self._consecutive_errors = 0

    def _position_changed(self, token_id: str) -> None:
        """The ledger changed the position in ``token_id``: exposure and equity follow."""
        self._revalue.add(token_id)
        if token_id in self._instruments:
            return
        position = self.ledger.position(token_id)
        if position is None:
            self._exposure.set_holding(token_id, 0, 0)
        else:
            self._exposure.set_holding(token_id, position.size, position.cost_basis)

    def mark(self) -> int:
        """Mark equity to mid at the desk clock: append to the ledger's equity curve, update
        the peak and, at a new UTC day, the day-start equity. Returns equity (micro)."""
        value = self.ledger.mark(self._now_ns, self.mid)
        day = self._now_ns // NS_PER_DAY
        if day != self._day_index:
            self._day_index = day
            self._day_start_equity = value
        return value


def as_view(state: DeskState) -> DeskView:
    """``state`` typed as the read-only :class:`DeskView` bots receive (checked statically:
    ``DeskState`` implements the whole protocol)."""
    return state
