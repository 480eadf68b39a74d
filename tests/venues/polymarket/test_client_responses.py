"""The CLOB client frees each answer as soon as it is decoded: httpx's response and its
stream hold each other (encode/httpx#3733), and a live session's trade polls left a body
per second waiting for a full garbage collection (docs/performance.md)."""

from __future__ import annotations

import gc
import time

import httpx
import pytest

from polytraders.model.orders import Side
from polytraders.simclob.server import SimClobServer
from polytraders.venues.polymarket.client import ClobRequestError
from polytraders.venues.polymarket.venue import PolymarketVenue
from tests.venues.polymarket.conftest import first_token, order, top


def _responses() -> int:
    return sum(isinstance(o, httpx.Response) for o in gc.get_objects())


def test_no_answer_waits_for_the_garbage_collector(
    venue: PolymarketVenue, sim: SimClobServer
) -> None:
    """With the collector off, answers — a fill's trades, the open orders, a refusal — are
    all freed by reference counting: no ``httpx.Response`` is left behind."""
    token = first_token(sim)
    _bid, ask = top(venue, token)
    venue.submit(order(token, Side.BUY, ask, size=5_000_000), time.time_ns())
    venue.flush(time.time_ns())
    gc.collect()
    gc.disable()
    try:
        before = _responses()
        for _ in range(5):
            assert venue.client.get_trades()
            venue.fetch_open_orders()
        with pytest.raises(ClobRequestError):
            venue.client._get(f"{venue.client.host}/no-such-endpoint")
        left = _responses() - before
    finally:
        gc.enable()
    assert left == 0
