"""The fuzz tests' bounds: every call on one input finishes within :data:`PER_INPUT_S` and
raises nothing but its documented errors; hypothesis settings shared by the fuzz tests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

PER_INPUT_S = 0.010
"""Issue 12, "Done when": no input to any parser takes more than 10 ms."""

FUZZ = settings(
    deadline=250,  # a hang fails fast; the 10 ms bound is measured by `bounded` (re-runs)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # the same examples on every machine for a seed (CI runs the same set)
    derandomize=True,
)
"""Shared settings: ``@settings(FUZZ, max_examples=N)``, each test its own count (the whole
fuzz set stays under about 60 s on two cores)."""


def bounded(
    call: Callable[[], T], allowed: tuple[type[BaseException], ...] = ()
) -> T | BaseException:
    """Run ``call`` (it must build any state it needs: it may run up to three times) and
    return its result, or the allowed exception it raised. Any other exception propagates
    (the test fails on it). Fails when the call takes longer than :data:`PER_INPUT_S`: a slow
    run is repeated twice and the fastest counts, since a preempted run on a shared machine is
    not the input's own cost."""
    fastest = math.inf
    outcome: T | BaseException | None = None
    for _ in range(3):
        started = time.perf_counter()
        try:
            outcome = call()
        except allowed as exc:
            outcome = exc
        fastest = min(fastest, time.perf_counter() - started)
        if fastest <= PER_INPUT_S:
            break
    assert fastest <= PER_INPUT_S, f"one input took {fastest * 1000:.1f} ms (limit 10 ms)"
    return outcome  # type: ignore[return-value]
