"""The five standard chaos scenarios against the CLOB v2 simulator with the default desk: each
passes and is recorded (verdict, checks, the desk's own run records, an audit entry), and each
one's pass criteria bite — breaking the behaviour a check measures makes the scenario fail
naming that check.

The breaks: a desk whose stale-book guard is switched off in its desk file (scenario 1); a
venue adapter that takes a 425 to mean the venue dropped its orders (2); one that re-sends
the orders a heartbeat lapse cancelled (3); one that never re-reads its trades from the venue
while running, so a fill missed on the dropped user channel waits for the shutdown (4); a
restart that forgets the orders it had recorded (5). The adapter breaks are made on
:class:`PolymarketVenue` itself (the class the desk's venue worker runs), for the test only.

Every scenario is an end-to-end run of a few seconds to ~25 s (``slow``); the wait deadlines
of the broken runs are shortened so a check that cannot be met fails sooner.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.chaos import SCENARIO_NAMES, SCENARIOS, new_suite_id, run_scenario
from polytraders.store import EventStore, RunStatus
from polytraders.store.chaos_runs import ACTION, ChaosRunRow, chaos_runs
from polytraders.venues.polymarket import reconcile as reconcile_module
from polytraders.venues.polymarket.errors import ErrorKind, VenueError
from polytraders.venues.polymarket.venue import PolymarketVenue

BROKEN_TIMEOUT_S = 8.0
"""Wait deadline of a scenario run against a broken desk (s)."""


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return str(tmp_path / "chaos.sqlite")


def run(
    name: str, store_url: str, desk: DeskFile | None = None, timeout_s: float = 30.0
) -> ChaosRunRow:
    return run_scenario(
        name,
        desk=desk or DeskFile(),
        store_url=store_url,
        suite_id=new_suite_id(),
        actor="test",
        timeout_s=timeout_s,
    )


def failed(row: ChaosRunRow) -> dict[str, str]:
    return {c.name: c.value for c in row.checks if not c.passed}


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_the_scenario_passes_with_the_default_desk_and_is_recorded(
    name: str, store_url: str
) -> None:
    row = run(name, store_url)
    assert row.passed, failed(row)
    assert [c.name for c in row.checks] == list(SCENARIOS[name].criteria)
    assert all(c.value for c in row.checks)  # every check says what it measured
    assert row.desk_config_version == DeskFile().config_version
    assert {b.bot_id for b in row.bots} >= {"strat.maker_tight", "risk.killswitch"}
    with EventStore.open(store_url, create=False) as store:
        assert chaos_runs(store, scenario=name) == [row]
        (entry,) = [e for e in store.audit_log() if e.action == ACTION]
        detail = msgspec.json.decode(entry.detail)
        assert (detail["scenario"], detail["passed"], detail["failed_checks"]) == (name, True, [])
        assert row.run_refs  # the desk's own records of the scenario
        for ref in row.run_refs:
            record = store.run(ref)
            assert record is not None, ref
            # ended by the scenario's graceful stop; a heartbeat lapse leaves the desk halted
            ending = RunStatus.HALTED if name == "heartbeat_lapse" else RunStatus.COMPLETED
            assert record.status is ending, (ref, record.status, record.detail)
            assert store.check_integrity(ref) == []
            assert store.counts(ref).envelopes > 0


@pytest.mark.slow
def test_feed_stale_gap_fails_when_the_stale_book_guard_is_off(store_url: str) -> None:
    desk = DeskFile.from_mapping(
        {
            "risk": [
                {"id": bot_id, "mode": "STUB" if bot_id == "risk.stalebookguard" else "ENFORCED"}
                for bot_id in (e.id for e in DeskFile().risk)
            ]
        }
    )
    row = run("feed_stale_gap", store_url, desk, BROKEN_TIMEOUT_S)
    assert not row.passed
    bad = failed(row)
    assert {"stale_refused_by_risk", "no_new_place_while_stale"} <= set(bad), bad
    assert "0 order(s) sent while stale" not in bad["no_new_place_while_stale"]
    assert "exposure_attempted_while_stale" not in bad  # it tried, and nothing stopped it


@pytest.mark.slow
def test_engine_restart_fails_when_the_adapter_forgets_its_orders_on_a_425(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PolymarketVenue._note_error

    def forgetting(self: PolymarketVenue, error: VenueError, now_ns: int) -> None:
        original(self, error, now_ns)
        if error.kind is ErrorKind.ENGINE_RESTART:  # "a restart wipes the book": it does not
            for order in self.orders():
                if order.status.is_open and order.venue_order_id:
                    own = self._orders[order.client_order_id]
                    self._mark_canceled(own, now_ns, error.reason_code)

    monkeypatch.setattr(PolymarketVenue, "_note_error", forgetting)
    row = run("engine_restart_post_only", store_url, timeout_s=BROKEN_TIMEOUT_S)
    assert not row.passed
    bad = failed(row)
    assert "no_untracked_order" in bad, bad
    assert "live but untracked" in bad["no_untracked_order"]


@pytest.mark.slow
def test_heartbeat_lapse_fails_when_the_adapter_resends_what_the_venue_cancelled(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PolymarketVenue._settle_lapse

    def resending(self: PolymarketVenue, now_ns: int) -> None:
        was_open = [o.client_order_id for o in self.orders() if o.status.is_open]
        original(self, now_ns)
        if self._state.lapse_unsettled:
            return
        self.acknowledge_heartbeat_lapse()  # trusts the next heartbeat, and re-posts
        self._pending.extend(cid for cid in was_open if not self._orders[cid].status.is_open)

    monkeypatch.setattr(PolymarketVenue, "_settle_lapse", resending)
    row = run("heartbeat_lapse", store_url, timeout_s=BROKEN_TIMEOUT_S)
    assert not row.passed
    bad = failed(row)
    assert "nothing_resent" in bad, bad
    assert " 0 order(s) sent again" not in bad["nothing_resent"]  # refused as duplicates
    assert "venue_cancelled_all" not in bad  # the dead-man switch still did its part


@pytest.mark.slow
def test_ws_drop_fails_when_the_adapter_never_rereads_trades_while_running(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PolymarketVenue.sync_trades

    def only_at_shutdown(
        self: PolymarketVenue, now_ns: int, *, limited: bool = True, whole_history: bool = False
    ) -> bool:
        if limited:  # the periodic poll: skipped, the user channel is trusted alone
            return True
        return original(self, now_ns, limited=False, whole_history=whole_history)

    monkeypatch.setattr(PolymarketVenue, "sync_trades", only_at_shutdown)
    row = run("ws_drop_open_orders", store_url, timeout_s=BROKEN_TIMEOUT_S)
    assert not row.passed
    bad = failed(row)
    assert "fill_booked_once" in bad, bad
    assert "booked while running {'sim-trade-1': 0}" in bad["fill_booked_once"]


@pytest.mark.slow
def test_crash_restart_fails_when_the_restart_forgets_its_orders(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = reconcile_module.reconcile

    def forgetful(venue: PolymarketVenue, **kwargs: object) -> reconcile_module.ReconcileReport:
        return original(venue, **{**kwargs, "store_orders": []})  # type: ignore[arg-type]

    monkeypatch.setattr(reconcile_module, "reconcile", forgetful)
    row = run("crash_restart", store_url, timeout_s=BROKEN_TIMEOUT_S)
    assert not row.passed
    bad = failed(row)
    assert {"restart_reconciled", "missed_fill_booked_once"} <= set(bad), bad


def test_an_unknown_scenario_is_refused(store_url: str) -> None:
    with pytest.raises(KeyError):
        run("no_such_scenario", store_url)
