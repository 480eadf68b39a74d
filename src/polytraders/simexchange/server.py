"""Run the exchange simulator: in a background thread (tests, ``with SimExchangeServer(...) as
sim``) or in the foreground (``polytraders simexchange``). Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from polytraders.ops.http_client import HttpClient
from polytraders.simexchange.app import ExchangeState, build_app, futures_routes
from polytraders.simexchange.auth import ApiKey
from polytraders.simexchange.engine import ExchangeSettings, FuturesExchange, FuturesVenue
from polytraders.simexchange.replay import Market, default_recording_path, load_recording
from polytraders.simexchange.spot import SpotExchange, SpotSettings
from polytraders.simexchange.spot_app import spot_routes

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class SimExchangeSettings:
    """What the simulator serves: the market, the recordings, the account and the replay pace
    (ms). One server serves one market: ``usdm`` (Binance USDⓈ-M futures, ``/fapi``, with
    ``exchange``'s settings, one symbol per recording on one clock and one cross-margin
    account: :class:`~polytraders.simexchange.engine.FuturesVenue`) or ``spot`` (Binance spot,
    ``/api/v3``, with ``spot``'s; one symbol)."""

    market: Market = "usdm"
    data_path: Path | None = None
    """The recording replayed (None: the repository's BTCUSDT sample of ``market``); on
    ``usdm``, the venue's first symbol."""
    more_data_paths: tuple[Path, ...] = ()
    """Further USDⓈ-M recordings, one per further symbol (``usdm`` only)."""
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    spot: SpotSettings = field(default_factory=SpotSettings)
    replay_interval_ms: int = 0
    """Replay one step per interval by itself (0: only ``POST /sim/step``)."""
    replay_clock: bool = False
    """The exchange's time is the replay's, not the wall clock
    (:attr:`~polytraders.simexchange.app.ExchangeState.replay_clock`): for a client whose
    clock follows the replay (a test stepping it faster than real time)."""
    present_time: bool = False
    """Replay the recording as if it were happening now: the first snapshot's time is the
    server's start, every served time is shifted by the same offset and each event is replayed
    when the clock reaches its shifted time (the recording's own pace): for a desk on the wall
    clock (:mod:`polytraders.simexchange.app` "Replay pace"). Not with ``replay_interval_ms``
    or ``replay_clock``."""


def throwaway_key() -> ApiKey:
    """A fresh random API key and secret for one simulator session (kept in memory only)."""
    return ApiKey(key=secrets.token_hex(32), secret=secrets.token_hex(32))


class SimExchangeServer:
    """The simulator on a free loopback port, served from a background thread.

    Use as a context manager; :attr:`url` (REST base) and :attr:`ws_url` (append
    ``/ws/<symbol>@depth@100ms``) give the addresses. ``exchange`` may only be read between
    requests (tests); drive it with :meth:`step` and :meth:`fault` (HTTP control routes).
    ``clock_ns`` is the server's clock (ns since the epoch; a test may inject its own:
    :attr:`~polytraders.simexchange.app.ExchangeState.clock_ns`).

    ``exchange`` is the (first) market: on ``usdm`` the venue's first symbol
    (:attr:`venue` holds every symbol's market), on ``spot`` the one market.

    Raises:
        ValueError: ``present_time`` with ``replay_interval_ms`` or ``replay_clock``; further
            recordings on ``spot``, two of one symbol or a recording of another market.
    """

    def __init__(
        self,
        settings: SimExchangeSettings,
        api_key: ApiKey,
        port: int = 0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        recording = load_recording(settings.data_path or default_recording_path(settings.market))
        self.exchange: FuturesExchange | SpotExchange
        served: SpotExchange | FuturesVenue
        if settings.market == "spot":
            if settings.more_data_paths:
                raise ValueError("the spot simulator replays one recording")
            served = self.exchange = SpotExchange(recording, settings.spot)
            routes = spot_routes
        else:
            more = [load_recording(path) for path in settings.more_data_paths]
            self.venue = FuturesVenue([recording, *more], settings.exchange)
            """Every symbol's market (``usdm``)."""
            served, self.exchange = self.venue, self.venue.primary
            routes = futures_routes
        self.api_key = api_key
        self.state = ExchangeState(
            served,
            api_key,
            replay_interval_ms=settings.replay_interval_ms,
            replay_clock=settings.replay_clock,
            present_time=settings.present_time,
            clock_ns=clock_ns,
        )
        # proto IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, port))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.ws_url = f"ws://{LOOPBACK}:{self.port}"
        self._http = HttpClient(
            base_url=self.url,
            timeout=5.0,
            headers={"Authorization": f"Bearer {self.state.control_token}"},
        )
        config = uvicorn.Config(
            build_app(self.state, routes),
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            ws_ping_interval=None,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def step(self, count: int = 1) -> dict[str, Any]:
        """Replay ``count`` steps (``POST /sim/step``): ``applied``, ``cursor``,
        ``last_update_id``."""
        response = self._http.post("/sim/step", json={"count": count})
        response.raise_for_status()
        return dict(response.json())

    def fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Inject a fault (``POST /sim/fault``; kinds in :mod:`polytraders.simexchange.app`)."""
        response = self._http.post("/sim/fault", json={"kind": kind, **params})
        response.raise_for_status()
        return dict(response.json())

    def spot_session(self, *, base_e8: int, quote_e8: int, until_ns: int = 0) -> dict[str, Any]:
        """Start a fresh spot session with these balances (10⁻⁸ units; ``POST /sim/session``,
        :mod:`polytraders.simexchange.spot_app`): answers ``cursor``, ``last_update_id``."""
        body = {"base_e8": base_e8, "quote_e8": quote_e8, "until_ns": until_ns}
        response = self._http.post("/sim/session", json=body)
        response.raise_for_status()
        return dict(response.json())

    def session(
        self,
        *,
        wallet_micros: int,
        position_size: int = 0,
        position_cost_micros: int = 0,
        funding_rate_ppm: int | None = None,
        until_ns: int = 0,
        positions: dict[str, tuple[int, int]] | None = None,
        funding_rates_ppm: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Start a fresh session (``POST /sim/session``, :mod:`polytraders.simexchange.app`):
        answers ``cursor``, ``last_update_id``, ``wallet_micros``. ``position_size`` and
        ``position_cost_micros`` are the first symbol's position; ``positions`` maps a symbol
        to its (signed size, signed cost basis), micro-units; ``funding_rates_ppm`` a symbol
        to its rate (the others: ``funding_rate_ppm``).

        Raises:
            httpx.HTTPStatusError: the simulator refused it (a cost basis that does not match
                the size, a symbol it does not serve).
        """
        body: dict[str, Any] = {
            "wallet_micros": wallet_micros,
            "position_size": position_size,
            "position_cost_micros": position_cost_micros,
            "until_ns": until_ns,
        }
        if funding_rate_ppm is not None:
            body["funding_rate_ppm"] = funding_rate_ppm
        if positions:
            body["positions"] = {
                symbol: {"size": size, "cost_micros": cost}
                for symbol, (size, cost) in positions.items()
            }
        if funding_rates_ppm:
            body["funding_rates_ppm"] = dict(funding_rates_ppm)
        response = self._http.post("/sim/session", json=body)
        response.raise_for_status()
        return dict(response.json())

    def sim_state(self) -> dict[str, Any]:
        """Counters and account figures (``GET /sim/state``)."""
        response = self._http.get("/sim/state")
        response.raise_for_status()
        return dict(response.json())

    def start(self) -> SimExchangeServer:
        """Start serving; returns when the server accepts connections.

        Raises:
            RuntimeError: the server did not start within 10 s.
        """
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"simexchange-{self.port}",
            daemon=True,
        )
        self._thread.start()
        for _ in range(1000):
            if self._server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("simulator did not start")

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()
        self._sock.close()

    def __enter__(self) -> SimExchangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    settings: SimExchangeSettings,
    api_key: ApiKey,
    port: int,
    announce: Callable[[str, str, str], None],
) -> None:
    """Serve in the foreground until interrupted; ``announce`` receives the REST base URL, the
    symbols (comma-separated) and the control token once the port is bound."""
    server = SimExchangeServer(settings, api_key, port)
    announce(server.url, ",".join(server.state.exchange.symbols), server.state.control_token)
    asyncio.run(server._server.serve(sockets=[server._sock]))
