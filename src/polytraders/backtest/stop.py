"""Stop a run on SIGINT or SIGTERM: the signal is noted and the run loop ends after the event
in hand, so the desk can cancel everything, flush and record how the run ended; and stop
worker processes (:func:`end_processes`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

EXIT_CODE_BY_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
"""Exit code of a run stopped by each signal (shell convention: 128 + the signal number)."""


class StopRequest:
    """Set by a signal handler; read by the run loop after each event."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        """True once SIGINT or SIGTERM arrived."""
        return self.signum is not None

    @property
    def signal_name(self) -> str:
        """``SIGINT`` / ``SIGTERM`` (empty when no signal arrived)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set the yielded :class:`StopRequest` instead of
    raising; a second signal of either kind raises ``KeyboardInterrupt`` (an operator insisting).
    Outside the main thread no handler can be installed and the request is never set. The
    previous handlers are restored on exit."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if request.signum is not None:
            raise KeyboardInterrupt
        request.signum = signum

    previous: dict[int, Any] = {
        sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def end_processes(processes: Sequence[BaseProcess], grace_s: float, *, terminate: bool) -> None:
    """Wait for ``processes`` to end (``terminate``: send SIGTERM to those still running
    first); kill any still running ``grace_s`` s later."""
    if terminate:
        for process in processes:
            if process.is_alive():
                process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()
