"""Market and user channel clients against the simulator on loopback (intervals shortened)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_account import Account as EthAccount

from polytraders.accounting.ledger import Ledger
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.feeds.live.connection import KeepaliveConfig, backoff_delay_ms
from polytraders.feeds.live.market_channel import MarketChannel, MarketChannelConfig, shard
from polytraders.feeds.live.user_channel import UserAuth, UserChannel, UserChannelConfig
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus
from polytraders.model.fills import Fill
from polytraders.model.money import to_micros
from polytraders.model.orders import Side, VenueOrder
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.venues.polymarket.credentials import Credentials
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig

FAST = KeepaliveConfig(
    ping_interval_ms=100, pong_timeout_ms=400, reconnect_initial_ms=50, reconnect_max_ms=400
)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope="module")
def key() -> str:
    return "0x" + bytes(EthAccount.create().key).hex()


@pytest.fixture(scope="module")
def sim(key: str) -> Iterator[SimClobServer]:
    with SimClobServer(SimSettings(limit_markets=2, confirm_ms=150), account_for_key(key)) as s:
        yield s


class Collector:
    def __init__(self) -> None:
        self.events: list[AnyEvent] = []

    def take(self, feed: BackgroundFeed[AnyEvent]) -> list[AnyEvent]:
        self.events += feed.poll()
        return self.events


def market_feed(
    sim: SimClobServer, tokens: list[str], per_conn: int = 200
) -> BackgroundFeed[AnyEvent]:
    config = MarketChannelConfig(
        ws_url=sim.ws_url + "/ws/market", max_tokens_per_connection=per_conn, keepalive=FAST
    )
    return BackgroundFeed(lambda push: MarketChannel(tokens, push, config), "test-market").start()


def test_shard_and_backoff_are_bounded() -> None:
    assert shard(["a", "b", "a", "c"], 2) == [["a", "b"], ["c"]]
    import random

    rng = random.Random(1)
    config = KeepaliveConfig(reconnect_initial_ms=100, reconnect_max_ms=1_000, jitter_pct=50)
    delays = [backoff_delay_ms(n, config, rng) for n in range(1, 8)]
    assert all(50 <= d <= 1_000 for d in delays)
    assert delays[-1] >= 500  # capped at 1 s, jittered down at most by half


def test_subscribe_snapshot_then_deltas_and_pongs(sim: SimClobServer) -> None:
    tokens = sorted(sim.exchange.tokens)
    feed = market_feed(sim, tokens)
    seen = Collector()
    try:
        assert wait_for(lambda: sum(isinstance(e, BookSnapshot) for e in seen.take(feed)) == 4)
        sim.step(40)
        assert wait_for(lambda: any(isinstance(e, BookDelta) for e in seen.take(feed)))
        snap = next(e for e in seen.events if isinstance(e, BookSnapshot))
        assert snap.bids[0][0] > snap.bids[-1][0]  # best first after the wire's best-last
        client = feed.client
        assert isinstance(client, MarketChannel)
        assert wait_for(lambda: client.connections[0].counters.pings_sent >= 2)
        assert client.connections[0].counters.pong_timeouts == 0
    finally:
        feed.stop()


def test_tokens_are_sharded_over_connections(sim: SimClobServer) -> None:
    tokens = sorted(sim.exchange.tokens)
    before = sim.sim_state()["market_connections"]
    feed = market_feed(sim, tokens, per_conn=1)
    seen = Collector()
    try:
        assert wait_for(lambda: sim.sim_state()["market_connections"] - before == 4)
        assert wait_for(
            lambda: (
                {e.token_id for e in seen.take(feed) if isinstance(e, BookSnapshot)} == set(tokens)
            )
        )
    finally:
        feed.stop()


def test_dropped_websocket_marks_stale_reconnects_resubscribes_and_resyncs(
    sim: SimClobServer,
) -> None:
    tokens = sorted(sim.exchange.tokens)[:2]
    feed = market_feed(sim, tokens)
    seen = Collector()
    try:
        assert wait_for(lambda: sum(isinstance(e, BookSnapshot) for e in seen.take(feed)) == 2)
        subs_before = sim.sim_state()["ws_subscriptions_total"]
        sim.control("drop_ws")
        assert wait_for(
            lambda: (
                sum(
                    isinstance(e, FeedStatus)
                    and e.stale
                    and e.reason_code == "SYS_POLY_WS_DISCONNECTED"
                    for e in seen.take(feed)
                )
                == 2
            )
        )
        assert wait_for(
            lambda: (
                sum(
                    isinstance(e, FeedStatus)
                    and not e.stale
                    and e.reason_code == "SYS_FEED_RESYNCED"
                    for e in seen.take(feed)
                )
                == 2
            )
        )
        assert sim.sim_state()["ws_subscriptions_total"] > subs_before
        client = feed.client
        assert isinstance(client, MarketChannel)
        assert client.connections[0].counters.connects == 2
    finally:
        feed.stop()


def test_missing_pong_is_a_dead_connection(sim: SimClobServer) -> None:
    tokens = sorted(sim.exchange.tokens)[:1]
    feed = market_feed(sim, tokens)
    seen = Collector()
    client = feed.client
    assert isinstance(client, MarketChannel)
    try:
        assert wait_for(lambda: any(isinstance(e, BookSnapshot) for e in seen.take(feed)))
        sim.control("silence_pong", on=True)
        assert wait_for(lambda: client.connections[0].counters.pong_timeouts >= 1)
        assert wait_for(lambda: any(isinstance(e, FeedStatus) and e.stale for e in seen.take(feed)))
        sim.control("silence_pong", on=False)
        assert wait_for(lambda: client.connections[0].counters.connects >= 2)
    finally:
        sim.control("clear")
        feed.stop()


def test_bad_frames_are_counted_and_skipped(sim: SimClobServer) -> None:
    tokens = sorted(sim.exchange.tokens)
    feed = market_feed(sim, tokens)
    seen = Collector()
    client = feed.client
    assert isinstance(client, MarketChannel)
    try:
        assert wait_for(lambda: sum(isinstance(e, BookSnapshot) for e in seen.take(feed)) == 4)
        sim.control("bad_frames", count=1)
        sim.step(60)
        assert wait_for(lambda: client.stats.bad_input_total >= 3)
        bad = client.stats.bad_input
        assert bad["SYS_MALFORMED_MESSAGE"] >= 1
        assert bad["SYS_UNKNOWN_EVENT"] >= 1
        assert bad["SYS_PRICE_OUT_OF_RANGE"] >= 1

        # the feed keeps working after bad input (and resyncs on snapshots): the simulator is
        # stepped until a delta arrives, within a deadline (a delta may need a resync first)
        def delta_after_a_step() -> bool:
            sim.step(20)
            return any(isinstance(e, BookDelta) for e in seen.take(feed))

        assert wait_for(delta_after_a_step, timeout_s=15.0)
    finally:
        feed.stop()


def test_user_channel_fills_count_at_matched_and_revert_on_failed(
    sim: SimClobServer, key: str
) -> None:
    account = sim.exchange.account
    venue = PolymarketVenue.from_credentials(
        Credentials(
            private_key=key,
            api_key=account.api_key,
            api_secret=account.api_secret,
            api_passphrase=account.api_passphrase,
        ),
        PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0, require_reconciliation=False),
    )
    token = sorted(sim.exchange.tokens)[0]
    venue.load_token(token)
    auth = UserAuth(account.api_key, account.api_secret, account.api_passphrase)
    config = UserChannelConfig(ws_url=sim.ws_url + "/ws/user", keepalive=FAST)
    user: BackgroundFeed[tuple[dict[str, Any], int]] = BackgroundFeed(
        lambda push: UserChannel(auth, lambda item, ts: push((item, ts)), config=config),
        "test-user",
    ).start()
    fills: list[Fill] = []
    statuses: list[str] = []

    def pump() -> None:
        for item, ts in user.poll():
            if item.get("event_type") == "trade":
                statuses.append(str(item["status"]))
            venue.on_user_message(item, ts)
        fills.extend(e for e in venue.poll() if isinstance(e, Fill))

    try:
        assert wait_for(lambda: sim.sim_state()["user_connections"] == 1)
        ask = to_micros(venue.client.get_order_book(token)["asks"][-1]["price"])
        now = time.time_ns()
        buy = VenueOrder(
            client_order_id="user-1",
            intent_id="i",
            token_id=token,
            side=Side.BUY,
            price=ask,
            size=5_000_000,
            ts_created_ns=now,
        )
        venue.submit(buy, now)
        venue.flush(now)
        assert wait_for(lambda: (pump(), "CONFIRMED" in statuses)[1])
        assert len(fills) == 1 and fills[0].side is Side.BUY and fills[0].size == 5_000_000
        assert statuses[0] == "MATCHED"
        sim.control("fail_trades", count=1)
        second = VenueOrder(
            client_order_id="user-2",
            intent_id="i2",
            token_id=token,
            side=Side.BUY,
            price=ask + 10_000,
            size=5_000_000,
            ts_created_ns=now + 1,
        )
        venue.submit(second, now + 1)
        venue.flush(now + 1)
        assert wait_for(lambda: (pump(), "FAILED" in statuses)[1])
        assert len(fills) == 2  # counted at MATCHED...
        reverted = venue.take_reverted()  # ...and reverted at FAILED
        assert [f.client_order_id for f in reverted] == ["user-2"]
        book = Ledger(1_000_000_000)
        for booked in fills:
            book.apply_fill(booked)
        assert book.size(token) == 10_000_000
        book.revert_fill(reverted[0].fill_id)  # the desk's ledger takes it back exactly
        assert book.size(token) == 5_000_000
        assert book.cash == 1_000_000_000 - fills[0].notional - fills[0].fee
        client = user.client
        assert isinstance(client, UserChannel)
        assert client.stats.bad_input_total == 0
    finally:
        user.stop()
        venue.close()


def test_user_channel_counts_and_skips_bad_frames() -> None:
    got: list[dict[str, Any]] = []
    channel = UserChannel(UserAuth("k", "s", "p"), lambda item, ts: got.append(item))
    channel.on_frame(1, "{not json")
    channel.on_frame(2, '[{"event_type": "mystery"}, 7, {"event_type": "trade", "id": "t1"}]')
    channel.on_frame(3, '{"event_type": "order", "id": "0xabc", "type": "PLACEMENT"}')
    assert [item["event_type"] for item in got] == ["trade", "order"]
    assert dict(channel.stats.bad_input) == {"SYS_MALFORMED_MESSAGE": 2, "SYS_UNKNOWN_EVENT": 1}
