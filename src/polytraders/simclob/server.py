"""Run the simulator: in a background thread (tests, ``with SimClobServer(...) as sim``) or in
the foreground (``polytraders sim-clob``). Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from eth_account import Account as EthAccount
from eth_keys import keys  # type: ignore[attr-defined]

from polytraders.feeds.samples import sample_path
from polytraders.ops.http_client import HttpClient
from polytraders.simclob.app import SimState, build_app
from polytraders.simclob.engine import Account, SimExchange
from polytraders.simclob.replay import load_recorded
from polytraders.venues.polymarket.credentials import Credentials

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class SimSettings:
    """What the simulator serves (units in names)."""

    data_path: Path = field(default_factory=sample_path)
    limit_markets: int | None = 2
    market_ids: tuple[str, ...] = ()
    """Serve only these recorded markets (condition ids; empty: the first ``limit_markets``)."""
    fee_rate_bps: int = 700
    confirm_ms: int = 200
    heartbeat_timeout_ms: int = 10_000
    tick_interval_ms: int = 50
    replay_interval_ms: int = 0
    restamp: bool = False
    """Stamp replayed books with the wall clock (a live-looking feed for a live-clock desk)."""
    loop: bool = False
    """Replay the recording back and forth without end (:class:`SimExchange` ``loop``)."""
    response_delay_ms: int = 0
    """Answer every REST request this late (ms; control routes and websockets excepted); the
    control fault ``delay_responses`` changes it while serving."""


def account_for_key(private_key: str, builder_code: str = "", collateral: int = 0) -> Account:
    """The simulator account of a signer key, with API credentials derived from the key (as
    the CLOB derives them: stable per key; these are simulator-only values)."""
    key = keys.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
    seed = hashlib.sha256(key.to_bytes() + b"polytraders-simclob").digest()
    return Account(
        address=str(key.public_key.to_checksum_address()),
        api_key=str(_uuid(seed[:16])),
        api_secret=base64.urlsafe_b64encode(seed).decode(),
        api_passphrase=seed[16:].hex(),
        builder_code=builder_code,
        collateral=collateral or 1_000_000_000,
    )


def throwaway_key() -> str:
    """A fresh random signer key (0x-hex) for a simulator session: never a real account, kept
    only in memory."""
    return "0x" + bytes(EthAccount.create().key).hex()


def credentials_for(private_key: str, account: Account) -> Credentials:
    """The venue credentials of ``private_key`` at the simulator: its key and the simulator
    account's derived L2 API credentials and builder code (:func:`account_for_key`)."""
    return Credentials(
        private_key=private_key,
        api_key=account.api_key,
        api_secret=account.api_secret,
        api_passphrase=account.api_passphrase,
        builder_code=account.builder_code,
    )


def _uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class SimClobControl:
    """The control routes of a simulator served at ``url`` (in this process or another), with
    its ``control_token``: fault injection, replay steps and the state the wire does not show.
    Close it (or use :class:`SimClobServer`, which closes its own) when done."""

    def __init__(self, url: str, control_token: str) -> None:
        self.url = url
        """REST base URL."""
        self.ws_url = url.replace("http://", "ws://", 1)
        """Websocket base URL (append ``/ws/market`` or ``/ws/user``)."""
        self.control_token = control_token
        """The bearer token of the ``/sim/*`` control routes (random per server)."""
        self._http = HttpClient(
            base_url=url,
            timeout=5.0,
            headers={"Authorization": f"Bearer {control_token}"},
        )

    def close(self) -> None:
        """Close the HTTP connection."""
        self._http.close()

    def control(self, kind: str, **params: Any) -> dict[str, Any]:
        """Inject a fault (``POST /sim/fault``)."""
        response = self._http.post("/sim/fault", json={"kind": kind, **params})
        response.raise_for_status()
        return dict(response.json())

    def step(self, count: int = 1) -> dict[str, Any]:
        """Replay ``count`` recorded snapshots (``POST /sim/step``): ``applied``, ``cursor``,
        ``lap``."""
        response = self._http.post("/sim/step", json={"count": count})
        response.raise_for_status()
        return dict(response.json())

    def sim_state(self) -> dict[str, Any]:
        """Counters (``GET /sim/state``)."""
        response = self._http.get("/sim/state")
        response.raise_for_status()
        return dict(response.json())

    def sim_orders(self) -> list[dict[str, Any]]:
        """Every order the simulator holds for the account, any status, with the fields the
        wire does not show (post-only), prices and sizes in micro-units (``GET /sim/orders``)."""
        response = self._http.get("/sim/orders")
        response.raise_for_status()
        return list(response.json())

    def book(self, token_id: str) -> dict[str, Any]:
        """A token's book as the venue serves it (``GET /book``: decimal strings, best price
        last in each array)."""
        response = self._http.get("/book", params={"token_id": token_id})
        response.raise_for_status()
        return dict(response.json())

    def sim_trades(self) -> list[dict[str, Any]]:
        """Every trade of the account with the order it filled, prices and sizes in
        micro-units (``GET /sim/trades``)."""
        response = self._http.get("/sim/trades")
        response.raise_for_status()
        return list(response.json())


class SimClobServer(SimClobControl):
    """The simulator on a free loopback port, served from a background thread.

    Use as a context manager; :attr:`url` and :attr:`ws_url` give the addresses. ``exchange``
    must only be read between requests (tests), never mutated from another thread: use
    :meth:`control` and :meth:`step`, which go through the HTTP control routes.
    """

    def __init__(self, settings: SimSettings, account: Account, port: int = 0) -> None:
        recorded = load_recorded(
            settings.data_path, settings.limit_markets, tuple(settings.market_ids)
        )
        self.exchange = SimExchange(
            recorded,
            account,
            fee_rate_bps=settings.fee_rate_bps,
            confirm_ms=settings.confirm_ms,
            heartbeat_timeout_ms=settings.heartbeat_timeout_ms,
            loop=settings.loop,
        )
        self.exchange.prime(time.time_ns() if settings.restamp else 0)
        self.exchange.drain()
        self.state = SimState(
            self.exchange,
            settings.tick_interval_ms,
            settings.replay_interval_ms,
            settings.restamp,
            response_delay_ms=settings.response_delay_ms,
        )
        # proto IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections;
        # without it every response waits ~40 ms for the client's delayed ACK
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, port))
        self.port = int(self._sock.getsockname()[1])
        super().__init__(f"http://{LOOPBACK}:{self.port}", self.state.control_token)
        config = uvicorn.Config(
            build_app(self.state),
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            ws_ping_interval=None,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> SimClobServer:
        """Start serving; returns when the server accepts connections.

        Raises:
            RuntimeError: the server did not start within 10 s.
        """
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"simclob-{self.port}",
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
        self.close()
        self._sock.close()

    def __enter__(self) -> SimClobServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    settings: SimSettings,
    account: Account,
    port: int,
    announce: Callable[[str, list[str], str], None],
) -> None:
    """Serve in the foreground until interrupted (``polytraders sim-clob``); ``announce``
    receives the REST base URL, the served market ids and the control token once the port is
    bound."""
    server = SimClobServer(settings, account, port)
    announce(
        server.url,
        sorted({t.market_id for t in server.exchange.tokens.values()}),
        server.control_token,
    )
    asyncio.run(server._server.serve(sockets=[server._sock]))
