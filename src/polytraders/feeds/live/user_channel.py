"""Polymarket user-channel client: our order and trade events, authenticated.

Subscribes with ``{"auth": {"apiKey", "secret", "passphrase"}, "type": "user", "markets": [...]}``
(``../shared/POLYMARKET.md``: ``order`` events PLACEMENT / UPDATE / CANCELLATION and ``trade``
events MATCHED → MINED → CONFIRMED or RETRYING → FAILED). Frames are JSON objects or arrays;
each ``order``/``trade`` object goes to ``sink`` as parsed JSON (the venue applies them:
:meth:`polytraders.venues.polymarket.venue.PolymarketVenue.on_user_message`, where the fill
side is taken from our order). Malformed frames and unknown event types are counted
(``SYS_MALFORMED_MESSAGE`` / ``SYS_UNKNOWN_EVENT``) and skipped: undecodable JSON, invalid
UTF-8 (text or binary frames), nesting past the decoder's limit, an element that is no object,
an ``event_type`` that is no string. Nothing a frame holds raises out of
:meth:`UserChannel.on_frame`. Secrets are sent only in the subscription message and never logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from polytraders.feeds.live.connection import KeepaliveConfig, ResilientConnection
from polytraders.feeds.polymarket_wire import DECODE_ERRORS
from polytraders.feeds.stats import FeedIssue, FeedStats

POLYMARKET_USER_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
_DECODER = msgspec.json.Decoder()
MALFORMED = "SYS_MALFORMED_MESSAGE"
UNKNOWN_EVENT = "SYS_UNKNOWN_EVENT"


@dataclass(frozen=True, slots=True)
class UserChannelConfig:
    """Settings of the user channel client."""

    ws_url: str = POLYMARKET_USER_WS
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)
    seed: int = 0


@dataclass(frozen=True)
class UserAuth:
    """L2 API credentials for the user channel (``repr`` hides the secrets)."""

    api_key: str
    api_secret: str = field(repr=False)
    api_passphrase: str = field(repr=False)


class UserChannel:
    """The user channel; run with ``await channel.run()``.

    Args:
        auth: API credentials.
        sink: receives each ``order`` / ``trade`` object with its receive time.
        markets: condition ids to filter on (empty: all).
        config: settings.
        on_down: ``(ts_ns)`` when the connection drops (fills may have been missed: the
            caller reconciles through ``GET /data/trades``).
    """

    def __init__(
        self,
        auth: UserAuth,
        sink: Callable[[dict[str, Any], int], None],
        markets: Sequence[str] = (),
        config: UserChannelConfig | None = None,
        on_down: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config or UserChannelConfig()
        self.stats = FeedStats()
        self._sink = sink
        self._on_down = on_down
        hello = json.dumps(
            {
                "auth": {
                    "apiKey": auth.api_key,
                    "secret": auth.api_secret,
                    "passphrase": auth.api_passphrase,
                },
                "type": "user",
                "markets": list(markets),
            }
        )
        self.connection = ResilientConnection(
            self.config.ws_url,
            hello=lambda: [hello],
            on_frame=self.on_frame,
            on_down=self._down,
            config=self.config.keepalive,
            seed=self.config.seed,
        )

    def _down(self, ts_ns: int, reason: str) -> None:
        self.stats.counters["disconnects"] += 1
        if self._on_down is not None:
            self._on_down(ts_ns)
        del reason

    def on_frame(self, ts_recv_ns: int, frame: str | bytes) -> None:
        """Handle one raw frame (JSON object or array, text or bytes): ``order``/``trade``
        objects go to the sink; anything else is counted by registered code and skipped
        (never raised)."""
        self.stats.counters["frames"] += 1
        try:
            decoded = _DECODER.decode(frame)
        except DECODE_ERRORS as exc:
            self._bad(MALFORMED, ts_recv_ns, f"not JSON: {exc}")
            return
        items = decoded if isinstance(decoded, list) else [decoded]
        for item in items:
            if not isinstance(item, dict):
                self._bad(MALFORMED, ts_recv_ns, "not an object")
                continue
            kind = item.get("event_type", "")
            if not isinstance(kind, str):
                self._bad(MALFORMED, ts_recv_ns, "event_type is not a string")
                continue
            kind = kind.lower()
            if kind not in ("order", "trade"):
                self._bad(UNKNOWN_EVENT, ts_recv_ns, kind[:50])
                continue
            self.stats.counters[kind] += 1
            self._sink(item, ts_recv_ns)

    def _bad(self, reason_code: str, ts_recv_ns: int, detail: str) -> None:
        self.stats.record(
            FeedIssue(reason_code=reason_code, ts_recv_ns=ts_recv_ns, detail=detail[:200])
        )

    async def run(self) -> None:
        """Run until :meth:`stop`."""
        await self.connection.run()

    def stop(self) -> None:
        """Stop (call on the channel's loop)."""
        self.connection.stop()
