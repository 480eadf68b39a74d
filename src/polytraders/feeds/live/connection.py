"""One resilient websocket connection: keepalive, dead-connection detection, reconnect with
jittered exponential back-off.

Keepalive comes in two kinds (:attr:`KeepaliveConfig.protocol_ping`): Polymarket's text
``PING``/``PONG`` (``../shared/POLYMARKET.md`` "Market data": send text ``PING`` every 10 s,
expect ``PONG``, treat 30 s without one as dead), or the websocket protocol's own ping and pong
frames (RFC 6455 §5.5.2–3, which Binance's streams use: a venue answers a client's ping frame
with a pong frame), sent and timed by the websockets library with the same two intervals.

The connection knows nothing about channels: on every (re)connect it sends the messages
``hello()`` returns (the subscription), hands every other frame to ``on_frame`` as received
(``str`` for a text frame, ``bytes`` for a binary one: decoding is the parser's job, so
invalid UTF-8 is the parser's counted bad input, never an error here), and calls ``on_down``
when the connection is lost. Intervals are settings so tests run in seconds. Jitter comes from
a seeded generator (deterministic for a seed).

Nothing a peer sends ends :meth:`ResilientConnection.run`: an exception raised by ``on_frame``
(a parser defect) or by anything else during a session is logged with its traceback, counted
(``handler_errors`` / ``session_errors``) and treated as a lost connection — ``on_down`` (the
channel marks its tokens stale), back-off, reconnect, fresh subscription — because what the
failed handler had applied is unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

log = logging.getLogger(__name__)
_PONG = ("PONG", b"PONG")


class _HandlerFailedError(Exception):
    """Internal: ``on_frame`` raised; the session ends and the back-off keeps growing."""


@dataclass(frozen=True, slots=True)
class KeepaliveConfig:
    """Keepalive and reconnect settings (ms), and a reconnect hook.

    ``reconnect_initial_ms`` doubles per failed attempt up to ``reconnect_max_ms``; each delay
    is multiplied by a uniform factor in [1 − ``jitter_pct``/100, 1]. ``on_reconnect(url)``,
    when set, is called on the connection's thread after every successful connect (and hello)
    but its first (e.g. a reconnect counter); it must be quick and must not raise.
    ``protocol_ping``: keep alive with protocol ping frames (module docstring) instead of text
    ``PING``; a pong missing ``pong_timeout_ms`` after a ping drops the connection."""

    ping_interval_ms: int = 10_000
    pong_timeout_ms: int = 30_000
    reconnect_initial_ms: int = 500
    reconnect_max_ms: int = 30_000
    jitter_pct: int = 50
    open_timeout_ms: int = 10_000
    protocol_ping: bool = False
    on_reconnect: Callable[[str], None] | None = field(default=None, compare=False)


def backoff_delay_ms(attempt: int, config: KeepaliveConfig, rng: random.Random) -> int:
    """Delay before reconnect ``attempt`` (1-based): exponential, capped, jittered down."""
    base = min(config.reconnect_initial_ms << min(attempt - 1, 30), config.reconnect_max_ms)
    factor = 1.0 - rng.random() * config.jitter_pct / 100
    return max(1, int(base * factor))


@dataclass(slots=True)
class ConnectionCounters:
    """What happened on one connection slot."""

    connects: int = 0
    disconnects: int = 0
    pong_timeouts: int = 0
    frames: int = 0
    pings_sent: int = 0
    handler_errors: int = 0
    """``on_frame`` raised: the connection was dropped and re-established."""
    session_errors: int = 0
    """Another unexpected exception ended a session (logged; reconnected)."""


class ResilientConnection:
    """Keeps one websocket to ``url`` alive until :meth:`stop`.

    Args:
        url: ``ws://`` or ``wss://`` address.
        hello: messages to send after each connect (subscription/auth).
        on_frame: ``(ts_recv_ns, frame)`` for every frame except ``PONG`` (``str`` text or
            ``bytes`` binary, undecoded). Should not raise; if it does, see the module
            docstring.
        on_down: ``(ts_ns, reason)`` when a live connection is lost.
        on_up: ``(ts_ns)`` after each successful connect + hello.
        config: keepalive settings.
        seed: jitter seed.
    """

    def __init__(
        self,
        url: str,
        *,
        hello: Callable[[], list[str]],
        on_frame: Callable[[int, str | bytes], None],
        on_down: Callable[[int, str], None],
        on_up: Callable[[int], None] | None = None,
        config: KeepaliveConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.url = url
        self._hello = hello
        self._on_frame = on_frame
        self._on_down = on_down
        self._on_up = on_up
        self.config = config or KeepaliveConfig()
        self._rng = random.Random(seed)
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self.counters = ConnectionCounters()

    async def run(self) -> None:
        """Connect, read, reconnect until :meth:`stop` is called. The back-off restarts after
        a healthy session, and keeps growing across sessions ended by an exception (a frame
        the venue repeats on every subscription cannot cause a reconnect storm)."""
        attempt = 0
        keep_backoff = False
        while not self._stopping.is_set():
            reason = "closed"
            try:
                protocol = self.config.protocol_ping
                async with connect(
                    self.url,
                    ping_interval=self.config.ping_interval_ms / 1000 if protocol else None,
                    ping_timeout=self.config.pong_timeout_ms / 1000 if protocol else None,
                    open_timeout=self.config.open_timeout_ms / 1000,
                    max_size=2**24,
                ) as ws:
                    self._ws = ws
                    for message in self._hello():
                        await ws.send(message)
                    self.counters.connects += 1
                    if self.counters.connects > 1 and self.config.on_reconnect is not None:
                        self.config.on_reconnect(self.url)
                    if not keep_backoff:
                        attempt = 0
                    keep_backoff = False
                    if self._on_up is not None:
                        self._on_up(time.time_ns())
                    reason = await self._serve(ws)
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except _HandlerFailedError as exc:
                reason = str(exc)
                keep_backoff = True
            except Exception as exc:  # logged, counted, reconnected (module docstring)
                self.counters.session_errors += 1
                log.exception("websocket %s session failed", self.url)
                reason = f"session failed: {type(exc).__name__}: {exc}"
                keep_backoff = True
            finally:
                self._ws = None
            if self.counters.connects:
                self.counters.disconnects += 1
            self._on_down(time.time_ns(), reason)
            if self._stopping.is_set():
                return
            attempt += 1
            delay_ms = backoff_delay_ms(attempt, self.config, self._rng)
            log.info("websocket %s down (%s); reconnecting in %d ms", self.url, reason, delay_ms)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay_ms / 1000)

    async def _serve(self, ws: ClientConnection) -> str:
        text_ping = not self.config.protocol_ping  # else the library pings (module docstring)
        last_pong_ns = time.time_ns()
        ping_ns = self.config.ping_interval_ms * 1_000_000
        timeout_ns = self.config.pong_timeout_ms * 1_000_000
        next_ping_ns = time.time_ns() + ping_ns
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                now = time.time_ns()
                wait_s: float | None = None
                if text_ping:
                    if now - last_pong_ns > timeout_ns:
                        self.counters.pong_timeouts += 1
                        await ws.close()
                        return "no PONG within pong_timeout_ms"
                    if now >= next_ping_ns:
                        await ws.send("PING")
                        self.counters.pings_sent += 1
                        next_ping_ns = now + ping_ns
                    wait_ns = min(next_ping_ns, last_pong_ns + timeout_ns + 1) - now
                    wait_s = max(0.0, wait_ns) / 1e9
                recv = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait(
                    {recv, stop_wait}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
                )
                if stop_wait in done:
                    recv.cancel()
                    await ws.close()
                    return "stopped"
                if recv not in done:
                    recv.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await recv
                    continue
                frame = recv.result()
                ts = time.time_ns()
                if text_ping and frame.strip() in _PONG:
                    last_pong_ns = ts
                    continue
                self.counters.frames += 1
                try:
                    self._on_frame(ts, frame)
                except Exception as exc:  # logged, counted, reconnected (module docstring)
                    self.counters.handler_errors += 1
                    log.exception("websocket %s: frame handler failed; reconnecting", self.url)
                    await ws.close()
                    raise _HandlerFailedError(
                        f"frame handler raised {type(exc).__name__}: {exc}"
                    ) from exc
        finally:
            stop_wait.cancel()

    async def send(self, message: str) -> bool:
        """Send on the current connection; False when not connected."""
        ws = self._ws
        if ws is None:
            return False
        await ws.send(message)
        return True

    def stop(self) -> None:
        """Ask :meth:`run` to close and return (call on the connection's loop)."""
        self._stopping.set()
