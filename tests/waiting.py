"""Waiting in tests: on a condition, with a deadline — never a fixed sleep against a window."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.02
"""How often a condition is asked again (not a window: the deadline bounds the wait)."""


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Return as soon as ``condition()`` is true.

    Raises:
        AssertionError: still false after ``timeout_s`` seconds (names ``what``).
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(POLL_S)
