"""The fuzz tests' bounds: every call on one input finishes within :data:`PER_INPUT_S` and
raises nothing but its documented errors; hypothesis settings shared by the fuzz tests."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

PER_INPUT_S = 0.010
"""Issue 12, "Done when": no input to any parser takes more than 10 ms."""

SCALE = int(os.environ.get("POLYTRADERS_FUZZ_SCALE", "1"))
"""``POLYTRADERS_FUZZ_SCALE=N`` (N > 1) runs N times the examples with fresh random ones
(deeper fuzzing by hand); the suite's default, 1, runs a fixed set (the same on every
machine)."""


def fuzz(max_examples: int, **overrides: Any) -> settings:
    """Settings of a fuzz test: ``max_examples`` (× :data:`SCALE`), a 250 ms hypothesis
    deadline (a hang fails fast; the 10 ms bound itself is measured by :func:`bounded`, which
    re-runs slow inputs), derandomized unless scaled."""
    options: dict[str, Any] = {
        "max_examples": max_examples * SCALE,
        "deadline": 250,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        "database": None,
        "derandomize": SCALE == 1,
    }
    options.update(overrides)
    return settings(**options)


def bounded(
    call: Callable[[], T],
    allowed: tuple[type[BaseException], ...] = (),
    limit_s: float = PER_INPUT_S,
) -> T | BaseException:
    """Run ``call`` (it must build any state it needs: it may run up to five times) and
    return its result, or the allowed exception it raised. Any other exception propagates
    (the test fails on it). Fails when the call takes longer than ``limit_s``: a slow run is
    repeated up to four times and the fastest counts, since a preempted run on a shared
    machine is not the input's own cost."""
    fastest = math.inf
    outcome: T | BaseException | None = None
    for _ in range(5):
        started = time.perf_counter()
        try:
            outcome = call()
        except allowed as exc:
            outcome = exc
        fastest = min(fastest, time.perf_counter() - started)
        if fastest <= limit_s:
            break
    assert fastest <= limit_s, (
        f"one input took {fastest * 1000:.1f} ms (limit {limit_s * 1000:.1f} ms)"
    )
    return outcome  # type: ignore[return-value]
