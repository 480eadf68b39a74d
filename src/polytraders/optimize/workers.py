"""Where trials run: in this process (``jobs = 1``) or in ``jobs`` worker processes.

Worker processes are started with ``spawn`` (a fresh interpreter each: nothing of the parent's
database connections or signal handlers is inherited) once per :class:`Workers` and reused for
every task. Tasks go out as :class:`~polytraders.optimize.trial.TrialTask` data and come back as
:class:`~polytraders.optimize.trial.TrialOutcome` data (or the exception a task raised); each
worker runs the same :func:`~polytraders.optimize.trial.evaluate` a single process would, so
results do not depend on where a trial ran.

Stopping: a worker ignores SIGINT while idle (Ctrl-C reaches the whole process group; the
parent decides), and a backtest it runs stops at the next event on SIGINT or SIGTERM (the
engine's own handling), returning an INTERRUPTED outcome. Leaving :class:`Workers` with an
exception (an interruption, an error) sends SIGTERM to every worker still running, waits
:data:`STOP_GRACE_S` s, then kills what is left; leaving it normally lets them finish and exit.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Iterator, Sequence
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from polytraders.backtest.stop import StopRequest, end_processes
from polytraders.optimize.trial import TrialOutcome, TrialTask, evaluate

STOP_GRACE_S = 10.0
"""How long workers get to stop after SIGTERM before they are killed."""
_POLL_S = 0.5


def default_jobs(limit: int) -> int:
    """The processes to run trials on when ``--jobs`` is not given: every core this process
    may use (``os.process_cpu_count()`` where Python has it, 3.13 on, else
    ``os.cpu_count()``), at most ``limit`` (a batch of trials runs at once) and at least 1."""
    count = getattr(os, "process_cpu_count", os.cpu_count)
    return max(1, min(count() or 1, limit))


class StudyInterruptedError(Exception):
    """SIGINT or SIGTERM stopped the work (``signal_name``)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name


class WorkerDiedError(RuntimeError):
    """A worker process ended without returning its task's outcome (one line)."""


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a ``RuntimeError`` naming its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # an exception type that cannot be rebuilt from its args
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(tasks: Any, results: Any) -> None:
    """A worker's loop: evaluate tasks until the ``None`` sentinel, or until a task's backtest
    was interrupted (a signal asked this worker to stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (item := tasks.get()) is not None:
        index, task = item
        try:
            outcome = evaluate(task)
        except Exception as exc:  # handed to the parent, which raises it there
            results.put((index, None, _portable(exc)))
            continue
        results.put((index, outcome, None))
        if outcome.interrupted:  # asked to stop: take no further task
            return


class Workers:
    """Runs trial tasks on ``jobs`` processes (this one when ``jobs`` is 1).

    Use as a context manager (module docstring for how it stops).
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, not {jobs}")
        self.jobs = jobs
        self._processes: list[BaseProcess] = []
        self._tasks: Any = None
        self._results: Any = None

    def __enter__(self) -> Workers:
        if self.jobs > 1:
            context = multiprocessing.get_context("spawn")
            self._tasks = context.Queue()
            self._results = context.Queue()
            self._processes = [
                context.Process(
                    target=_serve,
                    args=(self._tasks, self._results),
                    name=f"optimize-worker-{i}",
                    daemon=True,
                )
                for i in range(self.jobs)
            ]
            for process in self._processes:
                process.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._processes:
            return
        if exc is None:
            for _ in self._processes:
                self._tasks.put(None)
        end_processes(self._processes, STOP_GRACE_S, terminate=exc is not None)
        self._processes = []

    def run(
        self, tasks: Sequence[TrialTask], stop: StopRequest | None = None
    ) -> Iterator[TrialOutcome]:
        """Run ``tasks``; yields each outcome as it finishes (any order with several jobs).

        Raises:
            StudyInterruptedError: ``stop`` was requested (checked between tasks, and every
                :data:`_POLL_S` s while workers run), or a task's backtest was interrupted.
            Whatever :func:`evaluate` raised for a task (e.g. ``RunRefusedError``).
            WorkerDiedError: a worker process died.
        """
        if not self._processes:
            for task in tasks:
                _check(stop)
                yield _checked(evaluate(task))
            return
        for index, task in enumerate(tasks):
            self._tasks.put((index, task))
        for _ in tasks:
            _, outcome, error = self._next_result(stop)
            if error is not None:
                raise error
            yield _checked(outcome)

    def _next_result(
        self, stop: StopRequest | None
    ) -> tuple[int, TrialOutcome, BaseException | None]:
        while True:
            _check(stop)
            try:
                result: tuple[int, TrialOutcome, BaseException | None] = self._results.get(
                    timeout=_POLL_S
                )
            except queue.Empty:
                dead = [p for p in self._processes if not p.is_alive()]
                if dead:
                    raise WorkerDiedError(
                        f"worker process {dead[0].name} died (exit code {dead[0].exitcode})"
                    ) from None
                continue
            return result


def _check(stop: StopRequest | None) -> None:
    if stop is not None and stop.requested:
        raise StudyInterruptedError(stop.signal_name)


def _checked(outcome: TrialOutcome) -> TrialOutcome:
    """``outcome``, unless its backtest was interrupted (then the work stops)."""
    if outcome.interrupted:
        raise StudyInterruptedError(outcome.error.removeprefix("interrupted by "))
    return outcome
