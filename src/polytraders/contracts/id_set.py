"""Exact sets of run-scoped ids that stay small when the ids are numbered in sequence.

A run's ids are a fixed text plus a counter (:mod:`polytraders.contracts.ids`: intent ids
``<bot>/s<session>/i<n>``, client order ids ``<intent>/o<leg>``), so "every id used so far"
is a few ranges of numbers per prefix rather than one string per id. :class:`IdSet` and
:class:`OrderIdSet` keep such ids as ranges and any other id as itself: membership is exact
(no false positives, no false negatives), and memory is O(prefixes + gaps + other ids)
instead of O(ids).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

_DIGITS = "0123456789"


def _split(value: str) -> tuple[str, int] | None:
    """(prefix, number) of an id ending in a canonical decimal number (no leading zero), else
    None. The prefix is empty or ends in a non-digit, so the split is unique."""
    prefix = value.rstrip(_DIGITS)
    digits = value[len(prefix) :]
    if not digits or (digits[0] == "0" and len(digits) > 1):
        return None
    return prefix, int(digits)


class _Ranges:
    """A set of ints as sorted, disjoint, non-adjacent inclusive ranges."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __contains__(self, number: int) -> bool:
        at = bisect_right(self.starts, number) - 1
        return at >= 0 and number <= self.ends[at]

    def add(self, number: int) -> bool:
        """Add ``number``; False when it was already there."""
        starts, ends = self.starts, self.ends
        if not starts or number > ends[-1] + 1:  # the common case: the next number
            starts.append(number)
            ends.append(number)
            return True
        if number == ends[-1] + 1:
            ends[-1] = number
            return True
        at = bisect_right(starts, number) - 1
        if at >= 0 and number <= ends[at]:
            return False
        joins_left = at >= 0 and ends[at] == number - 1
        joins_right = at + 1 < len(starts) and starts[at + 1] == number + 1
        if joins_left and joins_right:
            ends[at] = ends[at + 1]
            del starts[at + 1], ends[at + 1]
        elif joins_left:
            ends[at] = number
        elif joins_right:
            starts[at + 1] = number
        else:
            starts.insert(at + 1, number)
            ends.insert(at + 1, number)
        return True

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self.starts, self.ends, strict=True):
            yield from range(start, end + 1)


class IdSet:
    """An exact set of string ids (see the module docstring).

    An id ending in a canonical decimal number is kept as that number in the ranges of its
    prefix; any other id is kept as itself. Iteration yields every id once: numbered ones by
    prefix (in the order prefixes were first added) and number, then the others sorted.
    """

    __slots__ = ("_count", "_other", "_ranges")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ranges: dict[str, _Ranges] = {}
        self._other: set[str] = set()
        self._count = 0
        self.update(ids)

    def add(self, value: str) -> None:
        """Add one id (no-op when present)."""
        parts = _split(value)
        if parts is None:
            if value not in self._other:
                self._other.add(value)
                self._count += 1
            return
        prefix, number = parts
        ranges = self._ranges.get(prefix)
        if ranges is None:
            ranges = self._ranges[prefix] = _Ranges()
        if ranges.add(number):
            self._count += 1

    def update(self, ids: Iterable[str]) -> None:
        """Add every id of ``ids``."""
        for value in ids:
            self.add(value)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        parts = _split(value)
        if parts is None:
            return value in self._other
        ranges = self._ranges.get(parts[0])
        return ranges is not None and parts[1] in ranges

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for prefix, ranges in self._ranges.items():
            for number in ranges:
                yield f"{prefix}{number}"
        yield from sorted(self._other)

    @property
    def ranges(self) -> int:
        """How many ranges hold the numbered ids (their memory is O(this))."""
        return sum(len(r.starts) for r in self._ranges.values())


class OrderIdSet:
    """An exact set of client order ids, compact for ``<intent id>/o<leg>`` ids
    (:func:`polytraders.contracts.ids.client_order_id`): one :class:`IdSet` of intent ids per
    leg, so the ids of intents numbered in sequence are ranges. Other ids are kept whole."""

    __slots__ = ("_count", "_legs")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._legs: dict[str, IdSet] = {}
        self._count = 0
        for value in ids:
            self.add(value)

    @staticmethod
    def _key(value: str) -> tuple[str, str]:
        intent, separator, leg = value.rpartition("/o")
        if separator and leg.isdigit() and leg.isascii():
            return leg, intent
        return "", value

    def add(self, value: str) -> None:
        """Add one id (no-op when present)."""
        leg, rest = self._key(value)
        ids = self._legs.get(leg)
        if ids is None:
            ids = self._legs[leg] = IdSet()
        before = len(ids)
        ids.add(rest)
        self._count += len(ids) - before

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        leg, rest = self._key(value)
        ids = self._legs.get(leg)
        return ids is not None and rest in ids

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        for leg, ids in self._legs.items():
            if leg:
                for intent in ids:
                    yield f"{intent}/o{leg}"
            else:
                yield from ids

    @property
    def ranges(self) -> int:
        """How many ranges hold the numbered ids (their memory is O(this))."""
        return sum(ids.ranges for ids in self._legs.values())
