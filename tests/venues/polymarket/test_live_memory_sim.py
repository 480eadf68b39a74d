"""A live session's bounded past end to end against the CLOB v2 simulator: with the venue
forgetting closed orders at once (``closed_order_retention_s = 0``) the desk retires its
closed orders, filled ones with their fills, a margin after they closed
(``SessionMemory.live``; the margin shortened here to one second); the periodic
reconciliations that follow — the venue still lists every trade of the account — find
nothing unexplained and the desk stays ACTIVE. Every wait polls with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import polytraders.desk.orders
from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import ReconciliationKind
from polytraders.venues.polymarket.venue import PolymarketVenueConfig
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)
DEADLINE_S = 120


def _pump_until(session: LiveSession, sim: SimClobServer, done: Callable[[], bool]) -> None:
    """Step the simulator's replay and the session until ``done``, failing at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < deadline, f"not done within {DEADLINE_S} s"
        sim.step(2)
        time.sleep(0.02)  # lets the websockets deliver; no window is timed by it
        session.step()


def _retired_with_fills(session: LiveSession) -> int:
    """Booked fills whose order the desk has retired."""
    state, orders = session.desk.state, session.desk.orders
    booked = {f.fill_id for f in session.desk.orders.fills}
    return sum(
        1
        for fill_id in orders.booked_fill_ids
        if fill_id not in booked and fill_id.rpartition(":")[2] in state.retired_order_ids
    )


@pytest.mark.slow
def test_retired_orders_and_fills_are_no_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polytraders.desk.orders, "LIVE_RETENTION_MARGIN_S", 1)
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, loop=True, confirm_ms=100)
    with SimClobServer(settings, account) as sim:
        market_id = sim.exchange.tokens[sorted(sim.exchange.tokens)[0]].market_id
        session, report = build_live_session(
            run_id="run-live-memory",
            credentials=credentials_for(key, account),
            markets_ids=[market_id],
            node=LiveNodeConfig(
                venue=PolymarketVenueConfig(
                    clob_url=sim.url, trades_poll_ms=300, closed_order_retention_s=0
                ),
                reconciliation=ReconciliationConfig(interval_s=5),
            ),
            ws_url=sim.ws_url + "/ws/market",
            user_ws_url=sim.ws_url + "/ws/user",
            keepalive=FAST,
            store_url=str(tmp_path / "desk.sqlite"),
        )
        try:
            assert report.drift is DriftLevel.OK
            assert session.desk.orders.retention.closed_order_ns == 1_000_000_000
            _pump_until(session, sim, lambda: _retired_with_fills(session) > 0)
            checked = len(session.reconciliations)
            _pump_until(session, sim, lambda: len(session.reconciliations) >= checked + 2)
            periodic = [r for k, r in session.reconciliations if k is ReconciliationKind.PERIODIC]
            assert [r.level for r in periodic] == [DriftLevel.OK] * len(periodic)
            assert session.desk.state.trading_state is TradingState.ACTIVE
            assert session.halts == []
        finally:
            session.close()
