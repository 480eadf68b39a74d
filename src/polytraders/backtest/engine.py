"""Run a whole desk over a feed on the paper venue: the main job and the backtest engine.

:func:`run_desk` wires the feed (``polytraders.feeds.open_source``), the paper venue, the bots
of a :class:`~polytraders.backtest.desk_file.DeskFile`, the desk loop, the event store and the
envelope/metrics sinks, runs it on the simulated clock (optionally paced), and writes the
outputs: ``result.json``, ``envelopes.jsonl``, ``fills.csv`` and ``report.html``.

Determinism: the run id is derived from the desk file's config version, a digest of the input
data's bytes and the seed, so the same data, desk and seed give the same ids and a
byte-identical envelope timeline (``envelopes_sha256``) wherever the data lies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.funding import with_assumed_funding
from polytraders.backtest.outputs import OutputDir, OutputSet, write_run_files
from polytraders.backtest.report import TopOfBook, TopOfBookSeries
from polytraders.backtest.result import (
    BacktestResult,
    EnvelopeTally,
    FillBound,
    FillModel,
    compute_result,
    final_marks,
    money_of,
    settled_markets,
)
from polytraders.backtest.stop import StopRequest, stop_on_signals
from polytraders.contracts import ids
from polytraders.contracts.canonical import canonical_json
from polytraders.desk.desk import SYS_KILL_SWITCH_TRIPPED, Desk, DeskResult
from polytraders.desk.shadow_chain import SHADOW_SUFFIX, ShadowChain
from polytraders.desk.sinks import EnvelopeSink, FanoutSink, JsonlSink
from polytraders.desk.state import DeskState
from polytraders.feeds import Source, open_source
from polytraders.feeds.config import FeedConfig
from polytraders.feeds.digest import data_digest
from polytraders.model.events import (
    AnyEvent,
    KillSwitchTripped,
    MarketStatus,
    TradingState,
    TradingStateChanged,
)
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import VenueOrder
from polytraders.model.quote import QuoteCurrencyError, run_currency
from polytraders.ops.logs import set_run_id
from polytraders.ops.metrics import DeskMetrics
from polytraders.store.errors import StoreError, StoreWriteError
from polytraders.store.event_store import EventStore
from polytraders.store.journal import RunJournal
from polytraders.store.records import RunProduced, RunStatus
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.bounds import BOUND_MODELS, BoundVenues

_LOG = logging.getLogger(__name__)


class RunRefusedError(ValueError):
    """The run could not start (unusable data, output folder or store); nothing was recorded.
    The message is one line naming the file, folder or store and what is wrong."""


SYS_STORE_WRITE_FAILED = "SYS_STORE_WRITE_FAILED"
GOV_ROLLBACK_DRILL = "GOV_ROLLBACK_DRILL"
"""The reason code of a scheduled demotion (a rollback drill)."""
"""The store refused or lost a write: the desk halts (kill switch) and the run ends HALTED."""


class Progress(Protocol):
    """Told once how many records (rows, lines, frames) the data holds (None when it cannot
    say), then ``update(records_read, events_done)`` every few hundred events."""

    def start(self, total_records: int | None, unit: str) -> None:
        """The run starts; ``total_records`` of kind ``unit`` (e.g. ``rows``) are expected."""

    def update(self, records_read: int, events_done: int) -> None:
        """``records_read`` records read and ``events_done`` events processed so far."""


class RunOutcome(msgspec.Struct, kw_only=True):
    """What :func:`run_desk` produced: the computed result, how the run ended and where the
    evidence lies.

    Fields:
        desk_config: the desk that ran (:meth:`DeskFile.canonical`).
        status / status_detail: COMPLETED; HALTED with the reason code; FAILED with the error's
            type and message; INTERRUPTED with the signal's name.
        exit_signal: ``SIGINT``/``SIGTERM`` when interrupted, else empty.
        error: the exception that failed the run (None otherwise), for ``--debug`` tracebacks.
        store_error: why the store stopped recording (empty when it did not fail).
        attempt: the run's attempt number in the store (1 without a store); the store
            addresses it as ``RUN_ID@attempt``.
        shadow_run_id / shadow_envelopes / shadow_envelopes_sha256: the shadow chain's run id,
            envelope count and timeline SHA-256 (empty / 0 without ``shadow_desk``).
        markets: the run's markets (resolved ones with their outcome).
        orders: the orders the desk's order manager still tracked at the end (open ones, every
            one with a fill and the closed ones it had not retired yet, with
            ``ts_created_ns``), in the order the desk added them.
        retired_order_created_ns: ``ts_created_ns`` of the orders it retired during the run
            (closed without fills, :mod:`polytraders.desk.orders` rule 8): with ``orders``,
            every order of the run.
        partitions / jobs: a run split by market (:mod:`polytraders.backtest.partition`):
            its sub-runs (one per market) and the processes that ran them; 0 / 1 for a run of
            the whole desk.
    """

    result: BacktestResult
    desk_result: DeskResult
    desk_config: dict[str, Any]
    out_dir: Path | None
    store_url: str | None
    attempt: int
    status: RunStatus
    status_detail: str
    exit_signal: str
    error: Any
    store_error: str
    integrity_problems: list[str]
    feed_problems: dict[str, int]
    shadow_run_id: str = ""
    shadow_envelopes: int = 0
    shadow_envelopes_sha256: str = ""
    markets: tuple[Market, ...] = ()
    orders: tuple[VenueOrder, ...] = ()
    retired_order_created_ns: tuple[int, ...] = ()
    partitions: int = 0
    jobs: int = 1


def paced(
    events: Iterable[AnyEvent], speed: float | None, keepalive: Callable[[], None]
) -> Iterator[AnyEvent]:
    """Yield events no faster than ``speed`` × real time (None: as fast as possible); while
    waiting, call ``keepalive`` at least once a second (the store's lease stays alive through a
    quiet stretch of a paced replay)."""
    if speed is None:
        yield from events
        return
    wall_start = time.monotonic()
    first_ns: int | None = None
    for event in events:
        if first_ns is None:
            first_ns = event.ts_event_ns
        due_s = (event.ts_event_ns - first_ns) / 1e9 / speed
        while (lag_s := due_s - (time.monotonic() - wall_start)) > 0:
            time.sleep(min(lag_s, 1.0))
            keepalive()
        yield event


class Keepalive:
    """Flushes the store (which renews the run's lease) when ``interval_s`` of wall time passed
    since the last flush; a no-op without a store."""

    def __init__(self, store: EventStore | None, interval_s: float = 5.0) -> None:
        self._store = store
        self._interval_s = interval_s
        self._last = time.monotonic()

    def __call__(self) -> None:
        if self._store is None:
            return
        now = time.monotonic()
        if now - self._last >= self._interval_s:
            self._last = now
            self._store.flush()


class _Telemetry:
    """Per-event bookkeeping of a run: top-of-book changes per token (for the report) and
    periodic progress and metrics updates. Reads desk state only."""

    def __init__(
        self,
        *,
        desk: Desk,
        venue: PaperVenue,
        metrics: DeskMetrics | None,
        progress: Progress | None,
        source: Source,
        feed: FeedConfig,
    ) -> None:
        self.source = source
        self.feed = feed
        self.desk = desk
        self.venue = venue
        self.metrics = metrics
        self.progress = progress
        self.tops = TopOfBookSeries()
        self.count = 0

    def after(self, event: AnyEvent) -> bool:
        """Book-keep one processed event; every 512 events (and at market status changes)
        check the feed's bad input against the threshold and report progress (returns True).

        Raises:
            FeedError: the feed's bad input so far is over ``[feed] max_bad_input_pct``.
        """
        self.count += 1
        observe_top(self.tops, self.desk.state, event)
        if self.count % 512 == 0 or isinstance(event, MarketStatus):
            self.source.stats.check(self.feed)  # FeedError: too much bad input so far
            self.report(event.ts_event_ns, event.ts_recv_ns)
            return True
        return False

    def report(self, now_ns: int, recv_ns: int = 0) -> None:
        if self.progress is not None:
            self.progress.update(self.source.stats.records_read, self.count)
        if self.metrics is None:
            return
        state = self.desk.state
        self.metrics.update_desk_totals(
            now_ns=now_ns,
            events=self.count,
            orders=self.desk.orders.stats.submitted,
            maker_fills=self.venue.stats.maker_fills,
            taker_fills=self.venue.stats.taker_fills,
            pnl_micros=state.equity - state.ledger.initial_cash,
            equity_micros=state.equity,
            trading_state=state.trading_state,
            feed_lag_ns=max(recv_ns - now_ns, 0) if recv_ns else None,
        )


def observe_top(tops: TopOfBookSeries, state: DeskState, event: AnyEvent) -> None:
    """Note the top of the book of the token ``event`` concerns (if any), after the desk
    applied it (the report's top-of-book lines)."""
    token_id = getattr(event, "token_id", None)
    if token_id is not None:
        book = state.book(token_id)
        if book is not None:
            tops.observe(token_id, event.ts_event_ns, book.best_bid(), book.best_ask())


def halt_reason(desk: Desk) -> str | None:
    """The reason code of the desk's halt or kill-switch trip (latest), None while trading."""
    events = desk.result().desk_events
    if desk.state.kill_switch_tripped:
        trips = [e for e in events if isinstance(e, KillSwitchTripped)]
        return trips[-1].reason_code if trips else SYS_KILL_SWITCH_TRIPPED
    if desk.state.trading_state is TradingState.HALTED:
        halts = [
            e
            for e in events
            if isinstance(e, TradingStateChanged) and e.new_state is TradingState.HALTED
        ]
        return halts[-1].reason_code if halts else None
    return None


def run_desk(
    *,
    data: str | Path,
    desk_file: DeskFile,
    out_dir: Path | None = None,
    store_url: str | None = None,
    speed: float | None = None,
    metrics: DeskMetrics | None = None,
    progress: Progress | None = None,
    report_token: str | None = None,
    fill_bounds: bool = True,
    sinks: Sequence[EnvelopeSink] = (),
    shadow_desk: DeskFile | None = None,
    shadow_sinks: Sequence[EnvelopeSink] = (),
    demotions: Mapping[str, int] | None = None,
    jobs: int = 1,
) -> RunOutcome:
    """Run the desk of ``desk_file`` over ``data`` on the paper venue; record and write it.

    Lifecycle: the run is recorded as RUNNING, then ends COMPLETED, HALTED (the desk halted or
    the kill switch tripped, with its reason code; also when the store failed, with
    ``SYS_STORE_WRITE_FAILED``: the store is detached, the kill switch trips and the run goes
    on recording to the other sinks), FAILED (an exception, with its type and message) or
    INTERRUPTED (SIGINT/SIGTERM, handled inside: the desk cancels everything and shuts down).
    Outputs are written for every ending, to a staging folder renamed into ``out_dir``.

    Args:
        data: anything ``polytraders.feeds.open_source`` accepts.
        desk_file: bots, venue settings, seed (user strategies included, see ``source``).
        out_dir: where result.json, envelopes.jsonl, fills.csv and report.html go (None:
            nothing written).
        store_url: event store (SQLite path/URL or PostgreSQL URL; None: no store).
        speed: pace events at ``speed`` × real time (1.0 = real time); None = as fast as possible.
        metrics: Prometheus metrics fed with every envelope and the desk gauges.
        progress: callback for progress reporting.
        report_token: token the report's fills-on-the-book selector shows first (default:
            the one with most fills).
        fill_bounds: also fill the same orders under the pessimistic and optimistic queue
            models in the same pass (shadow venues, :mod:`polytraders.venues.paper.bounds`) and
            report their figures in ``fill_model.bounds``; False skips them (faster).
        sinks: further envelope sinks fed every envelope of the run, after the run's own
            (e.g. a :class:`~polytraders.backtest.shadow_decisions.DecisionTap`).
        shadow_desk: a candidate desk whose risk chain decides beside this desk's on every
            intent, never applied (:class:`~polytraders.desk.shadow_chain.ShadowChain`; its run
            id is the one the candidate desk would have over the same data, plus ``-shadow``);
            its strategies and execution bots are not used. Its envelopes go to
            ``shadow_sinks`` only (neither the outputs nor the store).
        demotions: scheduled demotions, bot id → number of events processed before the desk
            demotes it (:meth:`~polytraders.desk.desk.Desk.demote` with
            ``GOV_ROLLBACK_DRILL``): a rollback drill. They are part of the run's identity (its
            run id differs from the same desk's plain run).
        jobs: processes for a run split by market. When nothing couples the run's markets
            (:func:`~polytraders.backtest.partition.couplings`) the run is always split: one
            sub-run per market on ``jobs`` processes, merged in a fixed order, the same for any
            ``jobs`` (:func:`~polytraders.backtest.partition.run_partitioned`). Otherwise the
            whole desk runs in this process, and ``jobs`` above 1 is refused.

    Raises:
        RunRefusedError: unusable data (also instruments of unknown quote currency, or data
            whose markets and instruments are in more than one currency:
            :func:`~polytraders.model.quote.run_currency`), ``out_dir``, store or ``jobs``
            (also ``jobs`` above 1 for a desk whose markets are coupled, naming what couples
            them), or the store refused the run's start (nothing was recorded).
        WorkerDiedError: a process of a split run died or could not report (the run is
            recorded FAILED; no outputs are written).
        OSError: the outputs could not be written (the run is recorded in the store).
    """
    started_wall = time.perf_counter()
    if jobs < 1:
        raise RunRefusedError(f"--jobs {jobs}: must be at least 1")
    try:
        source = open_source(data)
        # a progress bar needs the total: counting it reads the whole data once, so damage
        # anywhere in a file is refused here, before anything is recorded
        total_records = source.expected_records() if progress is not None else None
        outputs = OutputDir(out_dir) if out_dir is not None else None
    except (ValueError, OSError) as exc:  # FeedError, OutputDirError, a missing file
        raise RunRefusedError(str(exc)) from exc
    desk_config = desk_file.canonical()
    digest = data_digest(data)
    schedule = sorted((demotions or {}).items(), key=lambda item: (item[1], item[0]))
    try:
        run_currency(source.markets, source.instruments)
    except QuoteCurrencyError as exc:
        if outputs is not None:
            outputs.discard()
        raise RunRefusedError(str(exc)) from exc
    spot_funded = sorted(
        i.token_id
        for i in source.instruments
        if i.token_id in desk_file.venue.funding_rates_ppb and not i.perpetual
    )
    if spot_funded:
        if outputs is not None:
            outputs.discard()
        raise RunRefusedError(
            f"[venue] funding_rates_ppb: {', '.join(spot_funded)} is not a perpetual"
        )
    unpriced = sorted({m.category for m in source.markets} - desk_file.venue.fee_rates_ppm.keys())
    if unpriced:
        if outputs is not None:
            outputs.discard()
        raise RunRefusedError(
            f"[venue] fee_rates_ppm: no taker fee rate for the data's market categories "
            f"{', '.join(unpriced)}"
        )
    # imported here: the partition module builds on this one
    from polytraders.backtest import partition

    coupled = partition.couplings(
        desk_file, source.markets, shadow=shadow_desk is not None, drills=bool(schedule)
    )
    if coupled and jobs > 1:
        if outputs is not None:
            outputs.discard()
        raise RunRefusedError(partition.refusal(jobs, coupled))
    run = RunSinks(outputs=outputs, store_url=store_url, metrics=metrics, sinks=sinks)
    inputs = RunInputs(
        data=data,
        source=source,
        desk_file=desk_file,
        digest=digest,
        speed=speed,
        metrics=metrics,
        progress=progress,
        total_records=total_records,
        fill_bounds=fill_bounds,
    )
    if coupled:
        products = _run_whole(
            run, inputs, shadow_desk=shadow_desk, shadow_sinks=shadow_sinks, schedule=schedule
        )
    else:
        products = partition.run_partitioned(run, inputs, jobs=jobs)
    return conclude(
        products,
        desk_file=desk_file,
        desk_config=desk_config,
        source=source,
        outputs=outputs,
        report_token=report_token,
        wall_s=time.perf_counter() - started_wall,
        store_url=store_url,
    )


class RunInputs(NamedTuple):
    """What a run reads (:func:`run_desk`'s arguments): the data as given, opened and its
    digest; the desk; the pace; where metrics and progress go; the number of records expected
    (for the progress bar); whether the fill model's bounds run beside."""

    data: str | Path
    source: Source
    desk_file: DeskFile
    digest: str
    speed: float | None
    metrics: DeskMetrics | None
    progress: Progress | None
    total_records: int | None
    fill_bounds: bool


class RunSinks:
    """Where a run's own envelopes go, and what the run holds open meanwhile.

    Entering opens the store (``store_url``, :func:`open_store`; None: none) and, with
    ``outputs``, the timeline file ``envelopes.jsonl`` in their staging folder; :attr:`fanout`
    records into :attr:`tally`, the timeline file, ``metrics``, ``sinks`` and the store, in that
    order. Leaving with an exception (also when the store cannot be opened) discards the staged
    outputs; leaving in any case closes the timeline file and the store (:func:`close_store`
    with :attr:`ending`, which the run sets).

    Raises (entering):
        RunRefusedError: the store cannot be opened.
    """

    def __init__(
        self,
        *,
        outputs: OutputDir | None,
        store_url: str | None,
        metrics: DeskMetrics | None,
        sinks: Sequence[EnvelopeSink],
    ) -> None:
        self.outputs = outputs
        self._store_url = store_url
        self._extra: list[EnvelopeSink] = [*([metrics] if metrics is not None else []), *sinks]
        self.store: EventStore | None = None
        self.jsonl: JsonlSink | None = None
        self.tally = EnvelopeTally()
        self.fanout = FanoutSink([])
        self.ending: Ending | None = None

    def __enter__(self) -> RunSinks:
        try:
            self.store = open_store(self._store_url)
            targets: list[EnvelopeSink] = [self.tally]
            if self.outputs is not None:
                self.jsonl = JsonlSink(self.outputs.staging / "envelopes.jsonl")
                targets.append(self.jsonl)
            targets.extend(self._extra)
            if self.store is not None:
                targets.append(self.store)
            self.fanout = FanoutSink(targets)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None and self.outputs is not None:
                self.outputs.discard()
        finally:
            if self.jsonl is not None:
                self.jsonl.close()
            if self.store is not None:
                close_store(self.store, self.ending)


def _run_whole(
    run: RunSinks,
    inputs: RunInputs,
    *,
    shadow_desk: DeskFile | None,
    shadow_sinks: Sequence[EnvelopeSink],
    schedule: Sequence[tuple[str, int]],
) -> RunProducts:
    """The whole desk in this process (:func:`run_desk`'s arguments), recorded through
    ``run``."""
    data, source, desk_file, digest, speed, metrics, progress, total_records, fill_bounds = inputs
    run_id = ids.run_id(
        desk_file.config_version,
        digest,
        desk_file.seed,
        *([f"demotions={canonical_json(schedule)}"] if schedule else []),
    )
    set_run_id(run_id)
    with run:
        store = run.store
        strategies, risk, execution = desk_file.build_slots()
        venue = PaperVenue(desk_file.venue, source.markets, run_id, instruments=source.instruments)
        bound_venues = (
            BoundVenues(venue, source.markets, source.instruments) if fill_bounds else None
        )
        attempt = 1
        if store is not None:
            attempt = start_run(
                store=store, run_id=run_id, desk_file=desk_file, data=data, source=source
            )
        fanout = run.fanout
        shadow = (
            ShadowChain(
                shadow_desk.build_slots()[1],
                run_id=ids.run_id(shadow_desk.config_version, digest, shadow_desk.seed)
                + SHADOW_SUFFIX,
                sink=FanoutSink(shadow_sinks),
                desk_config_version=shadow_desk.desk.config_version,
                require_known_tokens=shadow_desk.desk.require_known_tokens,
            )
            if shadow_desk is not None
            else None
        )
        desk = Desk(
            run_id=run_id,
            venue=bound_venues if bound_venues is not None else venue,
            strategies=strategies,
            risk=risk,
            execution=execution,
            markets=source.markets,
            instruments=source.instruments,
            sink=fanout,
            config=desk_file.desk,
            account=desk_file.account.identity(),
            # order states and fills stream into the store with the envelopes, as they happen
            journal=RunJournal(store, f"{run_id}@{attempt}") if store is not None else None,
            shadow=shadow,
            unwind=desk_file.build_unwind_slot(),
        )
        telemetry = _Telemetry(
            desk=desk,
            venue=venue,
            metrics=metrics,
            progress=progress,
            source=source,
            feed=desk_file.feed,
        )
        if progress is not None:
            progress.start(total_records, source.record_counter or "records")
        funding_ppb = assumed_funding(desk_file, source)
        ending = run.ending = _replay(
            desk=desk,
            source=source,
            funding_ppb=funding_ppb,
            speed=speed,
            telemetry=telemetry,
            fanout=fanout,
            store=store,
            schedule=schedule,
        )
        desk_result = desk.result()
        telemetry.report(desk_result.last_event_ns)
        integrity: list[str] = []
        if store is not None and ending.store_error is None:
            stats = desk.orders.stats
            integrity = record_end(
                store,
                f"{run_id}@{attempt}",
                ended_ns=desk_result.last_event_ns,
                produced=RunProduced(
                    envelopes=desk_result.envelope_count,
                    orders=stats.order_states,
                    fills=stats.fills_booked,
                ),
                ending=ending,
            )
    return RunProducts(
        run_id=run_id,
        ending=ending,
        attempt=attempt,
        integrity=integrity,
        desk_result=desk_result,
        markets=settled_markets(source.markets, desk.state),
        final_marks=final_marks(desk.state, source.markets, source.instruments),
        venue_rejections=dict(venue.stats.rejections_by_code),
        funding_micros=venue.ledger.funding if funding_ppb else None,
        bound_fills=(
            {which: bound_venues.fills(which) for which in bound_venues.shadows}
            if bound_venues is not None
            else None
        ),
        top_of_book=telemetry.tops.series,
        orders=desk.state.orders,
        retired_order_created_ns=tuple(desk.orders.retired_created_ns),
        tally=run.tally,
        shadow=shadow,
    )


class RunProducts(msgspec.Struct, kw_only=True):
    """What a run produced and how it ended, as its figures and outputs are computed from it.

    Fields:
        run_id / ending / attempt: the run, how its replay ended, its attempt in the store (1
            without a store).
        integrity: the store's integrity problems with the run (empty: sound, or no store).
        desk_result: the desk's result (fills, equity curve, desk events, timeline digest).
        markets: the run's markets, resolved ones with their payouts (:func:`settled_markets`).
        final_marks: token id → mark price at the end (:func:`final_marks`).
        venue_rejections: reason code → orders the venue rejected.
        funding_micros: net funding the paper venue credited (negative: charged) under the
            assumed rates; None when the run had none (:func:`assumed_funding`).
        bound_fills: bound (``PESSIMISTIC``/``OPTIMISTIC``) → the fills of its shadow venue,
            for each bound a shadow computed; None when the bounds were not computed.
        top_of_book: token id → its top-of-book changes (the report's lines).
        orders: client order id → the desk's order.
        retired_order_created_ns: as :class:`RunOutcome`'s.
        tally: the envelope counts (:class:`EnvelopeTally`).
        shadow: the shadow chain that decided beside the desk (None without a shadow desk).
        partitions / jobs: as :class:`RunOutcome`'s.
    """

    run_id: str
    ending: Ending
    attempt: int
    integrity: list[str]
    desk_result: DeskResult
    markets: list[Market]
    final_marks: dict[str, int]
    venue_rejections: dict[str, int]
    bound_fills: dict[str, list[Fill]] | None
    top_of_book: Mapping[str, Sequence[TopOfBook]]
    orders: dict[str, VenueOrder]
    tally: EnvelopeTally
    retired_order_created_ns: tuple[int, ...] = ()
    funding_micros: int | None = None
    shadow: ShadowChain | None = None
    partitions: int = 0
    jobs: int = 1


def conclude(
    products: RunProducts,
    *,
    desk_file: DeskFile,
    desk_config: dict[str, Any],
    source: Source,
    outputs: OutputDir | None,
    report_token: str | None,
    wall_s: float,
    store_url: str | None,
) -> RunOutcome:
    """Compute a run's result from what it produced, write its outputs into the staging
    folder of ``outputs`` and move them into place (None: nothing written).

    Raises:
        OSError: the outputs could not be written.
    """
    desk_result = products.desk_result
    ending = products.ending
    shadow = products.shadow
    markets = products.markets
    marks = products.final_marks
    feed_problems = dict(source.stats.bad_input)
    equity_curve = [(p.ts_ns, p.equity) for p in desk_result.equity_curve]
    result = compute_result(
        run_id=products.run_id,
        seed=desk_file.seed,
        config_version=desk_file.config_version,
        synthetic=source.synthetic,
        markets=markets,
        fills=desk_result.fills,
        equity_curve=equity_curve,
        tally=products.tally,
        envelopes_sha256=desk_result.timeline_sha256,
        events=desk_result.events_processed,
        first_event_ns=desk_result.first_event_ns,
        last_event_ns=desk_result.last_event_ns,
        orders=desk_result.orders_submitted,
        venue_rejections=products.venue_rejections,
        final_marks=marks,
        wall_s=wall_s,
        feed_problems=feed_problems,
        fill_model=FillModel.of(desk_file.venue),
        desk_events=desk_result.desk_events,
        status=ending.status.value,
        status_detail=ending.detail,
        instruments=source.instruments,
        funding_micros=products.funding_micros,
        desk_funding_micros=desk_result.ledger.funding
        if products.funding_micros is not None or desk_result.ledger.funding_payments
        else None,
    )
    if products.bound_fills is not None:
        result.fill_model = FillModel.of(
            desk_file.venue,
            _bounds(products.bound_fills, result, markets, marks, source.instruments),
        )
    if outputs is not None:
        write_run_files(
            outputs.staging,
            OutputSet(
                result=result,
                equity_curve=equity_curve,
                fills=desk_result.fills,
                orders=products.orders,
                markets=markets,
                top_of_book=products.top_of_book,
                config=desk_config,
                chosen_token=report_token,
                instruments=source.instruments,
            ),
        )
        outputs.commit()
    return RunOutcome(
        result=result,
        desk_result=desk_result,
        desk_config=desk_config,
        out_dir=outputs.target if outputs is not None else None,
        store_url=store_url,
        attempt=products.attempt,
        status=ending.status,
        status_detail=ending.detail,
        exit_signal=ending.signal_name,
        error=ending.error,
        store_error=str(ending.store_error) if ending.store_error is not None else "",
        integrity_problems=products.integrity,
        feed_problems=feed_problems,
        shadow_run_id=shadow.run_id if shadow is not None else "",
        shadow_envelopes=shadow.envelope_count if shadow is not None else 0,
        shadow_envelopes_sha256=shadow.timeline_sha256() if shadow is not None else "",
        markets=tuple(markets),
        orders=tuple(products.orders.values()),
        retired_order_created_ns=products.retired_order_created_ns,
        partitions=products.partitions,
        jobs=products.jobs,
    )


def _bounds(
    bound_fills: dict[str, list[Fill]],
    result: BacktestResult,
    markets: Sequence[Market],
    final_marks: dict[str, int],
    instruments: Sequence[Instrument],
) -> tuple[FillBound, ...]:
    """Both bounds: a shadow's figures, or the run's own where its queue model is the bound's."""
    bounds = []
    for which, model in BOUND_MODELS.items():
        if which in bound_fills:
            money, _ = money_of(bound_fills[which], markets, final_marks, instruments)
        else:
            money = result.money
        bounds.append(FillBound(which=which, queue_model=model, money=money))
    return tuple(bounds)


def open_store(store_url: str | None) -> EventStore | None:
    """The run's event store (None without a URL).

    Raises:
        RunRefusedError: the store cannot be opened (bad URL, unreachable, read-only).
    """
    if store_url is None:
        return None
    try:
        return EventStore.open(store_url)
    except StoreError as exc:
        raise RunRefusedError(str(exc)) from exc


def start_run(
    *,
    store: EventStore,
    run_id: str,
    desk_file: DeskFile,
    data: str | Path,
    source: Source,
) -> int:
    """Record the run's start; returns its attempt number in the store.

    Raises:
        RunRefusedError: the store refused the start (nothing was recorded).
    """
    try:
        return store.start_run(
            run_id=run_id,
            started_ns=0,
            seed=desk_file.seed,
            desk_config=desk_file.canonical(),
            desk_config_version=desk_file.config_version,
            data_source=str(data),
            synthetic=source.synthetic,
        ).attempt
    except StoreError as exc:
        raise RunRefusedError(str(exc)) from exc


def record_end(
    store: EventStore, ref: str, *, ended_ns: int, produced: RunProduced, ending: Ending
) -> list[str]:
    """Record how the run ended with what it produced (its envelopes, order states and fills
    are in the store already), and return the integrity check's problems. A store that fails
    now is noted in ``ending`` and reported as a problem (the run is then left without an end
    record: incomplete for the check)."""
    try:
        store.end_run(
            ref, ended_ns=ended_ns, status=ending.status, detail=ending.detail, produced=produced
        )
        store.flush()
    except StoreWriteError as exc:
        ending.store_error = exc
        return [f"{ref}: the store failed while recording the run's end: {exc}"]
    return store.check_integrity(ref)


def close_store(store: EventStore, ending: Ending | None) -> None:
    """Close the store; after it failed during the run, the rows it still holds pending
    cannot be written either: that failure is the one already reported in ``ending``."""
    if ending is None or ending.store_error is None:
        store.close()
        return
    try:
        store.close()
    except StoreWriteError as exc:
        _LOG.warning("store closed with rows it could not write (already reported): %s", exc)


class Ending(msgspec.Struct, kw_only=True):
    """How a run's replay ended."""

    status: RunStatus = RunStatus.COMPLETED
    detail: str = ""
    signal_name: str = ""
    error: BaseException | None = None
    store_error: StoreWriteError | None = None

    def stopped_or_failed(self, stop: StopRequest) -> bool:
        """INTERRUPTED when ``stop`` was requested, else FAILED when :attr:`error` is set
        (with its type and message); returns whether either applied."""
        if stop.requested:
            self.status, self.detail = RunStatus.INTERRUPTED, stop.signal_name
            self.signal_name = stop.signal_name
        elif self.error is not None:
            self.status = RunStatus.FAILED
            self.detail = f"{type(self.error).__name__}: {self.error}"
        else:
            return False
        return True


def assumed_funding(desk_file: DeskFile, source: Source) -> dict[str, int]:
    """The assumed funding rates (``[venue] funding_rates_ppb``) of the data's perpetuals,
    token id → ppb; rates for instruments the data lacks are not used."""
    perpetuals = {i.token_id for i in source.instruments if i.perpetual}
    rates = desk_file.venue.funding_rates_ppb
    return {token_id: rate for token_id, rate in rates.items() if token_id in perpetuals}


def _replay(
    *,
    desk: Desk,
    source: Source,
    funding_ppb: Mapping[str, int],
    speed: float | None,
    telemetry: _Telemetry,
    fanout: FanoutSink,
    store: EventStore | None,
    schedule: Sequence[tuple[str, int]] = (),
) -> Ending:
    """Feed every event to the desk until the data ends, a signal arrives, the store fails or
    something raises; then shut the desk down (cancel all, HALTED, flush) and say how it ended.
    ``schedule``: (bot id, events processed) at which the desk demotes the bot (a drill).
    ``funding_ppb``: assumed funding rates interleaved as events (:func:`with_assumed_funding`).
    """
    ending = Ending()
    pending = list(schedule)
    with stop_on_signals() as stop:
        try:
            keepalive = Keepalive(store)
            events = with_assumed_funding(source.events(), funding_ppb)
            for event in paced(events, speed, keepalive):
                while pending and desk.events_processed >= pending[0][1]:
                    bot_id, _after = pending.pop(0)
                    desk.demote(bot_id, reason_code=GOV_ROLLBACK_DRILL, source="rollback drill")
                desk.process(event)
                if telemetry.after(event):
                    keepalive()
                if stop.requested:
                    break
            if not stop.requested:
                source.stats.check(telemetry.feed)  # the whole pass against the threshold
        except StoreWriteError as exc:
            if store is not None:
                fanout.remove(store)
                desk.orders.journal = None
            ending.store_error = exc
            desk.trip_kill_switch(SYS_STORE_WRITE_FAILED, "desk", str(exc))
        except Exception as exc:
            ending.error = exc
        if not ending.stopped_or_failed(stop):
            reason = halt_reason(desk)
            if reason is not None:
                ending.status, ending.detail = RunStatus.HALTED, reason
            elif desk.events_processed == 0:
                ending.status, ending.detail = RunStatus.FAILED, "the data yielded no events"
        try:
            desk.shutdown()
        except StoreWriteError as exc:
            if store is not None:
                fanout.remove(store)
                desk.orders.journal = None
            ending.store_error = exc
            ending.status, ending.detail = RunStatus.HALTED, SYS_STORE_WRITE_FAILED
        except Exception as exc:
            if ending.error is None:
                ending.error = exc
                ending.status = RunStatus.FAILED
                ending.detail = f"{type(exc).__name__} at shutdown: {exc}"
    return ending
