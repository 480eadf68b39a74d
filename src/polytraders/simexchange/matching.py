"""The matching core both simulated markets share (USDⓈ-M futures, :mod:`.engine`, and spot,
:mod:`.spot`): the replayed book, our orders, taker and maker matching. Synchronous (the server
runs it on one event loop, so no locks); prices micro-quote per unit, sizes micro-units of the
base asset.

Matching reuses the paper venue's fill rules (:mod:`polytraders.venues.paper`) through its
building blocks — :func:`~polytraders.venues.paper.liquidity.available_take` and
:class:`~polytraders.venues.paper.liquidity.ConsumedLiquidity` for takers (rule 2: walk the
available book within the limit; rule 5: liquidity our fills took is not offered again until
the level leaves the book) and the paper venue's queue models
(:mod:`polytraders.venues.paper.queue`, chosen by name as
:class:`~polytraders.venues.paper.config.PaperVenueConfig` does) for makers (rule 4.1 queue
ahead at arrival, 4.2/4.6 public trades through the front, 4.4 unexplained decreases, 4.5 a
crossing book fills at the order's price). The paper venue itself is not used: it is built for
Polymarket's binary tokens (prices in (0, 1), the ``p × (1 − p)`` fee, a cash-and-shares
ledger), none of which holds for Binance.

The public book served is the recording's: our fills do not change it (they are remembered as
consumed liquidity, rule 5, as the paper venue does). A subclass adds the account: what an
order needs before it is accepted (:meth:`MatchingExchange._admit`), what a fill books
(:meth:`MatchingExchange._book_fill`), the depth event's wire shape and order validation.

Time. The exchange's time of a replayed event is its recorded time plus the session's time
offset :attr:`MatchingExchange.offset_ms`, a whole number of ms (so every served ms time is
the recorded one plus the offset, exactly). It is 0 unless a session is started at a given
time (``restart``'s ``start_ms``: the server's present-time replay makes the first snapshot's
time the clock's "now"), and fixed for the session. It is held here only and read by the
methods of the "time" section: :meth:`MatchingExchange._venue_step` shifts each replayed step
as it is applied (so every time derived from the market is the shifted one: depth
``E``/``T``, the book's times and the REST snapshot's ``E``/``T``, maker fills on replayed
events, futures conditional orders they trigger, ``last_event_ms`` and through it the replay
clock) and :meth:`MatchingExchange.next_step_ns` gives the shifted time of the next step
(:meth:`MatchingExchange.replay_until` paces by it); the futures funding schedule moves by it
too (:meth:`polytraders.simexchange.engine.FuturesExchange.next_funding_ms`). Times the
server stamps from its own clock (orders placed or cancelled, ``serverTime``) are passed in
by the caller.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from polytraders.feeds.decimal_text import micros
from polytraders.model.book import OrderBook
from polytraders.model.events import BookDelta, BookSnapshot, MarketEvent, Trade
from polytraders.model.market import Instrument
from polytraders.model.money import MICROS, fixed_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.simexchange import errors
from polytraders.simexchange.replay import Recording, ReplayStep
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.paper.liquidity import ConsumedLiquidity, Take, available_take
from polytraders.venues.paper.queue import WorkingOrder, queue_model

MAX_PRICE = 1 << 62
"""The limit of a market BUY's book walk (any ask)."""
CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
"""Binance's rule for ``newClientOrderId`` and ``clientAlgoId`` (New Order and New Algo Order
references: "Can only be string following the rule"); another id is refused with -1100."""
_CLIENT_ID = re.compile(CLIENT_ID_RANGE[1:-1])
NS_PER_MS = 1_000_000
SettingsT = TypeVar("SettingsT")
_Replayed = TypeVar("_Replayed", bound=MarketEvent)


@dataclass(slots=True, eq=False)
class SimOrder:
    """One of our orders (Binance's order fields, micro-units); ``reduce_only`` is always
    False on spot."""

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


@dataclass(slots=True)
class Faults:
    """Armed one-shot faults the engine applies (the server applies the HTTP ones)."""

    reject_orders: list[tuple[int, str]] = field(default_factory=list)
    """(code, msg) answered to the next order posts, one each."""
    drop_depth_events: int = 0
    """The next N depth events are not published (a lost websocket message)."""


class MatchingExchange(ABC, Generic[SettingsT]):
    """The replayed market and our orders (module docstring); subclasses add the account and
    its ``SettingsT``.

    Args:
        recording: the replayed market.
    """

    settings: SettingsT
    """The session's account and market settings."""
    price_decimals: int
    """Decimals of prices on the wire."""
    qty_decimals: int
    """Decimals of quantities on the wire."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.instrument: Instrument = recording.instrument
        self.symbol = recording.instrument.symbol

    @abstractmethod
    def restart(self, settings: SettingsT, start_ms: int | None = None) -> None:
        """Start a fresh session with ``settings`` whose first snapshot is at ``start_ms``
        (ms since the epoch; None: the recording's own times): the subclass's account over
        :meth:`_reset`."""

    def _reset(self, queue_model_name: str, start_ms: int | None) -> None:
        """Forget the session: the replay before its first step, no orders, no faults; the
        time offset that puts the first snapshot at ``start_ms`` (None: offset 0)."""
        first_ms = self.recording.steps[0].depth.ts_event_ns // NS_PER_MS
        self.offset_ms = 0 if start_ms is None else start_ms - first_ms
        """Exchange time minus recorded time (ms; module docstring "Time")."""
        self.book = OrderBook(self.symbol)
        self.consumed = ConsumedLiquidity()
        self.queue = queue_model(PaperVenueConfig(queue_model=queue_model_name))
        self.levels: dict[tuple[Side, int], list[WorkingOrder]] = {}
        self._explained: dict[tuple[Side, int], int] = {}
        """Size traded publicly at a level of ours since its size last changed (rule 4.4: a
        later decrease up to this much is the trades', already through the queue)."""
        self.orders: dict[int, SimOrder] = {}
        self.last_price = 0
        """Price of the last trade, public or ours (0 before any)."""
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

    def share_session(self, first: MatchingExchange[Any]) -> None:
        """Use ``first``'s faults and order and trade id counters (markets of one venue, after
        each :meth:`restart`: a fault armed once applies to whichever market meets it, and
        ids are unique across the venue)."""
        self.faults = first.faults
        self._order_ids = first._order_ids
        self._trade_ids = first._trade_ids

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols served: this market's one."""
        return (self.symbol,)

    # ------------------------------------------------------------------ time
    def _venue_step(self, step: ReplayStep) -> ReplayStep:
        """``step`` in the exchange's time: every recorded time plus :attr:`offset_ms` (the one
        place the offset is applied to the market; module docstring "Time")."""
        if not self.offset_ms:
            return step
        shift_ns = self.offset_ms * NS_PER_MS
        return ReplayStep(
            tuple(_shifted(trade, shift_ns) for trade in step.trades),
            _shifted(step.depth, shift_ns),
        )

    def next_step_ns(self) -> int | None:
        """The exchange's time of the next replay step's depth event (ns; None at the end)."""
        steps = self.recording.steps
        if self.cursor >= len(steps):
            return None
        return steps[self.cursor].depth.ts_event_ns + self.offset_ms * NS_PER_MS

    def replay_until(self, ts_ns: int) -> int:
        """Apply every further replay step whose depth event is at or before ``ts_ns``
        (exchange time); returns how many were applied."""
        applied = 0
        while (due_ns := self.next_step_ns()) is not None and due_ns <= ts_ns:
            applied += self.step(1)
        return applied

    # ------------------------------------------------------------------ replay
    def step(self, count: int = 1) -> int:
        """Apply the next ``count`` replay steps (trades, then the depth event) in the
        exchange's time; returns how many were applied (fewer at the end of the recording)."""
        steps = self.recording.steps
        applied = 0
        while applied < count and self.cursor < len(steps):
            self._apply_step(self._venue_step(steps[self.cursor]))
            self.cursor += 1
            applied += 1
        return applied

    def _apply_step(self, step: ReplayStep) -> None:
        """Apply one step already in the exchange's time."""
        for trade in step.trades:
            self._on_trade(trade)
        self._on_depth(step.depth)

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
        self.last_event_ms = ts // NS_PER_MS
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
        self.outbox.append(self._depth_message(delta))

    @abstractmethod
    def _depth_message(self, delta: BookDelta) -> dict[str, Any]:
        """The ``depthUpdate`` payload of ``delta`` in the market's wire shape."""

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
        now_ms = trade.ts_event_ns // NS_PER_MS
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

    def _order_of(self, working: WorkingOrder) -> SimOrder:
        return self.orders[int(working.order.client_order_id)]

    # ------------------------------------------------------------------ orders
    def place(self, params: dict[str, str], now_ms: int) -> SimOrder:
        """A new order (``POST`` order): validate, match, rest; returns the order.

        Raises:
            BinanceError: the venue's code for the refusal (the subclass's ``_validated`` and
                ``_admit``), or an armed ``reject_orders`` fault.
        """
        order = self._validated(params, now_ms)
        self._armed_reject()
        self._match(order, now_ms)
        return order

    def _new_order(
        self,
        given_client_id: str,
        side: Side,
        *,
        order_type: str,
        time_in_force: str,
        price: int,
        qty: int,
        now_ms: int,
        post_only: bool,
        reduce_only: bool,
    ) -> SimOrder:
        """A validated order with the next order id (its client id made up when none was
        given) and its queue-model twin (:class:`~polytraders.venues.paper.queue.WorkingOrder`,
        keyed by the order id)."""
        order_id = next(self._order_ids)
        venue_order = VenueOrder(
            client_order_id=str(order_id),
            intent_id=given_client_id or f"sim-{order_id}",
            token_id=self.symbol,
            side=side,
            price=price,
            size=qty,
            post_only=post_only,
            reduce_only=reduce_only,
        )
        return SimOrder(
            order_id=order_id,
            client_order_id=venue_order.intent_id,
            side=side,
            order_type=order_type,
            time_in_force=time_in_force,
            price=price,
            orig_qty=qty,
            reduce_only=reduce_only,
            time_ms=now_ms,
            update_ms=now_ms,
            working=WorkingOrder(order=venue_order, sequence=order_id, fee_rate_ppm=0),
        )

    @abstractmethod
    def _validated(self, params: dict[str, str], now_ms: int) -> SimOrder:
        """The order ``params`` describe, checked against the market's rules.

        Raises:
            BinanceError: a malformed or refused order.
        """

    @abstractmethod
    def _admit(self, order: SimOrder, take: Take, limit: int) -> None:
        """Refuse ``order`` before anything happens when the account cannot take it:
        ``take`` is what it would take now, ``limit`` its price (the walk's bound for a
        market order).

        Raises:
            BinanceError: the market's code for the refusal.
        """

    @abstractmethod
    def _book_fill(
        self, order: SimOrder, price: int, qty: int, *, maker: bool, now_ms: int
    ) -> None:
        """Book one fill of ``order`` on the account and record the trade."""

    def _armed_reject(self) -> None:
        if self.faults.reject_orders:
            code, msg = self.faults.reject_orders.pop(0)
            raise errors.bad(code, msg)

    def _match(self, order: SimOrder, now_ms: int) -> None:
        """Match a validated order: take what it crosses, rest or expire the remainder (a
        MARKET or IOC remainder, or a FOK that cannot fill whole, expires).

        Raises:
            BinanceError: :meth:`_admit` refused it.
        """
        limit = order.price or (MAX_PRICE if order.side is Side.BUY else 1)
        take = available_take(self.book, self.consumed, order.side, limit, size=order.orig_qty)
        self._admit(order, take, limit)
        self.orders[order.order_id] = order
        if order.time_in_force == "FOK" and not take.complete:
            order.status = "EXPIRED"
            return
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

    def _fill(self, order: SimOrder, price: int, qty: int, *, maker: bool, now_ms: int) -> None:
        if qty <= 0:
            return
        self.last_price = price
        self._book_fill(order, price, qty, maker=maker, now_ms=now_ms)
        order.executed_qty += qty
        order.cum_quote += price * qty // MICROS
        order.working.order.filled_size = order.executed_qty
        order.update_ms = now_ms
        order.status = "FILLED" if not order.remaining else "PARTIALLY_FILLED"
        if not order.remaining:
            self._unrest(order)

    def _unrest(self, order: SimOrder) -> None:
        key = (order.side, order.price)
        resting = self.levels.get(key)
        if resting and order.working in resting:
            resting.remove(order.working)
            if not resting:
                del self.levels[key]
                self._explained.pop(key, None)
        order.working.resting = False

    def cancel(self, order_id: int | None, client_order_id: str | None, now_ms: int) -> SimOrder:
        """``DELETE`` order by ``orderId`` or ``origClientOrderId``.

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

    def find(self, order_id: int | None, client_order_id: str | None) -> SimOrder | None:
        """An order by id or client id (None when unknown)."""
        if order_id is not None:
            return self.orders.get(order_id)
        for order in self.orders.values():
            if order.client_order_id == client_order_id:
                return order
        return None

    def open_orders(self) -> list[SimOrder]:
        """Orders still resting, oldest first."""
        return [o for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")]

    # ------------------------------------------------------------------ reads
    def mark_price(self) -> int:
        """The book's mid floored to the tick (micro-quote); 0 on a one-sided book."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is None or ask is None:
            return 0
        tick = self.instrument.price_increment
        return (bid + ask) // 2 // tick * tick

    def price_text(self, value: int) -> str:
        """A price as Binance writes it (:attr:`price_decimals`)."""
        return fixed_micros(value, min(self.price_decimals, 6)) + "0" * max(
            self.price_decimals - 6, 0
        )

    def qty_text(self, value: int) -> str:
        """A quantity as Binance writes it (:attr:`qty_decimals`)."""
        return fixed_micros(value, min(self.qty_decimals, 6)) + "0" * max(self.qty_decimals - 6, 0)


def _shifted(event: _Replayed, shift_ns: int) -> _Replayed:
    """``event`` with its event and receive times moved by ``shift_ns`` (a receive time of 0,
    unknown, stays 0)."""
    recv_ns = event.ts_recv_ns + shift_ns if event.ts_recv_ns else 0
    return msgspec.structs.replace(
        event, ts_event_ns=event.ts_event_ns + shift_ns, ts_recv_ns=recv_ns
    )


def order_side(params: dict[str, str]) -> Side:
    """``side`` of an order request.

    Raises:
        BinanceError: -1117, not BUY or SELL.
    """
    side_text = params.get("side", "")
    if side_text not in ("BUY", "SELL"):
        raise errors.bad(errors.INVALID_SIDE, "Invalid side.")
    return Side.BUY if side_text == "BUY" else Side.SELL


def decimal_param(params: dict[str, str], name: str) -> int:
    """The decimal text ``params[name]`` in micro-units.

    Raises:
        BinanceError: -1102 absent, -1111 malformed or finer than a micro-unit.
    """
    text = params.get(name)
    if not text:
        raise errors.missing(name)
    try:
        return micros(text)
    except ValueError:
        raise errors.bad(
            errors.BAD_PRECISION, "Precision is over the maximum defined for this asset."
        ) from None


def client_id(params: dict[str, str], name: str) -> str:
    """The client id sent as ``name`` ("" when none: the exchange makes one up).

    Raises:
        BinanceError: -1100, an id outside :data:`CLIENT_ID_RANGE`.
    """
    value = params.get(name, "")
    if value and _CLIENT_ID.fullmatch(value) is None:
        raise errors.illegal(name, CLIENT_ID_RANGE)
    return value
