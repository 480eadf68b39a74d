"""The live Binance diff-depth feed against the simulator's websocket and REST snapshot: the
book it builds equals the simulator's, and a lost message is detected (``SYS_FEED_GAP``) and
resynced from a fresh snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from polytraders.feeds.binance import FEED_GAP, RESYNCED
from polytraders.feeds.live.binance_depth import BinanceDepthConfig, BinanceDepthFeed
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.book import OrderBook
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key

DEPTH = 100
"""Levels compared per side: the REST snapshot carries 1000, so the top 100 are complete."""


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


class BookSink:
    """The book a consumer of the feed's events builds, and the statuses it saw."""

    def __init__(self) -> None:
        self.book = OrderBook("binance-usdm:BTCUSDT")
        self.statuses: list[FeedStatus] = []
        self.snapshots = 0

    def __call__(self, event: AnyEvent) -> None:
        if isinstance(event, BookSnapshot):
            self.snapshots += 1
            self.book.apply_snapshot(event.bids, event.asks, event.ts_event_ns)
        elif isinstance(event, BookDelta):
            self.book.apply_levels(event.bids, event.asks, event.ts_event_ns)
        elif isinstance(event, FeedStatus):
            self.statuses.append(event)


async def _until(condition: object, what: str, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _same_top(sink: BookSink, sim: SimExchangeServer) -> None:
    assert sink.book.bids(DEPTH) == sim.exchange.book.bids(DEPTH)
    assert sink.book.asks(DEPTH) == sim.exchange.book.asks(DEPTH)


def test_feed_rebuilds_the_simulators_book_and_resyncs_after_a_lost_event(
    sim: SimExchangeServer,
) -> None:
    sink = BookSink()
    feed = BinanceDepthFeed(
        BinanceDepthConfig(ws_url=sim.ws_url, rest_url=sim.url, snapshot_retry_ms=50), sink
    )

    async def scenario() -> None:
        task = asyncio.create_task(feed.run())
        try:
            await _until(lambda: sink.snapshots == 1, "the first snapshot")
            await asyncio.to_thread(sim.step, 500)
            target = sim.exchange.last_update_id
            await _until(lambda: feed.last_sequence == target, "the 500 steps")
            _same_top(sink, sim)
            assert feed.stats.bad_input[FEED_GAP] == 0

            await asyncio.to_thread(sim.fault, "drop_depth", count=1)
            await asyncio.to_thread(sim.step, 50)
            target = sim.exchange.last_update_id
            await _until(lambda: feed.last_sequence == target and sink.snapshots == 2, "the resync")
            _same_top(sink, sim)
            assert feed.stats.bad_input[FEED_GAP] == 1
            assert [(s.stale, s.reason_code) for s in sink.statuses] == [
                (True, FEED_GAP),
                (False, RESYNCED),
            ]

            await asyncio.to_thread(sim.step, 200)  # the chain goes on from the new snapshot
            target = sim.exchange.last_update_id
            await _until(lambda: feed.last_sequence == target, "200 more steps")
            _same_top(sink, sim)
            assert sim.sim_state()["depth_events_dropped"] == 1
        finally:
            feed.stop()
            await task

    asyncio.run(scenario())


def test_feed_resyncs_after_the_websocket_is_dropped(sim: SimExchangeServer) -> None:
    sink = BookSink()
    feed = BinanceDepthFeed(
        BinanceDepthConfig(
            ws_url=sim.ws_url,
            rest_url=sim.url,
            keepalive=KeepaliveConfig(
                protocol_ping=True, reconnect_initial_ms=20, reconnect_max_ms=100
            ),
        ),
        sink,
    )

    async def scenario() -> None:
        task = asyncio.create_task(feed.run())
        try:
            await _until(lambda: sink.snapshots == 1, "the first snapshot")
            await asyncio.to_thread(sim.step, 100)
            await asyncio.to_thread(sim.fault, "drop_ws")
            await _until(lambda: sink.snapshots == 2, "the snapshot after reconnecting")
            await asyncio.to_thread(sim.step, 100)
            target = sim.exchange.last_update_id
            await _until(lambda: feed.last_sequence == target, "the steps after reconnecting")
            _same_top(sink, sim)
            assert (sink.statuses[0].stale, sink.statuses[0].reason_code) == (True, FEED_GAP)
            assert (sink.statuses[-1].stale, sink.statuses[-1].reason_code) == (False, RESYNCED)
        finally:
            feed.stop()
            await task

    asyncio.run(scenario())


def test_protocol_pings_keep_one_connection_alive(sim: SimExchangeServer) -> None:
    """Keepalive by protocol ping frames, as Binance answers them: pings every 20 ms with a
    100 ms pong deadline for about a second never drop the connection, and the book follows."""
    sink = BookSink()
    feed = BinanceDepthFeed(
        BinanceDepthConfig(
            ws_url=sim.ws_url,
            rest_url=sim.url,
            keepalive=KeepaliveConfig(protocol_ping=True, ping_interval_ms=20, pong_timeout_ms=100),
        ),
        sink,
    )

    async def scenario() -> None:
        task = asyncio.create_task(feed.run())
        try:
            await _until(lambda: sink.snapshots == 1, "the first snapshot")
            loop = asyncio.get_running_loop()
            until = loop.time() + 1.0
            while loop.time() < until:
                await asyncio.to_thread(sim.step, 5)
                await asyncio.sleep(0.05)
            target = sim.exchange.last_update_id
            await _until(lambda: feed.last_sequence == target, "the steps")
            _same_top(sink, sim)
            assert feed.connection.counters.connects == 1
            assert feed.connection.counters.disconnects == 0
            assert feed.stats.bad_input[FEED_GAP] == 0
        finally:
            feed.stop()
            await task

    asyncio.run(scenario())


def test_spot_feed_rebuilds_the_spot_book_and_resyncs_after_a_lost_event() -> None:
    """``market="spot"``: the snapshot from ``/api/v3/depth`` (no ``E``: stamped with the
    latest depth event's time), events chained by ``U`` (no ``pu``), token ``binance-spot:``."""
    settings = SimExchangeSettings(market="spot")
    with SimExchangeServer(settings, throwaway_key()) as sim:
        sink = BookSink()
        sink.book = OrderBook("binance-spot:BTCUSDT")
        config = BinanceDepthConfig(
            ws_url=sim.ws_url, rest_url=sim.url, snapshot_retry_ms=50, market="spot"
        )
        seen: list[AnyEvent] = []

        def both(event: AnyEvent) -> None:
            seen.append(event)
            sink(event)

        feed = BinanceDepthFeed(config, both)
        assert feed.token_id == "binance-spot:BTCUSDT"

        async def scenario() -> None:
            task = asyncio.create_task(feed.run())
            try:
                await _until(lambda: sink.snapshots == 1, "the first snapshot")
                await asyncio.to_thread(sim.step, 300)
                target = sim.exchange.last_update_id
                await _until(lambda: feed.last_sequence == target, "the 300 steps")
                _same_top(sink, sim)
                await asyncio.to_thread(sim.fault, "drop_depth", count=1)
                await asyncio.to_thread(sim.step, 50)
                target = sim.exchange.last_update_id
                await _until(
                    lambda: feed.last_sequence == target and sink.snapshots == 2, "the resync"
                )
                _same_top(sink, sim)
                assert feed.stats.bad_input[FEED_GAP] == 1
                assert [(s.stale, s.reason_code) for s in sink.statuses] == [
                    (True, FEED_GAP),
                    (False, RESYNCED),
                ]
            finally:
                feed.stop()
                await task

        asyncio.run(scenario())
    deltas = [e for e in seen if isinstance(e, BookDelta)]
    assert deltas and all(d.token_id == "binance-spot:BTCUSDT" for d in deltas)
    assert all(d.prev_sequence == 0 for d in deltas)
    snapshots = [e for e in seen if isinstance(e, BookSnapshot)]
    assert all(s.ts_event_ns > 0 for s in snapshots)  # never the epoch
