"""The paper venue: simulated Polymarket matching against the recorded or live book.

:class:`PaperVenue` implements :class:`polytraders.venues.base.Venue`. The fill rules it applies
are written down, numbered, in the docstring of :mod:`polytraders.venues.paper`; comments below
cite them as "rule N".
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from polytraders.contracts import ids
from polytraders.contracts.id_set import OrderIdSet
from polytraders.model.book import OrderBook
from polytraders.model.events import (
    AnyEvent,
    BookDelta,
    BookSnapshot,
    FundingPayment,
    FundingRate,
    MarketStatus,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    TickSizeChange,
    Trade,
)
from polytraders.model.fees import bps_fee_micros, spot_buy_commission, taker_fee_micros
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Instrument, Market, MarketState, OutcomeToken
from polytraders.model.money import ONE, Rounding, notional_micros
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.model.perp import funding_of_size
from polytraders.venues.base import OrderEvent, VenueEvent
from polytraders.venues.paper import reasons, validation
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.paper.latency import ConstantLatency, LatencyModel
from polytraders.venues.paper.ledger import PaperLedger
from polytraders.venues.paper.liquidity import ConsumedLiquidity, available_take
from polytraders.venues.paper.queue import QueueModel, WorkingOrder, queue_model
from polytraders.venues.reports import (
    FillReport,
    OrderStatusReport,
    PositionReport,
    VenueSnapshot,
)

_ARRIVE = 0
_CANCEL = 1
_EXPIRE = 2
_FUNDING = 3

_MARKET_EVENTS = (BookDelta, BookSnapshot, Trade, TickSizeChange, MarketStatus, FundingRate)
"""Event kinds the venue uses; every other event is ignored (rule 10)."""

LevelKey = tuple[Side, int]
"""(book side, price): ``Side.BUY`` = bids (where our BUY orders rest), ``Side.SELL`` = asks."""


class _Level:
    """Our resting orders at one price of one token, in time priority.

    ``explained``: micro-shares traded at this level (public trades) since its size last
    changed; a later decrease of the level up to this much is already accounted for (rule 4.4).
    """

    __slots__ = ("explained", "orders")

    def __init__(self) -> None:
        self.orders: list[WorkingOrder] = []
        self.explained = 0


class _Token:
    """What the venue knows about one outcome token or crypto instrument (``instrument`` set,
    ``market_id`` "", fees in bps: ``maker_fee_bps``/``taker_fee_bps``)."""

    __slots__ = (
        "book",
        "complement_id",
        "consumed",
        "fee_rate_ppm",
        "instrument",
        "levels",
        "maker_fee_bps",
        "market_id",
        "min_order_size",
        "taker_fee_bps",
        "tick_size",
        "token_id",
        "trade_fed",
    )

    def __init__(
        self,
        token: OutcomeToken | Instrument,
        fee_rate_ppm: int = 0,
        fees_bps: tuple[int, int] = (0, 0),
    ) -> None:
        self.token_id = token.token_id
        self.trade_fed = False
        """A public trade reached this token's orders (rule 4.3): its feed carries trades."""
        self.fee_rate_ppm = fee_rate_ppm
        self.maker_fee_bps, self.taker_fee_bps = fees_bps
        self.book = OrderBook(token.token_id)
        self.consumed = ConsumedLiquidity()
        self.levels: dict[LevelKey, _Level] = {}
        if isinstance(token, Instrument):
            self.instrument: Instrument | None = token
            self.market_id = self.complement_id = ""
            self.tick_size = token.price_increment
            self.min_order_size = token.min_size
        else:
            self.instrument = None
            self.market_id = token.market_id
            self.complement_id = token.complement_token_id
            self.tick_size = token.tick_size
            self.min_order_size = token.min_order_size

    def base_fee(self, side: Side) -> bool:
        """A fill on ``side`` pays its commission in the bought asset: a BUY of a spot
        instrument (rule 12.4)."""
        instrument = self.instrument
        return side is Side.BUY and instrument is not None and not instrument.perpetual

    def taker_fee(self, side: Side, price: int, size: int) -> tuple[int, int]:
        """``(fee, fee_size)`` of one matched level (rule 2.2; instruments rules 12.3, 12.4)."""
        if self.base_fee(side):
            return spot_buy_commission(price, size, self.taker_fee_bps)
        if self.instrument is not None:
            return bps_fee_micros(price, size, self.taker_fee_bps), 0
        return taker_fee_micros(size, price, self.fee_rate_ppm), 0

    def maker_fee(self, side: Side, price: int, size: int) -> tuple[int, int]:
        """``(fee, fee_size)`` of one maker fill: no fee on Polymarket (rule 2.2), the maker
        bps for an instrument (rules 12.3, 12.4)."""
        if self.base_fee(side):
            return spot_buy_commission(price, size, self.maker_fee_bps)
        if self.instrument is not None:
            return bps_fee_micros(price, size, self.maker_fee_bps), 0
        return 0, 0


@dataclass(slots=True)
class PaperVenueStats:
    """Counters of a paper venue's activity (for benchmarks, reports and tests)."""

    market_events: int = 0
    ignored_events: int = 0
    """Events for tokens or markets this venue was not given, and event kinds it does not use."""
    orders_accepted: int = 0
    orders_rejected: int = 0
    fills: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    cancels_of_closed_orders: int = 0
    """Cancels that reached an order already filled, cancelled or expired (no event follows)."""
    funding_settlements: int = 0
    """Funding times at which a perpetual position was charged or credited (rule 12.6)."""
    rejections_by_code: dict[str, int] = field(default_factory=dict)


class PaperVenue:
    """Simulated Polymarket CLOB v2 venue (see :mod:`polytraders.venues.paper` for the rules).

    Args:
        config: fill-model settings.
        markets: every market the venue may trade; their tokens' tick size and minimum order
            size are the starting values, ``state`` ACTIVE means accepting orders.
        run_id: the run's id; fill ids are ``ids.fill_id(run_id, n)`` and venue order ids
            ``f"{run_id}/v{n}"`` (n counts from 1 in processing order), so replays are
            byte-identical.
        starting_holdings: token id → micro-shares held at the start (default none).
        instruments: crypto instruments the venue also trades (rule 12), by their
            ``token_id``; each venue needs a fee schedule in ``config``
            (``instrument_maker_fee_bps``/``instrument_taker_fee_bps``).
        latency: entry, cancel and response latency per order (default: the constants of
            ``config``, :class:`~polytraders.venues.paper.latency.ConstantLatency`).
        fill_reports: keep every fill for :meth:`reconciliation_snapshot` (False: a venue
            nobody reconciles, such as a fill-bound shadow, lists no fills and keeps none).

    Raises:
        ValueError: a market whose category has no fee rate in ``config.fee_rates_ppm``, an
            instrument whose venue has no fee schedule, a token listed twice, or a token naming
            another market.
    """

    name = "paper"

    def __init__(
        self,
        config: PaperVenueConfig,
        markets: Sequence[Market],
        run_id: str,
        starting_holdings: Mapping[str, int] | None = None,
        latency: LatencyModel | None = None,
        *,
        fill_reports: bool = True,
        instruments: Sequence[Instrument] = (),
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.latency: LatencyModel = latency if latency is not None else ConstantLatency(config)
        self._gtd_margin_ns = config.gtd_security_margin_ns
        self.queue: QueueModel = queue_model(config)
        self._complement_fills = config.complement_fills
        self._tokens: dict[str, _Token] = {}
        self._accepting: dict[str, bool] = {}
        self._market_tokens: dict[str, list[str]] = {}
        self._redeemed: set[str] = set()
        """Markets whose resolution redeemed our tokens (rule 11): final, never reopened."""
        for market in markets:
            rate = config.fee_rates_ppm.get(market.category)
            if rate is None:
                raise ValueError(
                    f"market {market.market_id}: category {market.category!r} has no fee rate"
                )
            self._accepting[market.market_id] = market.state is MarketState.ACTIVE
            self._market_tokens[market.market_id] = []
            for token in market.tokens:
                if token.market_id != market.market_id:
                    raise ValueError(f"token {token.token_id} names market {token.market_id}")
                if token.token_id in self._tokens:
                    raise ValueError(f"token {token.token_id} is listed twice")
                self._tokens[token.token_id] = _Token(token, rate)
                self._market_tokens[market.market_id].append(token.token_id)
        for instrument in instruments:
            fees = config.instrument_fees_bps(instrument.venue)
            if fees is None:
                raise ValueError(
                    f"instrument {instrument.token_id}: venue {instrument.venue!r} has no fee "
                    "schedule (instrument_maker_fee_bps / instrument_taker_fee_bps)"
                )
            if instrument.token_id in self._tokens:
                raise ValueError(f"token {instrument.token_id} is listed twice")
            self._tokens[instrument.token_id] = _Token(instrument, fees_bps=fees)
        self.ledger = PaperLedger(
            config.starting_cash_micros,
            starting_holdings,
            short_tokens=frozenset(i.token_id for i in instruments if i.perpetual),
        )
        self.stats = PaperVenueStats()
        self.cash_checks: list[tuple[int, int]] | None = None
        """None, or a list to which every accepted BUY's balance check (rule 3.9) appends
        ``(time ns, starting cash − free cash + what the order needed)``: the pUSD the account
        had committed at that moment, this order included (a run split by market checks with
        it that its markets fit one account, :mod:`polytraders.backtest.partition_merge`)."""
        self._orders: dict[str, WorkingOrder] = {}
        self._arrival_ns: dict[str, int] = {}
        self._closed = OrderIdSet()
        """Ids of the orders that closed (exact; ranges for ids numbered in sequence)."""
        self._pending: list[tuple[int, int, int, str]] = []
        self._outbox: list[tuple[int, int, VenueEvent]] = []
        """Answers travelling to the desk: (ts_recv_ns, creation sequence, event), a heap."""
        self._answer_seq = 0
        self._fills: list[FillReport] = []
        """Every fill made, in order, known to the venue at once (what
        :meth:`reconciliation_snapshot` lists, also while its answer travels to the desk)."""
        self._fill_reports = fill_reports
        self._action_seq = 0
        self._arrival_seq = 0
        self._fill_seq = 0
        self._last_event_ns = 0
        self._clock_ns = 0
        """The latest time given to ``advance`` or ``on_market_event`` (rule 1.4)."""
        self._funding_ppb: dict[str, int] = {}
        """Perpetual token id → its latest funding rate (ppb, rule 12.6)."""
        self._funding_due: set[tuple[str, int]] = set()
        """(token id, time ns) of the funding settlements scheduled (rule 12.6)."""

    # ================================================================== Venue protocol
    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Send an order: it reaches the venue at ``now_ns + order_latency`` (rule 1).

        A ``client_order_id`` already used is a no-op (idempotent). The venue keeps its own
        copy of the order; the caller's object is never changed.
        """
        cid = order.client_order_id
        if cid in self._orders or cid in self._closed:
            return
        copy = msgspec.structs.replace(
            order,
            status=OrderStatus.PENDING_NEW,
            filled_size=0,
            venue_order_id="",
            ts_updated_ns=now_ns,
        )
        token = self._tokens.get(order.token_id)
        self._orders[cid] = WorkingOrder(copy, 0, token.fee_rate_ppm if token else 0)
        arrival = now_ns + self.latency.entry_ns(order)
        self._arrival_ns[cid] = arrival
        self._schedule(arrival, _ARRIVE, cid)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Ask to cancel one order; effective at ``max(now_ns + cancel_latency, arrival)``
        (rule 7). An unknown id is answered with ``OrderRejected(SYS_VENUE_UNKNOWN_ORDER)``
        at the same time; an order already closed gets no further event."""
        effective = now_ns + self.latency.cancel_ns(client_order_id)
        arrival = self._arrival_ns.get(client_order_id)
        if arrival is not None and arrival > effective:
            effective = arrival
        self._schedule(effective, _CANCEL, client_order_id)

    def cancel_all(self, now_ns: int) -> None:
        """Cancel every open order (resting or still travelling), in submission order."""
        for cid in list(self._orders):
            self.cancel(cid, now_ns)

    def on_market_event(self, event: AnyEvent) -> None:
        """Feed a market event (rules 1, 4, 5, 8, 9, 11).

        First every pending arrival, cancel and expiry due at or before ``event.ts_event_ns``
        is processed, then the event is applied and resting orders are matched against it; a
        ``MarketStatus`` RESOLVED with a winning token redeems our tokens of that market
        (rule 11). Non-market events (venue and desk events) are ignored.

        Raises:
            ValueError: a market event older than the previous one (events must come in time
                order), a malformed book update (the book is left unchanged), a trade with a
                price outside (0, 1) or a size not above 0, or a resolution
                whose winning token is not one of the market's tokens (the event is not
                applied).
        """
        if not isinstance(event, _MARKET_EVENTS):
            self.stats.ignored_events += 1
            return
        ts = event.ts_event_ns
        if ts < self._last_event_ns:
            raise ValueError(
                f"market event at {ts} ns is older than the previous one at {self._last_event_ns}"
            )
        self._last_event_ns = ts
        self._clock_ns = max(self._clock_ns, ts)
        self._run_due(ts)
        self.stats.market_events += 1
        if isinstance(event, MarketStatus):
            self._on_status(event)
            return
        token = self._tokens.get(event.token_id)
        if token is None:
            self.stats.ignored_events += 1
            return
        if isinstance(event, FundingRate):
            self._on_funding_rate(token, event)
            return
        if isinstance(event, BookDelta | BookSnapshot):
            self._on_book(token, event)
        elif isinstance(event, Trade):
            self._on_trade(token, event)
        else:
            self._on_tick_size(token, event)

    def advance(self, now_ns: int) -> None:
        """Process every arrival, cancel and expiry due at or before ``now_ns`` (rule 1)."""
        self._clock_ns = max(self._clock_ns, now_ns)
        self._run_due(now_ns)

    def poll(self) -> list[VenueEvent]:
        """Venue events that have reached the desk and were not polled yet: those with
        ``ts_recv_ns`` at or before the venue's clock (the latest time given to ``advance`` or
        ``on_market_event``), in ``(ts_recv_ns, creation)`` order (rule 1.4)."""
        outbox = self._outbox
        clock = self._clock_ns
        events: list[VenueEvent] = []
        while outbox and outbox[0][0] <= clock:
            events.append(heapq.heappop(outbox)[2])
        return events

    @property
    def answers_in_flight(self) -> int:
        """Venue events made but not yet polled (travelling, or arrived and waiting)."""
        return len(self._outbox)

    def in_flight(self) -> list[VenueEvent]:
        """The venue events :attr:`answers_in_flight` counts, in delivery order (unchanged)."""
        return [event for _, _, event in sorted(self._outbox)]

    def open_orders(self) -> Sequence[VenueOrder]:
        """Copies of our open orders (travelling, resting or partly filled), in submission
        order."""
        return [msgspec.structs.replace(w.order) for w in self._orders.values()]

    def balances(self) -> dict[str, int]:
        """``"pUSD"`` → free cash, token id → free micro-shares (rule 6)."""
        return self.ledger.balances()

    def heartbeat(self, now_ns: int) -> bool:
        """The paper venue has no dead-man switch: always accepted."""
        return True

    def reconciliation_snapshot(self, now_ns: int) -> VenueSnapshot:
        """From memory: the orders that have reached the venue and are open (travelling
        ones are not at the venue yet), every fill made, and the ledger's holding of every
        token of the venue's markets (sorted by token id). Nothing changes."""
        orders = tuple(
            OrderStatusReport(
                client_order_id=o.client_order_id,
                venue_order_id=o.venue_order_id,
                token_id=o.token_id,
                side=o.side,
                price=o.price,
                size=o.size,
                filled_size=o.filled_size,
                status=o.status,
                ts_ns=now_ns,
            )
            for o in (w.order for w in self._orders.values())
            if o.status is not OrderStatus.PENDING_NEW
        )
        positions = tuple(
            PositionReport(token_id=t, size=self.ledger.holdings(t)) for t in sorted(self._tokens)
        )
        return VenueSnapshot(
            venue=self.name,
            ts_ns=now_ns,
            orders=orders,
            fills=tuple(self._fills),
            positions=positions,
        )

    # ================================================================== extra reads
    @property
    def open_order_count(self) -> int:
        """Number of open orders (travelling, resting or partly filled)."""
        return len(self._orders)

    def order(self, client_order_id: str) -> VenueOrder | None:
        """A copy of the venue's state of an open order, or None when it is not open."""
        working = self._orders.get(client_order_id)
        return msgspec.structs.replace(working.order) if working else None

    def book(self, token_id: str) -> OrderBook:
        """The venue's book of a token (read it, do not change it).

        Raises:
            KeyError: unknown token.
        """
        return self._tokens[token_id].book

    def queue_ahead(self, client_order_id: str) -> int | None:
        """Micro-shares of other traders ahead of a resting order, or None when not resting."""
        working = self._orders.get(client_order_id)
        return working.queue_ahead if working is not None and working.resting else None

    def consumed(self, token_id: str) -> list[tuple[Side, int, int]]:
        """(book side, price, micro-shares) our fills took and the book still shows (rule 5)."""
        return self._tokens[token_id].consumed.items()

    def tick_size(self, token_id: str) -> int:
        """The token's current tick size (micro-units)."""
        return self._tokens[token_id].tick_size

    def accepting_orders(self, market_id: str) -> bool:
        """Whether the market currently accepts orders."""
        return self._accepting[market_id]

    # ================================================================== scheduling
    def _answer(self, event: OrderEvent) -> None:
        """Send an answer to the desk: it arrives ``response latency`` after it was made
        (rule 1.4: ``ts_recv_ns = ts_event_ns + response``)."""
        recv = event.ts_event_ns + self.latency.response_ns(event.client_order_id)
        if recv != event.ts_recv_ns:
            event = msgspec.structs.replace(event, ts_recv_ns=recv)
        self._send(event)

    def _send(self, event: VenueEvent) -> None:
        """Put ``event`` in the outbox; it reaches the desk at its ``ts_recv_ns``."""
        self._answer_seq += 1
        heapq.heappush(self._outbox, (event.ts_recv_ns, self._answer_seq, event))

    def _schedule(self, time_ns: int, kind: int, cid: str) -> None:
        self._action_seq += 1
        heapq.heappush(self._pending, (time_ns, self._action_seq, kind, cid))

    def _run_due(self, until_ns: int) -> None:
        pending = self._pending
        while pending and pending[0][0] <= until_ns:
            time_ns, _, kind, cid = heapq.heappop(pending)
            if kind == _ARRIVE:
                self._arrive(cid, time_ns)
            elif kind == _CANCEL:
                self._cancel_now(cid, time_ns, "")
            elif kind == _FUNDING:
                self._settle_funding(cid, time_ns)
            else:
                self._expire(cid, time_ns)

    # ================================================================== funding (rule 12.6)
    def _on_funding_rate(self, token: _Token, event: FundingRate) -> None:
        """Keep a perpetual's rate and schedule the settlement at its next funding time."""
        instrument = token.instrument
        if instrument is None or not instrument.perpetual:
            self.stats.ignored_events += 1
            return
        self._funding_ppb[token.token_id] = event.rate_ppb
        due = (token.token_id, event.next_funding_ns)
        if event.next_funding_ns > event.ts_event_ns and due not in self._funding_due:
            self._funding_due.add(due)
            self._schedule(event.next_funding_ns, _FUNDING, token.token_id)

    def _settle_funding(self, token_id: str, now: int) -> None:
        """Charge or credit the position held in ``token_id`` its funding at ``now`` and
        report it to the desk (a ``FundingPayment`` received at ``now``).

        Raises:
            ValueError: the book has no mid to value the position at.
        """
        self._funding_due.discard((token_id, now))
        held = self.ledger.holdings(token_id)
        if not held:
            return
        mark = self._tokens[token_id].book.mid()
        if mark is None:
            raise ValueError(f"funding of {token_id} at {now} ns: the book has no mid price")
        rate = self._funding_ppb[token_id]
        amount = funding_of_size(held, mark, rate)
        self.ledger.settle_funding(token_id, amount)
        self.stats.funding_settlements += 1
        self._send(
            FundingPayment(
                ts_event_ns=now,
                ts_recv_ns=now,
                funding_id=f"{self.run_id}/funding/{token_id}/{now}",
                token_id=token_id,
                amount=amount,
                size=held,
                mark_price=mark,
                rate_ppb=rate,
            )
        )

    # ================================================================== arrival (rules 2–3)
    def _arrive(self, cid: str, now: int) -> None:
        working = self._orders[cid]
        order = working.order
        token = self._tokens.get(order.token_id)
        if token is None:
            self._reject(working, now, reasons.UNKNOWN_TOKEN, f"unknown token {order.token_id}")
            return
        instrument = token.instrument
        problem = validation.structural_problem(order)
        if instrument is not None:
            if problem is None:
                problem = validation.instrument_problem(order, instrument)
        else:
            if problem is None and not self._accepting[token.market_id]:
                problem = (reasons.MARKET_NOT_ACCEPTING, f"market {token.market_id} not accepting")
            if problem is None:
                problem = validation.price_problem(order.price, token.tick_size)
            if problem is None:
                problem = validation.size_problem(
                    order, token.min_order_size, self.config.min_market_notional_micros
                )
        if problem is None:
            problem = validation.expiry_problem(order, now, self._gtd_margin_ns)
        if problem is not None:
            self._reject(working, now, *problem)
            return
        take = available_take(
            token.book,
            token.consumed,
            order.side,
            order.price,
            size=order.size,
            notional=order.notional,
        )
        if order.post_only and take.size:
            self._reject(working, now, reasons.POST_ONLY_WOULD_CROSS, "post-only order would cross")
            return
        fees = [token.taker_fee(order.side, price, qty) for price, qty in take.levels]
        cash_fees = sum(fee for fee, fee_size in fees if not fee_size)
        short_ok = instrument is not None and instrument.perpetual
        if short_ok:
            shortfall = self._collateral_problem(token, order)
            if shortfall is not None:
                self._reject(working, now, reasons.INSUFFICIENT_BALANCE, shortfall)
                return
        elif order.side is Side.BUY:
            if order.notional:
                need = order.notional + cash_fees
            else:
                need = notional_micros(order.price, order.size, Rounding.UP) + cash_fees
            free = self.ledger.free_cash()
            if free < need:
                self._reject(
                    working,
                    now,
                    reasons.INSUFFICIENT_BALANCE,
                    f"needs {need} pUSD micro, {free} free",
                )
                return
            if self.cash_checks is not None:
                self.cash_checks.append((now, self.ledger.starting_cash - free + need))
        elif self.ledger.free_tokens(order.token_id) < order.size:
            self._reject(
                working,
                now,
                reasons.INSUFFICIENT_BALANCE,
                f"needs {order.size} tokens, {self.ledger.free_tokens(order.token_id)} free",
            )
            return
        if order.time_in_force is TimeInForce.FOK and not take.complete:
            self._reject(
                working,
                now,
                reasons.FOK_NOT_FILLED,
                f"{take.size} of the order available within the limit",
            )
            return
        # accepted
        self._arrival_seq += 1
        working.sequence = self._arrival_seq
        order.venue_order_id = f"{self.run_id}/v{self._arrival_seq}"
        order.status = OrderStatus.ACCEPTED
        order.ts_updated_ns = now
        self.stats.orders_accepted += 1
        self._answer(
            OrderAccepted(
                ts_event_ns=now,
                ts_recv_ns=now,
                client_order_id=cid,
                venue_order_id=order.venue_order_id,
            )
        )
        book_side = order.side.opposite
        for (price, qty), (fee, fee_size) in zip(take.levels, fees, strict=True):
            token.consumed.consume(book_side, price, qty)
            level = token.levels.get((book_side, price))
            if level is not None:  # our own flow eats the queue ahead of our orders there
                self.queue.on_trade(level.orders, qty, reach=False)
            self.ledger.settle_fill(order.side, order.token_id, price, qty, fee, fee_size=fee_size)
            order.filled_size += qty
            self._emit_fill(working, token, (price, qty, fee, fee_size), LiquiditySide.TAKER, now)
        if order.notional or order.time_in_force is TimeInForce.FOK:
            self._finish(working, now, take.complete)
            return
        remaining = working.remaining
        if remaining == 0:
            self._finish(working, now, True)
            return
        if order.time_in_force is TimeInForce.FAK:
            self._finish(working, now, False)
            return
        # GTC / GTD: the rest rests as a maker (rule 4.1)
        working.reserved = self._reservation(token, order, remaining)
        self.ledger.reserve(order.side, order.token_id, working.reserved)
        self.queue.on_new_order(
            working, token.consumed.available(token.book, order.side, order.price)
        )
        working.resting = True
        level = token.levels.get((order.side, order.price))
        if level is None:
            level = token.levels[(order.side, order.price)] = _Level()
        level.orders.append(working)
        if order.filled_size:
            order.status = OrderStatus.PARTIALLY_FILLED
        if order.time_in_force is TimeInForce.GTD:
            self._schedule(order.expire_at_ns - self._gtd_margin_ns, _EXPIRE, cid)

    def _reservation(self, token: _Token, order: VenueOrder, remaining: int) -> int:
        """What a resting order's open ``remaining`` holds (rule 6; rule 12 for instruments):
        a BUY its notional rounded up (plus its maker fee when paid in the quote: none on
        Polymarket, none on spot, whose BUY pays in the base, rule 12.4), a SELL the shares;
        nothing on a perpetual (rule 12.5 checks collateral on arrival instead)."""
        instrument = token.instrument
        if instrument is not None and instrument.perpetual:
            return 0
        if order.side is Side.SELL:
            return remaining
        fee, fee_size = token.maker_fee(order.side, order.price, remaining)
        return notional_micros(order.price, remaining, Rounding.UP) + (0 if fee_size else fee)

    def _collateral_problem(self, token: _Token, order: VenueOrder) -> str | None:
        """Rule 12.5: a perpetual order is accepted when the open notional of every perpetual
        position, with every open order on the side that grows it filled (this one included),
        valued at the mark (the book mid, else the order's price; this order's instrument at
        the higher of mark and limit), stays within the collateral: free cash + Σ held
        instrument units × mark (1×, fully collateralised)."""
        collateral = self.ledger.free_cash()
        gross = 0
        for other in self._tokens.values():
            instrument = other.instrument
            if instrument is None:
                continue
            held = self.ledger.holdings(other.token_id)
            mid = other.book.mid()
            mark = mid if mid is not None else order.price
            if held:
                collateral += notional_micros(mark, held)
            if not instrument.perpetual:
                continue
            buys = sells = 0
            for working in self._orders.values():
                open_order = working.order
                if open_order.token_id == other.token_id and (
                    working.resting or open_order is order
                ):
                    if open_order.side is Side.BUY:
                        buys += working.remaining
                    else:
                        sells += working.remaining
            worst = max(abs(held + buys), abs(held - sells))
            price = max(mark, order.price) if other is token else mark
            gross += notional_micros(price, worst, Rounding.UP)
        if gross > collateral:
            return f"open perpetual notional {gross} would exceed collateral {collateral} (1x)"
        return None

    def _finish(self, working: WorkingOrder, now: int, complete: bool) -> None:
        """Close a FOK/FAK/notional order after its arrival match: FILLED, or the remainder
        cancelled (FAK)."""
        order = working.order
        order.ts_updated_ns = now
        if complete:
            order.status = OrderStatus.FILLED
        else:
            order.status = OrderStatus.CANCELED
            self._answer(
                OrderCanceled(
                    ts_event_ns=now,
                    ts_recv_ns=now,
                    client_order_id=order.client_order_id,
                    venue_order_id=order.venue_order_id,
                    reason_code=reasons.FAK_REMAINDER_CANCELED,
                )
            )
        self._close(working)

    def _reject(self, working: WorkingOrder, now: int, code: str, message: str) -> None:
        order = working.order
        order.status = OrderStatus.REJECTED
        order.ts_updated_ns = now
        self.stats.orders_rejected += 1
        self.stats.rejections_by_code[code] = self.stats.rejections_by_code.get(code, 0) + 1
        self._answer(
            OrderRejected(
                ts_event_ns=now,
                ts_recv_ns=now,
                client_order_id=order.client_order_id,
                reason_code=code,
                message=message,
            )
        )
        self._close(working)

    def _close(self, working: WorkingOrder) -> None:
        cid = working.order.client_order_id
        del self._orders[cid]
        self._arrival_ns.pop(cid, None)
        self._closed.add(cid)

    # ================================================================== cancel / expiry (rule 7)
    def _cancel_now(self, cid: str, now: int, reason_code: str) -> None:
        working = self._orders.get(cid)
        if working is None:
            if cid in self._closed:
                self.stats.cancels_of_closed_orders += 1
                return
            self._unknown_order(cid, now)
            return
        if working.order.status is OrderStatus.PENDING_NEW:
            # only possible when cancel() named the id before submit() used it
            self._unknown_order(cid, now)
            return
        self._withdraw(working, now)
        working.order.status = OrderStatus.CANCELED
        self._answer(
            OrderCanceled(
                ts_event_ns=now,
                ts_recv_ns=now,
                client_order_id=cid,
                venue_order_id=working.order.venue_order_id,
                reason_code=reason_code,
            )
        )
        self._close(working)

    def _unknown_order(self, cid: str, now: int) -> None:
        self._answer(
            OrderRejected(
                ts_event_ns=now,
                ts_recv_ns=now,
                client_order_id=cid,
                reason_code=reasons.UNKNOWN_ORDER,
                message="cancel refused: the venue has not received this order",
            )
        )

    def _expire(self, cid: str, now: int) -> None:
        working = self._orders.get(cid)
        if working is None or not working.resting:
            return  # filled or cancelled before its expiry
        self._withdraw(working, now)
        working.order.status = OrderStatus.EXPIRED
        self._answer(
            OrderExpired(
                ts_event_ns=now,
                ts_recv_ns=now,
                client_order_id=cid,
                venue_order_id=working.order.venue_order_id,
            )
        )
        self._close(working)

    def _withdraw(self, working: WorkingOrder, now: int) -> None:
        """Take a resting order off its level and release its reservation."""
        order = working.order
        order.ts_updated_ns = now
        if not working.resting:
            return
        token = self._tokens[order.token_id]
        key = (order.side, order.price)
        level = token.levels[key]
        level.orders.remove(working)
        if not level.orders:
            del token.levels[key]
        working.resting = False
        self.ledger.release(order.side, order.token_id, working.reserved)
        working.reserved = 0

    # ================================================================== fills
    def _emit_fill(
        self,
        working: WorkingOrder,
        token: _Token,
        execution: tuple[int, int, int, int],
        liquidity: LiquiditySide,
        now: int,
    ) -> None:
        """Emit the fill of ``execution`` = (price, size, fee, fee_size)."""
        price, size, fee, fee_size = execution
        self._fill_seq += 1
        order = working.order
        self.stats.fills += 1
        if liquidity is LiquiditySide.MAKER:
            self.stats.maker_fills += 1
        else:
            self.stats.taker_fills += 1
        fill = Fill(
            fill_id=ids.fill_id(self.run_id, self._fill_seq),
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            token_id=token.token_id,
            market_id=token.market_id,
            side=order.side,
            price=price,
            size=size,
            fee=fee,
            liquidity=liquidity,
            ts_event_ns=now,
            ts_recv_ns=now,
            fee_size=fee_size,
        )
        self._answer(fill)
        if self._fill_reports:
            self._fills.append(FillReport.of(fill))

    def _maker_fill(self, working: WorkingOrder, token: _Token, size: int, now: int) -> None:
        """Fill ``size`` of a resting order at its own price, no fee on Polymarket (rule 4),
        the maker fee on an instrument (rule 12)."""
        order = working.order
        remaining = working.remaining - size
        reserved = self._reservation(token, order, remaining)
        self.ledger.release(order.side, order.token_id, working.reserved - reserved)
        working.reserved = reserved
        fee, fee_size = token.maker_fee(order.side, order.price, size)
        self.ledger.settle_fill(
            order.side, order.token_id, order.price, size, fee, fee_size=fee_size
        )
        order.filled_size += size
        order.ts_updated_ns = now
        self._emit_fill(
            working, token, (order.price, size, fee, fee_size), LiquiditySide.MAKER, now
        )
        if remaining == 0:
            order.status = OrderStatus.FILLED
            self._withdraw(working, now)
            self._close(working)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED

    # ================================================================== market events
    def _on_book(self, token: _Token, event: BookSnapshot | BookDelta) -> None:
        book = token.book
        ts = event.ts_event_ns
        levels = token.levels
        if not levels:
            if isinstance(event, BookDelta):
                book.apply_levels(event.bids, event.asks, ts)
            else:
                book.apply_snapshot(event.bids, event.asks, ts)
            if token.consumed:
                token.consumed.forget_removed(book)
            return
        old_sizes: dict[LevelKey, int] = {}  # a price listed twice in a delta counts once
        if isinstance(event, BookDelta):
            for price, _ in event.bids:
                key = (Side.BUY, price)
                if key in levels and key not in old_sizes:
                    old_sizes[key] = book.size_at(Side.BUY, price)
            for price, _ in event.asks:
                key = (Side.SELL, price)
                if key in levels and key not in old_sizes:
                    old_sizes[key] = book.size_at(Side.SELL, price)
            book.apply_levels(event.bids, event.asks, ts)
        else:
            old_sizes = {key: book.size_at(key[0], key[1]) for key in levels}
            book.apply_snapshot(event.bids, event.asks, ts)
        if token.consumed:
            token.consumed.forget_removed(book)
        accepting = token.instrument is not None or self._accepting[token.market_id]
        for key, old_size in sorted(old_sizes.items(), key=_priority):
            new_size = book.size_at(key[0], key[1])
            if new_size != old_size and key in levels:
                self._level_changed(token, key, old_size, new_size, ts, accepting)
        if accepting and levels:
            self._cross(token, ts)

    def _level_changed(  # noqa: PLR0917 - private hot-path helper
        self, token: _Token, key: LevelKey, old_size: int, new_size: int, now: int, accepting: bool
    ) -> None:
        """Rules 4.3–4.4: the level we rest at went from ``old_size`` to ``new_size``."""
        level = token.levels[key]
        explained = level.explained
        level.explained = 0
        drop = old_size - new_size
        if drop <= 0:
            return  # new liquidity joins behind us
        unexplained = drop - explained if drop > explained else 0
        self.queue.on_level_change(
            level.orders,
            old_size,
            new_size,
            unexplained,
            reach=accepting,
            trade_fed=token.trade_fed,
        )
        self._fill_reached(token, level, now)

    def _fill_reached(self, token: _Token, level: _Level, now: int) -> None:
        """Fill, as makers, what the queue model says our orders at ``level`` were reached by."""
        for working, size in self.queue.fillable(level.orders):
            self._maker_fill(working, token, size, now)

    def _cross(self, token: _Token, now: int) -> None:
        """Rule 4.5: a resting order whose price the opposite side now crosses fills as a maker
        at its own price against the available crossing liquidity."""
        book = token.book
        best_ask = book.best_ask()
        best_bid = book.best_bid()
        crossed = [
            key
            for key in token.levels
            if (key[0] is Side.BUY and best_ask is not None and key[1] >= best_ask)
            or (key[0] is Side.SELL and best_bid is not None and key[1] <= best_bid)
        ]
        if not crossed:
            return
        crossed.sort(key=lambda key: _priority((key, 0)))
        for key in crossed:
            level = token.levels.get(key)
            if level is None:
                continue
            side, price = key
            for working in list(level.orders):
                take = available_take(book, token.consumed, side, price, size=working.remaining)
                if not take.size:
                    break
                for level_price, qty in take.levels:
                    token.consumed.consume(side.opposite, level_price, qty)
                working.queue_ahead = 0
                self._maker_fill(working, token, take.size, now)

    def _on_trade(self, token: _Token, trade: Trade) -> None:
        """Rule 4.2: a public trade fills resting orders it reaches, on its token and (with
        ``complement_fills``) on the complementary token at the mirrored price."""
        if trade.size <= 0 or trade.price <= 0 or (token.instrument is None and trade.price >= ONE):
            raise ValueError(f"trade with a price outside (0, 1) or a non-positive size: {trade}")
        token.trade_fed = True
        legs = [(token, trade.price, trade.aggressor)]
        complement = (
            self._tokens.get(token.complement_id)
            if self._complement_fills and token.complement_id
            else None
        )
        if complement is not None:
            complement.trade_fed = True
            mirrored = trade.aggressor.opposite if trade.aggressor is not None else None
            legs.append((complement, ONE - trade.price, mirrored))
        left = trade.size
        for leg_token, price, aggressor in legs:
            left = self._trade_leg(leg_token, price, aggressor, trade.size, left, trade.ts_event_ns)

    def _trade_leg(  # noqa: PLR0917 - private helper of rule 4.2
        self,
        token: _Token,
        price: int,
        aggressor: Side | None,
        size: int,
        left: int,
        now: int,
    ) -> int:
        """One token's side of rule 4.2: a trade of ``size`` at ``price`` (aggressor as seen
        from this token) with ``left`` of its volume still unclaimed by our orders; returns
        what is left."""
        accepting = token.instrument is not None or self._accepting[token.market_id]
        sides = []
        if aggressor is not Side.BUY:
            sides.append(Side.BUY)  # sellers hit bids
        if aggressor is not Side.SELL:
            sides.append(Side.SELL)  # buyers lift asks
        for side in sides:
            at_trade = token.levels.get((side, price))
            if at_trade is not None:
                at_trade.explained += size
            through = sorted(
                (
                    key
                    for key in token.levels
                    if key[0] is side and (key[1] >= price if side is Side.BUY else key[1] <= price)
                ),
                key=lambda key: _priority((key, 0)),
            )
            for key in through:
                level = token.levels.get(key)
                if level is None:
                    continue
                if key[1] != price:  # traded through our better price: nobody is ahead of us
                    for working in level.orders:
                        working.queue_ahead = 0
                left = self.queue.on_trade(level.orders, left, reach=accepting)
                self._fill_reached(token, level, now)
        return left

    def _on_tick_size(self, token: _Token, event: TickSizeChange) -> None:
        """Rule 8: new tick; resting orders off the new grid or range are cancelled."""
        if event.new_tick_size <= 0:
            raise ValueError(f"non-positive tick size {event.new_tick_size}")
        token.tick_size = event.new_tick_size
        off_grid = sorted(
            (
                working
                for level in token.levels.values()
                for working in level.orders
                if validation.price_problem(working.order.price, token.tick_size) is not None
            ),
            key=lambda working: working.sequence,
        )
        for working in off_grid:
            self._cancel_now(
                working.order.client_order_id, event.ts_event_ns, reasons.TICK_SIZE_CHANGED
            )

    def _on_status(self, event: MarketStatus) -> None:
        """Rules 9 and 11: a market's accepting flag; closed or resolved markets cancel our
        orders; a resolution with a winning token redeems our tokens of the market once."""
        market_id = event.market_id
        if market_id not in self._accepting:
            self.stats.ignored_events += 1
            return
        tokens = self._market_tokens[market_id]
        winner = event.winning_token_id
        resolves = event.state is MarketState.RESOLVED and bool(winner)
        if resolves and winner not in tokens:
            raise ValueError(f"market {market_id}: winning token {winner} is not one of its tokens")
        closed = event.state in (MarketState.CLOSED, MarketState.RESOLVED)
        redeemed = market_id in self._redeemed
        self._accepting[market_id] = event.accepting_orders and not closed and not redeemed
        if closed:
            in_market = set(tokens)
            resting = [
                working
                for working in self._orders.values()
                if working.resting and working.order.token_id in in_market
            ]
            for working in resting:
                self._cancel_now(
                    working.order.client_order_id, event.ts_event_ns, reasons.MARKET_CLOSED
                )
        if resolves and not redeemed:
            self._redeemed.add(market_id)
            for token_id in tokens:
                self.ledger.redeem(token_id, ONE if token_id == winner else 0)


def _priority(item: tuple[LevelKey, int]) -> tuple[int, int]:
    """Price priority of our levels: bids first, highest first; then asks, lowest first."""
    (side, price), _ = item
    return (0, -price) if side is Side.BUY else (1, price)
