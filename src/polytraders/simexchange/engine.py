"""The simulated USDⓈ-M market and account: the replayed book, our orders, matching, one-way
position, USDT margin balance, fees and funding rate. Synchronous; the server runs it on one
event loop, so no locks. Every amount is an exact integer: prices micro-USDT per unit, sizes
micro-units of the base asset, money micro-USDT.

Matching reuses the paper venue's fill rules (:mod:`polytraders.venues.paper`) through its
building blocks — :func:`~polytraders.venues.paper.liquidity.available_take` and
:class:`~polytraders.venues.paper.liquidity.ConsumedLiquidity` for takers (rule 2: walk the
available book within the limit; rule 5: liquidity our fills took is not offered again until
the level leaves the book) and the paper venue's queue models
(:mod:`polytraders.venues.paper.queue`, chosen by name as
:class:`~polytraders.venues.paper.config.PaperVenueConfig` does) for makers (rule 4.1 queue
ahead at arrival, 4.2/4.6 public trades through the front, 4.4 unexplained decreases, 4.5 a
crossing book fills at the order's price). The paper venue itself is not used: it is built for
Polymarket's binary tokens (prices in (0, 1), the ``p × (1 − p)`` fee, a cash-and-shares ledger
without short positions), none of which holds for a perpetual.

Account rules (documented simplifications of Binance's):

* One-way position mode, cross margin, one symbol: a :class:`~polytraders.model.perp.PerpAccount`
  (the desk's own rules: exact cost basis and realized PnL of
  :class:`~polytraders.model.position.Position`, wallet = initial + realized − fees + funding).
* Commission ``price × size × rate_bps / 10⁴``, floored to micro-USDT (Binance keeps 8
  decimals), charged in USDT (:func:`~polytraders.model.fees.bps_fee_micros`); defaults are
  Binance's public VIP 0 USDⓈ-M rates, maker 0.0200 %, taker 0.0500 %
  (binance.com/en/fee/futureFee, 2024; :mod:`polytraders.model.fees`).
* Mark price is the book's mid (floored to the tick); unrealized PnL is marked there.
* Initial margin = notional / leverage (rounded up). A new order (not reduce-only) is refused
  with -2019 when the initial margin of the position (at mark), the open orders and the order
  exceeds the margin balance (wallet balance plus unrealized PnL). An order that only closes
  (against the position and no larger than it) needs no margin: Binance charges the "cost
  required to open a position" to opening orders (Binance FAQ "How to Calculate Cost Required
  to Open a Position in Binance Futures").
* Maintenance margin from the bracket table (:data:`~polytraders.model.perp.BTCUSDT_BRACKETS`),
  liquidation price by Binance's formula (served, never acted on: no liquidation engine).
* Funding at every funding time (00:00, 08:00, 16:00 UTC) of the recording, shifted by the
  time offset (below): when a depth event's time passes one, the position is charged
  ``−size × mark × rate`` at the mark just before that event
  (:func:`~polytraders.model.perp.funding_payment`), booked as a ``FUNDING_FEE`` income at the
  funding time.
* The public book the simulator serves is the recording's: our fills do not change it (they are
  remembered as consumed liquidity, rule 5, as the paper venue does).

Time. The exchange's time of a replayed event is its recorded time plus the session's time
offset :attr:`FuturesExchange.offset_ms`, a whole number of ms (so every served ms time is the
recorded one plus the offset, exactly). It is 0 unless a session is started at a given time
(:meth:`FuturesExchange.restart` ``start_ms``: the server's present-time replay makes the first
snapshot's time the clock's "now"), and fixed for the session. It is held there only and read
by the three methods of the engine's "time" section: :meth:`FuturesExchange._venue_step`
shifts each replayed step as it is applied (so every time derived from the market is the
shifted one: depth ``E``/``T``, the book's times and the REST snapshot's ``E``/``T``, maker
fills on replayed events, conditional orders they trigger, ``last_event_ms`` and through it
the replay clock), :meth:`FuturesExchange.next_step_ns` gives the shifted time of the next
step (:meth:`FuturesExchange.replay_until` paces by it), and
:meth:`FuturesExchange.next_funding_ms` moves the funding schedule with the recording (its
8-hour boundaries plus the offset: the default recording's 2024-08-09 00:00 funding still falls
343 s after its first snapshot). With an offset that is not a multiple of 8 hours the simulated
funding times (settlements, income rows, ``nextFundingTime``) are therefore not on a real
00:00/08:00/16:00 UTC boundary. Times the server stamps from its own clock (orders placed or
cancelled, ``serverTime``) are passed in by the caller.

Conditional orders (``STOP_MARKET``, ``TAKE_PROFIT_MARKET``) live apart from the order book, as
at Binance since its USDⓈ-M conditional orders moved to the Algo Service (change log
2025-11-06, effective 2025-12-09: ``POST /fapi/v1/order`` answers -4120 for them; ccxt 4.5.90
sends them to ``POST /fapi/v1/algoOrder``). Rules (New Algo Order reference,
developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order):

* ``triggerPrice`` on the tick; ``workingType`` ``MARK_PRICE`` or ``CONTRACT_PRICE`` (the
  default): the mark price (the book's mid, above) or the latest contract price (the last
  trade, public or ours; the mark before any trade);
* ``closePosition=true`` (close the whole position when triggered) takes no ``quantity`` and
  no ``reduceOnly`` (-1106 here); otherwise ``quantity`` is required;
* trigger conditions: ``STOP_MARKET`` BUY when price ≥ trigger, SELL when price ≤ trigger;
  ``TAKE_PROFIT_MARKET`` BUY when price ≤ trigger, SELL when price ≥ trigger. An order whose
  condition already holds is refused with -2021 "Order would immediately trigger.";
* checked after every replay step and after each of our fills; a triggered order becomes a
  MARKET order through the same matching (fills, fees, position, ``userTrades``; its client
  order id is the ``clientAlgoId``), reduce-only when the conditional order was reduce-only or
  close-position (quantity: the whole position then). Its ``algoStatus`` goes ``NEW`` →
  ``FINISHED`` (Binance's TRIGGERING and TRIGGERED last no time here) with ``actualOrderId``,
  or ``REJECTED`` when the market order is refused (e.g. reduce-only with no position);
* not counted in the margin check; ``DELETE /fapi/v1/allOpenOrders`` does not cancel them
  (Binance documents a separate ``DELETE /fapi/v1/algoOpenOrders`` for them and says nothing
  of ``allOpenOrders`` cancelling conditional orders: the simulator keeps the two apart, the
  fail-closed reading for a client that must cancel everything).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from polytraders.feeds.decimal_text import micros
from polytraders.model.book import OrderBook
from polytraders.model.events import BookDelta, BookSnapshot, MarketEvent, Trade
from polytraders.model.fees import (
    BINANCE_USDM_MAKER_FEE_BPS,
    BINANCE_USDM_TAKER_FEE_BPS,
    bps_fee_micros,
)
from polytraders.model.market import Instrument
from polytraders.model.money import MICROS, fixed_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.model.perp import (
    FUNDING_PERIOD_MS,
    PerpAccount,
    initial_margin,
    next_funding_ms,
    notional,
)
from polytraders.model.position import Position
from polytraders.simexchange import errors
from polytraders.simexchange.replay import Recording, ReplayStep
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.paper.liquidity import ConsumedLiquidity, available_take
from polytraders.venues.paper.queue import WorkingOrder, queue_model

MAX_PRICE = 1 << 62
"""The limit of a market BUY's book walk (any ask)."""
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
CONDITIONAL_TYPES = (
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)
"""Binance's conditional order types (refused on ``/fapi/v1/order`` with -4120)."""
ALGO_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
"""The conditional types the simulator serves on ``/fapi/v1/algoOrder``."""
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
"""Binance's rule for ``newClientOrderId`` and ``clientAlgoId`` (New Order and New Algo Order
references: "Can only be string following the rule"); another id is refused with -1100."""
_CLIENT_ID = re.compile(CLIENT_ID_RANGE[1:-1])
_NS_PER_MS = 1_000_000
_Replayed = TypeVar("_Replayed", bound=MarketEvent)


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    """Account and market settings (units in names).

    ``min_notional_micros`` is BTCUSDT's MIN_NOTIONAL filter (100 USDT, Binance
    ``exchangeInfo`` since 2023); ``price_decimals``/``qty_decimals`` its ``pricePrecision``
    and ``quantityPrecision`` (2 and 3); ``funding_rate_ppm`` the rate premiumIndex serves
    (100 ppm = 0.0100 %, Binance's baseline interest component per 8 h); ``leverage`` Binance's
    default of 20×; ``queue_model`` a paper-venue queue model name.
    """

    wallet_micros: int = 10_000 * MICROS
    maker_fee_bps: int = BINANCE_USDM_MAKER_FEE_BPS
    taker_fee_bps: int = BINANCE_USDM_TAKER_FEE_BPS
    min_notional_micros: int = 100 * MICROS
    price_decimals: int = 2
    qty_decimals: int = 3
    max_qty_micros: int = 1_000 * MICROS
    funding_rate_ppm: int = 100
    leverage: int = 20
    max_leverage: int = 125
    queue_model: str = "probabilistic"


@dataclass(slots=True, eq=False)
class FuturesOrder:
    """One of our orders (Binance's order fields, micro-units)."""

    order_id: int
    client_order_id: str
    side: Side
    order_type: str
    time_in_force: str
    price: int
    orig_qty: int
    reduce_only: bool
    time_ms: int
    working: WorkingOrder
    executed_qty: int = 0
    cum_quote: int = 0
    status: str = "NEW"
    update_ms: int = 0

    @property
    def remaining(self) -> int:
        """Micro-units still open."""
        return self.orig_qty - self.executed_qty


@dataclass(slots=True, eq=False)
class AlgoOrder:
    """One conditional order (Binance's algo-order fields, micro-units): ``quantity`` is 0 for
    a close-position order; ``actual_order_id`` the MARKET order it became (0 until then)."""

    algo_id: int
    client_algo_id: str
    side: Side
    order_type: str
    trigger_price: int
    quantity: int
    close_position: bool
    reduce_only: bool
    working_type: str
    create_ms: int
    update_ms: int
    status: str = "NEW"
    trigger_ms: int = 0
    actual_order_id: int = 0


@dataclass(frozen=True, slots=True)
class UserTrade:
    """One fill of one of our orders."""

    trade_id: int
    order_id: int
    side: Side
    price: int
    qty: int
    quote_qty: int
    commission: int
    realized_pnl: int
    maker: bool
    time_ms: int


@dataclass(frozen=True, slots=True)
class Income:
    """One ``GET /fapi/v1/income`` row: ``income_type`` (``FUNDING_FEE``), ``amount``
    (micro-USDT, signed: negative is paid), ``time_ms``, ``tran_id``."""

    income_type: str
    amount: int
    time_ms: int
    tran_id: int


@dataclass(slots=True)
class Faults:
    """Armed one-shot faults the engine applies (the server applies the HTTP ones)."""

    reject_orders: list[tuple[int, str]] = field(default_factory=list)
    """(code, msg) answered to the next order posts, one each."""
    drop_depth_events: int = 0
    """The next N depth events are not published (a lost websocket message)."""


class FuturesExchange:
    """The simulator's state (module docstring for the rules).

    Args:
        recording: the replayed market.
        settings: account and market settings.
    """

    def __init__(self, recording: Recording, settings: ExchangeSettings) -> None:
        self.recording = recording
        self.instrument: Instrument = recording.instrument
        self.symbol = recording.instrument.symbol
        self.restart(settings)

    def restart(self, settings: ExchangeSettings, start_ms: int | None = None) -> None:
        """Start a fresh session: the replay from its first step (the first REST snapshot),
        no orders, trades or incomes, a flat account with ``settings``' wallet, leverage and
        funding rate, no faults. Depth events not yet sent are dropped. ``start_ms`` (ms since
        the epoch): the first snapshot's time in the session, which fixes
        :attr:`offset_ms` (None: the recording's own times, offset 0)."""
        first_ms = self.recording.steps[0].depth.ts_event_ns // _NS_PER_MS
        self.offset_ms = 0 if start_ms is None else start_ms - first_ms
        """Exchange time minus recorded time (ms; module docstring "Time")."""
        self.settings = settings
        self.book = OrderBook(self.symbol)
        self.consumed = ConsumedLiquidity()
        self.queue = queue_model(PaperVenueConfig(queue_model=settings.queue_model))
        self.levels: dict[tuple[Side, int], list[WorkingOrder]] = {}
        self._explained: dict[tuple[Side, int], int] = {}
        """Size traded publicly at a level of ours since its size last changed (rule 4.4: a
        later decrease up to this much is the trades', already through the queue)."""
        self.orders: dict[int, FuturesOrder] = {}
        self.algo_orders: dict[int, AlgoOrder] = {}
        self.last_price = 0
        """Price of the last trade of the contract, public or ours (0 before any)."""
        self.trades: list[UserTrade] = []
        self.account = PerpAccount(self.symbol, settings.wallet_micros, settings.leverage)
        self.funding_rate_ppm = settings.funding_rate_ppm
        self.incomes: list[Income] = []
        self._tran_ids = itertools.count(7_000_000_001)
        self.faults = Faults()
        self.cursor = 0
        """Replay steps applied."""
        self.last_update_id = 0
        """``u`` of the last applied depth event (the REST snapshot's ``lastUpdateId``)."""
        self.last_event_ms = 0
        """Venue time (``E``, ms) of the last applied depth event."""
        self.outbox: list[dict[str, Any]] = []
        """Depth events (Binance ``depthUpdate`` payloads) not yet sent to websockets."""
        self.depth_events_dropped = 0
        self._order_ids = itertools.count(4_000_000_001)
        self._trade_ids = itertools.count(900_000_001)
        self._algo_ids = itertools.count(3_000_000_001)
        self.step(1)

    def seed_position(self, size: int, cost_basis: int) -> None:
        """Hold a position as if it had been traded before the session (a test fixture's
        starting state): ``size`` signed micro-units, ``cost_basis`` its signed entry cash
        (micro-USDT, positive for a long); no fee, no realized PnL, the wallet unchanged.

        Raises:
            ValueError: the account already trades, or the cost's sign is not the size's.
        """
        position = self.position
        if position.size or position.fill_count or self.orders:
            raise ValueError("a position is seeded only into a fresh session")
        if (size > 0) != (cost_basis > 0) or (size < 0) != (cost_basis < 0):
            raise ValueError(f"cost basis {cost_basis} does not match size {size}")
        position.size = size
        position.cost_basis = cost_basis

    # ------------------------------------------------------------------ time
    def _venue_step(self, step: ReplayStep) -> ReplayStep:
        """``step`` in the exchange's time: every recorded time plus :attr:`offset_ms` (the one
        place the offset is applied to the market; module docstring "Time")."""
        if not self.offset_ms:
            return step
        shift_ns = self.offset_ms * _NS_PER_MS
        return ReplayStep(
            tuple(_shifted(trade, shift_ns) for trade in step.trades),
            _shifted(step.depth, shift_ns),
        )

    def next_step_ns(self) -> int | None:
        """The exchange's time of the next replay step's depth event (ns; None at the end)."""
        steps = self.recording.steps
        if self.cursor >= len(steps):
            return None
        return steps[self.cursor].depth.ts_event_ns + self.offset_ms * _NS_PER_MS

    def next_funding_ms(self, now_ms: int) -> int:
        """The first funding time strictly after ``now_ms`` (exchange time, ms): the
        recording's 8-hour boundaries shifted by :attr:`offset_ms`."""
        return next_funding_ms(now_ms - self.offset_ms) + self.offset_ms

    def replay_until(self, ts_ns: int) -> int:
        """Apply every further replay step whose depth event is at or before ``ts_ns``
        (exchange time); returns how many were applied."""
        applied = 0
        while (due_ns := self.next_step_ns()) is not None and due_ns <= ts_ns:
            applied += self.step(1)
        return applied

    # ------------------------------------------------------------------ replay
    def step(self, count: int = 1) -> int:
        """Apply the next ``count`` replay steps (trades, then the depth event); returns how
        many were applied (fewer at the end of the recording)."""
        steps = self.recording.steps
        applied = 0
        while applied < count and self.cursor < len(steps):
            step = self._venue_step(steps[self.cursor])
            self._settle_funding(step.depth.ts_event_ns // _NS_PER_MS)
            for trade in step.trades:
                self._on_trade(trade)
            self._on_depth(step.depth)
            self.cursor += 1
            applied += 1
            self._trigger(self.last_event_ms)
        return applied

    def _settle_funding(self, event_ms: int) -> None:
        """Charge funding for each funding time in ``(last event, event_ms]`` at the current
        mark (the book as it stood at the funding time)."""
        if not self.last_event_ms:
            return
        funding_ms = self.next_funding_ms(self.last_event_ms)
        while funding_ms <= event_ms:
            if self.position.size:
                payment = self.account.settle_funding(
                    self.mark_price(), self.funding_rate_ppm * 1_000
                )
                self.incomes.append(
                    Income("FUNDING_FEE", payment, funding_ms, next(self._tran_ids))
                )
            funding_ms += FUNDING_PERIOD_MS

    def _on_depth(self, event: BookSnapshot | BookDelta) -> None:
        book = self.book
        ts = event.ts_event_ns
        if isinstance(event, BookDelta):
            touched = {(Side.BUY, p) for p, _ in event.bids} | {
                (Side.SELL, p) for p, _ in event.asks
            }
            old = {key: book.size_at(*key) for key in touched if key in self.levels}
            book.apply_levels(event.bids, event.asks, ts)
            self._publish(event)
        else:
            old = {key: book.size_at(*key) for key in self.levels}
            book.apply_snapshot(event.bids, event.asks, ts)
        self.last_update_id = event.sequence
        self.last_event_ms = ts // _NS_PER_MS
        self.consumed.forget_removed(book)
        now_ms = self.last_event_ms
        for key, old_size in sorted(old.items()):
            new_size = book.size_at(*key)
            explained = self._explained.pop(key, 0)
            orders = self.levels.get(key)
            if orders and new_size < old_size:
                unexplained = max(old_size - new_size - explained, 0)
                self.queue.on_level_change(
                    orders, old_size, new_size, unexplained, reach=True, trade_fed=True
                )
                self._fill_reached(orders, now_ms)
        self._cross(now_ms)

    def _publish(self, delta: BookDelta) -> None:
        if self.faults.drop_depth_events > 0:
            self.faults.drop_depth_events -= 1
            self.depth_events_dropped += 1
            return
        event_ms = delta.ts_event_ns // _NS_PER_MS
        self.outbox.append(
            {
                "e": "depthUpdate",
                "E": event_ms,
                "T": event_ms,
                "s": self.symbol,
                "U": delta.first_sequence,
                "u": delta.sequence,
                "pu": delta.prev_sequence,
                "b": [[self.price_text(p), self.qty_text(q)] for p, q in delta.bids],
                "a": [[self.price_text(p), self.qty_text(q)] for p, q in delta.asks],
            }
        )

    def drain(self) -> list[dict[str, Any]]:
        """The depth events published since the last call."""
        out, self.outbox = self.outbox, []
        return out

    def _on_trade(self, trade: Trade) -> None:
        """Rule 4.2: a public trade goes through the front of the queues it reaches."""
        sides = []
        if trade.aggressor is not Side.BUY:
            sides.append(Side.BUY)  # sellers hit bids
        if trade.aggressor is not Side.SELL:
            sides.append(Side.SELL)  # buyers lift asks
        left = trade.size
        now_ms = trade.ts_event_ns // _NS_PER_MS
        self.last_price = trade.price
        for side in sides:
            through = sorted(
                (
                    key
                    for key in self.levels
                    if key[0] is side
                    and (key[1] >= trade.price if side is Side.BUY else key[1] <= trade.price)
                ),
                key=lambda key: -key[1] if key[0] is Side.BUY else key[1],
            )
            if (side, trade.price) in self.levels:
                key = (side, trade.price)
                self._explained[key] = self._explained.get(key, 0) + trade.size
            for key in through:
                orders = self.levels[key]
                if key[1] != trade.price:  # traded through our better price
                    for working in orders:
                        working.queue_ahead = 0
                left = self.queue.on_trade(orders, left, reach=True)
                self._fill_reached(orders, now_ms)

    def _cross(self, now_ms: int) -> None:
        """Rule 4.5: a resting order the opposite side now crosses fills at its own price."""
        best_ask, best_bid = self.book.best_ask(), self.book.best_bid()
        crossed = sorted(
            key
            for key in self.levels
            if (key[0] is Side.BUY and best_ask is not None and key[1] >= best_ask)
            or (key[0] is Side.SELL and best_bid is not None and key[1] <= best_bid)
        )
        for side, price in crossed:
            for working in list(self.levels.get((side, price), ())):
                take = available_take(self.book, self.consumed, side, price, size=working.remaining)
                if not take.size:
                    break
                for level_price, qty in take.levels:
                    self.consumed.consume(side.opposite, level_price, qty)
                working.queue_ahead = 0
                self._fill(self._order_of(working), price, take.size, maker=True, now_ms=now_ms)

    def _fill_reached(self, orders: list[WorkingOrder], now_ms: int) -> None:
        for working, size in self.queue.fillable(orders):
            order = self._order_of(working)
            self._fill(order, order.price, min(size, order.remaining), maker=True, now_ms=now_ms)

    def _order_of(self, working: WorkingOrder) -> FuturesOrder:
        return self.orders[int(working.order.client_order_id)]

    # ------------------------------------------------------------------ orders
    def place(self, params: dict[str, str], now_ms: int) -> FuturesOrder:
        """``POST /fapi/v1/order``: validate, match, rest; returns the order.

        Raises:
            BinanceError: the venue's code for the refusal (-1121, -1117, -1116, -1115, -1102,
                -1111, -4003, -1013, -4014, -4164, -2022, -2019, -5021, -5022, -4120 for a
                conditional type, -1100 for a ``newClientOrderId`` outside
                :data:`CLIENT_ID_RANGE`, or an armed ``reject_orders`` fault).
        """
        order = self._validated(params, now_ms)
        self._armed_reject()
        self._match(order, now_ms)
        self._trigger(now_ms)
        return order

    def _armed_reject(self) -> None:
        if self.faults.reject_orders:
            code, msg = self.faults.reject_orders.pop(0)
            raise errors.bad(code, msg)

    def _match(self, order: FuturesOrder, now_ms: int) -> None:
        """Match a validated order: take what it crosses, rest or expire the remainder.

        Raises:
            BinanceError: -5022 (post-only would take), -5021 (FOK), -2022, -2019.
        """
        limit = order.price or (MAX_PRICE if order.side is Side.BUY else 1)
        take = available_take(self.book, self.consumed, order.side, limit, size=order.orig_qty)
        if order.time_in_force == "GTX" and take.size:
            raise errors.bad(
                errors.POST_ONLY_REJECTED,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected.",
            )
        if order.time_in_force == "FOK" and not take.complete:
            raise errors.bad(
                errors.FOK_REJECTED,
                "Due to the order could not be filled immediately, the FOK order has been "
                "rejected.",
            )
        self._check_reduce_only(order)
        if not order.reduce_only:
            self._check_margin(
                order, take.notional + (order.orig_qty - take.size) * limit // MICROS
            )
        self.orders[order.order_id] = order
        book_side = order.side.opposite
        for price, qty in take.levels:
            self.consumed.consume(book_side, price, qty)
            resting = self.levels.get((book_side, price))
            if resting:  # our own flow eats the queue ahead of our orders there
                self.queue.on_trade(resting, qty, reach=False)
            self._fill(order, price, qty, maker=False, now_ms=now_ms)
        if order.remaining and (order.order_type == "MARKET" or order.time_in_force == "IOC"):
            order.status = "EXPIRED"
        elif order.remaining:
            working = order.working
            self.queue.on_new_order(
                working, self.consumed.available(self.book, order.side, order.price)
            )
            working.resting = True
            self.levels.setdefault((order.side, order.price), []).append(working)

    def _validated(self, params: dict[str, str], now_ms: int) -> FuturesOrder:
        if params.get("symbol") != self.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        side_text = params.get("side", "")
        if side_text not in ("BUY", "SELL"):
            raise errors.bad(errors.INVALID_SIDE, "Invalid side.")
        side = Side.BUY if side_text == "BUY" else Side.SELL
        order_type = params.get("type", "")
        if order_type in CONDITIONAL_TYPES:
            raise errors.bad(
                errors.USE_ALGO_ENDPOINT,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if order_type not in ("LIMIT", "MARKET"):
            raise errors.bad(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        qty = self._decimal(params, "quantity", self.instrument.size_increment)
        if qty <= 0:
            raise errors.bad(errors.QUANTITY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if qty < self.instrument.min_size or qty > self.settings.max_qty_micros:
            raise errors.bad(errors.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        price = 0
        time_in_force = ""
        if order_type == "LIMIT":
            time_in_force = params.get("timeInForce", "")
            if time_in_force not in TIME_IN_FORCE:
                raise errors.bad(errors.INVALID_TIME_IN_FORCE, "Invalid timeInForce.")
            price = self._decimal(params, "price", self.instrument.price_increment)
            if price <= 0:
                raise errors.missing("price")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        reference = price or self.mark_price()
        if not reduce_only and reference * qty // MICROS < self.settings.min_notional_micros:
            raise errors.bad(
                errors.NOTIONAL_TOO_SMALL,
                f"Order's notional must be no smaller than "
                f"{fixed_micros(self.settings.min_notional_micros, 0)} (unless you choose "
                "reduce only).",
            )
        given = _client_id(params, "newClientOrderId")
        order_id = next(self._order_ids)
        client_id = given or f"sim-{order_id}"
        venue_order = VenueOrder(
            client_order_id=str(order_id),
            intent_id=client_id,
            token_id=self.symbol,
            side=side,
            price=price,
            size=qty,
            post_only=time_in_force == "GTX",
            reduce_only=reduce_only,
        )
        return FuturesOrder(
            order_id=order_id,
            client_order_id=client_id,
            side=side,
            order_type=order_type,
            time_in_force=time_in_force or "GTC",
            price=price,
            orig_qty=qty,
            reduce_only=reduce_only,
            time_ms=now_ms,
            update_ms=now_ms,
            working=WorkingOrder(order=venue_order, sequence=order_id, fee_rate_ppm=0),
        )

    @staticmethod
    def _decimal(params: dict[str, str], name: str, increment: int) -> int:
        text = params.get(name)
        if not text:
            raise errors.missing(name)
        try:
            value = micros(text)
        except ValueError:
            raise errors.bad(
                errors.BAD_PRECISION, "Precision is over the maximum defined for this asset."
            ) from None
        if value % increment:
            if name in ("price", "triggerPrice"):
                raise errors.bad(errors.PRICE_NOT_ON_TICK, "Price not increased by tick size.")
            raise errors.bad(
                errors.BAD_PRECISION, "Precision is over the maximum defined for this asset."
            )
        return value

    def _check_reduce_only(self, order: FuturesOrder) -> None:
        if not order.reduce_only:
            return
        amount = self.position.size
        reduces = (amount > 0 and order.side is Side.SELL) or (
            amount < 0 and order.side is Side.BUY
        )
        if not reduces or order.orig_qty > abs(amount):
            raise errors.bad(errors.REDUCE_ONLY_REJECTED, "ReduceOnly Order is rejected.")

    def _check_margin(self, order: FuturesOrder, order_notional: int) -> None:
        """-2019 when the initial margin of position, open orders and ``order`` exceeds the
        wallet balance plus unrealized PnL (module docstring). An order that only closes
        (against the position, no larger than it) is not checked."""
        size = self.position.size
        closes = (size > 0 and order.side is Side.SELL) or (size < 0 and order.side is Side.BUY)
        if closes and order.orig_qty <= abs(size):
            return
        exposure = notional(self.position, self.mark_price()) + order_notional
        exposure += sum(
            o.remaining * o.price // MICROS for o in self.open_orders() if not o.reduce_only
        )
        if initial_margin(exposure, self.leverage) > self.account.margin_balance(self.mark_price()):
            raise errors.bad(errors.MARGIN_INSUFFICIENT, "Margin is insufficient.")

    def _fill(self, order: FuturesOrder, price: int, qty: int, *, maker: bool, now_ms: int) -> None:
        if qty <= 0:
            return
        rate = self.settings.maker_fee_bps if maker else self.settings.taker_fee_bps
        self.last_price = price
        quote = price * qty // MICROS
        fee = bps_fee_micros(price, qty, rate)
        realized = self.account.trade(order.side, price, qty, fee)
        order.executed_qty += qty
        order.cum_quote += quote
        order.working.order.filled_size = order.executed_qty
        order.update_ms = now_ms
        order.status = "FILLED" if not order.remaining else "PARTIALLY_FILLED"
        if not order.remaining:
            self._unrest(order)
        self.trades.append(
            UserTrade(
                trade_id=next(self._trade_ids),
                order_id=order.order_id,
                side=order.side,
                price=price,
                qty=qty,
                quote_qty=quote,
                commission=fee,
                realized_pnl=realized,
                maker=maker,
                time_ms=now_ms,
            )
        )

    def _unrest(self, order: FuturesOrder) -> None:
        key = (order.side, order.price)
        resting = self.levels.get(key)
        if resting and order.working in resting:
            resting.remove(order.working)
            if not resting:
                del self.levels[key]
                self._explained.pop(key, None)
        order.working.resting = False

    def cancel(
        self, order_id: int | None, client_order_id: str | None, now_ms: int
    ) -> FuturesOrder:
        """``DELETE /fapi/v1/order`` by ``orderId`` or ``origClientOrderId``.

        Raises:
            BinanceError: -2011 unknown (or no longer open) order.
        """
        order = self.find(order_id, client_order_id)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise errors.bad(errors.UNKNOWN_ORDER, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_ms = now_ms
        self._unrest(order)
        return order

    def cancel_all(self, now_ms: int) -> int:
        """Cancel every open order; returns how many."""
        live = self.open_orders()
        for order in live:
            self.cancel(order.order_id, None, now_ms)
        return len(live)

    def find(self, order_id: int | None, client_order_id: str | None) -> FuturesOrder | None:
        """An order by id or client id (None when unknown)."""
        if order_id is not None:
            return self.orders.get(order_id)
        for order in self.orders.values():
            if order.client_order_id == client_order_id:
                return order
        return None

    def open_orders(self) -> list[FuturesOrder]:
        """Orders still resting, oldest first."""
        return [o for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]

    # ------------------------------------------------------------------ conditional orders
    def place_algo(self, params: dict[str, str], now_ms: int) -> AlgoOrder:
        """``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``): validate and keep a
        conditional order (module docstring for the rules).

        Raises:
            BinanceError: -1121, -1117, -1102 (``algoType``/``workingType``/a missing field),
                -1116 (a type not served), -4014/-1111 (off the grid), -4003/-1013 (quantity),
                -1106 (``quantity`` or ``reduceOnly`` with ``closePosition``), -1100 (a
                ``clientAlgoId`` outside :data:`CLIENT_ID_RANGE`), -20132 (client algo id of
                an open order), -2021 (would trigger at once), or an armed
                ``reject_orders`` fault.
        """
        if params.get("symbol") != self.symbol:
            raise errors.bad(errors.INVALID_SYMBOL, "Invalid symbol.")
        if params.get("algoType") != "CONDITIONAL":
            raise errors.missing("algoType")
        side_text = params.get("side", "")
        if side_text not in ("BUY", "SELL"):
            raise errors.bad(errors.INVALID_SIDE, "Invalid side.")
        order_type = params.get("type", "")
        if order_type not in ALGO_TYPES:
            raise errors.bad(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        working_type = params.get("workingType", "CONTRACT_PRICE")
        if working_type not in WORKING_TYPES:
            raise errors.missing("workingType")
        trigger = self._decimal(params, "triggerPrice", self.instrument.price_increment)
        if trigger <= 0:
            raise errors.missing("triggerPrice")
        close_position = params.get("closePosition", "false").lower() == "true"
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        quantity = 0
        if close_position:
            for name in ("quantity", "reduceOnly"):
                if name in params:
                    raise errors.bad(
                        errors.PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required."
                    )
        else:
            quantity = self._decimal(params, "quantity", self.instrument.size_increment)
            if quantity <= 0:
                raise errors.bad(
                    errors.QUANTITY_NOT_POSITIVE, "Quantity less than or equal to zero."
                )
            if quantity < self.instrument.min_size or quantity > self.settings.max_qty_micros:
                raise errors.bad(errors.FILTER_FAILURE, "Filter failure: LOT_SIZE")
        given = _client_id(params, "clientAlgoId")
        algo_id = next(self._algo_ids)
        client_id = given or f"sim-algo-{algo_id}"
        if any(a.client_algo_id == client_id for a in self.open_algo_orders()):
            raise errors.bad(errors.DUPLICATE_CLIENT_ALGO_ID, "The client algo id is duplicated")
        algo = AlgoOrder(
            algo_id=algo_id,
            client_algo_id=client_id,
            side=Side.BUY if side_text == "BUY" else Side.SELL,
            order_type=order_type,
            trigger_price=trigger,
            quantity=quantity,
            close_position=close_position,
            reduce_only=reduce_only,
            working_type=working_type,
            create_ms=now_ms,
            update_ms=now_ms,
        )
        if self._triggered(algo):
            raise errors.bad(errors.WOULD_TRIGGER, "Order would immediately trigger.")
        self._armed_reject()
        self.algo_orders[algo_id] = algo
        return algo

    def reference_price(self, working_type: str) -> int:
        """The price a conditional order watches (micro-USDT): the mark for ``MARK_PRICE``,
        the last trade (the mark before any) for ``CONTRACT_PRICE``."""
        if working_type == "CONTRACT_PRICE" and self.last_price:
            return self.last_price
        return self.mark_price()

    def _triggered(self, algo: AlgoOrder) -> bool:
        price = self.reference_price(algo.working_type)
        if not price:
            return False
        rises = (algo.order_type == "STOP_MARKET") == (algo.side is Side.BUY)
        return price >= algo.trigger_price if rises else price <= algo.trigger_price

    def _trigger(self, now_ms: int) -> None:
        """Execute every open conditional order whose condition holds, oldest first, until
        none does (a fill moves the contract price and may trigger another)."""
        while True:
            due = [a for a in self.open_algo_orders() if self._triggered(a)]
            if not due:
                return
            for algo in due:
                if algo.status == "NEW" and self._triggered(algo):
                    self._execute(algo, now_ms)

    def _execute(self, algo: AlgoOrder, now_ms: int) -> None:
        """A triggered conditional order becomes a MARKET order (FINISHED), or REJECTED."""
        algo.trigger_ms = algo.update_ms = now_ms
        quantity = algo.quantity
        if algo.close_position:
            amount = self.position.size
            closes = (amount > 0 and algo.side is Side.SELL) or (
                amount < 0 and algo.side is Side.BUY
            )
            quantity = abs(amount) if closes else 0
        params = {
            "symbol": self.symbol,
            "side": "BUY" if algo.side is Side.BUY else "SELL",
            "type": "MARKET",
            "quantity": self.qty_text(quantity),
            "reduceOnly": "true" if algo.reduce_only or algo.close_position else "false",
            "newClientOrderId": algo.client_algo_id,
        }
        try:
            order = self._validated(params, now_ms)
            self._match(order, now_ms)
        except errors.BinanceError:
            algo.status = "REJECTED"
            return
        algo.actual_order_id = order.order_id
        algo.status = "FINISHED"

    def cancel_algo(
        self, algo_id: int | None, client_algo_id: str | None, now_ms: int
    ) -> AlgoOrder:
        """``DELETE /fapi/v1/algoOrder`` by ``algoId`` or ``clientAlgoId``.

        Raises:
            BinanceError: -20124 unknown or no longer open.
        """
        algo = self.find_algo(algo_id, client_algo_id)
        if algo is None or algo.status != "NEW":
            raise errors.bad(errors.UNKNOWN_ALGO, "Invalid algo id or it has been completed.")
        algo.status = "CANCELED"
        algo.update_ms = now_ms
        return algo

    def cancel_all_algo(self, now_ms: int) -> int:
        """``DELETE /fapi/v1/algoOpenOrders``: cancel every open conditional order."""
        live = self.open_algo_orders()
        for algo in live:
            self.cancel_algo(algo.algo_id, None, now_ms)
        return len(live)

    def find_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        """A conditional order by id or client id (the newest with that client id)."""
        if algo_id is not None:
            return self.algo_orders.get(algo_id)
        found = [a for a in self.algo_orders.values() if a.client_algo_id == client_algo_id]
        return found[-1] if found else None

    def open_algo_orders(self) -> list[AlgoOrder]:
        """Conditional orders not yet triggered or cancelled, oldest first."""
        return [a for a in self.algo_orders.values() if a.status == "NEW"]

    def set_leverage(self, leverage: int) -> None:
        """``POST /fapi/v1/leverage``.

        Raises:
            BinanceError: -4028 outside 1..max_leverage.
        """
        if not 1 <= leverage <= self.settings.max_leverage:
            raise errors.bad(errors.INVALID_LEVERAGE, f"Leverage {leverage} is not valid")
        self.account.leverage = leverage

    # ------------------------------------------------------------------ reads
    def mark_price(self) -> int:
        """The book's mid floored to the tick (micro-USDT); 0 on a one-sided book."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return 0
        tick = self.instrument.price_increment
        return (bid + ask) // 2 // tick * tick

    @property
    def position(self) -> Position:
        """The one-way position (signed micro-units of the base asset, exact cost basis)."""
        return self.account.position

    @property
    def wallet(self) -> int:
        """Wallet balance (micro-USDT): initial + realized PnL − fees + funding."""
        return self.account.wallet_micros

    @property
    def realized_pnl(self) -> int:
        """Realized trading PnL before fees (micro-USDT)."""
        return self.account.position.realized_pnl

    @property
    def fees_paid(self) -> int:
        """Commissions paid (micro-USDT)."""
        return self.account.position.fees

    @property
    def leverage(self) -> int:
        """The symbol's initial leverage."""
        return self.account.leverage

    def unrealized_pnl(self) -> int:
        """Position PnL at the mark price (micro-USDT, floored)."""
        return self.account.unrealized_pnl(self.mark_price())

    def maintenance_margin(self) -> int:
        """Maintenance margin at the mark price (micro-USDT, rounded up)."""
        return self.account.maintenance_margin(self.mark_price())

    def price_text(self, value: int) -> str:
        """A price as Binance writes it (``pricePrecision`` decimals)."""
        return fixed_micros(value, self.settings.price_decimals)

    def qty_text(self, value: int) -> str:
        """A quantity as Binance writes it (``quantityPrecision`` decimals)."""
        return fixed_micros(value, self.settings.qty_decimals)


def _shifted(event: _Replayed, shift_ns: int) -> _Replayed:
    """``event`` with its event and receive times moved by ``shift_ns`` (a receive time of 0,
    unknown, stays 0)."""
    recv_ns = event.ts_recv_ns + shift_ns if event.ts_recv_ns else 0
    return msgspec.structs.replace(
        event, ts_event_ns=event.ts_event_ns + shift_ns, ts_recv_ns=recv_ns
    )


def _client_id(params: dict[str, str], name: str) -> str:
    """The client id sent as ``name`` ("" when none: the exchange makes one up).

    Raises:
        BinanceError: -1100, an id outside :data:`CLIENT_ID_RANGE`.
    """
    value = params.get(name, "")
    if value and _CLIENT_ID.fullmatch(value) is None:
        raise errors.illegal(name, CLIENT_ID_RANGE)
    return value
