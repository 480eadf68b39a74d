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
from typing import Any, Protocol

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.outputs import OutputDir, OutputSet, write_run_files
from polytraders.backtest.report import TopOfBookSeries
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
from polytraders.backtest.stop import stop_on_signals
from polytraders.contracts import ids
from polytraders.contracts.canonical import canonical_json
from polytraders.desk.desk import SYS_KILL_SWITCH_TRIPPED, Desk, DeskResult
from polytraders.desk.shadow_chain import SHADOW_SUFFIX, ShadowChain
from polytraders.desk.sinks import EnvelopeSink, FanoutSink, JsonlSink
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
from polytraders.model.market import Market
from polytraders.model.orders import VenueOrder
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


def _paced(
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


class _Keepalive:
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
        token_id = getattr(event, "token_id", None)
        if token_id is not None:
            book = self.desk.state.book(token_id)
            if book is not None:
                self.tops.observe(token_id, event.ts_event_ns, book.best_bid(), book.best_ask())
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


def _halt_reason(desk: Desk) -> str | None:
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

    Raises:
        RunRefusedError: unusable data, ``out_dir`` or store, or the store refused the run's
            start (nothing was recorded).
        OSError: the outputs could not be written (the run is recorded in the store).
    """
    started_wall = time.perf_counter()
    try:
        source = open_source(data)
        # a progress bar needs the total: counting it reads the whole data once, so damage
        # anywhere in a file is refused here, before anything is recorded
        total_records = source.expected_records() if progress is not None else None
        outputs = OutputDir(out_dir) if out_dir is not None else None
    except (ValueError, OSError) as exc:  # FeedError, OutputDirError, a missing file
        raise RunRefusedError(str(exc)) from exc
    desk_config = desk_file.canonical()
    config_version = desk_file.config_version
    digest = data_digest(data)
    schedule = sorted((demotions or {}).items(), key=lambda item: (item[1], item[0]))
    run_id = ids.run_id(
        config_version,
        digest,
        desk_file.seed,
        *([f"demotions={canonical_json(schedule)}"] if schedule else []),
    )
    set_run_id(run_id)
    store: EventStore | None = None
    jsonl: JsonlSink | None = None
    ending: _Ending | None = None
    try:
        try:
            store = EventStore.open(store_url) if store_url is not None else None
        except StoreError as exc:
            raise RunRefusedError(str(exc)) from exc
        strategies, risk, execution = desk_file.build_slots()
        venue = PaperVenue(desk_file.venue, source.markets, run_id)
        bound_venues = BoundVenues(venue, source.markets) if fill_bounds else None
        tally = EnvelopeTally()
        run_sinks: list[EnvelopeSink] = [tally]
        if outputs is not None:
            jsonl = JsonlSink(outputs.staging / "envelopes.jsonl")
            run_sinks.append(jsonl)
        if metrics is not None:
            run_sinks.append(metrics)
        run_sinks.extend(sinks)
        attempt = 1
        if store is not None:
            run_sinks.append(store)
            try:
                attempt = _start_run(
                    store=store,
                    run_id=run_id,
                    desk_file=desk_file,
                    desk_config=desk_config,
                    config_version=config_version,
                    data=data,
                    source=source,
                )
            except StoreError as exc:
                raise RunRefusedError(str(exc)) from exc
        fanout = FanoutSink(run_sinks)
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
            sink=fanout,
            config=desk_file.desk,
            account=desk_file.account.identity(),
            # order states and fills stream into the store with the envelopes, as they happen
            journal=RunJournal(store, f"{run_id}@{attempt}") if store is not None else None,
            shadow=shadow,
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
        ending = _replay(
            desk=desk,
            source=source,
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
            integrity = _record_end(store, f"{run_id}@{attempt}", desk, desk_result, ending)
    except BaseException:
        if outputs is not None:
            outputs.discard()
        raise
    finally:
        if jsonl is not None:
            jsonl.close()
        if store is not None:
            _close_store(store, ending)
    wall_s = time.perf_counter() - started_wall
    markets = settled_markets(source.markets, desk.state)
    feed_problems = dict(source.stats.bad_input)
    equity_curve = [(p.ts_ns, p.equity) for p in desk_result.equity_curve]
    marks = final_marks(desk.state, markets)
    result = compute_result(
        run_id=run_id,
        seed=desk_file.seed,
        config_version=config_version,
        synthetic=source.synthetic,
        markets=markets,
        fills=desk_result.fills,
        equity_curve=equity_curve,
        tally=tally,
        envelopes_sha256=desk_result.timeline_sha256,
        events=desk_result.events_processed,
        first_event_ns=desk_result.first_event_ns,
        last_event_ns=desk_result.last_event_ns,
        orders=desk_result.orders_submitted,
        venue_rejections=dict(venue.stats.rejections_by_code),
        final_marks=marks,
        wall_s=wall_s,
        feed_problems=feed_problems,
        fill_model=FillModel.of(desk_file.venue),
        desk_events=desk_result.desk_events,
        status=ending.status.value,
        status_detail=ending.detail,
    )
    if bound_venues is not None:
        result.fill_model = FillModel.of(
            desk_file.venue, _bounds(bound_venues, result, markets, marks)
        )
    if outputs is not None:
        write_run_files(
            outputs.staging,
            OutputSet(
                result=result,
                equity_curve=equity_curve,
                fills=desk_result.fills,
                orders=desk.state.orders,
                markets=markets,
                top_of_book=telemetry.tops.series,
                config=desk_config,
                chosen_token=report_token,
            ),
        )
        outputs.commit()
    return RunOutcome(
        result=result,
        desk_result=desk_result,
        desk_config=desk_config,
        out_dir=out_dir,
        store_url=store_url,
        attempt=attempt,
        status=ending.status,
        status_detail=ending.detail,
        exit_signal=ending.signal_name,
        error=ending.error,
        store_error=str(ending.store_error) if ending.store_error is not None else "",
        integrity_problems=integrity,
        feed_problems=feed_problems,
        shadow_run_id=shadow.run_id if shadow is not None else "",
        shadow_envelopes=shadow.envelope_count if shadow is not None else 0,
        shadow_envelopes_sha256=shadow.timeline_sha256() if shadow is not None else "",
        markets=tuple(markets),
        orders=tuple(desk.state.orders.values()),
        retired_order_created_ns=tuple(desk.orders.retired_created_ns),
    )


def _bounds(
    venues: BoundVenues,
    result: BacktestResult,
    markets: Sequence[Market],
    final_marks: dict[str, int],
) -> tuple[FillBound, ...]:
    """Both bounds: a shadow's figures, or the run's own where its queue model is the bound's."""
    bounds = []
    for which, model in BOUND_MODELS.items():
        if which in venues.shadows:
            money, _ = money_of(venues.fills(which), markets, final_marks)
        else:
            money = result.money
        bounds.append(FillBound(which=which, queue_model=model, money=money))
    return tuple(bounds)


def _start_run(
    *,
    store: EventStore,
    run_id: str,
    desk_file: DeskFile,
    desk_config: dict[str, Any],
    config_version: str,
    data: str | Path,
    source: Source,
) -> int:
    """Record the run's start; returns its attempt number in the store."""
    return store.start_run(
        run_id=run_id,
        started_ns=0,
        seed=desk_file.seed,
        desk_config=desk_config,
        desk_config_version=config_version,
        data_source=str(data),
        synthetic=source.synthetic,
    ).attempt


def _record_end(
    store: EventStore, ref: str, desk: Desk, desk_result: DeskResult, ending: _Ending
) -> list[str]:
    """Record how the run ended with what it produced (envelopes, order states, fills: they
    streamed into the store during the run through the desk's journal), and return the
    integrity check's problems. A store that fails now is noted in ``ending`` and reported as
    a problem (the run is then left without an end record: incomplete for the check)."""
    stats = desk.orders.stats
    try:
        store.end_run(
            ref,
            ended_ns=desk_result.last_event_ns,
            status=ending.status,
            detail=ending.detail,
            produced=RunProduced(
                envelopes=desk_result.envelope_count,
                orders=stats.order_states,
                fills=stats.fills_booked,
            ),
        )
        store.flush()
    except StoreWriteError as exc:
        ending.store_error = exc
        return [f"{ref}: the store failed while recording the run's end: {exc}"]
    return store.check_integrity(ref)


def _close_store(store: EventStore, ending: _Ending | None) -> None:
    """Close the store; after it failed during the run, the rows it still holds pending
    cannot be written either: that failure is the one already reported in ``ending``."""
    if ending is None or ending.store_error is None:
        store.close()
        return
    try:
        store.close()
    except StoreWriteError as exc:
        _LOG.warning("store closed with rows it could not write (already reported): %s", exc)


class _Ending(msgspec.Struct, kw_only=True):
    """How the replay loop ended."""

    status: RunStatus = RunStatus.COMPLETED
    detail: str = ""
    signal_name: str = ""
    error: BaseException | None = None
    store_error: StoreWriteError | None = None


def _replay(
    *,
    desk: Desk,
    source: Source,
    speed: float | None,
    telemetry: _Telemetry,
    fanout: FanoutSink,
    store: EventStore | None,
    schedule: Sequence[tuple[str, int]] = (),
) -> _Ending:
    """Feed every event to the desk until the data ends, a signal arrives, the store fails or
    something raises; then shut the desk down (cancel all, HALTED, flush) and say how it ended.
    ``schedule``: (bot id, events processed) at which the desk demotes the bot (a drill).
    """
    ending = _Ending()
    pending = list(schedule)
    with stop_on_signals() as stop:
        try:
            keepalive = _Keepalive(store)
            for event in _paced(source.events(), speed, keepalive):
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
        if stop.requested:
            ending.status, ending.detail = RunStatus.INTERRUPTED, stop.signal_name
            ending.signal_name = stop.signal_name
        elif ending.error is not None:
            ending.status = RunStatus.FAILED
            ending.detail = f"{type(ending.error).__name__}: {ending.error}"
        else:
            reason = _halt_reason(desk)
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
