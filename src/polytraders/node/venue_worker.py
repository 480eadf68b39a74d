"""The live venue off the decision loop: :class:`VenueWorker` owns the network venue on one
thread, and the desk drives it through the :class:`~polytraders.venues.base.Venue` protocol
without ever waiting on the network.

**Why one plain thread** (not an asyncio loop in a thread): the network venues
(:class:`PolymarketVenue`, :class:`~polytraders.venues.ccxt.venue.CcxtVenue`: any
:class:`WorkerVenue`) are synchronous (the official client over ``httpx``; ccxt on its own
loop behind a synchronous facade) and sequential by nature — heartbeat ids
chain, a cancel must follow the post it cancels, back-offs and probes read the previous answer
— so its requests must run one at a time in any case. One thread runs the venue unchanged;
an asyncio loop would need an async HTTP client and a rewritten venue, and the only thing it
could add, requests in parallel, would break that order.

**Ownership.** After :meth:`VenueWorker.start` every call into the venue happens on the
worker thread: signing and queueing (``submit``), ``cancel``, ``cancel_all``, ``advance``
(which flushes queued orders in batches, sends the heartbeat when due, retries, resolves
unanswered posts and polls trades), ``on_user_message``, ``poll``, ``take_reverted``, and any
function handed to :meth:`VenueWorker.call`. Start-up (market metadata, compliance checks,
reconciliation) runs on the caller's thread *before* :meth:`start`. The worker advances the
venue with the live clock after every batch of commands and at least every
``idle_advance_ms`` when there are none, so heartbeats follow the venue's schedule whatever
the desk does.

**The desk's side** (every method returns at once):

- ``submit`` keeps the order until the next hand-over — the desk's next ``advance`` or
  the live session's end of step (:meth:`VenueWorker.hand_over`) — which gives all orders
  kept since the previous one to the worker together (they go out in the same batches, and
  the desk's checkpoint row of a new order, written at the end of the desk step that created
  it, is committed before the order can be posted);
- ``cancel`` and ``cancel_all`` go to the worker's urgent queue, which it empties before
  any queued submit; a cancel of an order still waiting here or in the worker's queue
  withdraws it on the spot (``OrderCanceled``, nothing sent), and ``cancel_all`` withdraws
  every waiting order and replaces the cancels still queued;
- ``poll`` returns the venue events the worker produced so far, in order (the events of one
  venue operation arrive together), then the refusals and withdrawals made here;
- ``open_orders`` and ``heartbeat`` read :attr:`VenueWorker.status`, the immutable
  :class:`VenueStatus` the worker publishes after each operation (its halt reason, mode,
  last accepted heartbeat, open orders, failure); ``balances`` is the start-up snapshot;
- ``advance`` runs :attr:`VenueWorker.after_advance` (the live session copies the status
  into the desk state there).

**Back-pressure.** At most ``max_pending_submits`` orders may wait for the worker (kept
for the next hand-over or queued, not yet taken up); a submit beyond that is refused at once
with an ``OrderRejected`` ``SYS_VENUE_BACKLOG`` (a venue rejection for the desk: it counts in
the kill switch's error streak, so a venue that cannot keep up ends in a halt, never in an
unbounded queue). Cancels and ``cancel_all`` are never refused: the desk sends at most one
cancel per open order, so their number is bounded by the orders it holds. User-channel
messages are never dropped (a lost trade message would be a lost fill); their number is what
the venue reports about our own orders. :meth:`call` is for the node's own periodic work.

**Failure.** An exception escaping a venue call (``cancel_all`` that got no answer, a bug)
ends the worker: it is logged with its traceback, the worker makes one best-effort
``cancel_all`` (its own failure is logged), the status carries the failure, and the thread
ends. The desk's side never raises for it: the live session reads the failure from the
status, halts the desk (``SYS_VENUE_WORKER_FAILED``) and raises :class:`VenueWorkerError` on
the decision loop. Later submits are refused with that code; cancels are dropped (logged).

**Shutdown.** :meth:`VenueWorker.close` with ``cancel_open_orders`` (graceful) withdraws the
waiting orders, sends ``cancel_all`` (which syncs trades after it, so last fills are
reported), waits until the worker has run everything queued, at most ``close_timeout_s``,
then stops the thread (the events stay available to :meth:`poll`). ``cancel_open_orders``
False (a crash) only stops it: queued commands are dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from pydantic import Field

from polytraders.contracts.config import FrozenConfig
from polytraders.contracts.view import VenueState
from polytraders.model.events import AnyEvent, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder
from polytraders.venues.base import VenueEvent

_LOG = logging.getLogger(__name__)

SYS_VENUE_BACKLOG = "SYS_VENUE_BACKLOG"
SYS_VENUE_WORKER_FAILED = "SYS_VENUE_WORKER_FAILED"
HEARTBEAT_LAPSED = "SYS_POLY_HEARTBEAT_LAPSED"
MAX_PENDING_SUBMITS = 64
"""Default ``max_pending_submits``: four full ``POST /orders`` batches of 15 and some."""
IDLE_ADVANCE_MS = 10
"""Default ``idle_advance_ms``."""
_MS = 1_000_000


class WorkerVenue(Protocol):
    """What the worker needs of a network venue (Polymarket's, ccxt's): the
    :class:`~polytraders.venues.base.Venue` calls it forwards plus its blocking condition,
    mode and dead-man-switch figures, read on the worker thread only."""

    @property
    def name(self) -> str: ...
    @property
    def halt_reason(self) -> str:
        """Registered code of a condition that withdraws new orders, ``""`` when none."""
        ...

    @property
    def last_heartbeat_ok_ns(self) -> int:
        """Time of the last accepted dead-man-switch heartbeat (0: none yet, or none used)."""
        ...

    @property
    def heartbeat_interval_ns(self) -> int:
        """How often the venue's heartbeat is due (0: the venue has no dead-man switch)."""
        ...

    @property
    def request_timeout_s(self) -> float:
        """Longest wait of one request to the venue (s)."""
        ...

    def venue_state(self, now_ns: int) -> VenueState: ...
    def submit(self, order: VenueOrder, now_ns: int) -> None: ...
    def cancel(self, client_order_id: str, now_ns: int) -> None: ...
    def cancel_all(self, now_ns: int) -> None: ...
    def advance(self, now_ns: int) -> None: ...
    def poll(self) -> list[VenueEvent]: ...
    def take_reverted(self) -> list[Fill]: ...
    def open_orders(self) -> Sequence[VenueOrder]: ...
    def close(self) -> None: ...


V = TypeVar("V", bound=WorkerVenue)


class _UserStreamVenue(WorkerVenue, Protocol):
    """A venue fed by a user channel (Polymarket's): :meth:`VenueWorker.on_user_message`."""

    def on_user_message(self, message: Any, ts_recv_ns: int) -> None: ...


class VenueWorkerConfig(FrozenConfig):
    """Settings of the :class:`VenueWorker` (the ``[worker]`` table of a live node file),
    linted like bot configs."""

    max_pending_submits_count: int = Field(default=MAX_PENDING_SUBMITS, ge=1, le=10_000)
    """Orders that may wait for the worker before a submit is refused at once with
    ``SYS_VENUE_BACKLOG`` (back-pressure: a venue that cannot keep up ends in refusals, and
    through the kill switch's error streak in a halt, never in an unbounded queue)."""

    idle_advance_ms: int = Field(default=IDLE_ADVANCE_MS, ge=1, le=1_000)
    """Longest time between two venue advances (heartbeat, batch posts, retries) when no
    command arrives (ms)."""

    close_timeout_s: float = Field(default=30.0, ge=1.0, le=600.0)
    """How long a graceful close waits for the worker to finish its queue and the
    cancel-all (s): the venue advance in flight may chain a few requests (heartbeat, batch
    posts, a trade poll), then come the cancel-all and the trade sync after it, so at least
    two of the venue's ``request_timeout_s`` (checked by the node config); the default is six
    of the default 5 s."""


class VenueWorkerError(RuntimeError):
    """The venue worker failed (an exception in the venue), or a graceful close could not
    finish its cancel-all in time. The message names the cause."""


class VenueStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What the worker last published (after an operation), for the decision loop.

    Attributes:
        halt_reason: the venue's blocking condition code (:attr:`WorkerVenue.halt_reason`),
            ``""`` when none.
        venue_state: the venue's mode at publication time.
        last_heartbeat_ok_ns: time of the last accepted heartbeat (0 before the first).
        open_orders: copies of the orders the venue believes open.
        failure: ``"<exception type>: <message>"`` once the worker failed, else ``""``.
    """

    halt_reason: str = ""
    venue_state: VenueState = VenueState.NORMAL
    last_heartbeat_ok_ns: int = 0
    open_orders: tuple[VenueOrder, ...] = ()
    failure: str = ""


@dataclass(slots=True)
class _Command:
    """One unit of work for the worker thread: ``run(venue, now_ns)``; ``order`` is set for a
    submit (so a cancel can withdraw it while it waits)."""

    run: Callable[[Any, int], None]
    order: VenueOrder | None = None


class VenueWorker(Generic[V]):
    """Owns ``venue`` on one thread and is the desk's non-blocking venue (module docstring).

    Args:
        venue: the network venue, reconciled and ready (nothing else may call it once
            :meth:`start` ran).
        balances: the start-up balances snapshot that :meth:`balances` returns.
        max_pending_submits: orders that may wait for the worker before a submit is refused
            with ``SYS_VENUE_BACKLOG`` (≥ 1).
        idle_advance_ms: longest time between two venue advances when no command arrives.
        close_timeout_s: how long a graceful :meth:`close` waits for the cancel-all (None:
            six request time-outs of the venue: the venue advance in flight may chain a few
            requests — heartbeat, batch posts, a trade poll — then come the cancel-all and
            the trade sync after it).
        clock_ns: the live clock (ns since the epoch) the venue is advanced with.

    Raises:
        ValueError: ``max_pending_submits`` or ``idle_advance_ms`` below 1.
    """

    def __init__(
        self,
        venue: V,
        *,
        balances: dict[str, int],
        max_pending_submits: int = MAX_PENDING_SUBMITS,
        idle_advance_ms: int = IDLE_ADVANCE_MS,
        close_timeout_s: float | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if max_pending_submits < 1 or idle_advance_ms < 1:
            raise ValueError("max_pending_submits and idle_advance_ms must be at least 1")
        self.name = venue.name
        self.after_advance: Callable[[], None] = _nothing
        """Run by :meth:`advance` on the decision thread (the live session syncs the desk)."""
        self.shutdown_cancel: Callable[[V, int], None] | None = None
        """What a graceful :meth:`close` sends (on the worker, ``(venue, now_ns)``) instead of
        the venue's ``cancel_all`` (None: ``cancel_all``); the ccxt session keeps the
        protective stops of a position this way (:mod:`polytraders.commands.live_ccxt`). A
        kill switch's :meth:`cancel_all` always sends the venue's ``cancel_all``."""
        self.max_pending_submits = max_pending_submits
        self._venue = venue
        self._balances = dict(balances)
        self._heartbeat_interval_ns = venue.heartbeat_interval_ns
        self._request_timeout_s = venue.request_timeout_s
        self._idle_s = idle_advance_ms / 1000
        self._close_timeout_s = (
            close_timeout_s if close_timeout_s is not None else 6 * venue.request_timeout_s
        )
        self._clock_ns = clock_ns
        self._thread = threading.Thread(target=self._main, name="venue-worker", daemon=True)
        # decision thread only
        self._kept: list[VenueOrder] = []
        self._local: list[VenueEvent] = []
        self._closed = False
        # shared, under the condition's lock
        self._cond = threading.Condition()
        self._urgent: deque[_Command] = deque()
        self._work: deque[_Command] = deque()
        self._waiting: dict[str, _Command] = {}
        self._events: list[VenueEvent] = []
        self._reverted: list[Fill] = []
        self._results: list[tuple[Callable[[Any], None], object]] = []
        self._queued = 0
        self._done = 0
        self._stop = False
        # published by the worker thread (one attribute write)
        self._status = self._snapshot("")
        self._published: tuple[str, VenueState, int] | None = None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> VenueWorker[V]:
        """Start the worker thread; from now on only it calls the venue. Returns self."""
        self._thread.start()
        return self

    @property
    def status(self) -> VenueStatus:
        """The latest status the worker published (immutable; read it once per use)."""
        return self._status

    @property
    def failure(self) -> str:
        """The worker's failure (``"<type>: <message>"``), or ``""`` while it runs."""
        return self._status.failure

    def close(self, cancel_open_orders: bool = True) -> None:
        """Stop the worker (idempotent); the venue's connection is closed on its thread.

        ``cancel_open_orders`` (graceful): withdraw the waiting orders, send
        :attr:`shutdown_cancel` (default the venue's ``cancel_all``) and wait until everything
        queued ran (≤ ``close_timeout_s``); then stop. False (a crash): stop, dropping what is
        queued (the thread is joined for at most one request time-out; a daemon still in its
        request ends by itself).

        Raises:
            VenueWorkerError: graceful only — the worker failed (now or before), or the
                cancel-all did not finish within ``close_timeout_s``.
        """
        if self._closed:
            return
        problem = ""
        if cancel_open_orders and self._thread.is_alive() and not self.failure:
            self._cancel_all_with(self.shutdown_cancel, self._clock_ns())
            if not self._wait_done(self._queued_now(), self._close_timeout_s):
                problem = f"the cancel-all was not done within {self._close_timeout_s:g} s"
        self._closed = True
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.ident is None:  # never started: the venue is still the caller's
            self._venue.close()
        elif self._thread.is_alive():
            # graceful: the queue is drained, the round in flight ends; a crash: at most the
            # request in flight
            wait_s = self._close_timeout_s if cancel_open_orders else self._request_timeout_s
            self._thread.join(wait_s)
            if self._thread.is_alive():
                _LOG.error("venue worker still busy after %g s: left to end (daemon)", wait_s)
        if cancel_open_orders and (problem or self.failure):
            raise VenueWorkerError(problem or self.failure)

    # ------------------------------------------------------------------ Venue protocol
    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Keep ``order`` for the next :meth:`hand_over`; refused at once (``OrderRejected``
        in the next poll) with ``SYS_VENUE_BACKLOG`` when ``max_pending_submits`` orders are
        already waiting, or with ``SYS_VENUE_WORKER_FAILED`` when the worker is not
        running."""
        if self.failure or self._closed:
            self._refuse(order, now_ns, SYS_VENUE_WORKER_FAILED, "the venue worker is stopped")
            return
        with self._cond:
            waiting = len(self._waiting)
        if waiting + len(self._kept) >= self.max_pending_submits:
            self._refuse(
                order,
                now_ns,
                SYS_VENUE_BACKLOG,
                f"{self.max_pending_submits} orders already wait for the venue",
            )
            return
        self._kept.append(msgspec.structs.replace(order))

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Withdraw the order if it still waits (``OrderCanceled``, nothing sent), else queue
        ``DELETE /order`` ahead of every waiting submit."""
        if self._withdraw(client_order_id, now_ns):
            return
        self._enqueue(_Command(lambda venue, t: venue.cancel(client_order_id, t)), urgent=True)

    def cancel_all(self, now_ns: int) -> None:
        """Withdraw every waiting order and queue ``cancel_all`` ahead of everything; it
        replaces the cancels still queued (the venue's cancel-all covers every order of the
        API key and reports each one it cancelled)."""
        self._cancel_all_with(None, now_ns)

    def _cancel_all_with(self, cancel: Callable[[V, int], None] | None, now_ns: int) -> None:
        """:meth:`cancel_all` sending ``cancel`` (None: the venue's ``cancel_all``)."""
        for order in list(self._kept):
            self._withdraw(order.client_order_id, now_ns)
        with self._cond:
            waiting = list(self._waiting)
            self._queued -= len(self._urgent)
            self._urgent.clear()
        for cid in waiting:
            self._withdraw(cid, now_ns)
        run = cancel if cancel is not None else _cancel_all_command
        self._enqueue(_Command(run), urgent=True)

    def on_market_event(self, event: AnyEvent) -> None:
        """A live venue does not match locally: market events are ignored."""
        del event

    def advance(self, now_ns: int) -> None:
        """:meth:`hand_over`, then run :attr:`after_advance`. Never waits for the venue, which
        the worker advances with its own live clock."""
        self.hand_over(now_ns)
        self.after_advance()

    def hand_over(self, now_ns: int) -> None:
        """Hand the orders kept since the last hand-over to the worker, one group in order
        (refused with ``SYS_VENUE_WORKER_FAILED`` when it stopped). The desk's checkpoint
        rows of those orders must be written first: the desk's own advance runs only between
        its steps, the live session calls this at the end of its step."""
        kept, self._kept = self._kept, []
        if kept and (self.failure or self._closed):
            for order in kept:
                self._refuse(order, now_ns, SYS_VENUE_WORKER_FAILED, "the venue worker stopped")
        elif kept:
            with self._cond:
                for order in kept:
                    command = _Command(_submit_command(order), order)
                    self._waiting[order.client_order_id] = command
                    self._work.append(command)
                    self._queued += 1
                self._cond.notify_all()

    def poll(self) -> list[VenueEvent]:
        """The worker's venue events since the last poll (in order), then the refusals and
        withdrawals made on the decision thread."""
        with self._cond:
            events, self._events = self._events, []
        local, self._local = self._local, []
        return [*events, *local]

    def open_orders(self) -> Sequence[VenueOrder]:
        """Copies of the open orders of the latest status."""
        return [msgspec.structs.replace(o) for o in self._status.open_orders]

    def balances(self) -> dict[str, int]:
        """The start-up balances snapshot (micro-units); the live desk's cash is its ledger."""
        return dict(self._balances)

    def heartbeat(self, now_ns: int) -> bool:
        """Never sends (the worker heartbeats on the venue's schedule): True when the worker
        runs, no lapse is outstanding and the latest accepted heartbeat is at most one venue
        ``heartbeat_interval_ms`` older than ``now_ns`` (so a desk recording ``now_ns`` for
        it is off by at most that interval). A venue without a dead-man switch
        (``heartbeat_interval_ns`` 0, e.g. ccxt's): True while the worker runs."""
        status = self._status
        if not self._heartbeat_interval_ns:
            return not status.failure
        return (
            not status.failure
            and status.halt_reason != HEARTBEAT_LAPSED
            and status.last_heartbeat_ok_ns > 0
            and now_ns - status.last_heartbeat_ok_ns <= self._heartbeat_interval_ns
        )

    # ------------------------------------------------------------------ live extras
    def on_user_message(
        self: VenueWorker[Any], message: dict[str, object], ts_recv_ns: int
    ) -> None:
        """Queue one user-channel message for the venue (a venue with a user channel,
        :class:`_UserStreamVenue`; a malformed message is logged and skipped on the worker:
        ``SYS_MALFORMED_MESSAGE``)."""

        def apply(venue: _UserStreamVenue, now_ns: int) -> None:
            del now_ns
            try:
                venue.on_user_message(message, ts_recv_ns)
            except ValueError as exc:
                _LOG.warning("user-channel message skipped (SYS_MALFORMED_MESSAGE): %s", exc)

        self._enqueue(_Command(apply))

    def call(self, fn: Callable[[V], Any], then: Callable[[Any], None]) -> None:
        """Run ``fn(venue)`` on the worker (in queue order with submits and messages) and
        hand its result to ``then`` on the decision thread, at the next
        :meth:`deliver_results`. An exception ``fn`` raises is a worker failure: catch the
        errors you expect inside ``fn``."""

        def run(venue: V, now_ns: int) -> None:
            del now_ns
            result = fn(venue)
            with self._cond:
                self._results.append((then, result))

        self._enqueue(_Command(run))

    def deliver_results(self) -> int:
        """Run the ``then`` of every finished :meth:`call`, in order, on the calling (decision)
        thread; returns how many ran."""
        with self._cond:
            results, self._results = self._results, []
        for then, result in results:
            then(result)
        return len(results)

    def take_reverted(self) -> list[Fill]:
        """Fills the venue counted and then reported FAILED (``SYS_POLY_TRADE_FAILED``) since
        the last call."""
        with self._cond:
            out, self._reverted = self._reverted, []
        return out

    # ------------------------------------------------------------------ decision-thread internals
    def _refuse(self, order: VenueOrder, now_ns: int, code: str, message: str) -> None:
        self._local.append(
            OrderRejected(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                reason_code=code,
                message=message,
            )
        )

    def _withdraw(self, client_order_id: str, now_ns: int) -> bool:
        """Take a waiting order back before the worker took it up: True (and an
        ``OrderCanceled``) when it was still waiting."""
        kept = [o for o in self._kept if o.client_order_id != client_order_id]
        found = len(kept) != len(self._kept)
        self._kept = kept
        if not found:
            with self._cond:
                command = self._waiting.pop(client_order_id, None)
                if command is not None:
                    self._work.remove(command)
                    self._queued -= 1
            found = command is not None
        if found:
            self._local.append(
                OrderCanceled(
                    ts_event_ns=now_ns, ts_recv_ns=now_ns, client_order_id=client_order_id
                )
            )
        return found

    def _enqueue(self, command: _Command, *, urgent: bool = False) -> None:
        """Queue ``command``; dropped once the worker failed (logged: the session is halting
        and failing on it) or was closed (its close cancelled everything, or a crash)."""
        if self.failure:
            _LOG.warning("venue worker failed: command dropped")
            return
        if self._closed:
            return
        with self._cond:
            (self._urgent if urgent else self._work).append(command)
            self._queued += 1
            self._cond.notify_all()

    def _queued_now(self) -> int:
        with self._cond:
            return self._queued

    def _wait_done(self, target: int, timeout_s: float) -> bool:
        """Wait until the worker finished the first ``target`` commands (or failed);
        False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._done < target and not self._status.failure:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    # ------------------------------------------------------------------ worker thread
    def _main(self) -> None:
        venue = self._venue
        try:
            self._loop(venue)
        except Exception as exc:
            self._fail(venue, exc)
        finally:
            venue.close()

    def _loop(self, venue: V) -> None:
        """Each round: take everything queued (urgent first), run it — publishing after each
        command, and advancing the venue between commands once its heartbeat is due — then
        advance the venue (queued orders go out together) and publish. A cancel-all that
        arrives during a round runs at the start of the next, after the orders of this
        round were posted, so it cancels them too."""
        while True:
            with self._cond:
                if not (self._urgent or self._work or self._stop):
                    self._cond.wait(self._idle_s)
                if self._stop:
                    return
                urgent, work = list(self._urgent), list(self._work)
                self._urgent.clear()
                self._work.clear()
                self._waiting.clear()
            self._advance_if_heartbeat_due(venue)
            for command in (*urgent, *work):
                command.run(venue, self._clock_ns())
                self._publish(venue, 1)
                if command.order is None:  # a cancel, a message, a call: not a queued order
                    self._advance_if_heartbeat_due(venue)
            venue.advance(self._clock_ns())
            self._publish(venue, 0)

    def _advance_if_heartbeat_due(self, venue: V) -> None:
        """A run of slow cancels or calls must not starve the heartbeat: once it is due, the
        venue is advanced (it sends the heartbeat by its own schedule and retry rules;
        orders signed earlier in the round go out with it, in a smaller batch). The
        heartbeat then lags its due time by at most one venue operation in flight."""
        now_ns = self._clock_ns()
        if not self._heartbeat_interval_ns:  # no dead-man switch: nothing is ever due
            return
        if now_ns - venue.last_heartbeat_ok_ns >= self._heartbeat_interval_ns:
            venue.advance(now_ns)
            self._publish(venue, 0)

    def _publish(self, venue: V, done: int) -> None:
        """Hand the venue's new events and reverted fills over, publish a new status when
        anything may have changed (always after a command), and count ``done`` commands
        finished."""
        events = venue.poll()
        reverted = venue.take_reverted()
        key = (venue.halt_reason, venue.venue_state(self._clock_ns()), venue.last_heartbeat_ok_ns)
        changed = bool(done or events or reverted) or key != self._published
        status = self._snapshot("") if changed else self._status
        self._published = key
        with self._cond:
            self._events.extend(events)
            self._reverted.extend(reverted)
            self._status = status
            self._done += done
            self._cond.notify_all()

    def _snapshot(self, failure: str) -> VenueStatus:
        venue = self._venue
        return VenueStatus(
            halt_reason=venue.halt_reason,
            venue_state=venue.venue_state(self._clock_ns()),
            last_heartbeat_ok_ns=venue.last_heartbeat_ok_ns,
            open_orders=tuple(venue.open_orders()),
            failure=failure,
        )

    def _fail(self, venue: V, exc: Exception) -> None:
        """The worker ends: log, one best-effort cancel-all, publish the failure."""
        failure = f"{type(exc).__name__}: {exc}"
        _LOG.error("venue worker failed (%s): cancelling all, then stopping", failure, exc_info=exc)
        try:
            venue.cancel_all(self._clock_ns())
        except Exception as again:
            _LOG.error("best-effort cancel-all after the failure failed too: %s", again)
        try:
            events, reverted = venue.poll(), venue.take_reverted()
            status = self._snapshot(failure)
        except Exception as again:  # the failure is published whatever state the venue is in
            _LOG.error("venue state unreadable after the failure: %s", again)
            events, reverted = [], []
            status = msgspec.structs.replace(self._status, failure=failure)
        with self._cond:
            self._events.extend(events)
            self._reverted.extend(reverted)
            self._status = status
            self._cond.notify_all()


def _submit_command(order: VenueOrder) -> Callable[[WorkerVenue, int], None]:
    def run(venue: WorkerVenue, now_ns: int) -> None:
        venue.submit(order, now_ns)

    return run


def _cancel_all_command(venue: WorkerVenue, now_ns: int) -> None:
    venue.cancel_all(now_ns)


def _nothing() -> None:
    """No-op default of :attr:`VenueWorker.after_advance`."""
