"""A live ``--shadow`` session records the shadow comparison continuously: the candidate's risk
chain decides beside the desk on every intent of the simulator's live market data, and every
window of desk time (here 1 s) plus the session's end is recorded as a comparison the
shadow-agreement gate reads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.commands.live import build_paper_session
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Phase
from polytraders.readiness.shadow_gate import shadow_agreement
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from polytraders.store.shadow_comparisons import ACTION_COMPARED, comparisons
from tests.backtest.shadow_data import desk_with
from tests.conftest import REPO
from tests.venues.polymarket.conftest import throwaway_key

GUARD = "risk.exposureguard"
TIGHT_CAP_MICROS = 1_000_000
"""The candidate's per-market loss cap (1 pUSD, the default's is 500): it reshapes or rejects
quotes the baseline approves."""


@pytest.fixture
def sim() -> Iterator[SimClobServer]:
    settings = SimSettings(limit_markets=1, restamp=True, replay_interval_ms=0)
    with SimClobServer(settings, account_for_key(throwaway_key())) as server:
        yield server


def test_a_shadow_session_records_its_comparison_every_window(
    sim: SimClobServer, tmp_path: Path
) -> None:
    store_url = str(tmp_path / "desk.sqlite")
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    session = build_paper_session(
        run_id="shadow-live",
        markets_ids=[market_id],
        clob_url=sim.url,
        ws_url=sim.ws_url + "/ws/market",
        desk=DeskFile(),
        candidate_desk=desk_with(GUARD, max_market_loss_micros=TIGHT_CAP_MICROS),
        shadow=True,
        store_url=store_url,
        shadow_window_s=1,
    )
    comparator = session.shadow_comparator
    assert comparator is not None
    assert session.desk.shadow is comparator.chain
    deadline = time.monotonic() + 60
    try:
        while len(comparator.windows) < 2 or not any(
            row.divergences for rows in comparator.windows for row in rows
        ):
            assert time.monotonic() < deadline, "no two windows with a divergence in 60 s"
            sim.step(2)
            time.sleep(0.02)  # lets the websocket deliver; no window is timed by it
            session.step()
    finally:
        session.close()
    windows = len(comparator.windows)  # the session's end recorded the last window too
    with EventStore.open(store_url, create=False) as store:
        assert len({r.comparison_id for r in comparisons(store)}) == windows >= 2
        rows = comparisons(store, bot_id=GUARD)  # windows where intents reached the guard
        assert 1 <= len(rows) <= windows
        assert all(r.data_source == sim.ws_url + "/ws/market" for r in rows)
        assert all(r.window_start_ns <= r.window_end_ns for r in rows)
        assert sum(r.compared for r in rows) > 0
        divergent = [d for r in rows for d in r.divergences]
        assert divergent
        # the tighter cap is never more permissive than the baseline's
        assert {d.baseline_verdict for d in divergent} <= {"APPROVE", "RESHAPE"}
        assert not any(d.unsafe for d in divergent)
        assert all(d.run_id == "shadow-live-shadow" for d in divergent)
        # the guards before it agree fully: the candidate's chain saw every intent
        killswitch = comparisons(store, bot_id="risk.killswitch")
        assert all(r.agree_verdict == r.compared for r in killswitch)
        assert sum(r.compared for r in killswitch) > 0
        assert [a.action for a in store.audit_log()].count(ACTION_COMPARED) == windows
        # the gate reads them (one day of comparisons: not yet 30)
        ctx = ReadinessContext(repo=REPO, store=store, now_ns=time.time_ns(), commit="")
        assert shadow_agreement("risk.killswitch", ctx).phase is Phase.INCONCLUSIVE
        assert "1/30 days" in shadow_agreement("risk.killswitch", ctx).value
    # the candidate never reached the simulated venue: the session's own desk is paper too,
    # and the shadow chain never routes
    assert sim.sim_state()["orders_total"] == 0
