"""The :class:`Source` interface every feed implements, and :func:`merge`.

A source knows its markets (Polymarket) or instruments (crypto) up front and yields events in
receive-time order (``ts_recv_ns`` non-decreasing) with venue time that never goes backwards
(``ts_event_ns`` non-decreasing), the order the desk requires: its simulated clock and the
paper venue run on venue time. Streams recorded from several channels (Binance depth, trade
and bookTicker) interleave venue times in receive order: an event whose venue time is older
than one already yielded is yielded at that later time (counter ``venue_time_raised``), which
is when the desk could first have known of it. Each call of :meth:`Source.events` starts a
fresh, deterministic pass from the beginning and resets :attr:`Source.stats`.
"""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

import msgspec

from polytraders.feeds.stats import FeedStats
from polytraders.model.events import AnyEvent
from polytraders.model.market import Instrument, Market


class Source(ABC):
    """A stream of market events plus the metadata needed to interpret it.

    Attributes:
        name: where the data comes from (a path or a synthetic spec).
        markets: Polymarket-style binary markets with their tokens (complements linked),
            category, start/end ns and payouts when known; empty for crypto sources.
        instruments: crypto instruments (venue, symbol, increments); empty for Polymarket.
        synthetic: True when the events are generated; every event then has ``synthetic=True``.
        stats: counts of the current/latest pass (events by type, bad input by reason code).
    """

    kind: ClassVar[str] = "source"
    record_counter: ClassVar[str] = ""
    """The :attr:`stats` counter of the records this kind of source reads (``"lines"``,
    ``"rows"``, ``"frames"``; see :attr:`FeedStats.records_read`)."""

    def __init__(
        self,
        name: str,
        *,
        markets: list[Market] | None = None,
        instruments: list[Instrument] | None = None,
        synthetic: bool = False,
    ) -> None:
        self.name = name
        self.markets: list[Market] = list(markets or [])
        self.instruments: list[Instrument] = list(instruments or [])
        self.synthetic = synthetic
        self._stats = FeedStats(name, self.record_counter)

    @property
    def stats(self) -> FeedStats:
        """Counts of the current/latest pass (see :class:`FeedStats`)."""
        return self._stats

    def events(self) -> Iterator[AnyEvent]:
        """Yield every event of one pass in ``ts_recv_ns`` order (ties keep source order),
        ``ts_event_ns`` non-decreasing (an older venue time is raised to the latest one
        yielded, counter ``venue_time_raised``; see the module docstring).

        Resets :attr:`stats` first; counts every emitted event. Memory stays bounded: events
        are produced lazily.
        """
        self._stats.reset()
        by_class = self._stats.by_class
        counters = self._stats.counters
        latest_ns = 0
        for event in self._events():
            ts_event_ns = event.ts_event_ns
            if ts_event_ns < latest_ns:
                event = msgspec.structs.replace(event, ts_event_ns=latest_ns)  # noqa: PLW2901
                counters["venue_time_raised"] += 1
            else:
                latest_ns = ts_event_ns
            cls = type(event)
            by_class[cls] = by_class.get(cls, 0) + 1
            yield event

    @abstractmethod
    def _events(self) -> Iterator[AnyEvent]:
        """The events of one pass (subclasses); counting is done by :meth:`events`."""

    def expected_records(self) -> int | None:
        """How many records (see :attr:`record_counter`) a whole pass reads, when the data can
        say (None otherwise): for progress bars. May read the data once (line files)."""
        return None

    def token_ids(self) -> list[str]:
        """Every token id of :attr:`markets`, market order then token order."""
        return [t.token_id for m in self.markets for t in m.tokens]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, markets={len(self.markets)}, "
            f"instruments={len(self.instruments)}, synthetic={self.synthetic})"
        )


class MergedSource(Source):
    """Several sources merged by ``ts_recv_ns`` (see :func:`merge`)."""

    kind = "merged"

    def __init__(self, sources: list[Source]) -> None:
        if not sources:
            raise ValueError("merge needs at least one source")
        super().__init__(
            " + ".join(s.name for s in sources),
            markets=[m for s in sources for m in s.markets],
            instruments=[i for s in sources for i in s.instruments],
            synthetic=any(s.synthetic for s in sources),
        )
        self.sources = sources
        seen: set[str] = set()
        for token in self.token_ids():
            if token in seen:
                raise ValueError(f"token {token} appears in more than one merged source")
            seen.add(token)

    @property
    def stats(self) -> FeedStats:
        """The children's counts summed, plus the merge's own counters (computed on each
        read, so current while iterating)."""
        total = FeedStats(self.name)
        for source in self.sources:
            total.add(source.stats)
        total.counters.update(self._stats.counters)
        return total

    def expected_records(self) -> int | None:
        """The sum of the sources' counts, when every one knows its own."""
        counts = [s.expected_records() for s in self.sources]
        return None if None in counts else sum(c for c in counts if c is not None)

    def _events(self) -> Iterator[AnyEvent]:
        streams = [s.events() for s in self.sources]
        yield from heapq.merge(*streams, key=_recv_key)


def _recv_key(event: AnyEvent) -> int:
    return event.ts_recv_ns


def merge(*sources: Source) -> Source:
    """Merge sources into one stream ordered by ``ts_recv_ns`` (a k-way heap merge), venue
    times made non-decreasing as for any source (:meth:`Source.events`).

    Ties are broken by argument order, then each source's own order, so the result is
    deterministic. Memory: one pending event per source. The merged ``stats`` are the sum of
    the children's; ``synthetic`` is True when any input is synthetic (the events keep their
    own flags).

    Raises:
        ValueError: no sources, or two sources share a token id.
    """
    return MergedSource(list(sources))
