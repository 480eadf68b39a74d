"""Binance diff-depth client (USDⓈ-M futures, or spot with ``market="spot"``): websocket
``<symbol>@depth@100ms`` + REST snapshot, synced by Binance's documented rules ("How to manage
a local order book correctly", USDⓈ-M futures and spot), applied by the same
:class:`~polytraders.feeds.binance.DepthSync` as the recorded source.

1. Connect to ``<ws_url>/ws/<symbol>@depth@100ms`` (a :class:`ResilientConnection`: reconnect
   with back-off) and buffer the events.
2. Fetch ``GET <rest_url>/fapi/v1/depth?symbol=…&limit=1000`` (spot: ``/api/v3/depth``;
   ``lastUpdateId`` L).
3. Futures: drop buffered events with ``u`` < L; the first applied must have ``U`` ≤ L ≤ ``u``
   (or ``pu`` = L); afterwards each event's ``pu`` must equal the previous ``u`` (a futures
   event without ``pu`` is malformed). Spot (no ``pu``): drop ``u`` ≤ L; the first applied
   must have ``U`` ≤ L+1 ≤ ``u``; afterwards each ``U`` must be the previous ``u`` + 1.

A broken chain (a lost message) is a gap: ``SYS_FEED_GAP`` is counted,
``FeedStatus(stale=True, reason_code="SYS_FEED_GAP")`` emitted, events are buffered again and a
fresh snapshot is fetched (step 2), after which ``FeedStatus(stale=False,
reason_code="SYS_FEED_RESYNCED")`` follows the new ``BookSnapshot``. A lost connection is a gap
too (the events meanwhile are lost): the next connection starts again at step 1.

Events go to ``sink``: ``BookSnapshot`` (``sequence`` L), ``BookDelta`` (``first_sequence`` U,
``sequence`` u, ``prev_sequence`` pu, 0 on spot), ``FeedStatus``; token id
``binance-usdm:<SYMBOL>`` (spot: ``binance-spot:<SYMBOL>``); ``ts_event_ns`` the event's ``E``
(the snapshot's ``E``, else ``T``; a spot snapshot has neither: the ``E`` of the latest depth
event received, else its receive time), ``ts_recv_ns`` the local
receive time (by the feed's ``clock_ns``: the wall clock, or the session's clock of a test that
replays the simulator faster than real time). Prices and sizes are parsed exactly into micro-units
(:func:`polytraders.feeds.decimal_text.micros`). A frame that cannot be read
(``SYS_MALFORMED_MESSAGE``) breaks the chain like a gap; a frame of another stream or symbol is
counted (``SYS_UNKNOWN_EVENT`` / ``SYS_UNKNOWN_TOKEN``) and skipped.

Keepalive: websocket protocol ping frames every ``keepalive.ping_interval_ms``, the connection
dropped (and the book resynced) when no pong comes within ``pong_timeout_ms``
(:attr:`KeepaliveConfig.protocol_ping`); Binance answers protocol pings and sends its own,
which the websockets library answers (Binance API docs, USDⓈ-M "Websocket Market Streams").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import msgspec

from polytraders.feeds.binance import FEED_GAP, SPOT, UNKNOWN_TOKEN, USDM, DepthSync
from polytraders.feeds.decimal_text import micros
from polytraders.feeds.live.connection import KeepaliveConfig, ResilientConnection
from polytraders.feeds.polymarket_wire import DECODE_ERRORS, MALFORMED, UNKNOWN_EVENT
from polytraders.feeds.stats import FeedIssue, FeedStats
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, Level

log = logging.getLogger(__name__)
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class BinanceDepthConfig:
    """Where and what to subscribe (intervals in ms)."""

    symbol: str = "BTCUSDT"
    ws_url: str = "wss://fstream.binance.com"
    rest_url: str = "https://fapi.binance.com"
    snapshot_limit: int = 1000
    snapshot_retry_ms: int = 1_000
    """Wait before asking again after a failed snapshot request."""
    keepalive: KeepaliveConfig = field(default_factory=lambda: KeepaliveConfig(protocol_ping=True))
    """Must keep ``protocol_ping=True``: Binance never answers a text ``PING``."""
    seed: int = 0
    market: str = "usdm"
    """``usdm`` (USDⓈ-M futures: ``/fapi/v1/depth``, events chained by ``pu``) or ``spot``
    (``/api/v3/depth``, events chained by ``U``)."""


class _DepthUpdate(msgspec.Struct):
    e: str
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    T: int = 0
    pu: int | None = None
    """Futures only (spot events chain by ``U``)."""


class _Snapshot(msgspec.Struct):
    lastUpdateId: int  # noqa: N815 (venue field name)
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    E: int = 0
    T: int = 0


_FRAME_ERRORS: tuple[type[Exception], ...] = (ValueError, *DECODE_ERRORS)
"""A frame or snapshot that cannot be read (JSON, shape or number)."""
_SNAPSHOT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, *_FRAME_ERRORS)
_SNAPSHOT_PATHS = {"usdm": "/fapi/v1/depth", "spot": "/api/v3/depth"}
"""Market → the REST depth snapshot's path."""
_UPDATE = msgspec.json.Decoder(_DepthUpdate)
_SNAPSHOT = msgspec.json.Decoder(_Snapshot)


class BinanceDepthFeed:
    """One symbol's live book events (module docstring).

    Args:
        config: addresses and settings.
        sink: receives every event, on the feed's event loop.
        clock_ns: the clock of the events' receive times (ns since the epoch; the
            connection's keepalive keeps the wall clock).

    Stats (:attr:`stats`): issues by reason code, counters ``snapshots`` (fetched),
    ``snapshot_failures``, ``buffered``, ``presync_dropped``, ``dropped_while_stale``.
    """

    def __init__(
        self,
        config: BinanceDepthConfig,
        sink: Callable[[AnyEvent], None],
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if config.market not in _SNAPSHOT_PATHS:
            raise ValueError(f"market {config.market!r}: usdm or spot")
        self.config = config
        self._clock_ns = clock_ns
        self._futures = config.market == "usdm"
        self.token_id = f"{USDM if self._futures else SPOT}:{config.symbol}"
        self.stats = FeedStats(f"live:{self.token_id}", "frames")
        self._sink = sink
        self._sync = DepthSync(self.token_id, self._futures, self.stats)
        self._last_event_ns = 0
        self._pending: list[BookDelta] = []
        self._fetching: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.last_sequence = 0
        """``lastUpdateId`` / ``u`` of the latest snapshot or delta emitted."""
        stream = f"{config.symbol.lower()}@depth@100ms"
        self.connection = ResilientConnection(
            f"{config.ws_url}/ws/{stream}",
            hello=list,
            on_frame=self._on_frame,
            on_down=self._on_down,
            on_up=self._on_up,
            config=config.keepalive,
            seed=config.seed,
        )

    async def run(self) -> None:
        """Connect, sync and stream until :meth:`stop`."""
        async with httpx.AsyncClient(base_url=self.config.rest_url, timeout=10.0) as http:
            self._http = http
            try:
                await self.connection.run()
            finally:
                if self._fetching is not None:
                    self._fetching.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._fetching

    def stop(self) -> None:
        """Ask :meth:`run` to return (call on the feed's loop)."""
        self.connection.stop()

    # ------------------------------------------------------------------ websocket
    def _on_up(self, ts_ns: int) -> None:
        self._resync()

    def _on_down(self, ts_ns: int, reason: str) -> None:
        del ts_ns  # the connection's wall-clock stamp: the feed's clock stamps its events
        out: list[AnyEvent] = []
        self._sync.bad_depth(
            FeedIssue(
                reason_code=FEED_GAP,
                ts_recv_ns=self._clock_ns(),
                token_id=self.token_id,
                detail=f"websocket down: {reason}",
            ),
            out,
        )
        self._emit(out)
        self._pending.clear()
        if self._fetching is not None:
            self._fetching.cancel()
            self._fetching = None

    def _on_frame(self, ts_ns: int, frame: str | bytes) -> None:
        del ts_ns  # the connection's wall-clock stamp: the feed's clock stamps its events
        ts_recv_ns = self._clock_ns()
        try:
            update = _UPDATE.decode(frame)
            if self._futures and update.pu is None:
                raise ValueError("futures depth event without pu")
            delta = BookDelta(
                ts_event_ns=update.E * _NS_PER_MS,
                ts_recv_ns=ts_recv_ns,
                token_id=self.token_id,
                bids=_levels(update.b),
                asks=_levels(update.a),
                sequence=update.u,
                first_sequence=update.U,
                prev_sequence=update.pu or 0,
            )
        except _FRAME_ERRORS as exc:
            out: list[AnyEvent] = []
            issue = FeedIssue(
                reason_code=MALFORMED,
                ts_recv_ns=ts_recv_ns,
                token_id=self.token_id,
                detail=str(exc),
            )
            self._sync.bad_depth(issue, out)
            self._emit(out)
            self._resync()
            return
        if update.e != "depthUpdate" or update.s != self.config.symbol:
            code = UNKNOWN_EVENT if update.e != "depthUpdate" else UNKNOWN_TOKEN
            self.stats.record(
                FeedIssue(
                    reason_code=code,
                    ts_recv_ns=ts_recv_ns,
                    token_id=self.token_id,
                    detail=f"{update.e} of {update.s}",
                )
            )
            return
        self._last_event_ns = delta.ts_event_ns
        if self._fetching is not None:
            self._pending.append(delta)
            self.stats.counters["buffered"] += 1
            return
        self._apply(delta)

    def _apply(self, delta: BookDelta) -> None:
        sync = self._sync
        if sync.synced and sync.chains(delta):
            sync.last_u = delta.sequence
            self._emit([delta])
            return
        out: list[AnyEvent] = []
        sync.depth(delta, out)
        self._emit(out)
        if sync.stale:
            self._resync()

    def _emit(self, events: list[AnyEvent]) -> None:
        for event in events:
            if isinstance(event, (BookSnapshot, BookDelta)):
                self.last_sequence = event.sequence
            self._sink(event)

    # ------------------------------------------------------------------ snapshot
    def _resync(self) -> None:
        """Buffer events and fetch a snapshot (unless a fetch is already under way)."""
        if self._fetching is None:
            self._fetching = asyncio.get_running_loop().create_task(self._fetch_snapshot())

    async def _fetch_snapshot(self) -> None:
        params = {"symbol": self.config.symbol, "limit": str(self.config.snapshot_limit)}
        path = _SNAPSHOT_PATHS[self.config.market]
        assert self._http is not None, "the feed is not running"
        while True:
            try:
                response = await self._http.get(path, params=params)
                response.raise_for_status()
                snap = _SNAPSHOT.decode(response.content)
                ts_recv_ns = self._clock_ns()
                stamped_ms = snap.E or snap.T
                snapshot = BookSnapshot(
                    ts_event_ns=stamped_ms * _NS_PER_MS
                    if stamped_ms
                    else (self._last_event_ns or ts_recv_ns),
                    ts_recv_ns=ts_recv_ns,
                    token_id=self.token_id,
                    bids=sorted(_levels(snap.bids), reverse=True),
                    asks=sorted(_levels(snap.asks)),
                    sequence=snap.lastUpdateId,
                )
                break
            except _SNAPSHOT_ERRORS as exc:
                self.stats.counters["snapshot_failures"] += 1
                log.warning("depth snapshot of %s failed: %s", self.config.symbol, exc)
                await asyncio.sleep(self.config.snapshot_retry_ms / 1000)
        self.stats.counters["snapshots"] += 1
        self._fetching = None
        out: list[AnyEvent] = []
        self._sync.snapshot(snapshot, out)
        self._emit(out)
        pending, self._pending = self._pending, []
        for delta in pending:
            if self._fetching is not None:  # a gap among the buffered events: fetching again
                self._pending.append(delta)
            else:
                self._apply(delta)


def _levels(pairs: list[tuple[str, str]]) -> list[Level]:
    """Exact (price, size) micro-units.

    Raises:
        ValueError: unreadable text, a non-positive price or a negative size.
    """
    levels = [(micros(p), micros(q)) for p, q in pairs]
    for price, size in levels:
        if price <= 0 or size < 0:
            raise ValueError(f"level price={price} size={size}")
    return levels
