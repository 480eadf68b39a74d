"""Runs split by market: sub-runs of one or a few markets each, on one or several processes,
merged into one run (``docs/runs.md``, "Runs split by market").

**When.** A run can be split when nothing couples its markets (:func:`couplings`): every bot
that runs (any mode but STUB) is declared of market scope by the bot library
(:mod:`polytraders.bots.scopes`; a user's bot is undeclared, so it couples), there is no
shadow desk and no scheduled demotion, and the data names its markets. Such a run is then
always split (:func:`~polytraders.backtest.engine.run_desk`: ``polytraders run`` and
``backtest``, the optimizer's trials, ``replay check``), whatever ``--jobs``: ``--jobs`` only
says how many processes run the sub-runs. A run that cannot be split runs the whole desk in one
process, and ``--jobs`` above 1 is refused naming what couples the markets (:func:`refusal`).

**What.** A sub-run is the desk over some markets of the data alone
(:mod:`polytraders.backtest.partition_host`): its own bots, venue (with the starting cash) and
envelope timeline, fed those markets' events in the data's order. Each market the data reaches
starts a sub-run of its own, except that markets first reached at the same instant share one
(:class:`_Splitter`: a strategy naming its intents after its first decision's time would
otherwise give them the same ids). The parent reads the data once, routes each event to its
sub-run (:mod:`polytraders.backtest.partition_workers`) and, at the end, merges what the
sub-runs produced into the run's timeline, result, outputs and store record, in a fixed order
(:mod:`polytraders.backtest.partition_merge`). Neither the sub-runs nor the merge depend on
which process ran a sub-run, so ``--jobs N`` gives byte for byte the run ``--jobs 1`` gives:
the same run id, timeline, ``envelopes_sha256``, figures, fills and store rows (only the wall
time differs).

**Its identity.** A split run is not the whole desk's run re-ordered: each sub-run's desk
steps on its own markets' events only, so it learns of its orders' fills and cancels at its
markets' next event (the whole desk: at the next event of any market), and its strategies
number their intents per sub-run. So a split run has a run id of its own: the desk's config
version, the data digest, the seed and :data:`SPLIT_MARKER`.

**Checked after the run** (:func:`~polytraders.backtest.partition_merge.coupling_problems`):
the account's collateral and the desk's order-rate limit are shared by the markets; the split
run stands for the desk only when neither could have bound across markets, and ids must not
collide. Otherwise the run ends FAILED saying which (its outputs are still written).

**Endings.** As a whole run's (:func:`~polytraders.backtest.engine.run_desk`): COMPLETED;
HALTED (a sub-run's halt reason, or ``SYS_STORE_WRITE_FAILED`` when the store failed while the
merged record was written); FAILED (the data failed, a sub-run raised — the other markets run
on to the end — or a check failed); INTERRUPTED (SIGINT/SIGTERM: the parent stops reading,
every sub-run shuts down and the merged figures cover what each market did). A worker process
that dies before it reports fails the run with no outputs (:class:`WorkerDiedError`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import (
    SYS_STORE_WRITE_FAILED,
    Ending,
    Keepalive,
    Progress,
    RunInputs,
    RunProducts,
    RunSinks,
    paced,
    record_end,
    start_run,
)
from polytraders.backtest.partition_host import HostSetup, Partition, PartitionResult
from polytraders.backtest.partition_merge import (
    coupling_problems,
    in_order,
    merge_counts,
    merge_results,
    merge_timelines,
    store_journal,
)
from polytraders.backtest.partition_workers import (
    Hosts,
    LocalHosts,
    ProcessHosts,
    WorkerDiedError,
)
from polytraders.backtest.stop import StopRequest, stop_on_signals
from polytraders.bots.scopes import Scope, declaration
from polytraders.contracts import ids
from polytraders.contracts.modes import Mode
from polytraders.desk.desk import DeskResult
from polytraders.desk.sinks import DigestingSink
from polytraders.feeds import Source
from polytraders.model.events import AnyEvent, MarketStatus
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market
from polytraders.ops.logs import set_run_id
from polytraders.ops.metrics import DeskMetrics
from polytraders.store.errors import StoreWriteError
from polytraders.store.records import RunProduced, RunStatus

SPLIT_MARKER = "split=market"
"""The part of a split run's id that sets it apart from the whole desk's run."""

__all__ = ["SPLIT_MARKER", "WorkerDiedError", "couplings", "refusal", "run_partitioned"]


def couplings(
    desk_file: DeskFile, markets: Sequence[Market], *, shadow: bool, drills: bool
) -> list[str]:
    """What couples the markets of a run of ``desk_file`` over data with ``markets``, one
    phrase each (empty: the run can be split by market; module docstring).

    Args:
        shadow: the run has a shadow desk (its risk chain decides on the whole desk's view).
        drills: the run has scheduled demotions (counted in the whole desk's events).
    """
    found: list[str] = []
    for entries in (desk_file.strategies, desk_file.risk, desk_file.execution):
        for entry in entries:
            if entry.mode is Mode.STUB:  # never built: it reads nothing
                continue
            cls = desk_file.bot_class(entry)
            declared = declaration(cls)
            if declared is None:
                found.append(f"{cls.bot_id} (a user's bot: what it reads is not declared)")
            elif declared.scope is Scope.PORTFOLIO:
                found.append(f"{cls.bot_id} ({declared.reads})")
    if shadow:
        found.append("a shadow desk (its risk chain decides on the whole desk's view)")
    if drills:
        found.append("scheduled demotions (counted in the whole desk's events)")
    if not markets:
        found.append("the data names no markets to split by (instruments only)")
    if desk_file.venue.funding_rates_ppb:
        found.append("assumed funding rates ([venue] funding_rates_ppb, one account's funding)")
    return found


def refusal(jobs: int, found: Sequence[str]) -> str:
    """The one-line refusal of ``--jobs jobs`` for a run whose markets ``found`` couples."""
    return (
        f"--jobs {jobs}: this run's markets cannot run apart, coupled by {'; '.join(found)}; "
        "run it whole in one process with --jobs 1 (docs/runs.md, 'Runs split by market')"
    )


class _Splitter:
    """Routes the data's events to sub-runs, starting one for the markets the data first
    reaches at each instant.

    Markets first seen at the same instant (``ts_event_ns``) share a sub-run: a strategy names
    its intents after the time of its first decision (``strat.maker_tight``), and two sub-runs
    starting at one instant would give two markets the same ids. So the events of one instant
    are held until the next instant (or :meth:`flush`), the markets among them not seen before
    become one new sub-run (in the data's market order), then the events go out in order.
    Nothing here depends on the number of processes.
    """

    def __init__(self, run_id: str, markets: Sequence[Market], hosts: Hosts) -> None:
        self._run_id = run_id
        self._order = {m.market_id: i for i, m in enumerate(markets)}
        self._markets = {m.market_id: m for m in markets}
        self._market_of = {t.token_id: m.market_id for m in markets for t in m.tokens}
        self._hosts = hosts
        self._sub_run: dict[str, int] = {}
        self._instant: int | None = None
        self._held: list[tuple[str, AnyEvent]] = []
        self.partitions: list[Partition] = []
        """Every sub-run started so far, in index order."""

    def feed(self, event: AnyEvent) -> None:
        """Hold ``event`` for its market's sub-run (the held instant goes out first when
        ``event`` starts a later one).

        Raises:
            ValueError: the event names no market of the data.
            WorkerDiedError: a worker process died.
        """
        if isinstance(event, MarketStatus):
            market_id: str | None = event.market_id
        else:
            market_id = self._market_of.get(getattr(event, "token_id", None) or "")
        if market_id not in self._markets:
            raise ValueError(
                f"{type(event).__name__} at {event.ts_event_ns} ns names no market of the "
                "data: a run split by market needs each event's market"
            )
        if self._instant is not None and event.ts_event_ns != self._instant:
            self.flush()
        self._instant = event.ts_event_ns
        self._held.append((market_id, event))

    def flush(self) -> None:
        """Start a sub-run for the held events' new markets, then send the held events.

        Raises:
            WorkerDiedError: a worker process died.
        """
        new = sorted(
            {m for m, _ in self._held if m not in self._sub_run}, key=self._order.__getitem__
        )
        if new:
            index = len(self.partitions)
            partition = Partition(
                index=index,
                markets=[self._markets[m] for m in new],
                run_id=f"{self._run_id}/p{index}",
            )
            self.partitions.append(partition)
            self._sub_run.update(dict.fromkeys(new, index))
            self._hosts.add(partition)
        for market_id, event in self._held:
            self._hosts.feed(self._sub_run[market_id], event)
        self._held.clear()


def run_partitioned(run: RunSinks, inputs: RunInputs, *, jobs: int) -> RunProducts:
    """Run ``inputs``'s desk over its data split by market on ``jobs`` processes (at most one
    per market), recorded through ``run`` (its store and sinks receive the merged timeline
    once the sub-runs are done). The caller has checked that nothing couples the markets.

    Raises:
        RunRefusedError: the store cannot be opened or refused the run's start.
        WorkerDiedError: a worker process died before it reported (recorded FAILED; the
            staged outputs are discarded).
    """
    data, source, desk_file, digest, speed, metrics, progress, total_records, fill_bounds = inputs
    run_id = ids.run_id(desk_file.config_version, digest, desk_file.seed, SPLIT_MARKER)
    set_run_id(run_id)
    jobs = min(jobs, len(source.markets))
    starting_cash = desk_file.venue.starting_cash_micros
    with tempfile.TemporaryDirectory(prefix="polytraders-split-") as folder, run:
        setup = HostSetup(
            desk=desk_file.model_dump(mode="json"),
            base_dir=str(desk_file.base_dir),
            fill_bounds=fill_bounds,
            folder=folder,
        )
        store = run.store
        keepalive = Keepalive(store)
        # from the first worker on, a signal stops the run (after the first event)
        with stop_on_signals() as stop:
            hosts = LocalHosts(setup) if jobs == 1 else ProcessHosts(setup, jobs, keepalive)
            try:
                attempt = 1
                if store is not None:
                    attempt = start_run(
                        store=store, run_id=run_id, desk_file=desk_file, data=data, source=source
                    )
                if progress is not None:
                    progress.start(total_records, source.record_counter or "records")
                ending, parts = _replay(
                    hosts=hosts, splitter=_Splitter(run_id, source.markets, hosts), stop=stop,
                    source=source, desk_file=desk_file, speed=speed, keepalive=keepalive,
                    progress=progress,
                )  # fmt: skip
            except WorkerDiedError as exc:
                if store is not None:
                    failed = Ending(status=RunStatus.FAILED, detail=f"WorkerDiedError: {exc}")
                    nothing = RunProduced(envelopes=0, orders=0, fills=0)
                    ref = f"{run_id}@{attempt}"
                    record_end(store, ref, ended_ns=0, produced=nothing, ending=failed)
                raise
            finally:
                hosts.close()
        run.ending = ending
        timeline = DigestingSink(run.fanout)
        ending.store_error = merge_timelines(
            setup, run_id, parts, sink=timeline, fanout=run.fanout, store=store
        )
        if store is not None and ending.store_error is None:
            try:
                store_journal(store, f"{run_id}@{attempt}", parts)
            except StoreWriteError as exc:
                ending.store_error = exc
        timeline.flush()
        desk_result = merge_results(
            parts, run_id=run_id, starting_cash=starting_cash, timeline=timeline
        )
        _conclude_status(ending, parts, desk_file, starting_cash, desk_result)
        if metrics is not None:
            _final_metrics(metrics, desk_result)
        integrity: list[str] = []
        if store is not None and ending.store_error is None:
            integrity = record_end(
                store,
                f"{run_id}@{attempt}",
                ended_ns=desk_result.last_event_ns,
                produced=RunProduced(
                    envelopes=desk_result.envelope_count,
                    orders=sum(p.order_states for p in parts),
                    fills=sum(p.fills_booked for p in parts),
                ),
                ending=ending,
            )
    return RunProducts(
        run_id=run_id,
        ending=ending,
        attempt=attempt,
        integrity=integrity,
        desk_result=desk_result,
        markets=_markets(source.markets, parts),
        final_marks={t.token_id: 0 for m in source.markets for t in m.tokens}
        | {t: m for p in parts for t, m in p.final_marks.items()},
        venue_rejections=merge_counts(p.venue_rejections for p in parts),
        bound_fills=_bound_fills(parts),
        top_of_book={t: s for p in parts for t, s in p.top_of_book.items()},
        orders={o.client_order_id: o for p in parts for o in p.orders},
        retired_order_created_ns=tuple(t for p in parts for t in p.retired_order_created_ns),
        tally=run.tally,
        partitions=len(parts),
        jobs=jobs,
    )


def _replay(
    *,
    hosts: Hosts,
    splitter: _Splitter,
    stop: StopRequest,
    source: Source,
    desk_file: DeskFile,
    speed: float | None,
    keepalive: Keepalive,
    progress: Progress | None,
) -> tuple[Ending, list[PartitionResult]]:
    """Read the data once, feed each event to its market's sub-run until the data ends,
    ``stop`` is requested (a signal) or the data fails; then shut every sub-run down and
    collect the results.

    Raises:
        WorkerDiedError: a worker process died or failed before it reported.
    """
    ending = Ending()
    fed = 0
    try:
        for event in paced(source.events(), speed, keepalive):
            splitter.feed(event)
            fed += 1
            if fed % 512 == 0 or isinstance(event, MarketStatus):
                source.stats.check(desk_file.feed)  # FeedError: too much bad input
                if progress is not None:
                    progress.update(source.stats.records_read, fed)
                keepalive()
            if stop.requested:
                break
        if not stop.requested:
            source.stats.check(desk_file.feed)  # the whole pass against the threshold
    except WorkerDiedError:
        raise
    except Exception as exc:
        ending.error = exc
    splitter.flush()  # what was read before the end, the signal or the failure
    ending.stopped_or_failed(stop)
    parts = hosts.finish()
    if progress is not None:
        progress.update(source.stats.records_read, fed)
    return ending, parts


def _conclude_status(
    ending: Ending,
    parts: Sequence[PartitionResult],
    desk_file: DeskFile,
    starting_cash: int,
    desk_result: DeskResult,
) -> None:
    """How the split run ended, from the replay's ending and what the sub-runs and the checks
    say (module docstring, "Endings"); a run already INTERRUPTED or FAILED stays so."""
    if ending.status is not RunStatus.COMPLETED:
        return
    failed = [p for p in parts if p.error]
    problems = coupling_problems(parts, starting_cash=starting_cash, orders=desk_file.desk.orders)
    halted = [p for p in parts if p.halt_reason]
    if failed:
        first = failed[0]
        ending.status = RunStatus.FAILED
        names = ", ".join(m.slug or m.market_id for m in first.markets)
        ending.detail = f"sub-run p{first.index} ({names}): {first.error}"
    elif problems:
        ending.status = RunStatus.FAILED
        ending.detail = "the markets did not run apart: " + "; ".join(problems)
    elif ending.store_error is not None:
        ending.status, ending.detail = RunStatus.HALTED, SYS_STORE_WRITE_FAILED
    elif halted:
        ending.status, ending.detail = RunStatus.HALTED, halted[0].halt_reason
    elif desk_result.events_processed == 0:
        ending.status, ending.detail = RunStatus.FAILED, "the data yielded no events"


def _markets(markets: Sequence[Market], parts: Sequence[PartitionResult]) -> list[Market]:
    """The data's markets in its order: as their sub-run ended (payouts if they resolved), or
    without payouts when no event of theirs came."""
    ended = {m.market_id: m for p in parts for m in p.markets}
    return [ended.get(m.market_id) or msgspec.structs.replace(m, payouts={}) for m in markets]


def _bound_fills(parts: Sequence[PartitionResult]) -> dict[str, list[Fill]] | None:
    """Each bound's fills, merged as the run's are (None when the bounds were not run)."""
    if any(p.bound_fills is None for p in parts):
        return None
    bounds = sorted({which for p in parts for which in p.bound_fills or {}})
    return {
        which: in_order(
            ((p.index, (p.bound_fills or {}).get(which, [])) for p in parts),
            lambda fill: fill.ts_recv_ns,
        )
        for which in bounds
    }


def _final_metrics(metrics: DeskMetrics, desk_result: DeskResult) -> None:
    """The desk gauges and totals of the merged run (a split run updates them once, here)."""
    fills = desk_result.fills
    maker = sum(1 for fill in fills if fill.liquidity is LiquiditySide.MAKER)
    metrics.update_desk_totals(
        now_ns=desk_result.last_event_ns,
        events=desk_result.events_processed,
        orders=desk_result.orders_submitted,
        maker_fills=maker,
        taker_fills=len(fills) - maker,
        pnl_micros=desk_result.final_equity - desk_result.ledger.initial_cash,
        equity_micros=desk_result.final_equity,
        trading_state=desk_result.trading_state,
    )
