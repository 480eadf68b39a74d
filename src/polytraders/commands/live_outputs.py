"""A live session's outputs: the ``--out`` files at its end and on request, and the metrics it
serves while it runs.

:class:`LiveOutputs` writes, for every desk of a ``--paper``, ``--shadow`` or ``--live``
session, the same ``result.json``, ``envelopes.jsonl``, ``fills.csv`` and ``report.html`` as a
backtest (:mod:`polytraders.backtest.outputs`): the current desk's into ``--out`` itself, a
shadow session's candidate's into ``--out/candidate``, all staged beside ``--out`` and renamed
into place together, so ``--out`` always holds one complete, consistent set.

- Each desk records its envelope timeline as it runs into a working folder beside ``--out``
  (``.<name>.live-<pid>/``, removed after the final outputs are in place), and there too its
  archive (:class:`~polytraders.commands.live_archive.DeskArchive`): every fill booked or
  reverted, every order retired with fills, every point of the unthinned equity curve. The
  files' fills, orders and equity curve are read back from it when written, so they are
  those an unbounded desk would list even when the desk keeps a bounded past
  (``SessionMemory.live``).
- :meth:`LiveOutputs.snapshot` (on request, SIGUSR1) captures every desk on the decision loop
  — the recording and the archive flushed, their lengths, copies of the desk's orders and
  tallies: a few milliseconds — and hands the writing (the archive read back and the
  timeline copied up to those lengths, the timeline hashed, the report rendered, the rename) to a
  background thread, so the loop goes on; a request while a snapshot is being written is
  answered once that one is done (:meth:`LiveOutputs.snapshot` returns None until then).
- :meth:`LiveOutputs.finish` waits for a snapshot being written, then writes the final
  outputs with how each desk ended (COMPLETED, HALTED, INTERRUPTED, FAILED) on the calling
  thread. A snapshot's ``result.json`` says ``"status": "RUNNING"``.

:class:`LiveTelemetry` runs after every step of the session: each desk's top of book for the
report (sampled once per step, not per event) and, at most once a second, the Prometheus
gauges of the current desk (:meth:`DeskMetrics.update_desk_totals`, its controls, feed age and
store failures: :meth:`DeskMetrics.update_controls`), the age of the venue's last accepted
heartbeat (:class:`~polytraders.ops.venue_metrics.VenueMetrics`) and the execution quality of
its new fills (:class:`FillMarkouts`).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from polytraders.backtest.outputs import (
    OutputDir,
    OutputDirError,
    OutputSet,
    check_output_target,
    copy_timeline,
    write_run_files,
)
from polytraders.backtest.report import TopOfBook, TopOfBookSeries
from polytraders.backtest.result import (
    EnvelopeTally,
    FillModel,
    compute_result,
    final_marks,
    settled_markets,
)
from polytraders.commands.live_archive import ArchiveMark, DeskArchive
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import Side, VenueOrder
from polytraders.store.records import RunStatus

if TYPE_CHECKING:
    from polytraders.commands.live import LiveRecording
    from polytraders.desk.desk import Desk, DeskResult
    from polytraders.ops.metrics import DeskMetrics
    from polytraders.ops.venue_metrics import VenueMetrics

_LOG = logging.getLogger(__name__)

Ending = tuple[RunStatus, str]
"""How a desk ended: its status and detail (reason code, signal, error)."""


@dataclass(slots=True)
class DeskOutputs:
    """One desk of a live session and where its outputs go.

    Fields:
        desk: the desk.
        recording: its recording (its ``timeline`` is the working timeline file; its
            ``config``, ``config_version`` and ``seed`` are what the run records).
        session: what ``result.json`` calls the session (``paper``, ``shadow``,
            ``shadow-candidate``, ``live``).
        folder: the folder inside ``--out`` (``""``: ``--out`` itself).
        fill_model: where its fills come from (the paper venue's model, or a live venue).
    """

    desk: Desk
    recording: LiveRecording
    session: str
    folder: str
    fill_model: FillModel
    tops: TopOfBookSeries = field(default_factory=TopOfBookSeries)
    archive: DeskArchive | None = None
    """Its archive (set by :meth:`LiveOutputs.add`)."""


@dataclass(frozen=True, slots=True)
class _Captured:
    """One desk's outputs as captured on the loop (copies or immutable values, so the desk can
    go on): the result is computed when written, off the loop, with the hash of the timeline
    copied from ``timeline`` up to ``timeline_bytes`` and the fills, retired orders and
    equity curve read from ``archive`` up to ``archive_mark``."""

    folder: str
    desk_result: DeskResult
    recording: LiveRecording
    outputs: DeskOutputs
    markets: list[Market]
    instruments: list[Instrument]
    tally: EnvelopeTally
    venue_rejections: dict[str, int]
    marks: dict[str, int]
    orders: dict[str, VenueOrder]
    top_of_book: dict[str, list[TopOfBook]]
    wall_s: float
    ending: Ending
    timeline: Path
    timeline_bytes: int
    archive: DeskArchive
    archive_mark: ArchiveMark

    def output_set(self, envelopes_sha256: str) -> OutputSet:
        """The files' content, the result computed with the timeline copy's hash."""
        desk_result = self.desk_result
        equity_curve = self.archive.read_equity_curve(self.archive_mark)
        fills = self.archive.read_fills(self.archive_mark)
        orders = {**self.archive.read_orders(self.archive_mark), **self.orders}
        status, detail = self.ending
        result = compute_result(
            run_id=desk_result.run_id,
            seed=self.recording.seed,
            config_version=self.recording.config_version,
            synthetic=False,
            markets=self.markets,
            fills=fills,
            equity_curve=equity_curve,
            tally=self.tally,
            envelopes_sha256=envelopes_sha256,
            events=desk_result.events_processed,
            first_event_ns=desk_result.first_event_ns,
            last_event_ns=desk_result.last_event_ns,
            orders=desk_result.orders_submitted,
            venue_rejections=self.venue_rejections,
            final_marks=self.marks,
            wall_s=self.wall_s,
            fill_model=self.outputs.fill_model,
            desk_events=desk_result.desk_events,
            status=status.value,
            status_detail=detail,
            session=self.outputs.session,
            instruments=self.instruments,
            desk_funding_micros=desk_result.ledger.funding
            if desk_result.ledger.funding_payments
            else None,
        )
        return OutputSet(
            result=result,
            equity_curve=equity_curve,
            fills=fills,
            orders=orders,
            markets=self.markets,
            instruments=self.instruments,
            top_of_book=self.top_of_book,
            config=self.recording.config,
        )


class LiveOutputs:
    """The ``--out`` files of a live session (see the module docstring).

    Args:
        target: ``--out``.

    Raises:
        OutputDirError: ``target`` cannot receive a run's outputs, or the working folder
            beside it cannot be created.
    """

    def __init__(self, target: Path) -> None:
        check_output_target(target)
        self.target = target
        self.working = target.absolute().parent / f".{target.name}.live-{os.getpid()}"
        try:
            self.working.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputDirError(f"--out {target}: cannot create {self.working}: {exc}") from exc
        self.desks: list[DeskOutputs] = []
        self.snapshots_written = 0
        self.snapshot_errors: list[str] = []
        self._started = time.perf_counter()
        self._writer: threading.Thread | None = None

    def timeline(self, folder: str) -> Path:
        """The working timeline file of the desk whose outputs go to ``folder``."""
        return self.working / f"{folder or 'desk'}.envelopes.jsonl"

    def add(self, desk: DeskOutputs) -> None:
        """Write ``desk``'s outputs too (its recording must have a timeline) and archive it
        from now on (call before its first event).

        Raises:
            ValueError: the recording has no timeline.
            OSError: its archive cannot be created.
        """
        if desk.recording.timeline is None:
            raise ValueError(f"desk {desk.desk.run_id}: its recording has no timeline file")
        desk.archive = DeskArchive(self.working, desk.folder or "desk")
        desk.archive.attach(desk.desk)
        self.desks.append(desk)

    @property
    def writing(self) -> bool:
        """True while a snapshot is being written."""
        return self._writer is not None and self._writer.is_alive()

    def snapshot(self) -> float | None:
        """Capture every desk now (on the decision loop) and write the outputs in the
        background. Returns how long the capture held the loop (ms), or None (nothing done)
        while the previous snapshot is still being written."""
        if self.writing:
            return None
        started = time.perf_counter()
        running = (RunStatus.RUNNING, "snapshot on request")
        captured = [self._capture(d, running, flush=True) for d in self.desks]
        self._writer = threading.Thread(
            target=self._write_in_background, args=(captured,), name="live-outputs", daemon=True
        )
        self._writer.start()
        return (time.perf_counter() - started) * 1_000

    def finish(self, endings: Mapping[str, Ending]) -> None:
        """Write the final outputs, each desk's result with its ending (run id → status and
        detail), then remove the working folder. Call after the session closed (every desk
        shut down, every recording ended, flushed and closed).

        Raises:
            OSError: the outputs could not be written (``--out`` keeps what it held).
            ValueError: a fill of an order or token the desk does not know.
        """
        if self._writer is not None:
            self._writer.join()
        captured = [self._capture(d, endings[d.desk.run_id], flush=False) for d in self.desks]
        self._write(captured)
        self._close_archives()
        shutil.rmtree(self.working, ignore_errors=True)

    def discard(self) -> None:
        """The session never started: remove the working folder (``--out`` is untouched)."""
        self._close_archives()
        shutil.rmtree(self.working, ignore_errors=True)

    def _close_archives(self) -> None:
        for each in self.desks:
            if each.archive is not None:
                each.archive.close()

    def _capture(self, outputs: DeskOutputs, ending: Ending, *, flush: bool) -> _Captured:
        """One desk's outputs now (``flush``: flush its recording first, so its timeline file
        holds every envelope recorded so far)."""
        desk, recording = outputs.desk, outputs.recording
        timeline, archive = recording.timeline, outputs.archive
        assert timeline is not None  # checked by add()
        assert archive is not None  # set by add()
        if flush:
            recording.flush()
        size = timeline.path.stat().st_size
        state = desk.state
        markets = settled_markets(list(state.markets()), state)
        instruments = state.instruments()
        return _Captured(
            folder=outputs.folder,
            desk_result=desk.result(),
            recording=recording,
            outputs=outputs,
            markets=markets,
            instruments=instruments,
            tally=recording.tally.copy(),
            venue_rejections=dict(desk.orders.stats.rejections_by_code),
            marks=final_marks(state, markets, instruments),
            orders=dict(state.orders),
            top_of_book=outputs.tops.copy(),
            wall_s=time.perf_counter() - self._started,
            ending=ending,
            timeline=timeline.path,
            timeline_bytes=size,
            archive=archive,
            archive_mark=archive.mark(),
        )

    def _write_in_background(self, captured: Sequence[_Captured]) -> None:
        """A snapshot's writing thread: a failure is logged and kept in
        :attr:`snapshot_errors` (the session goes on; ``--out`` keeps what it held)."""
        try:
            self._write(captured)
        except Exception as exc:  # reported; the session goes on and the final write retries
            message = f"{type(exc).__name__}: {exc}"
            self.snapshot_errors.append(message)
            _LOG.error("snapshot of the outputs into %s failed: %s", self.target, message)
            return
        self.snapshots_written += 1
        _LOG.warning("snapshot of the outputs written to %s", self.target)

    def _write(self, captured: Sequence[_Captured]) -> None:
        """Stage every desk's files, then rename them into ``--out`` together."""
        staged = OutputDir(self.target)
        try:
            for each in captured:
                folder = staged.staging / each.folder if each.folder else staged.staging
                folder.mkdir(exist_ok=True)
                digest = copy_timeline(
                    each.timeline, folder / "envelopes.jsonl", each.timeline_bytes
                )
                write_run_files(folder, each.output_set(digest))
            staged.commit()
        except BaseException:
            staged.discard()
            raise


MARKOUT_HORIZON_NS = 5_000_000_000
"""How long after a fill the mid's move against it is measured (the soak's 5 s horizon)."""


class FillMarkouts:
    """Execution quality of a live desk's fills, measured when the telemetry sees them (at most
    a second after the fill: the figures are for monitoring; the soak validator's are exact,
    :mod:`polytraders.readiness.soak`). For a fill at price p of sign s (+1 buy, −1 sell) and
    the token's mid m₀ when seen: slippage s·(p − m₀)/m₀ in bps (> 0: paid more than the mid);
    :data:`MARKOUT_HORIZON_NS` later, adverse selection s·(m₀ − m₁)/m₀ in bps (> 0: the mid
    moved against the fill). A fill without a two-sided book is not measured."""

    def __init__(self, metrics: DeskMetrics) -> None:
        self._metrics = metrics
        self._seen: set[str] = set()
        """ids of the fills listed (``desk.orders.fills``) at the last call: a fill that left
        the list (reverted, or retired with its order) never comes back to it."""
        self._pending: list[tuple[int, Fill, int]] = []  # (due ns, fill, mid when seen)

    def update(self, desk: Desk) -> None:
        """Measure the desk's fills since the last call and the markouts now due."""
        state = desk.state
        seen, self._seen = self._seen, {f.fill_id for f in desk.orders.fills}
        for fill in desk.orders.fills:
            if fill.fill_id in seen:
                continue
            mid = state.mid(fill.token_id)
            slippage = None
            if mid:
                slippage = _sign(fill) * (fill.price - mid) * 10_000 / mid
                self._pending.append((state.now_ns + MARKOUT_HORIZON_NS, fill, mid))
            self._metrics.observe_fill(
                liquidity=fill.liquidity.value, slippage_bps=slippage, adverse_bps=None
            )
        waiting: list[tuple[int, Fill, int]] = []
        for due_ns, fill, before in self._pending:
            if due_ns > state.now_ns:
                waiting.append((due_ns, fill, before))
                continue
            after = state.mid(fill.token_id)
            if after is not None:
                adverse = _sign(fill) * (before - after) * 10_000 / before
                self._metrics.observe_fill(
                    liquidity=fill.liquidity.value, slippage_bps=None, adverse_bps=adverse
                )
        self._pending = waiting


def _sign(fill: Fill) -> int:
    return 1 if fill.side is Side.BUY else -1


class LiveTelemetry:
    """After every step of a live session: top-of-book series for the reports and, at most
    every ``interval_s``, the metrics (see the module docstring).

    Args:
        desks: the session's desks (the first is the current desk, the one metrics follow).
        metrics: the desk metrics served (None: none).
        venue_metrics: the venue metrics served beside them (None: none).
        interval_s: least wall time between two metrics updates.
    """

    def __init__(
        self,
        desks: Sequence[DeskOutputs],
        metrics: DeskMetrics | None = None,
        venue_metrics: VenueMetrics | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.desks = list(desks)
        self.metrics = metrics
        self.venue_metrics = venue_metrics
        self._interval_s = interval_s
        self._next_update = 0.0
        self._markouts = FillMarkouts(metrics) if metrics is not None else None

    def after_step(self, market_events: int) -> None:
        """Note each desk's top of book; update the metrics when due (``market_events``:
        the session's market events so far)."""
        for each in self.desks:
            state = each.desk.state
            for market in state.markets():
                for token in market.tokens:
                    book = state.book(token.token_id)
                    if book is not None:
                        each.tops.observe(
                            token.token_id, state.now_ns, book.best_bid(), book.best_ask()
                        )
        now = time.monotonic()
        if now >= self._next_update:
            self._next_update = now + self._interval_s
            self.update_metrics(market_events)

    def update_metrics(self, market_events: int) -> None:
        """Set the served metrics from the current desk now."""
        if not self.desks:
            return
        desk = self.desks[0].desk
        state = desk.state
        if self.venue_metrics is not None and state.last_venue_heartbeat_ns:
            self.venue_metrics.heartbeat_accepted(state.last_venue_heartbeat_ns)
        if self.metrics is None:
            return
        stats = desk.orders.stats  # counts the fills of retired orders too
        self.metrics.update_desk_totals(
            now_ns=state.now_ns,
            events=market_events,
            orders=stats.submitted,
            maker_fills=stats.maker_fills_listed,
            taker_fills=stats.taker_fills_listed,
            pnl_micros=state.equity - state.ledger.initial_cash,
            equity_micros=state.equity,
            trading_state=state.trading_state,
        )
        controls = state.controls()
        store = self.desks[0].recording.store
        self.metrics.update_controls(
            now_ns=state.now_ns,
            kill_switch_tripped=controls.kill_switch.tripped,
            reason_code=controls.trading_reason_code,
            source=controls.trading_source,
            last_feed_event_ns=state.last_feed_event_ns,
            store_write_failures=store.write_failures if store is not None else 0,
        )
        if self._markouts is not None:
            self._markouts.update(desk)
