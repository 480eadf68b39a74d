"""Mids of recorded books at chosen times (:mod:`polytraders.feeds.mids`): just before a time
excludes the events at that time, at a time includes them; no book, a one-sided or stale book,
or a time after the data gives None."""

from __future__ import annotations

from polytraders.feeds.mids import MidQuery, doubled_mids
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus

T = "tok"
EVENTS: list[AnyEvent] = [
    BookSnapshot(
        ts_event_ns=10, ts_recv_ns=10, token_id=T, bids=[(400_000, 5)], asks=[(600_000, 5)]
    ),
    BookDelta(ts_event_ns=20, ts_recv_ns=20, token_id=T, bids=[], asks=[(500_000, 5)]),
    FeedStatus(ts_event_ns=30, ts_recv_ns=30, token_id=T, stale=True),
    FeedStatus(ts_event_ns=40, ts_recv_ns=40, token_id=T, stale=False),
    BookDelta(ts_event_ns=50, ts_recv_ns=50, token_id=T, bids=[(400_000, 0)], asks=[]),
]


def test_before_and_at_a_time() -> None:
    queries = {
        "before first": MidQuery(10, False, T),
        "at first": MidQuery(10, True, T),
        "before delta": MidQuery(20, False, T),
        "at delta": MidQuery(20, True, T),
        "between": MidQuery(25, True, T),
        "stale": MidQuery(35, True, T),
        "fresh again": MidQuery(45, False, T),
        "one-sided": MidQuery(50, True, T),
        "after the data": MidQuery(51, False, T),
        "unknown token": MidQuery(25, True, "other"),
    }
    mids = doubled_mids(EVENTS, queries.values())
    got = {name: mids[query] for name, query in queries.items()}
    assert got == {
        "before first": None,
        "at first": 1_000_000,
        "before delta": 1_000_000,
        "at delta": 900_000,
        "between": 900_000,
        "stale": None,
        "fresh again": 900_000,
        "one-sided": None,
        "after the data": None,
        "unknown token": None,
    }


def test_no_events_answer_none() -> None:
    query = MidQuery(5, True, T)
    assert doubled_mids([], [query]) == {query: None}
