"""Deliver a source's book updates as full snapshots (``snapshots_only``)."""

from __future__ import annotations

from collections.abc import Iterator

from polytraders.feeds.books import BookSet
from polytraders.feeds.source import Source
from polytraders.feeds.stats import FeedStats
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot


class SnapshotsOnly(Source):
    """Wraps a source: each ``BookDelta`` is replaced by a ``BookSnapshot`` of the token's whole
    book after it (same times and sequence ids); every other event passes unchanged.

    Costs one book per token and a copy of the book per update.
    """

    kind = "snapshots-only"

    def __init__(self, inner: Source) -> None:
        super().__init__(
            inner.name,
            markets=inner.markets,
            instruments=inner.instruments,
            synthetic=inner.synthetic,
        )
        self.inner = inner

    @property
    def stats(self) -> FeedStats:
        """The wrapped source's counts, with events counted as delivered."""
        inner = self.inner.stats
        merged = FeedStats(self.name, inner.record_counter)
        merged.bad_input.update(inner.bad_input)
        merged.counters.update(inner.counters)
        merged.counters.update(self._stats.counters)
        merged.issues.extend(inner.issues)
        merged.by_class.update(self._stats.by_class)
        return merged

    def expected_records(self) -> int | None:
        """The inner source's count."""
        return self.inner.expected_records()

    def _events(self) -> Iterator[AnyEvent]:
        books = BookSet()
        for event in self.inner.events():
            book = books.apply(event)
            if isinstance(event, BookDelta) and book is not None:
                yield BookSnapshot(
                    ts_event_ns=event.ts_event_ns,
                    ts_recv_ns=event.ts_recv_ns,
                    synthetic=event.synthetic,
                    token_id=event.token_id,
                    bids=book.bids(),
                    asks=book.asks(),
                    sequence=event.sequence,
                )
            else:
                yield event
