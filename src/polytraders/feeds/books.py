"""Apply a feed's events to order books: one :class:`~polytraders.model.book.OrderBook` per
token, with the feed's stale flags.

:class:`BookSet` is what replays, ``data inspect``, the converters and the tests use to turn a
stream into books; a desk keeps its own books the same way.
"""

from __future__ import annotations

from polytraders.model.book import OrderBook
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus


class BookSet:
    """Books by token id, updated by :meth:`apply`.

    ``BookSnapshot`` replaces a book; ``BookDelta`` applies its levels atomically
    (:meth:`OrderBook.apply_levels`); ``FeedStatus`` sets or clears the token's stale flag.
    Other events leave books unchanged. A token's book exists from its first snapshot.
    """

    __slots__ = ("books", "stale")

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self.stale: set[str] = set()

    def apply(self, event: AnyEvent) -> OrderBook | None:
        """Apply one event; returns the book it changed (None when no book changed).

        Raises:
            KeyError: a delta for a token with no book (a feed never emits one).
            ValueError: invalid levels (a feed never emits them; the book is unchanged).
        """
        if isinstance(event, BookDelta):
            book = self.books[event.token_id]
            book.apply_levels(event.bids, event.asks, event.ts_event_ns)
            return book
        if isinstance(event, BookSnapshot):
            existing = self.books.get(event.token_id)
            if existing is None:
                existing = self.books[event.token_id] = OrderBook(event.token_id)
            existing.apply_snapshot(event.bids, event.asks, event.ts_event_ns)
            return existing
        if isinstance(event, FeedStatus):
            if event.stale:
                self.stale.add(event.token_id)
            else:
                self.stale.discard(event.token_id)
        return None

    def trusted(self, token_id: str) -> OrderBook | None:
        """The token's book when it exists and is not stale, else None."""
        if token_id in self.stale:
            return None
        return self.books.get(token_id)

    def state(self, token_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, asks best first) of a token's book; empty when it has none."""
        book = self.books.get(token_id)
        if book is None:
            return [], []
        return book.bids(), book.asks()
