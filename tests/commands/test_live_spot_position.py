"""The spot desk's position on the live node (``build_ccxt_session``, what ``polytraders live
--venue ccxt`` builds) against the Binance spot simulator through the real ccxt client: a new
run adopts the account's BTC (free + locked) as its position and records it; a periodic
reconciliation finds an external deposit as position drift of its exact size (CRITICAL: the
desk halts); a restart on the same store judges the exchange's balance against the recorded
holdings and adopts it.

The desk has no strategy (the kill switch only): nothing it does moves the balance. The replay
moves only when the test steps it (``POST /sim/step``); waits poll with a deadline
(:func:`tests.waiting.wait_until`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import CcxtStartup, build_ccxt_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import SpotExchange
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.waiting import wait_until

TOKEN = "binance-spot:BTCUSDT"
RUN = "run-spot-position"
FAST = KeepaliveConfig(
    ping_interval_ms=200,
    pong_timeout_ms=1_000,
    reconnect_initial_ms=50,
    reconnect_max_ms=500,
    protocol_ping=True,
)


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(market="spot"), throwaway_key()) as server:
        yield server


def spot(sim: SimExchangeServer) -> SpotExchange:
    ex = sim.exchange
    assert isinstance(ex, SpotExchange)
    return ex


def start(sim: SimExchangeServer, store: str) -> tuple[LiveSession, CcxtStartup]:
    node = CcxtNodeConfig.model_validate(
        {
            "desk": DeskFile(strategies=[], risk=[BotEntry(id="risk.killswitch")]),
            "venue": {"exchange_id": "binance", "api_url": sim.url, "poll_interval_ms": 0},
        }
    )
    return build_ccxt_session(
        run_id=RUN,
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )


def reconciled(session: LiveSession, sim: SimExchangeServer) -> DriftLevel:
    """Run one periodic reconciliation through the venue worker; its verdict."""
    count = len(session.reconciliations)
    session.reconcile(session.desk.clock.now_ns())

    def judged() -> bool:
        sim.step(1)
        session.step()
        return len(session.reconciliations) > count

    wait_until(judged, 20, "the periodic reconciliation's verdict")
    kind, result = session.reconciliations[-1]
    assert kind.value == "periodic"
    return result.level


def test_the_spot_position_is_adopted_reconciled_and_judged_after_a_restart(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    spot(sim).totals["BTC"] = 50_000_012  # 0.50000012 BTC: 500,000 micro-BTC and dust
    session, startup = start(sim, store)
    try:
        assert startup.comparison.level is DriftLevel.OK  # a new run adopts the balance
        position = session.desk.state.ledger.position(TOKEN)
        assert position is not None and (position.size, position.cost_basis) == (500_000, 0)
        assert reconciled(session, sim) is DriftLevel.OK
        spot(sim).totals["BTC"] += 1_000_000  # 0.01 BTC deposited outside the desk
        assert reconciled(session, sim) is DriftLevel.CRITICAL
        (_, result) = session.reconciliations[-1]
        (difference,) = result.differences.positions
        assert (difference.desk_size, difference.venue_size, difference.unexplained) == (
            500_000,
            510_000,
            10_000,
        )
        assert session.desk.state.trading_state is TradingState.HALTED
    finally:
        session.close()
    with EventStore.open(store) as events:
        (run,) = [r for r in events.runs() if r.run_id == RUN]
        assert [(p.token_id, p.size) for p in events.positions(run.ref)] == [(TOKEN, 500_000)]

    restarted, again = start(sim, store)
    try:
        (difference,) = again.comparison.differences.positions
        assert (difference.desk_size, difference.venue_size, difference.unexplained) == (
            500_000,
            510_000,
            10_000,
        )
        assert again.comparison.level is DriftLevel.CRITICAL
        assert restarted.desk.state.trading_state is TradingState.HALTED
        position = restarted.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == 510_000  # the exchange's, adopted
    finally:
        restarted.close()
