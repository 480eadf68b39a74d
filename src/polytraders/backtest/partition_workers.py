"""Where the sub-runs of a run split by market run (:mod:`polytraders.backtest.partition`):
all in this process (``jobs`` 1, :class:`LocalHosts`), or spread over ``jobs`` worker
processes (:class:`ProcessHosts`).

The parent reads the data once, starts a sub-run as the data reaches new markets, and routes
each event to its sub-run. With worker processes, sub-run ``k`` lives in worker ``k mod jobs``,
started with ``spawn`` (a fresh interpreter: nothing of the parent's store connection or signal
handlers is inherited). A new sub-run and the events go to its worker in batches of
:data:`BATCH_EVENTS` items (msgpack) through a queue of at most :data:`QUEUE_BATCHES` batches,
so the parent never reads far ahead of the slowest worker; at the end each worker sends its
sub-runs' results back the same way. Every worker builds its sub-runs with the same
:class:`~polytraders.backtest.partition_host.PartitionHost` one process uses and feeds them the
same events in the same order, so a sub-run's result does not depend on where it ran.

Stopping and failing: workers are started with SIGINT ignored (Ctrl-C reaches the whole
process group; the parent decides). :meth:`ProcessHosts.finish` asks every worker to shut its
sub-runs down and report; a worker that dies before it reports, or reports an error of its
own, raises :class:`WorkerDiedError`. :meth:`ProcessHosts.close` terminates whatever still
runs (after an error, or a second Ctrl-C), waits :data:`STOP_GRACE_S` s, then kills it.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

import msgspec

from polytraders.backtest.partition_host import (
    HostSetup,
    Partition,
    PartitionHost,
    PartitionResult,
)
from polytraders.backtest.stop import end_processes
from polytraders.model.events import AnyEvent

BATCH_EVENTS = 256
"""Items (events, new sub-runs) sent to a worker at once."""
QUEUE_BATCHES = 8
"""Batches a worker's queue holds before the parent waits for it."""
STOP_GRACE_S = 10.0
"""How long workers get to stop after SIGTERM before they are killed."""
_POLL_S = 0.5

_ENCODER = msgspec.msgpack.Encoder()
_Item = Partition | tuple[int, AnyEvent]
"""What a worker receives: a sub-run to start, or an event for sub-run ``index``."""
_DECODER = msgspec.msgpack.Decoder(list[_Item])
_RESULTS = msgspec.msgpack.Decoder(list[PartitionResult])


class WorkerDiedError(RuntimeError):
    """A worker process of a split run died, or failed outside its sub-runs, before it
    reported (one line)."""


class Hosts(Protocol):
    """Where sub-runs run: start them, feed them, finish them, and let go."""

    def add(self, partition: Partition) -> None:
        """Start the sub-run of ``partition`` (before any of its events)."""
        ...

    def feed(self, index: int, event: AnyEvent) -> None:
        """Hand ``event`` to sub-run ``index``."""
        ...

    def finish(self) -> list[PartitionResult]:
        """Shut every sub-run down; their results in index order."""
        ...

    def close(self) -> None:
        """Stop whatever still runs (always called, also after an error)."""
        ...


class LocalHosts:
    """Every sub-run of ``setup`` in this process."""

    def __init__(self, setup: HostSetup) -> None:
        self._host = PartitionHost(setup)

    def add(self, partition: Partition) -> None:
        """Start the sub-run of ``partition``."""
        self._host.add(partition)

    def feed(self, index: int, event: AnyEvent) -> None:
        """Hand ``event`` to sub-run ``index``."""
        self._host.feed(index, event)

    def finish(self) -> list[PartitionResult]:
        """Shut every sub-run down; their results in index order."""
        return self._host.finish()

    def close(self) -> None:
        """Nothing runs elsewhere."""


def _serve(setup: HostSetup, inbox: Any, results: Any, worker: int) -> None:
    """A worker: start the sub-runs and feed them the events of each batch until the ``None``
    sentinel, then shut them down and report (or report the error that stopped it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        host = PartitionHost(setup)
        while (payload := inbox.get()) is not None:
            for item in _DECODER.decode(payload):
                if isinstance(item, Partition):
                    host.add(item)
                else:
                    host.feed(*item)
        results.put(("done", worker, _ENCODER.encode(host.finish())))
    except Exception as exc:  # reported to the parent, which fails the run with it
        results.put(("error", worker, f"{type(exc).__name__}: {exc}"))


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while processes start, so they start with it ignored (an ignored signal
    stays ignored across ``exec``, and Python then leaves it so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ProcessHosts:
    """The sub-runs of ``setup`` on ``jobs`` worker processes (module docstring);
    ``keepalive`` is called at least every half second while the parent waits for them.

    Use :meth:`close` in a ``finally``.
    """

    def __init__(self, setup: HostSetup, jobs: int, keepalive: Callable[[], None]) -> None:
        if jobs < 2:
            raise ValueError(f"worker processes need jobs >= 2, not {jobs}")
        context = multiprocessing.get_context("spawn")
        self._jobs = jobs
        self._keepalive = keepalive
        self._results: Any = context.Queue()
        self._inboxes: list[Any] = [context.Queue(maxsize=QUEUE_BATCHES) for _ in range(jobs)]
        self._pending: list[list[_Item]] = [[] for _ in range(jobs)]
        self._reported: dict[int, list[PartitionResult]] = {}
        self._processes: list[BaseProcess] = [
            context.Process(
                target=_serve,
                args=(setup, self._inboxes[worker], self._results, worker),
                name=f"split-run-{worker}",
                daemon=True,
            )
            for worker in range(jobs)
        ]
        with _sigint_ignored():
            for process in self._processes:
                process.start()

    def add(self, partition: Partition) -> None:
        """Queue the start of ``partition``'s sub-run for its worker.

        Raises:
            WorkerDiedError: the worker died.
        """
        self._queue(partition.index % self._jobs, partition)

    def feed(self, index: int, event: AnyEvent) -> None:
        """Queue ``event`` for sub-run ``index`` (sent with its worker's next batch).

        Raises:
            WorkerDiedError: the worker died.
        """
        self._queue(index % self._jobs, (index, event))

    def _queue(self, worker: int, item: _Item) -> None:
        batch = self._pending[worker]
        batch.append(item)
        if len(batch) >= BATCH_EVENTS:
            self._send(worker)

    def _send(self, worker: int) -> None:
        payload = _ENCODER.encode(self._pending[worker])
        self._pending[worker] = []
        self._put(worker, payload)

    def _put(self, worker: int, item: bytes | None) -> None:
        while True:
            try:
                self._inboxes[worker].put(item, timeout=_POLL_S)
            except queue.Full:
                self._keepalive()
            else:
                self._check_alive()  # a worker that died is noticed within a batch
                return
            self._check_alive()

    def _check_alive(self) -> None:
        for worker, process in enumerate(self._processes):
            if worker not in self._reported and not process.is_alive():
                raise WorkerDiedError(
                    f"worker process {process.name} died (exit code {process.exitcode})"
                )

    def finish(self) -> list[PartitionResult]:
        """Send what is pending, ask every worker to finish, and collect their results.

        Returns:
            Every sub-run's result, in index order.

        Raises:
            WorkerDiedError: a worker died or failed before it reported.
        """
        for worker in range(self._jobs):
            if self._pending[worker]:
                self._send(worker)
            self._put(worker, None)
        while len(self._reported) < self._jobs:
            try:
                kind, worker, payload = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                self._keepalive()
                self._check_alive()
                continue
            if kind == "error":
                raise WorkerDiedError(f"worker process split-run-{worker} failed: {payload}")
            self._reported[worker] = _RESULTS.decode(payload)
        for process in self._processes:
            process.join(STOP_GRACE_S)
        return sorted(
            (r for results in self._reported.values() for r in results), key=lambda r: r.index
        )

    def close(self) -> None:
        """Stop every worker still running (SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`
        s) and let go of their queues."""
        end_processes(self._processes, STOP_GRACE_S, terminate=True)
        for inbox in self._inboxes:
            inbox.cancel_join_thread()
            inbox.close()
        self._results.close()
