"""Time covered by a set of intervals: how long at least one of them was in force inside a
window, and for how long, ending at the window's end, that was so without a break.

An interval is anything with ``starts_ns`` and ``ends_ns`` (ns since the epoch); ``ends_ns``
None means "not over yet" and counts up to the window's end. Intervals are half-open,
``[starts_ns, ends_ns)``. The alert firings (:mod:`polytraders.store.alerts`) and the security
findings (:mod:`polytraders.store.security_findings`) are measured with these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Interval(Protocol):
    """``[starts_ns, ends_ns)``; ``ends_ns`` None while it lasts."""

    @property
    def starts_ns(self) -> int: ...

    @property
    def ends_ns(self) -> int | None: ...


def _merged(intervals: Iterable[Interval], start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    """The intervals clipped to ``[start_ns, end_ns)`` and merged where they touch or
    overlap, in time order."""
    clipped = sorted(
        (max(i.starts_ns, start_ns), min(end_ns if i.ends_ns is None else i.ends_ns, end_ns))
        for i in intervals
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in clipped:
        if hi <= lo:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def union_ns(intervals: Iterable[Interval], start_ns: int, end_ns: int) -> int:
    """Length (ns) of the union of ``intervals`` (open ones run to ``end_ns``) inside
    ``[start_ns, end_ns)``."""
    return sum(hi - lo for lo, hi in _merged(intervals, start_ns, end_ns))


def trailing_ns(intervals: Iterable[Interval], start_ns: int, end_ns: int) -> int:
    """Length (ns) of the unbroken stretch of the union that ends exactly at ``end_ns``
    (0 when nothing is in force just before ``end_ns``), clipped to ``[start_ns, end_ns)``:
    ``end_ns - start_ns`` means "in force throughout the window"."""
    merged = _merged(intervals, start_ns, end_ns)
    if not merged or merged[-1][1] != end_ns:
        return 0
    return end_ns - merged[-1][0]
