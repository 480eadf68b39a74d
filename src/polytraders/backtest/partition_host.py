"""The sub-runs of a run split by market, as one process hosts them
(:mod:`polytraders.backtest.partition`).

A sub-run is the desk of the run's desk file over its markets (usually one): its own bots
(built from the desk file, seeded as the whole desk's are), its own paper venue over those
markets with the venue's starting cash (and the bound venues beside it), its own envelope
timeline (a JSON lines file), fed only those markets' events. Its run id is the run's plus
``/p<k>``, ``k`` its index, so the ids it derives (venue orders, fills, causation ids) never
meet another sub-run's. A :class:`PartitionHost` holds some sub-runs, added as the data reaches
them, feeds each event to its sub-run and, at the end, shuts every one down and reports what it
produced as a :class:`PartitionResult` (plain data: it crosses process boundaries).

A sub-run is never told about another: nothing it does depends on which process runs it or
which other sub-runs share that process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import halt_reason, observe_top
from polytraders.backtest.report import TopOfBook, TopOfBookSeries
from polytraders.backtest.result import final_marks, settled_markets
from polytraders.desk.desk import Desk, DeskResult
from polytraders.desk.sinks import JsonlSink
from polytraders.model.events import AnyEvent, FundingPayment
from polytraders.model.fills import Fill
from polytraders.model.market import Market
from polytraders.model.orders import VenueOrder
from polytraders.venues.base import Venue, VenueEvent
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.bounds import BoundVenues

RUN_VENUE = "RUN"
"""Key of the run's own venue in :attr:`PartitionResult.cash_in_use` (the bounds' shadow
venues are keyed by their bound, ``PESSIMISTIC`` / ``OPTIMISTIC``)."""


class Partition(msgspec.Struct, frozen=True, kw_only=True):
    """One sub-run: its ``index`` (the order the data reached it in), its ``markets`` (in the
    data's order) and its ``run_id``."""

    index: int
    markets: list[Market]
    run_id: str


class HostSetup(msgspec.Struct, frozen=True, kw_only=True):
    """What a host needs to build its sub-runs (plain data, sent to worker processes).

    Fields:
        desk: the desk file as data (``DeskFile.model_dump(mode="json")``); ``base_dir`` the
            folder its relative bot sources resolve against.
        fill_bounds: run the bound venues beside each sub-run's venue.
        folder: where sub-run ``k`` writes its envelope timeline, ``p<k>.jsonl``.
    """

    desk: dict[str, Any]
    base_dir: str
    fill_bounds: bool
    folder: str

    def desk_file(self) -> DeskFile:
        """The desk file, validated again.

        Raises:
            DeskFileError: it does not validate (only if it changed on the way).
        """
        return DeskFile.from_mapping(self.desk, "<split run>", base_dir=Path(self.base_dir))

    def timeline(self, index: int) -> Path:
        """The envelope timeline file of sub-run ``index``."""
        return Path(self.folder) / f"p{index}.jsonl"


class PartitionResult(msgspec.Struct, kw_only=True):
    """What one sub-run produced (see :class:`_SubRun`).

    Fields:
        index: the sub-run (:attr:`Partition.index`).
        error: the exception that stopped it, as ``Type: message`` ("" when none).
        halt_reason: the reason code of a halt or kill-switch trip before the shutdown ("").
        desk_result: its desk's result (its timeline is the file :meth:`HostSetup.timeline`).
        markets: its markets, with the payouts of those that resolved.
        final_marks: token id → mark price at the end.
        orders: every order its desk tracked at the end, in the order added.
        retired_order_created_ns: ``ts_created_ns`` of the orders its desk retired (closed
            without fills) during the sub-run.
        journal: its order states and booked fills, in the order they happened (what a store
            would have received).
        order_states / fills_booked: how many of each the journal holds.
        intent_ids: every intent id that entered its risk chain (sorted).
        venue_rejections: reason code → orders its venue rejected.
        bound_fills: bound → its shadow venue's fills (None without bounds).
        cash_in_use: venue (:data:`RUN_VENUE` or a bound) → the pUSD its account had
            committed over time (:class:`_CashInUse`).
        submits_ns: when each order went to the venue (one token of the order-rate limit
            each), in order.
        top_of_book: token id → its top-of-book changes.
    """

    index: int
    error: str
    halt_reason: str
    desk_result: DeskResult
    markets: list[Market]
    final_marks: dict[str, int]
    orders: list[VenueOrder]
    retired_order_created_ns: list[int]
    journal: list[VenueOrder | Fill]
    order_states: int
    fills_booked: int
    intent_ids: list[str]
    venue_rejections: dict[str, int]
    bound_fills: dict[str, list[Fill]] | None
    cash_in_use: dict[str, list[tuple[int, int]]]
    submits_ns: list[int]
    top_of_book: dict[str, list[TopOfBook]]


class _Journal:
    """An :class:`~polytraders.desk.orders.OrderJournal` that keeps copies, in order."""

    def __init__(self) -> None:
        self.records: list[VenueOrder | Fill] = []

    def order_changed(self, order: VenueOrder) -> None:
        self.records.append(msgspec.structs.replace(order))

    def fill_booked(self, fill: Fill) -> None:
        self.records.append(fill)

    def fill_reverted(self, fill: Fill, reason_code: str, ts_ns: int) -> None:
        raise RuntimeError(f"fill {fill.fill_id} reverted ({reason_code}): not on a paper venue")

    def funding_booked(self, payment: FundingPayment) -> None:
        raise RuntimeError(
            f"funding {payment.funding_id} booked in a partition: a run with funding is run whole"
        )


class _SubmitLog:
    """A venue that notes when each order is submitted, passing every call on to ``inner``."""

    def __init__(self, inner: Venue) -> None:
        self.inner = inner
        self.name = inner.name
        self.times_ns: list[int] = []

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self.times_ns.append(now_ns)
        self.inner.submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.inner.cancel(client_order_id, now_ns)

    def cancel_all(self, now_ns: int) -> None:
        self.inner.cancel_all(now_ns)

    def on_market_event(self, event: AnyEvent) -> None:
        self.inner.on_market_event(event)

    def advance(self, now_ns: int) -> None:
        self.inner.advance(now_ns)

    def poll(self) -> list[VenueEvent]:
        return self.inner.poll()

    def open_orders(self) -> Sequence[VenueOrder]:
        return self.inner.open_orders()

    def balances(self) -> dict[str, int]:
        return self.inner.balances()

    def heartbeat(self, now_ns: int) -> bool:
        return self.inner.heartbeat(now_ns)


class _CashInUse:
    """The pUSD a paper venue's account had committed over time, as ``(time ns, pUSD)``
    points in time order: each accepted BUY's balance check (what was committed with that
    order included, appended by the venue itself, :attr:`PaperVenue.cash_checks`) and, after
    each desk step where it changed, the level then (starting cash − free cash). Committed
    cash only grows when a BUY is accepted, so from each point to the next the account never
    had more committed than the larger of the two."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.points: list[tuple[int, int]] = []
        venue.cash_checks = self.points

    def sample(self, now_ns: int) -> None:
        """Note the level at ``now_ns`` if it differs from the last point."""
        ledger = self.venue.ledger
        level = ledger.starting_cash - ledger.free_cash()
        if level != (self.points[-1][1] if self.points else 0):
            self.points.append((now_ns, level))


class _SubRun:
    """The desk of one market (module docstring)."""

    def __init__(self, partition: Partition, desk_file: DeskFile, setup: HostSetup) -> None:
        markets = partition.markets
        self.partition = partition
        self.venue = PaperVenue(desk_file.venue, markets, partition.run_id)
        self.bounds = BoundVenues(self.venue, markets) if setup.fill_bounds else None
        self.submits = _SubmitLog(self.bounds if self.bounds is not None else self.venue)
        self.journal = _Journal()
        self.timeline = JsonlSink(setup.timeline(partition.index))
        self.tops = TopOfBookSeries()
        self.error = ""
        venues = {RUN_VENUE: self.venue, **(self.bounds.shadows if self.bounds else {})}
        self.cash = {name: _CashInUse(venue) for name, venue in venues.items()}
        strategies, risk, execution = desk_file.build_slots()
        self.desk = Desk(
            run_id=partition.run_id,
            venue=self.submits,
            strategies=strategies,
            risk=risk,
            execution=execution,
            markets=markets,
            sink=self.timeline,
            config=desk_file.desk,
            account=desk_file.account.identity(),
            journal=self.journal,
            unwind=desk_file.build_unwind_slot(),
        )

    def feed(self, event: AnyEvent) -> None:
        """Process one event of this market; an exception stops the sub-run (kept as its
        error; later events are dropped)."""
        if self.error:
            return
        try:
            self.desk.process(event)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            return
        observe_top(self.tops, self.desk.state, event)
        now_ns = self.desk.state.now_ns
        for cash in self.cash.values():
            cash.sample(now_ns)

    def finish(self) -> PartitionResult:
        """Shut the desk down (cancel all, let the venue confirm, HALTED) and report."""
        desk = self.desk
        halted = "" if self.error else halt_reason(desk) or ""
        try:
            desk.shutdown()
        except Exception as exc:
            if not self.error:
                self.error = f"{type(exc).__name__} at shutdown: {exc}"
        self.timeline.close()
        markets = settled_markets(self.partition.markets, desk.state)
        bound_fills = None
        if self.bounds is not None:
            bound_fills = {which: self.bounds.fills(which) for which in self.bounds.shadows}
        stats = desk.orders.stats
        return PartitionResult(
            index=self.partition.index,
            error=self.error,
            halt_reason=halted,
            desk_result=desk.result(),
            markets=markets,
            final_marks=final_marks(desk.state, markets),
            orders=list(desk.state.orders.values()),
            retired_order_created_ns=list(desk.orders.retired_created_ns),
            journal=self.journal.records,
            order_states=stats.order_states,
            fills_booked=stats.fills_booked,
            intent_ids=desk.risk.seen_intent_ids(),
            venue_rejections=dict(self.venue.stats.rejections_by_code),
            bound_fills=bound_fills,
            cash_in_use={name: cash.points for name, cash in self.cash.items()},
            submits_ns=self.submits.times_ns,
            top_of_book=self.tops.copy(),
        )


class PartitionHost:
    """Sub-runs of ``setup`` in one process, added with :meth:`add`.

    Raises (constructor):
        DeskFileError: the desk file does not validate.
    """

    def __init__(self, setup: HostSetup) -> None:
        self._setup = setup
        self._desk_file = setup.desk_file()
        self._subs: dict[int, _SubRun] = {}

    def add(self, partition: Partition) -> None:
        """Start the sub-run of ``partition`` (before any of its events).

        Raises:
            ValueError: a market the paper venue cannot trade.
        """
        self._subs[partition.index] = _SubRun(partition, self._desk_file, self._setup)

    def feed(self, index: int, event: AnyEvent) -> None:
        """Hand ``event`` to sub-run ``index``."""
        self._subs[index].feed(event)

    def finish(self) -> list[PartitionResult]:
        """Shut every sub-run down; their results in index order."""
        return [self._subs[k].finish() for k in sorted(self._subs)]
