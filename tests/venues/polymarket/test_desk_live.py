"""The desk end to end on a live clock against the simulator, through the real client library:
quotes are signed, posted and filled; a lapsed heartbeat makes the simulator cancel everything
and the desk halt; the kill switch cancels everything at the venue."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)


@pytest.fixture
def live_sim() -> Iterator[tuple[SimClobServer, str, Account]]:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(
        limit_markets=1, restamp=True, heartbeat_timeout_ms=1_500, confirm_ms=100
    )
    with SimClobServer(settings, account) as sim:
        yield sim, key, account


def session_for(sim: SimClobServer, key: str, account: Account, run_id: str) -> LiveSession:
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    session, report = build_live_session(
        run_id=run_id,
        credentials=credentials_for(key, account),
        markets_ids=[market_id],
        node=LiveNodeConfig(
            venue=PolymarketVenueConfig(
                clob_url=sim.url,
                heartbeat_interval_ms=300,
                heartbeat_timeout_ms=1_500,
                trades_poll_ms=300,
            )
        ),
        ws_url=sim.ws_url + "/ws/market",
        user_ws_url=sim.ws_url + "/ws/user",
        keepalive=FAST,
    )
    assert report.open_known == [] and report.missed_fills == []
    return session


def pump(session: LiveSession, sim: SimClobServer, rounds: int, snapshots: int = 2) -> None:
    for _ in range(rounds):
        sim.step(snapshots)
        time.sleep(0.02)
        session.step()


@pytest.mark.slow
def test_desk_quotes_fill_and_kill_switch_cancels_at_the_venue(
    live_sim: tuple[SimClobServer, str, Account],
) -> None:
    sim, key, account = live_sim
    session = session_for(sim, key, account, "run-live-e2e")
    try:
        pump(session, sim, 30)
        assert sim.sim_state()["orders_live"] > 0, session.desk.result().reason_codes
        venue = session.venue
        assert isinstance(venue, PolymarketVenue)
        assert {o.builder_code for o in venue.open_orders()} == {DESK_BUILDER}
        for _ in range(60):
            pump(session, sim, 10, snapshots=5)
            if session.desk.result().fills:
                break
        result = session.desk.result()
        assert result.fills, "no quote was hit while replaying the recorded books"
        assert result.trading_state is TradingState.ACTIVE
        session.kill()
        session.step()
        assert sim.sim_state()["orders_live"] == 0
        assert session.desk.state.kill_switch_tripped
        assert session.desk.state.trading_state is TradingState.HALTED
    finally:
        session.close()


@pytest.mark.slow
def test_lapsed_heartbeat_cancels_everything_and_the_desk_halts(
    live_sim: tuple[SimClobServer, str, Account],
) -> None:
    sim, key, account = live_sim
    session = session_for(sim, key, account, "run-live-hb")
    try:
        pump(session, sim, 30)
        assert sim.sim_state()["orders_live"] > 0
        time.sleep(2.0)  # the desk loop stalls: no heartbeat for longer than the window
        assert sim.sim_state()["dead_man_fired"] == 1
        assert sim.sim_state()["orders_live"] == 0
        session.step()
        assert session.desk.state.trading_state is TradingState.HALTED
        assert session.halts == ["SYS_POLY_HEARTBEAT_LAPSED"]
        posted = sim.sim_state()["orders_total"]
        pump(session, sim, 20)
        assert sim.sim_state()["orders_total"] == posted  # nothing new while halted
    finally:
        session.close()


@pytest.mark.slow
def test_engine_restart_window_then_post_only_window_without_halting(
    live_sim: tuple[SimClobServer, str, Account],
) -> None:
    sim, key, account = live_sim
    session = session_for(sim, key, account, "run-live-425")
    venue = session.venue
    assert isinstance(venue, PolymarketVenue)
    try:
        pump(session, sim, 20)
        assert sim.sim_state()["orders_live"] > 0
        assert session.desk.state.venue_state.value == "NORMAL"
        sim.control("engine_restart", duration_ms=1_000, post_only_ms=60_000)
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pump(session, sim, 1, snapshots=4)
            mode = session.desk.state.venue_state.value
            if not seen or seen[-1] != mode:
                seen.append(mode)
            if mode == "POST_ONLY" and venue.orders()[-1].status.value != "REJECTED":
                break
        assert "RESTARTING" in seen and "POST_ONLY" in seen, seen
        assert seen.index("RESTARTING") < seen.index("POST_ONLY"), seen
        assert session.desk.state.trading_state is TradingState.ACTIVE
        # the venue learnt the restart from its heartbeat (no order needed); the market-halt
        # guard refused intents the venue's mode forbids while the desk stayed ACTIVE
        assert session.desk.result().reason_codes.get("RISK_MARKETHALT_VENUE_HALT", 0) > 0
        sent_after = [o for o in venue.orders() if o.status.value in ("ACCEPTED", "FILLED")]
        assert sent_after and all(o.post_only for o in sent_after)
    finally:
        session.close()
