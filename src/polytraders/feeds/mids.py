"""Mid prices of recorded books at chosen times: one pass over a feed answers every question.

A :class:`MidQuery` asks for a token's book either just **before** a time (every event with
``ts_event_ns < at_ns`` applied: the quote prevailing when something happened at ``at_ns``) or
**at** a time (every event with ``ts_event_ns <= at_ns`` applied: the quote a moment later).
The answer is the book's doubled mid, ``best bid + best ask`` in micro-units (exact: the mid
itself may fall on half a micro-unit), or None when the token has no trusted book then (no
snapshot yet, marked stale by the feed, or a side empty) or the time lies after the feed's last
event (the data say nothing about it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from polytraders.feeds.books import BookSet
from polytraders.model.events import AnyEvent


class MidQuery(msgspec.Struct, frozen=True, order=True):
    """A token's doubled mid just before (``inclusive`` False) or at (True) ``at_ns``."""

    at_ns: int
    inclusive: bool
    token_id: str


def _mid2(books: BookSet, token_id: str) -> int | None:
    book = books.trusted(token_id)
    if book is None:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return None
    return bid + ask


def doubled_mids(
    events: Iterable[AnyEvent], queries: Iterable[MidQuery]
) -> Mapping[MidQuery, int | None]:
    """Answer every query in one pass over ``events`` (in the feed's order, venue time never
    decreasing), applying them to a :class:`BookSet`.

    Returns:
        query → ``best bid + best ask`` (micro-units) or None (module docstring).

    Raises:
        FeedError / ValueError / KeyError: what the feed or the books raise on bad input.
    """
    pending = sorted(set(queries))
    answers: dict[MidQuery, int | None] = {}
    books = BookSet()
    index = 0
    last_ns: int | None = None
    for event in events:
        ts_ns = event.ts_event_ns
        # a query is answered once the next event is past it: strictly later for "at", at or
        # after its time for "before"
        while index < len(pending) and (
            pending[index].at_ns < ts_ns
            or (pending[index].at_ns == ts_ns and not pending[index].inclusive)
        ):
            query = pending[index]
            answers[query] = _mid2(books, query.token_id) if last_ns is not None else None
            index += 1
        books.apply(event)
        last_ns = ts_ns
    for query in pending[index:]:
        inside = last_ns is not None and query.at_ns <= last_ns
        answers[query] = _mid2(books, query.token_id) if inside else None
    return answers
