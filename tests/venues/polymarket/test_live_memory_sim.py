"""A live session's bounded past end to end against the CLOB v2 simulator: with the venue
forgetting closed orders at once (``closed_order_retention_s = 0``) the desk retires its
closed orders, filled ones with their fills, a margin after they closed
(``SessionMemory.live``; the margin shortened here to one second); the periodic
reconciliations that follow — the venue still lists every trade of the account — find
nothing unexplained and the desk stays ACTIVE. Every wait polls with a deadline."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import polytraders.desk.orders
from polytraders.backtest.result import FillModel
from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.commands.live_outputs import DeskOutputs, LiveOutputs
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState
from polytraders.model.money import from_micros
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore, ReconciliationKind
from polytraders.store.records import RunStatus
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


@pytest.mark.slow
def test_the_out_files_of_a_bounded_session_list_every_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``--out`` files of a session whose orders retire with their fills still list every
    fill the store recorded, in the same order (a snapshot while it runs: every fill booked
    so far), and the maximum drawdown is the ledger's, counted over every mark."""
    monkeypatch.setattr(polytraders.desk.orders, "LIVE_RETENTION_MARGIN_S", 1)
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, loop=True, confirm_ms=100)
    out, store = tmp_path / "out", tmp_path / "desk.sqlite"
    outputs = LiveOutputs(out)
    with SimClobServer(settings, account) as sim:
        market_id = sim.exchange.tokens[sorted(sim.exchange.tokens)[0]].market_id
        session, _ = build_live_session(
            run_id="run-live-out",
            credentials=credentials_for(key, account),
            markets_ids=[market_id],
            node=LiveNodeConfig(
                venue=PolymarketVenueConfig(
                    clob_url=sim.url, trades_poll_ms=300, closed_order_retention_s=0
                ),
            ),
            ws_url=sim.ws_url + "/ws/market",
            user_ws_url=sim.ws_url + "/ws/user",
            keepalive=FAST,
            store_url=str(store),
            timeline=outputs.timeline(""),
        )
        try:
            assert session.recording is not None
            outputs.add(
                DeskOutputs(
                    desk=session.desk,
                    recording=session.recording,
                    session="live",
                    folder="",
                    fill_model=FillModel.real(session.venue.name),
                )
            )
            _pump_until(session, sim, lambda: _retired_with_fills(session) > 0)
            assert outputs.snapshot() is not None
            booked = set(session.desk.orders.booked_fill_ids)  # as the snapshot captured
            deadline = time.monotonic() + DEADLINE_S
            while outputs.writing:
                assert time.monotonic() < deadline, "the snapshot was not written in time"
                time.sleep(0.05)
            assert outputs.snapshot_errors == []
            assert {row["fill_id"] for row in _rows(out)} == booked
        finally:
            session.close(status=RunStatus.COMPLETED)
        outputs.finish({"run-live-out": (RunStatus.COMPLETED, "")})
    desk = session.desk
    assert desk.orders.retired_created_ns and len(desk.orders.fills) < len(
        desk.orders.booked_fill_ids
    )
    with EventStore.open(str(store), create=False) as reader:
        stored = reader.fills("run-live-out")
    reverted = {f.fill_id for f in desk.reverted_fills}
    listed = [f for f in stored if f.fill_id not in reverted]
    rows = _rows(out)
    assert [r["fill_id"] for r in rows] == [f.fill_id for f in listed]
    assert [int(r["ts_event_ns"]) for r in rows] == [f.ts_event_ns for f in listed]
    result = json.loads((out / "result.json").read_text())
    assert result["fills"] == len(rows) == len(desk.orders.booked_fill_ids)
    assert str(result["max_drawdown_usd"]) == str(from_micros(desk.state.ledger.max_drawdown))


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "fills.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))
