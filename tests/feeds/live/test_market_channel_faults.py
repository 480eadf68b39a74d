"""The live market channel survives hostile frames and its own failures (issue 12): no frame
ends a connection task; a handler exception or a dead task makes the tokens stale at once and
the feed comes back by itself; stale tokens are resynced on a timer with back-off.

Runs against a small scripted market-channel server on loopback (websockets); the resync
schedule is tested on a controllable clock, without waiting."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.feeds.live.market_channel import MarketChannel, MarketChannelConfig
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, FeedStatus, Trade
from tests.fuzz.seeds import load_corpus

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=2_000, reconnect_initial_ms=20, reconnect_max_ms=200
)
TOKENS = ["A", "B"]


def _book(token: str, ts_ms: int | None = None) -> str:
    """A book frame stamped ``ts_ms`` (default: now)."""
    return json.dumps(
        {
            "event_type": "book",
            "asset_id": token,
            "market": "m",
            "timestamp": str(time.time_ns() // 1_000_000 if ts_ms is None else ts_ms),
            "bids": [{"price": "0.4", "size": "10"}],
            "asks": [{"price": "0.6", "size": "10"}],
        }
    )


def _trade(token: str) -> str:
    return json.dumps(
        {
            "event_type": "last_trade_price",
            "asset_id": token,
            "market": "m",
            "price": "0.5",
            "size": "1",
            "timestamp": str(time.time_ns() // 1_000_000),
        }
    )


class ScriptedVenue:
    """Answers every subscription with a book per token, then sends ``script`` once (after
    the first subscription) and ``after_resync`` once (after the first re-subscription);
    ``close_after_script`` closes the first connection after its script. Answers PING."""

    def __init__(
        self,
        script: list[str | bytes] | None = None,
        after_resync: list[str | bytes] | None = None,
        close_after_script: bool = False,
    ) -> None:
        self.script = list(script or [])
        self.after_resync = list(after_resync or [])
        self.close_after_script = close_after_script
        self.connections = 0
        self.subscriptions = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        subscribed = 0
        async for message in ws:
            if message == "PING":
                await ws.send("PONG")
                continue
            subscribed += 1
            self.subscriptions += 1
            for token in json.loads(message)["assets_ids"]:
                await ws.send(_book(token))
            if subscribed == 1 and self.script:
                frames, self.script = self.script, []
                for frame in frames:
                    await ws.send(frame)
                if self.close_after_script:
                    await ws.close()
                    return
            elif subscribed == 2 and self.after_resync:
                frames, self.after_resync = self.after_resync, []
                for frame in frames:
                    await ws.send(frame)


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.01)


def _run(
    venue: ScriptedVenue,
    scenario: Callable[[MarketChannel, list[AnyEvent]], Awaitable[None]],
    sink: Callable[[list[AnyEvent]], Callable[[AnyEvent], None]] | None = None,
    clock: Callable[[], int] = time.time_ns,
    **config: Any,
) -> None:
    async def main() -> None:
        async with serve(venue.handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            events: list[AnyEvent] = []
            channel = MarketChannel(
                TOKENS,
                sink(events) if sink else events.append,
                MarketChannelConfig(
                    ws_url=f"ws://127.0.0.1:{port}", **{"keepalive": FAST, **config}
                ),
                clock=clock,
            )
            task = asyncio.create_task(channel.run())
            try:
                await scenario(channel, events)
            finally:
                channel.stop()
                await asyncio.wait_for(task, 10)

    asyncio.run(main())


def _fresh(events: list[AnyEvent], token: str) -> bool:
    """The token had a book and its last status (if any) says fresh."""
    statuses = [e for e in events if isinstance(e, FeedStatus) and e.token_id == token]
    has_book = any(isinstance(e, BookSnapshot) and e.token_id == token for e in events)
    return has_book and (not statuses or not statuses[-1].stale)


def test_hostile_frames_never_end_the_connection() -> None:
    hostile: list[str | bytes] = [*load_corpus("polymarket_wire"), b"\xff\xfe binary"]
    venue = ScriptedVenue(script=[*hostile, _trade("B")])

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        await _until(lambda: any(isinstance(e, Trade) for e in events))
        await _until(lambda: _fresh(events, "A") and _fresh(events, "B"))
        connection = channel.connections[0]
        assert venue.connections == 1 and connection.counters.connects == 1
        assert connection.counters.handler_errors == 0
        assert channel.stats.bad_input_total >= len(hostile)
        assert channel.stats.counters["task_restarts"] == 0

    _run(venue, scenario)


def test_a_frame_handler_exception_reconnects_and_resyncs() -> None:
    venue = ScriptedVenue(script=[_trade("A")])

    def flaky(events: list[AnyEvent]) -> Callable[[AnyEvent], None]:
        failed = []

        def sink(event: AnyEvent) -> None:
            if isinstance(event, Trade) and not failed:
                failed.append(event)
                raise RuntimeError("a consumer defect")
            events.append(event)

        return sink

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        connection = channel.connections[0]
        await _until(lambda: connection.counters.handler_errors == 1)
        await _until(
            lambda: (
                {
                    e.token_id
                    for e in events
                    if isinstance(e, FeedStatus) and e.reason_code == "SYS_FEED_RESYNCED"
                }
                == set(TOKENS)
            )
        )
        stale = [e for e in events if isinstance(e, FeedStatus) and e.stale]
        assert {(e.token_id, e.reason_code) for e in stale} == {
            ("A", "SYS_POLY_WS_DISCONNECTED"),
            ("B", "SYS_POLY_WS_DISCONNECTED"),
        }
        assert connection.counters.connects == 2

    _run(venue, scenario, sink=flaky)


def test_a_dead_connection_task_marks_its_tokens_stale_and_restarts() -> None:
    venue = ScriptedVenue(script=[_trade("A")], close_after_script=True)

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        connection = channel.connections[0]
        on_down = connection._on_down
        calls: list[str] = []

        def failing_on_down(ts_ns: int, reason: str) -> None:
            calls.append(reason)
            if len(calls) == 1:
                raise RuntimeError("on_down defect: the connection task dies")
            on_down(ts_ns, reason)

        connection._on_down = failing_on_down
        await _until(lambda: channel.stats.counters["task_restarts"] == 1)
        failed = [e for e in events if isinstance(e, FeedStatus) and e.stale]
        assert {(e.token_id, e.reason_code) for e in failed} == {
            ("A", "SYS_FEED_TASK_FAILED"),
            ("B", "SYS_FEED_TASK_FAILED"),
        }
        await _until(lambda: _fresh(events, "A") and _fresh(events, "B"))
        assert venue.connections == 2

    _run(venue, scenario)


def test_a_burst_of_bad_frames_after_a_resync_is_resynced_by_the_timer() -> None:
    """issue 12: the resync was requested only when a new bad frame arrived, so bad frames
    right after a resync (inside the rate limit) left the books stale for good."""
    burst: list[str | bytes] = ["{not json"] * 5
    venue = ScriptedVenue(script=["{not json"], after_resync=burst)

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        await _until(lambda: venue.subscriptions >= 2)  # the immediate resync
        await _until(lambda: channel.stats.bad_input_total == 6)
        await _until(lambda: _fresh(events, "A") and _fresh(events, "B"))
        assert venue.subscriptions >= 3  # the timer asked again
        assert channel.stats.counters["resync_requests"] >= 2

    _run(venue, scenario, resync_interval_ms=50, resync_max_interval_ms=400)


def test_a_failing_resync_round_does_not_stop_the_timer() -> None:
    venue = ScriptedVenue(script=["{not json"], after_resync=["{not json"])
    calls: list[int] = []

    def clock() -> int:
        calls.append(0)
        if len(calls) == 1:
            raise RuntimeError("clock defect")
        return time.time_ns()

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        await _until(lambda: channel.stats.counters["resync_errors"] == 1)
        await _until(lambda: channel.stats.bad_input_total == 2)
        await _until(lambda: _fresh(events, "A") and _fresh(events, "B"))

    _run(venue, scenario, clock=clock, resync_interval_ms=50, resync_max_interval_ms=400)


def test_resync_requests_back_off_on_a_controllable_clock() -> None:
    now = [1_767_225_600_000_000_000]
    ms = 1_000_000

    async def scenario() -> None:
        channel = MarketChannel(
            TOKENS,
            lambda _e: None,
            MarketChannelConfig(resync_interval_ms=1_000, resync_max_interval_ms=4_000),
            clock=lambda: now[0],
        )
        t0 = now[0]
        for token in TOKENS:
            channel.handle_frame(t0, _book(token, t0 // ms))
        assert channel.request_snapshots(t0) == []  # nothing stale
        channel.handle_frame(t0, "{not json")  # both tokens stale: asked at once
        assert channel.stats.counters["resync_requests"] == 1
        asked_at = [
            offset_ms
            for offset_ms in range(0, 20_001, 250)
            if channel.request_snapshots(t0 + offset_ms * ms)
        ]
        assert asked_at == [1_000, 3_000, 7_000, 11_000, 15_000, 19_000]  # 1 s, 2 s, 4 s, 4 s…
        t1 = t0 + 20_000 * ms
        for token in TOKENS:  # fresh books arrive: the back-off restarts
            channel.handle_frame(t1, _book(token, t1 // ms))
        assert channel.request_snapshots(t1 + 250 * ms) == []
        channel.handle_frame(t1 + 500 * ms, "{not json")
        assert channel.stats.counters["resync_requests"] == 8  # asked at once again
        await asyncio.sleep(0)  # the (unconnected) sends finish

    asyncio.run(scenario())


def test_stale_books_do_not_receive_deltas_while_waiting() -> None:
    """A delta for a stale token is suppressed, never applied to a book it cannot fix."""

    async def scenario() -> None:
        events: list[AnyEvent] = []
        channel = MarketChannel(TOKENS, events.append)
        channel.handle_frame(time.time_ns(), _book("A"))
        channel.handle_frame(time.time_ns(), "{not json")
        delta = json.dumps(
            {
                "event_type": "price_change",
                "market": "m",
                "timestamp": str(time.time_ns() // 1_000_000),
                "price_changes": [{"asset_id": "A", "price": "0.41", "size": "5", "side": "BUY"}],
            }
        )
        channel.handle_frame(time.time_ns(), delta)
        assert not any(isinstance(e, BookDelta) for e in events)
        assert channel.stats.counters["suppressed_while_stale"] == 1
        await asyncio.sleep(0)

    asyncio.run(scenario())


def test_reconnects_are_reported_to_the_keepalive_hook() -> None:
    """``KeepaliveConfig.on_reconnect`` hears every connect after a connection's first (the
    metrics count websocket reconnects from it), not the first one."""
    venue = ScriptedVenue(script=[_trade("A")], close_after_script=True)
    heard: list[str] = []
    hooked = dataclasses.replace(FAST, on_reconnect=heard.append)

    async def scenario(channel: MarketChannel, events: list[AnyEvent]) -> None:
        connection = channel.connections[0]
        await _until(lambda: connection.counters.connects == 2)
        assert heard == [channel.config.ws_url]

    _run(venue, scenario, keepalive=hooked)
