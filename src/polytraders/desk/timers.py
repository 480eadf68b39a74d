"""Timers: named periodic schedules that fire :class:`~polytraders.model.events.Timer` events.

Deterministic: timers due at the same time fire in the order they were added; a timer fires at
``first_ns, first_ns + interval_ns, …`` exactly (never drifting with processing time). Under a
simulated clock the desk fires every timer due before an event's time before processing the
event; under a live clock it fires those due at the current wall time.
"""

from __future__ import annotations

import heapq

from polytraders.model.events import Timer


class TimerSchedule:
    """A set of periodic timers."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str, int]] = []
        self._order = 0
        self._names: set[str] = set()

    def add(self, name: str, interval_ns: int, first_ns: int) -> None:
        """Fire ``name`` every ``interval_ns`` starting at ``first_ns``.

        Raises:
            ValueError: a non-positive interval or a name already used.
        """
        if interval_ns <= 0:
            raise ValueError("timer interval must be positive")
        if name in self._names:
            raise ValueError(f"timer {name!r} already exists")
        self._names.add(name)
        self._order += 1
        heapq.heappush(self._heap, (first_ns, self._order, name, interval_ns))

    def next_due_ns(self) -> int | None:
        """Time of the next firing, or None without timers."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, until_ns: int) -> Timer | None:
        """The next timer due at or before ``until_ns`` (rescheduled for its next firing), or
        None when none is due."""
        if not self._heap or self._heap[0][0] > until_ns:
            return None
        due_ns, order, name, interval_ns = self._heap[0]
        heapq.heapreplace(self._heap, (due_ns + interval_ns, order, name, interval_ns))
        return Timer(ts_event_ns=due_ns, ts_recv_ns=due_ns, name=name)

    def __len__(self) -> int:
        return len(self._heap)
