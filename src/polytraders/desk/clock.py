"""Desk clocks (DESIGN.md "The desk": a ``Clock`` is either simulated or live).

The desk reads time only from its clock, and bots only from ``view.now_ns``.

- :class:`SimClock` (backtest, replay): time is the event time. ``observe(ts)`` moves the clock
  to ``ts`` (never backwards), so a replay is a pure function of its events.
- :class:`LiveClock` (paper on live data, shadow, live): time is the machine's UTC wall clock
  (``time.time_ns``), kept monotonic (a wall clock stepping back is held at the last reading).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the desk needs from a clock. Times are ns since the Unix epoch."""

    @property
    def simulated(self) -> bool:
        """True for a simulated clock (decision latencies are modelled, not measured)."""
        ...

    def now_ns(self) -> int:
        """Current desk time."""
        ...

    def observe(self, ts_event_ns: int) -> int:
        """An event with this time is about to be processed; return the desk time to use."""
        ...


class SimClock:
    """Simulated clock driven by event times.

    Args:
        start_ns: initial time.
    """

    simulated = True

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        """Current simulated time."""
        return self._now_ns

    def observe(self, ts_event_ns: int) -> int:
        """Advance to ``ts_event_ns`` (an older event leaves the clock where it is)."""
        self._now_ns = max(self._now_ns, ts_event_ns)
        return self._now_ns

    def advance_to(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns``.

        Raises:
            ValueError: ``ts_ns`` earlier than now.
        """
        if ts_ns < self._now_ns:
            raise ValueError(f"simulated time cannot go back from {self._now_ns} to {ts_ns}")
        self._now_ns = ts_ns


class LiveClock:
    """Wall clock (UTC ns), monotonic non-decreasing."""

    simulated = False

    def __init__(self) -> None:
        self._last_ns = 0

    def now_ns(self) -> int:
        """Wall-clock time, never earlier than the previous reading."""
        now = time.time_ns()
        self._last_ns = max(self._last_ns, now)
        return self._last_ns

    def observe(self, ts_event_ns: int) -> int:
        """Live time ignores the event's time: the desk acts now."""
        return self.now_ns()
