"""Building blocks of the live-node benchmarks: the simulator served by a child process, a
live session of the default desk against a simulator, and the fast replay round that drives
both."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polytraders.commands.live import LiveSession
    from polytraders.simclob.engine import Account
    from polytraders.simclob.server import SimClobControl, SimSettings

ROUND_S = 0.02
"""How long the session steps after each replay step of the simulator (s)."""

START_TIMEOUT_S = 120.0
"""Deadline for the child's simulator to load the recording and serve (s)."""


def step_round(session: LiveSession, round_s: float = ROUND_S) -> Iterator[float]:
    """Step ``session`` every millisecond for ``round_s`` seconds, as the run loop would with
    a busy feed (a step that received nothing sleeps 1 ms); yields each step's duration (ms).
    """
    round_end = time.monotonic() + round_s
    while time.monotonic() < round_end:
        started = time.perf_counter()
        if not session.step():
            time.sleep(0.001)
        yield (time.perf_counter() - started) * 1e3


def start_session(
    sim: SimClobControl,
    key: str,
    account: Account,
    market_ids: Sequence[str],
    *,
    run_id: str,
    store_url: str | None = None,
    trades_poll_ms: int | None = None,
) -> LiveSession:
    """A live session of the default desk (``strat.maker_tight``, the risk chain,
    ``exec.smartrouter``) trading ``market_ids`` at ``sim`` with signer ``key`` (the
    simulator's ``account``), built by ``build_live_session`` with the node's default
    settings but ``trades_poll_ms`` (None: the default; 0: no polling, fills come from the
    user channel only) and a loopback keepalive (ping every 200 ms), recorded in
    ``store_url`` when given.

    Raises:
        RuntimeError / ClobRequestError / StoreError: as ``build_live_session``.
    """
    from polytraders.commands.live import build_live_session
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.node.config import LiveNodeConfig
    from polytraders.simclob.server import credentials_for
    from polytraders.venues.polymarket.venue import PolymarketVenueConfig

    polling = {} if trades_poll_ms is None else {"trades_poll_ms": trades_poll_ms}
    session, _ = build_live_session(
        run_id=run_id,
        credentials=credentials_for(key, account),
        markets_ids=list(market_ids),
        node=LiveNodeConfig(venue=PolymarketVenueConfig(clob_url=sim.url, **polling)),
        ws_url=sim.ws_url + "/ws/market",
        user_ws_url=sim.ws_url + "/ws/user",
        keepalive=KeepaliveConfig(
            ping_interval_ms=200,
            pong_timeout_ms=1_000,
            reconnect_initial_ms=50,
            reconnect_max_ms=500,
        ),
        store_url=store_url,
    )
    return session


@dataclass(frozen=True)
class ServedSim:
    """What the child's simulator serves: its REST URL, control token, market ids and the
    child's process id."""

    url: str
    control_token: str
    market_ids: tuple[str, ...]
    pid: int


def _serve(
    settings: SimSettings, account: Account, conn: multiprocessing.connection.Connection
) -> None:
    """Child process: serve the simulator until the parent says stop or goes away."""
    from polytraders.simclob.server import SimClobServer

    with SimClobServer(settings, account) as sim:
        markets = tuple(sorted({t.market_id for t in sim.exchange.tokens.values()}))
        conn.send(
            ServedSim(
                sim.url, sim.control_token, markets, multiprocessing.current_process().pid or 0
            )
        )
        with contextlib.suppress(EOFError):
            conn.recv()


class SimProcess:
    """The simulator served by a child process (``spawn``), so this process holds none of its
    memory; a context manager giving :class:`ServedSim` and a control client.

    Raises (on enter):
        RuntimeError: the child did not serve within :data:`START_TIMEOUT_S`.
    """

    def __init__(self, settings: SimSettings, account: Account) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(settings, account, child_conn), name="simclob", daemon=True
        )
        self._child_conn = child_conn
        self._control: SimClobControl | None = None

    @property
    def control(self) -> SimClobControl:
        """The control client of the served simulator (inside the ``with`` block)."""
        assert self._control is not None, "use SimProcess as a context manager"
        return self._control

    def __enter__(self) -> SimProcess:
        from polytraders.simclob.server import SimClobControl

        self._process.start()
        self._child_conn.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self._stop()
            raise RuntimeError(f"the simulator process did not serve within {START_TIMEOUT_S} s")
        try:
            self.served: ServedSim = self._conn.recv()
        except EOFError as exc:
            self._stop()
            raise RuntimeError(
                f"the simulator process ended before serving (exit code {self._process.exitcode})"
            ) from exc
        self._control = SimClobControl(self.served.url, self.served.control_token)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._control is not None:
            self._control.close()
        self._stop()

    def _stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send("stop")
        self._conn.close()
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
