"""Polymarket market-channel client: sharded subscriptions, keepalive, reconnect, staleness.

Tokens are split over connections of at most ``max_tokens_per_connection`` (200 by default, a
peer's default; POLYMARKET.md: about 500 at most, unconfirmed). Each connection subscribes with
``{"type": "market", "assets_ids": [...], "custom_feature_enabled": true}`` and the venue answers
with a ``book`` per token (a fresh snapshot after every reconnect). Frames are parsed by
:func:`polytraders.feeds.polymarket_wire.parse_market_frame` and admitted through a
:class:`polytraders.feeds.guard.BookGuard` (with the config's
:class:`~polytraders.feeds.config.EventTimeWindow`): bad frames are counted with their
registered codes and skipped. When a connection drops or misses PONG its tokens get
``FeedStatus(stale=True, reason_code="SYS_POLY_WS_DISCONNECTED")`` and the next snapshot brings
``FeedStatus(stale=False, reason_code="SYS_FEED_RESYNCED")``.

**Resync.** A connection with stale tokens resubscribes them for fresh snapshots at once when
bad input makes them stale, then on a timer (checked every ``resync_interval_ms``) with
back-off: the n-th request without recovery waits ``resync_interval_ms × 2ⁿ⁻¹``, at most
``resync_max_interval_ms``, until none of its tokens is stale (then the back-off restarts). A
burst of bad frames therefore never leaves a book stale for good. The clock is injectable
(``clock``), so the schedule is tested without waiting.

**Failures.** A frame handler exception never ends a connection task
(:mod:`~polytraders.feeds.live.connection`). If a connection task dies anyway, its tokens get
``FeedStatus(stale=True, reason_code="SYS_FEED_TASK_FAILED")`` at once (the desk's stale-book
guard stops new exposure on them) and the connection is restarted after the keepalive back-off
(counter ``task_restarts``); the failure is logged with its traceback.

Events go to ``sink`` (called on the client's event loop). ``on_frame`` sees every raw frame
with its receive time, for recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from polytraders.feeds.config import EventTimeWindow
from polytraders.feeds.guard import BookGuard
from polytraders.feeds.live.connection import (
    KeepaliveConfig,
    ResilientConnection,
    backoff_delay_ms,
)
from polytraders.feeds.polymarket_wire import parse_market_frame
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent, FeedStatus

POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
DISCONNECTED = "SYS_POLY_WS_DISCONNECTED"
TASK_FAILED = "SYS_FEED_TASK_FAILED"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MarketChannelConfig:
    """Settings of the market channel client (intervals in ms)."""

    ws_url: str = POLYMARKET_MARKET_WS
    max_tokens_per_connection: int = 200
    custom_feature_enabled: bool = True
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)
    resync_interval_ms: int = 1_000
    """First wait between snapshot requests for a connection's stale tokens (doubling), and
    the period of the resync timer."""
    resync_max_interval_ms: int = 30_000
    """Longest wait between snapshot requests while tokens stay stale."""
    event_time: EventTimeWindow = field(default_factory=EventTimeWindow)
    """Venue times accepted (others: ``SYS_EVENT_TIME_OUT_OF_RANGE``)."""
    seed: int = 0


class ResyncBackoff:
    """When to ask again for the snapshots of a connection's stale tokens: at once, then
    after ``initial_ms``, doubling per unanswered request up to ``max_ms``; :meth:`fresh`
    restarts it.

    Args:
        initial_ms: first wait (ms, ≥ 1).
        max_ms: longest wait (ms, ≥ ``initial_ms``).
    """

    def __init__(self, initial_ms: int, max_ms: int) -> None:
        if not 1 <= initial_ms <= max_ms:
            raise ValueError("resync intervals: need 1 <= initial_ms <= max_ms")
        self._initial_ms = initial_ms
        self._max_ms = max_ms
        self._next_ns: dict[int, int] = {}
        self._wait_ms: dict[int, int] = {}

    def due(self, key: int, now_ns: int) -> bool:
        """True when connection ``key`` may send a request at ``now_ns``."""
        return now_ns >= self._next_ns.get(key, now_ns)

    def sent(self, key: int, now_ns: int) -> None:
        """A request went out at ``now_ns``: the next one waits longer."""
        wait_ms = self._wait_ms.get(key, self._initial_ms)
        self._next_ns[key] = now_ns + wait_ms * 1_000_000
        self._wait_ms[key] = min(wait_ms * 2, self._max_ms)

    def fresh(self, key: int) -> None:
        """None of the connection's tokens is stale: the next request may go at once."""
        self._next_ns.pop(key, None)
        self._wait_ms.pop(key, None)


def shard(tokens: Sequence[str], size: int) -> list[list[str]]:
    """Split tokens (deduplicated, order kept) into groups of at most ``size``.

    Raises:
        ValueError: ``size`` < 1.
    """
    if size < 1:
        raise ValueError("shard size must be at least 1")
    unique = list(dict.fromkeys(tokens))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


class MarketChannel:
    """The market channel for a set of tokens; run with ``await channel.run()``.

    Args:
        tokens: token ids to subscribe.
        sink: receives every admitted event (book events, trades, ``FeedStatus``).
        config: settings.
        on_frame: optional ``(ts_recv_ns, frame)`` hook for every raw frame (recording).
        clock: ns since the epoch for the resync timer (default ``time.time_ns``).

    Stats counters: ``frames``, ``disconnects``, ``resync_requests``, ``task_restarts``.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        sink: Callable[[AnyEvent], None],
        config: MarketChannelConfig | None = None,
        on_frame: Callable[[int, str | bytes], None] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config or MarketChannelConfig()
        self.shards = shard(tokens, self.config.max_tokens_per_connection)
        self.stats = FeedStats()
        self._guard = BookGuard(self.stats, window=self.config.event_time)
        self._sink = sink
        self._on_frame = on_frame
        self._clock = clock
        self._shard_of = {t: i for i, tokens_ in enumerate(self.shards) for t in tokens_}
        self._resync = ResyncBackoff(
            self.config.resync_interval_ms, self.config.resync_max_interval_ms
        )
        self._tasks: set[asyncio.Task[bool]] = set()
        self._stopping = asyncio.Event()
        self._rng = random.Random(self.config.seed)
        self.connections = [
            ResilientConnection(
                self.config.ws_url,
                hello=self._hello_for(tokens_),
                on_frame=self.handle_frame,
                on_down=self._down_for(tokens_),
                config=self.config.keepalive,
                seed=self.config.seed * 1_000 + index,
            )
            for index, tokens_ in enumerate(self.shards)
        ]

    def _subscribe_message(self, tokens: list[str]) -> str:
        return json.dumps(
            {
                "type": "market",
                "assets_ids": tokens,
                "custom_feature_enabled": self.config.custom_feature_enabled,
            }
        )

    def _hello_for(self, tokens: list[str]) -> Callable[[], list[str]]:
        message = self._subscribe_message(tokens)
        return lambda: [message]

    def request_snapshots(self, now_ns: int) -> list[int]:
        """Resubscribe the stale tokens of each connection whose back-off allows it at
        ``now_ns`` (the venue answers with a fresh ``book``); a connection with no stale token
        has its back-off restarted. Call on the channel's event loop.

        Returns:
            The indices of the connections asked (in :attr:`shards` order).
        """
        stale: dict[int, list[str]] = {}
        for token_id, index in self._shard_of.items():
            if self._guard.is_stale(token_id):
                stale.setdefault(index, []).append(token_id)
        asked: list[int] = []
        for index in range(len(self.shards)):
            tokens = stale.get(index)
            if not tokens:
                self._resync.fresh(index)
                continue
            if not self._resync.due(index, now_ns):
                continue
            self._resync.sent(index, now_ns)
            self.stats.counters["resync_requests"] += 1
            asked.append(index)
            task = asyncio.get_running_loop().create_task(
                self.connections[index].send(self._subscribe_message(tokens))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return asked

    def _down_for(self, tokens: list[str]) -> Callable[[int, str], None]:
        def down(ts_ns: int, reason: str) -> None:
            self.stats.counters["disconnects"] += 1
            out: list[AnyEvent] = []
            for token_id in tokens:
                self._guard.distrust(token_id, DISCONNECTED, ts_ns, out)
            for event in out:
                self._emit(event)
            del reason

        return down

    def handle_frame(self, ts_recv_ns: int, frame: str | bytes) -> None:
        """Parse one raw frame (text or bytes, as received) and emit its admitted events;
        bad input is counted and skipped, never raised. Stale tokens are resubscribed at
        once when their connection's back-off allows. Call on the channel's event loop."""
        self.stats.counters["frames"] += 1
        if self._on_frame is not None:
            self._on_frame(ts_recv_ns, frame)
        issues: list[FeedIssue] = []
        events = parse_market_frame(frame, ts_recv_ns, issues=issues)
        out: list[AnyEvent] = []
        for issue in issues:
            self._guard.issue(issue, out)
        for event in events:
            self._guard.admit(event, out)
        for event in out:
            self._emit(event)
        if issues or any(isinstance(e, FeedStatus) and e.stale for e in out):
            self.request_snapshots(ts_recv_ns)

    def _emit(self, event: AnyEvent) -> None:
        self.stats.count_event(event)
        self._sink(event)

    async def run(self) -> None:
        """Run every shard's connection, each supervised (restarted if its task dies), and
        the resync timer, until :meth:`stop`."""
        await asyncio.gather(
            *(self._supervise(index) for index in range(len(self.connections))),
            self._resync_timer(),
        )

    async def _supervise(self, index: int) -> None:
        """Run connection ``index``; if its task dies, mark its tokens stale at once and
        restart it after the keepalive back-off."""
        connection = self.connections[index]
        attempt = 0
        while not self._stopping.is_set():
            try:
                await connection.run()
                return
            except Exception:  # a dead task must never go unnoticed: stale + restart
                log.exception("market channel connection %d failed; restarting", index)
                self.stats.counters["task_restarts"] += 1
                now_ns = self._clock()
                out: list[AnyEvent] = []
                for token_id in self.shards[index]:
                    self._guard.distrust(token_id, TASK_FAILED, now_ns, out)
                for event in out:
                    self._emit(event)
            attempt += 1
            delay_ms = backoff_delay_ms(attempt, self.config.keepalive, self._rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay_ms / 1000)

    async def _resync_timer(self) -> None:
        """Every ``resync_interval_ms``: :meth:`request_snapshots` for stale tokens. A failing
        round is logged and counted (``resync_errors``); the timer goes on."""
        period_s = self.config.resync_interval_ms / 1000
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), period_s)
            if self._stopping.is_set():
                return
            try:
                self.request_snapshots(self._clock())
            except Exception:  # the timer is what un-stales books: it must outlive a defect
                log.exception("market channel resync round failed")
                self.stats.counters["resync_errors"] += 1

    def stop(self) -> None:
        """Stop every connection and the timer (call on the channel's loop)."""
        self._stopping.set()
        for connection in self.connections:
            connection.stop()
