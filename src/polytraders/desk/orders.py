"""``OrderManager``: the only path from an approved, routed intent to the venue.

Rules (DESIGN.md "The desk" step 4):

1. **One client order id, the execution bot's.** Every order keeps the id the execution bot
   gave it, ``contracts.ids.client_order_id(intent id, k)`` (the desk has checked that it
   derives from the intent: :func:`~polytraders.contracts.authority.route_plan_problems`); the
   venue, the store, fills and strategies see that same id. An id already used (in
   ``state.orders`` or retired from it, rule 8; restored orders included after a restart) is
   never sent again: the order is refused (``SYS_DUPLICATE_ORDER``) and the tracked order
   under that id is left as it was.
2. **Cancel-before-place.** The orders to cancel are the plan's ``cancel_client_order_ids``
   plus, for a CANCEL or REPLACE intent, every open order of ``target_intent_id``. Cancels go
   out first; the plan's new orders are held back until every cancelled order is closed at the
   venue (cancelled, filled, expired or rejected), so a replace never has old and new orders
   working at once. Held orders whose cancels are not confirmed within the ack time-out are
   dropped (``SYS_ACK_TIMEOUT``).
3. **Rate limit.** New orders draw from a token bucket of ``order_burst_count`` tokens refilled
   at ``order_rate_per_s``; an order finding the bucket empty is refused locally
   (``SYS_RATE_LIMITED``). Cancels are never rate-limited (they reduce risk).
4. **Ack time-out.** An order still PENDING_NEW ``ack_timeout_ms`` after it was sent counts as
   an error (``SYS_ACK_TIMEOUT``) and is cancelled at the venue (its state is unknown; the safe
   action is to withdraw it).
5. **Venue events** update the desk's copy of each order: ``OrderAccepted`` → ACCEPTED;
   ``Fill`` → filled size, PARTIALLY_FILLED or FILLED, and the fill is booked in the ledger
   (idempotent by fill id); ``OrderCanceled``/``OrderExpired``/``OrderRejected`` close it.
   FOK/FAK orders never rest (``../shared/POLYMARKET.md`` "Orders"): one still open at the end
   of the venue batch that accepted it is closed — FILLED if anything filled, else CANCELED.
   A ``FundingPayment`` (a perpetual's funding settled on the account) concerns no order: it
   is booked in the ledger's cash and funding line, once per ``funding_id``
   (:meth:`~polytraders.accounting.ledger.Ledger.apply_funding`), and handed to the journal
   and to :meth:`OrderManager.take_funding_booked` (the desk records an envelope for it).
6. **One owner.** The manager is the only writer of the desk's copies (``state.orders``);
   a venue keeps its own copy of what it was sent and reports changes only as events. A
   closed order (filled, cancelled, rejected, expired) leaves the open-order index exactly
   once and its status never changes again; a fill reported after it closed (a trade matched
   just before a cancel) still adds to its filled size.
7. **Journal.** Every change of an order's status, filled size or venue id, every fill
   booked or reverted and every funding payment booked, goes to the optional
   :class:`OrderJournal` as it happens (a run's
   event store, flushed with the envelope batches), so a crash loses at most what was not
   flushed. :attr:`OrderManagerStats.order_states` and ``fills_booked`` count what was
   journaled.
8. **Retirement.** A closed order without fills leaves ``state.orders``
   :data:`CLOSED_ORDER_RETENTION_NS` of desk time after its last change, once its intent is
   no longer working (:meth:`DeskState.retire_order`): only its id stays, in the compact
   ``state.retired_order_ids``, and it is still refused as a duplicate (rule 1). An event
   about a retired order is counted in ``unknown_order_events``. Orders with fills stay (the
   run's fills name them), so the order table holds the open orders, the orders with fills
   and the last window's closed ones, not every order of the run. After a restart, the ids
   retired before the checkpoint are refused through their intents (the risk chain's
   restored ``intents_seen`` refuses a reused intent id before it is routed). How long, and
   whether orders with fills retire too, is an :class:`OrderRetention` setting: the
   backtest's is the default above; a live session's (:meth:`OrderRetention.for_venue`)
   follows its venue's memory of closed orders and retires orders with fills too — their
   :class:`Fill` objects leave :attr:`OrderManager.fills`, their ids stay in
   :attr:`OrderManager.booked_fill_ids`, so reconciliation still counts them booked (and the
   ledger still refuses them twice).

Local refusals (rate limit, duplicate, ack time-out of held orders) become ``OrderRejected``
events with the registered code, delivered with the venue's events (:meth:`drain_local`), so
strategies and the record see one stream. Every id, time and count is a function of the inputs:
no wall clock, no randomness.
"""

from __future__ import annotations

import logging
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from polytraders.contracts.decisions import RoutePlan
from polytraders.desk.state import DeskState
from polytraders.model.events import (
    FundingPayment,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
)
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, VenueOrder
from polytraders.venues.base import Venue, VenueEvent

_LOG = logging.getLogger(__name__)

SYS_DUPLICATE_ORDER = "SYS_DUPLICATE_ORDER"
SYS_RATE_LIMITED = "SYS_RATE_LIMITED"
SYS_ACK_TIMEOUT = "SYS_ACK_TIMEOUT"

_NS_PER_MS = 1_000_000
_TOKEN = 1_000_000_000
"""One rate-limit token in bucket units (refill ``rate`` tokens/s = ``rate`` units/ns)."""

CLOSED_ORDER_RETENTION_NS = 3_600 * 1_000_000_000
"""Desk time a closed order without fills stays in ``state.orders`` after its last change
(rule 8): one hour, far beyond any venue's late answer (a fill or cancel confirmation
crossing the close); the default run over the shipped sample (4.75 h) retires most of its
orders, a session of minutes none."""
_RETIRE_EVERY_NS = 1_000_000_000
"""Desk time between two looks for orders to retire."""

LIVE_RETENTION_MARGIN_S = 60
"""How much longer than its venue a live desk keeps a closed order (s;
:meth:`OrderRetention.for_venue`): the venue counts its retention from the order's last
change but keeps the order until its trades are final, which on Polymarket (matched, mined,
confirmed on Polygon) takes seconds, rarely a minute."""


class OrderRetention(msgspec.Struct, frozen=True, kw_only=True):
    """Which closed orders leave ``state.orders``, and when (rule 8).

    Fields:
        closed_order_ns: desk time a closed order stays after its last change (ns).
        with_fills: orders with fills retire too, and their fills leave
            :attr:`OrderManager.fills` (their ids stay in
            :attr:`OrderManager.booked_fill_ids`). False (the backtest's): they stay, as a
            backtest's results list every fill.
    """

    closed_order_ns: int = CLOSED_ORDER_RETENTION_NS
    with_fills: bool = False

    @classmethod
    def for_venue(cls, venue_closed_order_retention_s: int) -> OrderRetention:
        """A live session's retention: orders with fills too, each kept
        :data:`LIVE_RETENTION_MARGIN_S` longer than the venue keeps a closed order
        (Polymarket: ``closed_order_retention_s`` after its last change, once its trades are
        final), so the desk still knows every order the venue can still report on.

        A venue report about an order the desk has retired all the same (a trade final only
        after the margin) is safe: a fill is still booked (ledger, journal,
        :attr:`OrderManager.booked_fill_ids`) and counted in ``unknown_order_events``; a
        failed trade is still reversed by the ledger, which needs no order; reconciliation
        lists only open orders."""
        retention_s = venue_closed_order_retention_s + LIVE_RETENTION_MARGIN_S
        return cls(closed_order_ns=retention_s * 1_000_000_000, with_fills=True)


class OrderJournal(Protocol):
    """Receives the desk's order and fill records as they happen (the event store of a run).

    Calls come in the order things happened; the journal must not keep the ``order`` object
    (the manager goes on changing it): copy what it records.
    """

    def order_changed(self, order: VenueOrder) -> None:
        """One new lifecycle state of ``order`` (new, accepted, partially filled, closed …)."""
        ...

    def fill_booked(self, fill: Fill) -> None:
        """A fill was booked in the ledger (once per fill id)."""
        ...

    def fill_reverted(self, fill: Fill, reason_code: str, ts_ns: int) -> None:
        """A booked fill was taken back at ``ts_ns`` (its trade failed, ``reason_code``)."""
        ...

    def funding_booked(self, payment: FundingPayment) -> None:
        """A funding payment was booked in the ledger (once per funding id)."""
        ...


class OrderArchive(Protocol):
    """Keeps, out of memory, what a run's outputs list that retirement takes away (rule 8):
    every fill booked or reverted, in order, and every order with fills as it retires.
    Calls come in the order things happened; the archive must not keep the objects."""

    def fill_booked(self, fill: Fill) -> None:
        """A fill was booked in the ledger (once per fill id; retired orders' too)."""
        ...

    def fill_reverted(self, fill: Fill) -> None:
        """A booked fill was taken back (it leaves the fills listed)."""
        ...

    def order_retired(self, order: VenueOrder) -> None:
        """An order with fills left ``state.orders`` (its last state)."""
        ...


class FillListener(Protocol):
    """Told of every fill booked or reverted, after the ledger (the desk's MetaAllocator)."""

    def fill_booked(self, fill: Fill, order: VenueOrder | None) -> None:
        """A fill was booked (once per fill id); ``order`` is its order (None when unknown),
        before the fill is added to its filled size."""
        ...

    def fill_reverted(self, fill: Fill) -> None:
        """A booked fill was taken back."""
        ...


class OrderManagerConfig(BaseModel):
    """Order-manager limits."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    ack_timeout_ms: int = Field(default=5_000, ge=1, le=600_000)
    """An order not acknowledged this long after it was sent is an error and is cancelled."""

    order_rate_per_s: int = Field(default=50, ge=1, le=10_000)
    """Token-bucket refill: new orders per second sustained."""

    order_burst_count: int = Field(default=50, ge=1, le=10_000)
    """Token-bucket capacity: new orders allowed in a burst."""


class TokenBucket:
    """The order-rate limit (rule 3): ``burst_count`` tokens, full at the start, refilled at
    ``rate_per_s`` tokens a second from the first :meth:`take` on, in exact integer units of
    10⁻⁹ token."""

    __slots__ = ("_capacity", "_level", "_level_ns", "_rate")

    def __init__(self, rate_per_s: int, burst_count: int) -> None:
        self._rate = rate_per_s
        self._capacity = burst_count * _TOKEN
        self._level = self._capacity
        self._level_ns: int | None = None

    def take(self, now_ns: int) -> bool:
        """Refill up to ``now_ns`` and take one token; False (nothing taken) when less than
        one is left."""
        if self._level_ns is None:
            self._level_ns = now_ns
        elif now_ns > self._level_ns:
            self._level = min(self._capacity, self._level + (now_ns - self._level_ns) * self._rate)
            self._level_ns = now_ns
        if self._level < _TOKEN:
            return False
        self._level -= _TOKEN
        return True


@dataclass(slots=True)
class _Held:
    """New orders waiting for their cancels (cancel-before-place)."""

    waiting: set[str]
    orders: list[VenueOrder]
    since_ns: int


@dataclass(slots=True)
class OrderManagerStats:
    """Counters of the order manager's activity. ``order_states`` / ``fills_booked`` /
    ``fills_reverted`` / ``funding_booked``: records handed to the journal (counted with or
    without one); ``funding_payments``: funding payments the venue reported (duplicates
    included);
    ``terminal_kept``: status changes refused because the order had already closed;
    ``maker_fills_listed`` / ``taker_fills_listed``: fills booked and not reverted by
    liquidity, those of retired orders included (what :attr:`OrderManager.fills` would count
    without retirement)."""

    submitted: int = 0
    cancels_sent: int = 0
    rate_limited: int = 0
    duplicates: int = 0
    ack_timeouts: int = 0
    held_dropped: int = 0
    fills: int = 0
    fills_booked: int = 0
    fills_reverted: int = 0
    funding_payments: int = 0
    funding_booked: int = 0
    order_states: int = 0
    unknown_order_events: int = 0
    terminal_kept: int = 0
    maker_fills_listed: int = 0
    taker_fills_listed: int = 0
    rejections_by_code: dict[str, int] = field(default_factory=dict)


class OrderManager:
    """Sends orders for one run and tracks them in ``state.orders``.

    Args:
        venue: where orders go.
        state: the desk state (orders, ledger, error counters). After a restart it must hold
            the orders the run still tracked (a checkpoint's), closed ones too, so that no id
            is sent twice (retired ones: rule 8).
        config: limits.
        journal: where order states and fills are recorded as they happen (None: nowhere).
        retention: which closed orders retire, and when (rule 8; default: the backtest's).

    Attributes:
        fills: every fill booked and not reverted, in order; with ``retention.with_fills``,
            but those of orders retired (and of orders unknown when the fill came).
        booked_fill_ids: the id of every fill booked and not reverted, retired ones included.
        archive: None, or where every fill booked or reverted and every order retired with
            fills goes (:class:`OrderArchive`; set it before the first event).
        listener: None, or who is told of every fill booked or reverted (:class:`FillListener`).
        stats: counters.
        retired_created_ns: ``ts_created_ns`` of every order retired (rule 8), in retirement
            order: 8 bytes each, what a per-order count over time still needs.
    """

    def __init__(
        self,
        venue: Venue,
        state: DeskState,
        config: OrderManagerConfig | None = None,
        *,
        journal: OrderJournal | None = None,
        retention: OrderRetention | None = None,
    ) -> None:
        self.venue = venue
        self.state = state
        self.config = config if config is not None else OrderManagerConfig()
        self.journal = journal
        self.retention = retention if retention is not None else OrderRetention()
        self.fills: list[Fill] = []
        self.booked_fill_ids: set[str] = set()
        self.archive: OrderArchive | None = None
        self.listener: FillListener | None = None
        self.stats = OrderManagerStats()
        self._ack_timeout_ns = self.config.ack_timeout_ms * _NS_PER_MS
        self._bucket = TokenBucket(self.config.order_rate_per_s, self.config.order_burst_count)
        self._held: list[_Held] = []
        self._local: list[VenueEvent] = []
        self._funding_booked: list[FundingPayment] = []
        self._market_orders_open: list[str] = []
        self._timed_out: set[str] = set()
        self._held_ids: set[str] = set()
        self._by_intent: dict[str, list[str]] = {}
        """intent id → client order ids sent for it (so a cancel never scans all orders);
        seeded from the state's orders so a resumed desk can cancel what it placed before."""
        self._marks: dict[str, tuple[str, int, str]] = {}
        """client order id → (status, filled size, venue id) last journaled."""
        self._closing: deque[str] = deque()
        """Closed orders in the order they closed, to be retired (rule 8)."""
        self._next_retire_ns = 0
        self.retired_created_ns = array("q")
        for cid, order in state.orders.items():
            self._by_intent.setdefault(order.intent_id, []).append(cid)
            self._marks[cid] = _mark(order)
            if not order.status.is_open:
                self._closing.append(cid)

    # ------------------------------------------------------------------ sending
    def execute(self, intent: OrderIntent, plan: RoutePlan | None, now_ns: int) -> list[str]:
        """Carry out a routed intent: cancels first, then the plan's orders (held back until
        the cancels are confirmed). ``plan`` None (a refused route) still performs the
        CANCEL/REPLACE intent's cancels. An order whose client order id the desk already
        tracks is refused (``SYS_DUPLICATE_ORDER``, an ``OrderRejected`` from
        :meth:`drain_local`). Returns the client order ids of the new orders taken on."""
        targets: list[str] = []
        if plan is not None:
            targets.extend(plan.cancel_client_order_ids)
        if intent.action is not IntentAction.PLACE and intent.target_intent_id:
            known = self.state.orders
            for cid in self._by_intent.get(intent.target_intent_id, ()):
                previous = known.get(cid)
                if previous is not None and previous.status.is_open:
                    targets.append(cid)
        waiting: set[str] = set()
        for cid in dict.fromkeys(targets):
            if self._cancel(cid, now_ns):
                waiting.add(cid)
        if plan is None or not plan.orders:
            return []
        orders = [self._take(order, now_ns) for order in plan.orders if self._fresh(order, now_ns)]
        if not orders:
            return []
        if waiting:
            self._held.append(_Held(waiting, orders, now_ns))
            for order in orders:  # visible (PENDING_NEW) while held: counts as exposure
                self.state.add_order(order)
                self._held_ids.add(order.client_order_id)
                self._emit(order)
        else:
            for order in orders:
                self._submit(order, now_ns)
        return [o.client_order_id for o in orders]

    def _fresh(self, order: VenueOrder, now_ns: int) -> bool:
        """True when ``order``'s client order id was never used in the run; otherwise the
        order is refused (the tracked order under that id is not touched)."""
        cid = order.client_order_id
        if not self.state.knows_order(cid):
            return True
        self.stats.duplicates += 1
        _LOG.warning("client order id %s already used in this run; order not sent", cid)
        self._refuse(cid, now_ns, SYS_DUPLICATE_ORDER, "client order id already used")
        return False

    def _take(self, order: VenueOrder, now_ns: int) -> VenueOrder:
        """The desk's copy of a new order, PENDING_NEW (its client order id unchanged)."""
        self._by_intent.setdefault(order.intent_id, []).append(order.client_order_id)
        return msgspec.structs.replace(
            order,
            status=OrderStatus.PENDING_NEW,
            filled_size=0,
            venue_order_id="",
            ts_created_ns=now_ns,
            ts_updated_ns=now_ns,
        )

    def _submit(self, order: VenueOrder, now_ns: int) -> None:
        cid = order.client_order_id
        if cid in self._held_ids:
            self._held_ids.discard(cid)
            order.ts_created_ns = order.ts_updated_ns = now_ns  # the ack clock starts now
        self.state.add_order(order)
        if not self._bucket.take(now_ns):
            self.stats.rate_limited += 1
            self._set(order, OrderStatus.REJECTED, "desk", SYS_RATE_LIMITED)
            self._emit(order)
            self._refuse(cid, now_ns, SYS_RATE_LIMITED, "desk token bucket empty")
            return
        self.stats.submitted += 1
        if order.time_in_force.rests is False:
            self._market_orders_open.append(cid)
        self._emit(order)
        self.venue.submit(order, now_ns)

    def _set(
        self, order: VenueOrder, status: OrderStatus, rejected_by: str = "", code: str = ""
    ) -> None:
        """Change an order's status, keeping the state's open-order index and the intent's
        outcome in step (``rejected_by`` "desk" or "venue" and ``code`` for a rejection). A
        closed order keeps its final status (rule 6): the change is refused and counted."""
        if not order.status.is_open:
            if status is not order.status:
                self.stats.terminal_kept += 1
                _LOG.warning(
                    "order %s is %s: not changed to %s", order.client_order_id, order.status, status
                )
            return
        order.status = status
        if not status.is_open:
            self.state.order_closed(order.client_order_id, rejected_by, code)
            self._closing.append(order.client_order_id)

    def _emit(self, order: VenueOrder) -> None:
        """Journal the order's current state if it changed since it was last journaled."""
        mark = _mark(order)
        if self._marks.get(order.client_order_id) == mark:
            return
        self._marks[order.client_order_id] = mark
        self.stats.order_states += 1
        if self.journal is not None:
            self.journal.order_changed(order)

    def _refuse(self, cid: str, now_ns: int, code: str, message: str) -> None:
        self._local.append(
            OrderRejected(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=cid,
                reason_code=code,
                message=message,
            )
        )

    def _cancel(self, cid: str, now_ns: int) -> bool:
        """Send a cancel for an open order; True when a confirmation is awaited. An order
        still held back (never sent) is withdrawn locally with an ``OrderCanceled``."""
        order = self.state.orders.get(cid)
        if order is None or not order.status.is_open:
            return False
        if cid in self._held_ids:
            self._held_ids.discard(cid)
            for held in self._held:
                held.orders = [o for o in held.orders if o.client_order_id != cid]
            self._held = [h for h in self._held if h.orders]
            self._set(order, OrderStatus.CANCELED)
            order.ts_updated_ns = now_ns
            self._emit(order)
            self._local.append(
                OrderCanceled(ts_event_ns=now_ns, ts_recv_ns=now_ns, client_order_id=cid)
            )
            return False
        if order.status is not OrderStatus.PENDING_CANCEL:
            self._set(order, OrderStatus.PENDING_CANCEL)
            order.ts_updated_ns = now_ns
            self.stats.cancels_sent += 1
            self._emit(order)
            self.venue.cancel(cid, now_ns)
        return True

    def adopt(self, order: VenueOrder) -> bool:
        """Hold an order the venue made on the desk's behalf (a protective stop triggered at
        the exchange): added to the state, journaled and counted like the desk's own
        (:attr:`OrderManagerStats.order_states`, so the run's end record agrees with the
        store), retired like them once closed. False (nothing done) when already held."""
        cid = order.client_order_id
        if cid in self.state.orders:
            return False
        self.state.add_order(order)
        if not order.status.is_open:
            self._closing.append(cid)
        self._emit(order)
        return True

    def cancel_all(self, now_ns: int) -> None:
        """Cancel every open order (kill switch, shutdown), drop every held order, and tell
        the venue to cancel all (catching orders the desk may not know of)."""
        for held in self._held:
            for order in held.orders:
                self._set(order, OrderStatus.CANCELED)
                order.ts_updated_ns = now_ns
                self._emit(order)
        self._held.clear()
        self._held_ids.clear()
        for order in self.state.open_orders():
            if order.status.is_open and order.status is not OrderStatus.PENDING_CANCEL:
                self._set(order, OrderStatus.PENDING_CANCEL)
                order.ts_updated_ns = now_ns
                self.stats.cancels_sent += 1
                self._emit(order)
        self.venue.cancel_all(now_ns)

    def cancel_orders(self, client_order_ids: list[str], now_ns: int) -> None:
        """Cancel these orders (a quarantined strategy's quotes): sent ones at the venue, held
        ones withdrawn locally; unknown or closed ones are skipped."""
        for cid in client_order_ids:
            self._cancel(cid, now_ns)

    # ------------------------------------------------------------------ time-outs
    def check_timeouts(self, now_ns: int) -> list[str]:
        """Apply the ack time-out (rules 2 and 4); return the affected client order ids."""
        affected: list[str] = []
        limit = now_ns - self._ack_timeout_ns
        for order in self.state.open_orders():
            cid = order.client_order_id
            if (
                order.status is OrderStatus.PENDING_NEW
                and order.ts_created_ns < limit
                and cid not in self._timed_out
                and cid not in self._held_ids
            ):
                self._timed_out.add(cid)
                affected.append(cid)
        for cid in affected:
            self.stats.ack_timeouts += 1
            self.state.record_error()
            _LOG.warning("order %s not acknowledged in %d ms", cid, self.config.ack_timeout_ms)
            self._cancel(cid, now_ns)
        keep: list[_Held] = []
        for held in self._held:
            if held.since_ns < limit:
                self.stats.held_dropped += len(held.orders)
                self.state.record_error()
                for order in held.orders:
                    self._held_ids.discard(order.client_order_id)
                    self._set(order, OrderStatus.REJECTED, "desk", SYS_ACK_TIMEOUT)
                    order.ts_updated_ns = now_ns
                    self._emit(order)
                    affected.append(order.client_order_id)
                    self._refuse(
                        order.client_order_id, now_ns, SYS_ACK_TIMEOUT, "cancels not confirmed"
                    )
            else:
                keep.append(held)
        self._held = keep
        return affected

    # ------------------------------------------------------------------ venue events
    def sync(self, now_ns: int) -> tuple[list[VenueEvent], list[VenueEvent]]:
        """Advance the venue to ``now_ns`` (it sends what is queued and learns what happened)
        and apply its events, then the local refusals, to the orders and the ledger; close the
        FOK/FAK orders of the batch (:meth:`end_of_batch`). Returns (every event applied, in
        order; the local refusals among them). Orders released by confirmed cancels go to the
        venue now and are answered at the next call."""
        self.venue.advance(now_ns)
        local = self.drain_local()
        events = [*self.venue.poll(), *local]
        for event in events:
            self.apply(event, now_ns)
        self.end_of_batch()
        if self._closing and now_ns >= self._next_retire_ns:
            self.retire(now_ns)
        return events, local

    def drain_local(self) -> list[VenueEvent]:
        """Local refusals since the last call (``OrderRejected`` with desk codes)."""
        events, self._local = self._local, []
        return events

    def take_funding_booked(self) -> list[FundingPayment]:
        """The funding payments booked since the last call, in order (read it, do not keep
        it: with none booked it is the manager's own empty list)."""
        booked = self._funding_booked
        if booked:  # on every desk step: no new list while there is nothing to hand over
            self._funding_booked = []
        return booked

    def apply(self, event: VenueEvent, now_ns: int) -> None:
        """Update the tracked order (and the ledger for a fill) from one venue event; the
        order's new state and a booked fill go to the journal. A funding payment is booked in
        the ledger and journaled (once per funding id; rule 5)."""
        if isinstance(event, FundingPayment):
            self.stats.funding_payments += 1
            if self.state.ledger.apply_funding(event):
                self.stats.funding_booked += 1
                self._funding_booked.append(event)
                if self.journal is not None:
                    self.journal.funding_booked(event)
            return
        cid = event.client_order_id
        order = self.state.orders.get(cid)
        if isinstance(event, Fill):
            self.stats.fills += 1
            if self.state.ledger.apply_fill(event):
                if order is not None or not self.retention.with_fills:
                    self.fills.append(event)  # (a retired order's fills are not listed)
                self.booked_fill_ids.add(event.fill_id)
                self.stats.fills_booked += 1
                self._count_listed(event, 1)
                if self.journal is not None:
                    self.journal.fill_booked(event)
                if self.archive is not None:
                    self.archive.fill_booked(event)
                if self.listener is not None:
                    self.listener.fill_booked(event, order)
            if order is None:
                self.stats.unknown_order_events += 1
                _LOG.warning("fill %s for unknown order %s booked", event.fill_id, cid)
                return
            order.filled_size += event.size
            order.ts_updated_ns = event.ts_event_ns
            self.state.order_changed(cid)
            if order.status.is_open and order.size and order.filled_size >= order.size:
                self._set(order, OrderStatus.FILLED)
            elif order.status in (OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW):
                self._set(order, OrderStatus.PARTIALLY_FILLED)
            self.state.record_success()
            self._emit(order)
            self._closed(cid, now_ns)
            return
        if order is None:
            self.stats.unknown_order_events += 1
            _LOG.warning("%s for unknown order %s", type(event).__name__, cid)
            return
        order.ts_updated_ns = event.ts_event_ns
        if isinstance(event, OrderAccepted):
            if order.status is OrderStatus.PENDING_NEW:
                order.venue_order_id = event.venue_order_id
                self._set(order, OrderStatus.ACCEPTED)
            elif not order.venue_order_id:
                order.venue_order_id = event.venue_order_id
            self.state.record_success()
        elif isinstance(event, OrderRejected):
            code = event.reason_code
            self.stats.rejections_by_code[code] = self.stats.rejections_by_code.get(code, 0) + 1
            if order.status.is_open and order.status is not OrderStatus.PENDING_CANCEL:
                self._set(order, OrderStatus.REJECTED, "venue", code)
                self.state.record_error()
            elif order.status is OrderStatus.PENDING_CANCEL and order.filled_size == 0:
                # the venue refused our cancel: the order is not working there
                self._set(order, OrderStatus.REJECTED, "venue", code)
        elif isinstance(event, OrderCanceled):
            self._set(order, OrderStatus.CANCELED)
        elif isinstance(event, OrderExpired):
            self._set(order, OrderStatus.EXPIRED)
        self._emit(order)
        self._closed(cid, now_ns)

    def revert(self, fill: Fill, reason_code: str, now_ns: int) -> None:
        """A booked fill was taken back (its trade failed; the ledger already reversed it):
        it leaves :attr:`fills`, its order's filled size drops by its size (the order's
        status, if closed, stays), and the journal records the reversal."""
        self.fills = [f for f in self.fills if f.fill_id != fill.fill_id]
        self.booked_fill_ids.discard(fill.fill_id)
        self.stats.fills_reverted += 1
        self._count_listed(fill, -1)
        if self.journal is not None:
            self.journal.fill_reverted(fill, reason_code, now_ns)
        if self.archive is not None:
            self.archive.fill_reverted(fill)
        if self.listener is not None:
            self.listener.fill_reverted(fill)
        order = self.state.orders.get(fill.client_order_id)
        if order is not None:
            order.filled_size = max(order.filled_size - fill.size, 0)
            order.ts_updated_ns = now_ns
            self.state.order_changed(fill.client_order_id)
            self._emit(order)

    def _count_listed(self, fill: Fill, by: int) -> None:
        if fill.liquidity is LiquiditySide.MAKER:
            self.stats.maker_fills_listed += by
        else:
            self.stats.taker_fills_listed += by

    def _closed(self, cid: str, now_ns: int) -> None:
        """Release held orders whose cancels are all confirmed."""
        order = self.state.orders.get(cid)
        if not self._held or order is None or order.status.is_open:
            return
        ready: list[_Held] = []
        for held in self._held:
            held.waiting.discard(cid)
            if not held.waiting:
                ready.append(held)
        if ready:
            self._held = [h for h in self._held if h.waiting]
            for held in ready:
                for new in held.orders:
                    self._submit(new, now_ns)

    def retire(self, now_ns: int) -> None:
        """Retire the closed orders due at ``now_ns`` (rule 8, :attr:`retention`;
        :meth:`sync` calls it at most once a second of desk time)."""
        self._next_retire_ns = now_ns + _RETIRE_EVERY_NS
        limit = now_ns - self.retention.closed_order_ns
        with_fills = self.retention.with_fills
        closing, orders, outcomes = self._closing, self.state.orders, self.state.outcomes
        filled: set[str] = set()
        for _ in range(len(closing)):
            order = orders.get(closing[0])
            if order is None or (order.filled_size and not with_fills):  # gone, or kept
                closing.popleft()
                continue
            if order.ts_updated_ns > limit:
                break
            cid = closing.popleft()
            if outcomes.is_working(order.intent_id):
                closing.append(cid)  # its intent's outcome still reads it: look again later
                continue
            self.state.retire_order(cid)
            self._marks.pop(cid, None)
            sent = self._by_intent.get(order.intent_id)
            if sent is not None and cid in sent:
                sent.remove(cid)
                if not sent:
                    del self._by_intent[order.intent_id]
            self._timed_out.discard(cid)
            self.retired_created_ns.append(order.ts_created_ns)
            if order.filled_size:
                filled.add(cid)
                if self.archive is not None:
                    self.archive.order_retired(order)
        if filled:  # their fills leave the list; their ids stay booked
            self.fills = [f for f in self.fills if f.client_order_id not in filled]

    def end_of_batch(self) -> None:
        """Close FOK/FAK orders the venue accepted in this batch and left open (rule 5)."""
        if not self._market_orders_open:
            return
        still: list[str] = []
        for cid in self._market_orders_open:
            order = self.state.orders[cid]
            if order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                self._set(order, OrderStatus.FILLED if order.filled_size else OrderStatus.CANCELED)
                self._emit(order)
            elif order.status.is_open:
                still.append(cid)
        self._market_orders_open = still


def _mark(order: VenueOrder) -> tuple[str, int, str]:
    """What a journaled order state is told apart by: status, filled size, venue id."""
    return (order.status.value, order.filled_size, order.venue_order_id)
