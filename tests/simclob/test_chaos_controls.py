"""The simulator controls the chaos suite adds: ``stall_market`` (a silent but connected market
channel), ``ws_outage`` (channels dropped and refused for a while), ``trade_through`` (another
participant trades through our resting order), ``GET /sim/trades`` and the post-only refusal
counter. Like every control they need the control token."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from polytraders.feeds.live.market_channel import MarketChannel
from polytraders.model.events import BookDelta, BookSnapshot, FeedStatus
from polytraders.model.money import to_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.server import (
    SimClobServer,
    SimSettings,
    account_for_key,
    credentials_for,
    throwaway_key,
)
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.polymarket.venue import PolymarketVenue
from tests.simclob.test_ws_channels import Collector, market_feed
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def keyed() -> tuple[str, Account]:
    key = throwaway_key()
    return key, account_for_key(key)


@pytest.fixture(scope="module")
def sim(keyed: tuple[str, Account]) -> Iterator[SimClobServer]:
    with SimClobServer(SimSettings(limit_markets=1, confirm_ms=100), keyed[1]) as server:
        yield server


@pytest.fixture
def venue(sim: SimClobServer, keyed: tuple[str, Account]) -> Iterator[PolymarketVenue]:
    sim.control("clear")
    config = PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    opened = PolymarketVenue.from_credentials(credentials_for(*keyed), config)
    for token_id in sorted(sim.exchange.tokens):
        opened.load_token(token_id)
    opened.mark_reconciled()
    yield opened
    sim.control("clear")
    opened.cancel_all(time.time_ns())
    opened.close()


def resting_bid(sim: SimClobServer, venue: PolymarketVenue, cid: str, below_ticks: int = 1) -> str:
    """A post-only BUY resting ``below_ticks`` under the best bid; returns its order hash."""
    token = sorted(sim.exchange.tokens)[0]
    best = to_micros(sim.book(token)["bids"][-1]["price"])
    order = VenueOrder(
        client_order_id=cid,
        intent_id=cid,
        token_id=token,
        side=Side.BUY,
        price=best - below_ticks * 10_000,
        size=5_000_000,
        post_only=True,
        ts_created_ns=time.time_ns(),
    )
    venue.submit(order, time.time_ns())
    venue.flush(time.time_ns())
    tracked = venue.order(cid)
    assert tracked is not None and tracked.venue_order_id
    return tracked.venue_order_id.lower()


def test_stall_market_keeps_the_connection_but_sends_nothing(sim: SimClobServer) -> None:
    sim.control("clear")
    feed = market_feed(sim, sorted(sim.exchange.tokens))
    seen = Collector()
    try:
        wait_until(
            lambda: sum(isinstance(e, BookSnapshot) for e in seen.take(feed)) == 2, 10, "books"
        )
        sim.control("stall_market", on=True)
        client = feed.client
        assert isinstance(client, MarketChannel)
        pings = client.connections[0].counters.pings_sent
        before = len(seen.take(feed))
        sim.step(40)
        wait_until(lambda: client.connections[0].counters.pings_sent >= pings + 3, 10, "pings")
        assert len(seen.take(feed)) == before  # nothing arrived, not even a stale mark
        assert client.connections[0].counters.pong_timeouts == 0  # PONGs still answered
        state = sim.sim_state()
        assert state["market_stalled"] and state["market_events_withheld"] > 0
        sim.control("stall_market", on=False)
        sim.step(40)
        wait_until(lambda: any(isinstance(e, BookDelta) for e in seen.take(feed)), 10, "deltas")
    finally:
        feed.stop()
        sim.control("clear")


def test_ws_outage_drops_and_refuses_a_channel_for_a_while(sim: SimClobServer) -> None:
    sim.control("clear")
    feed = market_feed(sim, sorted(sim.exchange.tokens)[:1])
    seen = Collector()
    try:
        wait_until(lambda: any(isinstance(e, BookSnapshot) for e in seen.take(feed)), 10, "book")
        refused = sim.sim_state()["ws_refused_total"]
        answer = sim.control("ws_outage", channel="market", ms=800)
        assert answer["dropped"] >= 1
        wait_until(
            lambda: any(isinstance(e, FeedStatus) and e.stale for e in seen.take(feed)),
            10,
            "the stale mark",
        )
        wait_until(lambda: sim.sim_state()["ws_refused_total"] > refused, 10, "a refusal")
        wait_until(  # back by itself once the outage is over
            lambda: any(
                isinstance(e, FeedStatus) and not e.stale and e.reason_code == "SYS_FEED_RESYNCED"
                for e in seen.take(feed)
            ),
            10,
            "the resync",
        )
    finally:
        feed.stop()
    sim.control("ws_outage", channel="user", ms=60_000)
    with pytest.raises(InvalidStatus):
        connect(sim.ws_url + "/ws/user", open_timeout=5).close()
    sim.control("clear")  # lifts the outage
    connect(sim.ws_url + "/ws/user", open_timeout=5).close()


def test_ws_outage_refuses_a_bad_channel(sim: SimClobServer) -> None:
    with pytest.raises(httpx.HTTPStatusError) as raised:
        sim.control("ws_outage", channel="rest", ms=10)
    assert raised.value.response.status_code == 400


def test_trade_through_fills_our_resting_order_as_a_maker(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    order_hash = resting_bid(sim, venue, "chaos-ctl:0", below_ticks=2)
    (row,) = [o for o in sim.sim_orders() if o["id"].lower() == order_hash]
    answer = sim.control("trade_through", order_id=order_hash)
    assert answer["size"] == 5_000_000
    (trade,) = [t for t in sim.sim_trades() if t["id"] == answer["trade_id"]]
    assert (trade["order_id"].lower(), trade["liquidity"], trade["price"], trade["size"]) == (
        order_hash,
        "MAKER",
        row["price"],
        5_000_000,
    )
    (after,) = [o for o in sim.sim_orders() if o["id"].lower() == order_hash]
    assert after["status"] == "MATCHED" and after["size_matched"] == 5_000_000
    bids = [to_micros(b["price"]) for b in sim.book(row["token_id"])["bids"]]
    assert bids and max(bids) < row["price"]  # the better bids were swept first
    with pytest.raises(httpx.HTTPStatusError):  # not live any more
        sim.control("trade_through", order_id=order_hash)


def test_a_non_post_only_order_in_a_post_only_window_is_counted(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    refused = sim.sim_state()["stats"].get("post_only_refusals", 0)
    sim.control("post_only", duration_ms=60_000)
    token = sorted(sim.exchange.tokens)[0]
    best = to_micros(sim.book(token)["bids"][-1]["price"])
    taker_style = VenueOrder(
        client_order_id="chaos-ctl:1",
        intent_id="chaos-ctl:1",
        token_id=token,
        side=Side.BUY,
        price=best - 20_000,
        size=5_000_000,
        ts_created_ns=time.time_ns(),
    )
    venue.submit(taker_style, time.time_ns())
    venue.flush(time.time_ns())
    assert sim.sim_state()["stats"]["post_only_refusals"] == refused + 1


def test_the_new_controls_need_the_token(sim: SimClobServer) -> None:
    with httpx.Client(base_url=sim.url, timeout=5.0) as raw:
        assert raw.get("/sim/trades").status_code == 401
        answer = raw.post("/sim/fault", json={"kind": "stall_market", "on": True})
        assert answer.status_code == 401
    assert sim.sim_state()["market_stalled"] is False
