"""A live desk with a MetaAllocator restarts while holding what it traded: killed with its quotes
resting (no shutdown), it misses a fill while down, and the store-backed restart (Polymarket
CLOB simulator) restores the checkpointed allocation unchanged and attributes every fill,
the missed one once, to the strategy that placed it, so nothing is left unattributed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.commands.live import DESK_BUILDER, build_live_session
from polytraders.contracts.allocation import Allocation
from polytraders.contracts.envelope import Decision
from polytraders.desk.allocator import AllocatorConfig
from polytraders.desk.desk import DeskConfig
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store.event_store import EventStore
from polytraders.venues.polymarket.venue import PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key
from tests.venues.polymarket.test_desk_restart import FAST, _open

RUN = "run-alloc-live"
STRATEGY = "strat.maker_tight"


@pytest.mark.slow
def test_a_live_allocator_desk_restarts_holding_positions(tmp_path: Path) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, heartbeat_timeout_ms=60_000)
    store_url = str(tmp_path / "desk.sqlite")
    allocator = AllocatorConfig(budgets_pct={STRATEGY: 50}, reserve_pct=50)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id

        def start() -> tuple:  # type: ignore[type-arg]
            return build_live_session(
                run_id=RUN,
                credentials=credentials_for(key, account),
                markets_ids=[market_id],
                node=LiveNodeConfig(
                    venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300),
                    desk=DeskFile(desk=DeskConfig(allocator=allocator)),
                ),
                ws_url=sim.ws_url + "/ws/market",
                user_ws_url=sim.ws_url + "/ws/user",
                keepalive=FAST,
                store_url=store_url,
            )

        session, _ = start()
        deadline = time.monotonic() + 30
        while not _open(sim):  # until the desk's first quotes rest at the venue
            assert time.monotonic() < deadline, session.desk.result().reason_codes
            sim.step(2)
            time.sleep(0.02)
            session.step()
        before = session.desk.allocator
        assert before is not None and before.allocations
        in_force = before.allocations[-1]
        session.close(cancel_open_orders=False)  # the process dies with orders resting
        trades_before = sim.sim_state()["trades"]
        for _ in range(100):  # while the desk is down the market trades through a quote
            sim.step(10)
            if sim.sim_state()["trades"] > trades_before:
                break
        assert sim.sim_state()["trades"] > trades_before, "no resting quote traded"

        resumed, report = start()  # before this fix: refused (orders and positions)
        assert report.missed_fills
        restored = resumed.desk.allocator
        assert restored is not None
        assert restored.weights_ppm == in_force.weights_ppm
        assert restored.equity_micros == in_force.equity_micros  # budgets do not jump
        assert resumed.desk.unattributed == {}
        held = {p.token_id: p.size for p in resumed.desk.state.positions() if p.size}
        assert held and restored.attributed_sizes() == held  # the missed fills, once
        deadline = time.monotonic() + 30
        while resumed.desk.events_processed == 0:
            assert time.monotonic() < deadline, "the resumed desk processed no event"
            sim.step(2)
            time.sleep(0.02)
            resumed.step()
        resumed.close()
    with EventStore.open(store_url, create=False) as store:
        allocations = [e for e in store.iter_envelopes(RUN) if e.decision is Decision.ALLOCATE]
    assert [e.reason_codes for e in allocations] == [
        ("SYS_ALLOCATOR_ALLOCATED",),
        ("SYS_ALLOCATOR_RESTORED",),
    ]
    output = allocations[-1].output
    assert isinstance(output, Allocation) and output.weights_ppm == in_force.weights_ppm
