"""Periodic reconciliation end to end against the CLOB v2 simulator, through the real client
library and a store: while the desk quotes, a reconciliation every ``interval_s`` finds
nothing unexplained; then another process on the same API key buys tokens — a position at the
venue the desk did not make — and the next reconciliation is CRITICAL: the desk is HALTED with
``SYS_RECONCILE_DRIFT_CRITICAL`` (a desk event) and every reconciliation, start-up and
periodic, is in the store's ``reconciliations`` with what differed. Every wait polls with a
deadline (the reconciliation timer runs on the desk's live clock, 5 s here)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState, TradingStateChanged
from polytraders.model.orders import Side
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore, ReconciliationKind, RunStatus
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from tests.venues.polymarket.conftest import credentials_for, order, throwaway_key, top
from tests.waiting import wait_until

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)
RUN = "run-periodic-reconciliation"
BOUGHT = 5_000_000


def _pump_until(
    session: LiveSession, sim: SimClobServer, done: Callable[[], bool], what: str
) -> None:
    """Step the simulator's replay and the session until ``done``, failing after 40 s."""
    deadline = time.monotonic() + 40
    while not done():
        assert time.monotonic() < deadline, f"no {what} within 40 s"
        sim.step(1)
        time.sleep(0.02)  # lets the websockets deliver; no window is timed by it
        session.step()


def _periodic(session: LiveSession) -> list[DriftLevel]:
    return [r.level for k, r in session.reconciliations if k is ReconciliationKind.PERIODIC]


@pytest.mark.slow
def test_a_position_the_desk_did_not_make_halts_it_and_every_reconciliation_is_recorded(
    tmp_path: Path,
) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    store_path = tmp_path / "desk.sqlite"
    settings = SimSettings(limit_markets=1, restamp=True, confirm_ms=100)
    with SimClobServer(settings, account) as sim:
        token = sorted(sim.exchange.tokens)[0]
        market_id = sim.exchange.tokens[token].market_id
        session, report = build_live_session(
            run_id=RUN,
            credentials=credentials_for(key, account),
            markets_ids=[market_id],
            node=LiveNodeConfig(
                venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300),
                reconciliation=ReconciliationConfig(interval_s=5),
            ),
            ws_url=sim.ws_url + "/ws/market",
            user_ws_url=sim.ws_url + "/ws/user",
            keepalive=FAST,
            store_url=str(store_path),
        )
        stranger = PolymarketVenue.from_credentials(
            credentials_for(key, account),
            PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0),
        )
        try:
            assert report.drift is DriftLevel.OK
            assert session.reconciliations[0][0] is ReconciliationKind.STARTUP
            # 1. the desk quotes; a periodic reconciliation finds its own orders explained
            _pump_until(session, sim, lambda: sim.sim_state()["orders_live"] > 0, "quotes")
            _pump_until(session, sim, lambda: bool(_periodic(session)), "periodic check")
            assert _periodic(session) == [DriftLevel.OK]
            assert session.desk.state.trading_state is TradingState.ACTIVE
            # 2. another process on the same key buys: the venue holds tokens the desk did
            #    not buy (its trades are not the desk's orders, so nothing explains them)
            stranger.load_token(token)
            stranger.mark_reconciled()
            _bid, ask = top(stranger, token)
            buy = order(token, Side.BUY, min(ask + 50_000, 990_000), BOUGHT)  # sweeps levels
            stranger.submit(buy, time.time_ns())
            stranger.flush(time.time_ns())
            sent = stranger.order(buy.client_order_id)
            assert sent is not None
            wait_until(
                lambda: sim.exchange.orders[sent.venue_order_id.lower()].size_matched == BOUGHT,
                10,
                "the stranger's fill",
            )
            _pump_until(
                session,
                sim,
                lambda: session.desk.state.trading_state is TradingState.HALTED,
                "halt",
            )
            kind, result = session.reconciliations[-1]
            assert (kind, result.level) == (ReconciliationKind.PERIODIC, DriftLevel.CRITICAL)
            assert result.reason_codes == ("SYS_RECONCILE_DRIFT_CRITICAL",)
            assert result.position_drift_micros == BOUGHT
            assert session.halts == ["SYS_RECONCILE_DRIFT_CRITICAL"]
            changes = [
                e for e in session.desk.result().desk_events if isinstance(e, TradingStateChanged)
            ]
            assert (changes[-1].new_state, changes[-1].reason_code, changes[-1].source) == (
                TradingState.HALTED,
                "SYS_RECONCILE_DRIFT_CRITICAL",
                "reconciliation",
            )
        finally:
            session.close()
            stranger.close()
    with EventStore.open(store_path, create=False) as reader:
        rows = reader.reconciliations(RUN)
        record = reader.run(RUN)
    assert record is not None
    assert (record.status, record.detail) == (RunStatus.HALTED, "SYS_RECONCILE_DRIFT_CRITICAL")
    assert [r.kind for r in rows] == [ReconciliationKind.STARTUP] + [
        ReconciliationKind.PERIODIC
    ] * (len(rows) - 1)
    assert [r.level for r in rows[:-1]] == ["ok"] * (len(rows) - 1)
    last = rows[-1]
    assert (last.level, last.reason_codes, last.position_drift_micros) == (
        "critical",
        ("SYS_RECONCILE_DRIFT_CRITICAL",),
        BOUGHT,
    )
    (position,) = [p for p in json.loads(last.differences_json)["positions"] if p["unexplained"]]
    assert (position["token_id"], position["unexplained"]) == (token, BOUGHT)


@pytest.mark.slow
def test_holdings_from_before_the_run_and_earlier_attempts_are_no_drift_after_restarts(
    tmp_path: Path,
) -> None:
    """The account holds tokens before the run starts (adopted at the first start); the desk
    trades; the run is stopped and started again twice (attempts 2 and 3). Each start-up
    believes the previous attempt's start holdings plus its fills, so every start-up and
    periodic reconciliation is OK and the desk is never halted; each start is recorded as
    position snapshots."""
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    store_path = tmp_path / "desk.sqlite"
    settings = SimSettings(limit_markets=1, restamp=True, confirm_ms=100)
    with SimClobServer(settings, account) as sim:
        token = sorted(sim.exchange.tokens)[0]
        market_id = sim.exchange.tokens[token].market_id
        earlier = PolymarketVenue.from_credentials(
            credentials_for(key, account),
            PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0),
        )
        earlier.load_token(token)
        earlier.mark_reconciled()
        _bid, ask = top(earlier, token)
        buy = order(token, Side.BUY, min(ask + 50_000, 990_000), BOUGHT)
        earlier.submit(buy, time.time_ns())
        earlier.flush(time.time_ns())
        earlier.close()
        wait_until(lambda: sim.exchange.positions.get(token, 0) == BOUGHT, 10, "the holding")
        for attempt in (1, 2, 3):
            session, report = build_live_session(
                run_id=RUN,
                credentials=credentials_for(key, account),
                markets_ids=[market_id],
                node=LiveNodeConfig(
                    venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300),
                    reconciliation=ReconciliationConfig(interval_s=5),
                ),
                ws_url=sim.ws_url + "/ws/market",
                user_ws_url=sim.ws_url + "/ws/user",
                keepalive=FAST,
                store_url=str(store_path),
            )
            try:
                assert report.drift is DriftLevel.OK, (attempt, report.comparison)
                assert report.positions[token] == sim.exchange.positions[token]
                _pump_until(
                    session,
                    sim,
                    lambda current=session: bool(_periodic(current)),  # type: ignore[misc]
                    "periodic check",
                )
                assert _periodic(session) == [DriftLevel.OK]
                assert session.desk.state.trading_state is TradingState.ACTIVE
                assert session.halts == []
            finally:
                session.close()
    with EventStore.open(store_path, create=False) as reader:
        runs = reader.runs()
        assert [(r.attempt, r.status) for r in runs] == [
            (n, RunStatus.COMPLETED) for n in (1, 2, 3)
        ]
        for record in runs:
            rows = reader.reconciliations(record.ref)
            assert [r.level for r in rows] == ["ok"] * len(rows) and len(rows) >= 2
            starts = reader.positions(record.ref)
            assert {p.token_id for p in starts} == set(sim.exchange.tokens)
            assert len({p.ts_ns for p in starts}) == 1  # one start-up per attempt
