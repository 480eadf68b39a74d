"""Polymarket market-channel client: sharded subscriptions, keepalive, reconnect, staleness.

Tokens are split over connections of at most ``max_tokens_per_connection`` (200 by default, a
peer's default; POLYMARKET.md: about 500 at most, unconfirmed). Each connection subscribes with
``{"type": "market", "assets_ids": [...], "custom_feature_enabled": true}`` and the venue answers
with a ``book`` per token (a fresh snapshot after every reconnect). Frames are parsed by
:func:`polytraders.feeds.polymarket_wire.parse_market_frame` and admitted through a
:class:`polytraders.feeds.guard.BookGuard`: bad frames are counted with their registered codes
and skipped, and tokens made stale by bad input are resubscribed for a fresh snapshot; when a
connection drops or misses PONG its tokens get
``FeedStatus(stale=True, reason_code="SYS_POLY_WS_DISCONNECTED")`` and the next snapshot brings
``FeedStatus(stale=False, reason_code="SYS_FEED_RESYNCED")``.

Events go to ``sink`` (called on the client's event loop). ``on_frame`` sees every raw frame
with its receive time, for recording.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from polytraders.feeds.guard import BookGuard
from polytraders.feeds.live.connection import KeepaliveConfig, ResilientConnection
from polytraders.feeds.polymarket_wire import parse_market_frame
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent

POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
DISCONNECTED = "SYS_POLY_WS_DISCONNECTED"


@dataclass(frozen=True, slots=True)
class MarketChannelConfig:
    """Settings of the market channel client."""

    ws_url: str = POLYMARKET_MARKET_WS
    max_tokens_per_connection: int = 200
    custom_feature_enabled: bool = True
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)
    resync_interval_ms: int = 1_000
    seed: int = 0


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
        on_frame: optional ``(ts_recv_ns, text)`` hook for every raw frame (recording).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        sink: Callable[[AnyEvent], None],
        config: MarketChannelConfig | None = None,
        on_frame: Callable[[int, str], None] | None = None,
    ) -> None:
        self.config = config or MarketChannelConfig()
        self.shards = shard(tokens, self.config.max_tokens_per_connection)
        self.stats = FeedStats()
        self._guard = BookGuard(self.stats)
        self._sink = sink
        self._on_frame = on_frame
        self._shard_of = {t: i for i, tokens_ in enumerate(self.shards) for t in tokens_}
        self._resync_sent_ns = [0] * len(self.shards)
        self._tasks: set[asyncio.Task[bool]] = set()
        self.connections = [
            ResilientConnection(
                self.config.ws_url,
                hello=self._hello_for(tokens_),
                on_frame=self._frame,
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

    def _request_snapshots(self, ts_ns: int) -> None:
        """Resubscribe the stale tokens of each live connection (the venue answers with a
        fresh ``book``), at most once per ``resync_interval_ms`` per connection."""
        stale: dict[int, list[str]] = {}
        for token_id, index in self._shard_of.items():
            if self._guard.is_stale(token_id):
                stale.setdefault(index, []).append(token_id)
        for index, tokens in stale.items():
            if ts_ns - self._resync_sent_ns[index] < self.config.resync_interval_ms * 1_000_000:
                continue
            self._resync_sent_ns[index] = ts_ns
            self.stats.counters["resync_requests"] += 1
            task = asyncio.get_running_loop().create_task(
                self.connections[index].send(self._subscribe_message(tokens))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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

    def _frame(self, ts_recv_ns: int, text: str) -> None:
        self.stats.counters["frames"] += 1
        if self._on_frame is not None:
            self._on_frame(ts_recv_ns, text)
        issues: list[FeedIssue] = []
        events = parse_market_frame(text, ts_recv_ns, issues=issues)
        out: list[AnyEvent] = []
        for issue in issues:
            self._guard.issue(issue, out)
        for event in events:
            self._guard.admit(event, out)
        for event in out:
            self._emit(event)
        if issues:
            self._request_snapshots(ts_recv_ns)

    def _emit(self, event: AnyEvent) -> None:
        self.stats.count_event(event)
        self._sink(event)

    async def run(self) -> None:
        """Run every shard's connection until :meth:`stop`."""
        await asyncio.gather(*(c.run() for c in self.connections))

    def stop(self) -> None:
        """Stop every connection (call on the channel's loop)."""
        for connection in self.connections:
            connection.stop()
