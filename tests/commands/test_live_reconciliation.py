"""The live session's periodic reconciliation on a controllable clock (a paper desk, no
network): due every ``interval_s`` of desk time; a snapshot agreeing with the desk is OK; a
WARNING is logged and recorded and changes nothing else; a CRITICAL (a holding the desk did
not make) is recorded and halts the desk with ``SYS_RECONCILE_DRIFT_CRITICAL`` as a desk
event. The same against the simulator end to end: tests/venues/polymarket/
test_periodic_reconciliation.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.commands.live import LiveRecording, LiveSession
from polytraders.desk.clock import SimClock
from polytraders.desk.desk import Desk
from polytraders.model.events import TradingState, TradingStateChanged
from polytraders.store import EventStore, ReconciliationKind
from polytraders.venues.paper import PaperVenue, PaperVenueConfig
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import PositionReport
from tests.venues.paper.support import RUN, SH, YES, binary_market

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000


class _NoFeed:
    """A market feed that never delivers (the session only polls and stops it)."""

    def poll(self) -> list[Any]:
        return []

    def stop(self) -> None:
        return None


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[LiveSession, SimClock, EventStore]]:
    """A paper desk on a simulated clock, recorded in a SQLite store, reconciling every 5 s
    (thresholds: warn from 1 micro-share, critical from 1 share)."""
    market = binary_market()
    venue = PaperVenue(PaperVenueConfig(), [market], RUN)
    strategies, risk, execution = DeskFile().build_slots()
    clock = SimClock(T0)
    store = EventStore.open(tmp_path / "desk.sqlite")
    started = store.start_run(
        run_id=RUN,
        started_ns=T0,
        seed=0,
        desk_config={},
        desk_config_version="cfg",
        data_source="test",
        synthetic=True,
    )
    recording = LiveRecording(store=store, run=started.ref, config={}, config_version="cfg", seed=0)
    desk = Desk(
        run_id=RUN,
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=[market],
        clock=clock,
        sink=recording.sink,
    )
    config = ReconciliationConfig(
        interval_s=5, position_drift_critical_micros=SH, order_drift_critical_micros=SH
    )
    live = LiveSession(
        desk,
        venue,
        _NoFeed(),  # type: ignore[arg-type]
        recording=recording,
        reconciliation=config,
    )
    yield live, clock, store
    live.close(cancel_open_orders=False)


def test_reconciliation_is_due_every_interval_of_desk_time(
    session: tuple[LiveSession, SimClock, EventStore],
) -> None:
    live, clock, store = session
    live.step()
    clock.advance_to(T0 + 5 * S - 1)
    live.step()
    assert live.reconciliations == []
    clock.advance_to(T0 + 5 * S)
    live.step()
    clock.advance_to(T0 + 9 * S)
    live.step()
    assert [(k, r.level) for k, r in live.reconciliations] == [
        (ReconciliationKind.PERIODIC, DriftLevel.OK)
    ]
    clock.advance_to(T0 + 10 * S)
    live.step()
    assert len(live.reconciliations) == 2
    rows = store.reconciliations(RUN)
    assert [(r.kind, r.level, r.ts_ns) for r in rows] == [
        (ReconciliationKind.PERIODIC, "ok", T0 + 5 * S),
        (ReconciliationKind.PERIODIC, "ok", T0 + 10 * S),
    ]
    assert live.desk.state.trading_state is TradingState.ACTIVE


def test_a_warning_is_logged_and_recorded_and_trading_goes_on(
    session: tuple[LiveSession, SimClock, EventStore], caplog: pytest.LogCaptureFixture
) -> None:
    live, _clock, store = session
    records = live.desk_records()
    snapshot = live.venue.reconciliation_snapshot(T0)
    dust = msgspec.structs.replace(snapshot, positions=(PositionReport(token_id=YES, size=7),))
    with caplog.at_level(logging.WARNING):
        result = live.on_reconciliation(dust, records)
    assert result.level is DriftLevel.WARNING and result.position_drift_micros == 7
    assert "SYS_RECONCILE_DRIFT_WARNING" in caplog.text
    assert live.desk.state.trading_state is TradingState.ACTIVE and live.halts == []
    (row,) = store.reconciliations(RUN)
    assert (row.level, row.reason_codes) == ("warning", ("SYS_RECONCILE_DRIFT_WARNING",))


def test_a_holding_the_desk_did_not_make_halts_it_and_is_recorded(
    session: tuple[LiveSession, SimClock, EventStore], caplog: pytest.LogCaptureFixture
) -> None:
    live, _clock, store = session
    records = live.desk_records()
    snapshot = live.venue.reconciliation_snapshot(T0)
    foreign = msgspec.structs.replace(snapshot, positions=(PositionReport(token_id=YES, size=SH),))
    with caplog.at_level(logging.ERROR):
        result = live.on_reconciliation(foreign, records)
    assert result.level is DriftLevel.CRITICAL
    assert result.reason_codes == ("SYS_RECONCILE_DRIFT_CRITICAL",)
    assert "desk HALTED" in caplog.text
    state = live.desk.state
    assert state.trading_state is TradingState.HALTED
    assert state.controls().trading_reason_code == "SYS_RECONCILE_DRIFT_CRITICAL"
    assert live.halts == ["SYS_RECONCILE_DRIFT_CRITICAL"]
    changes = [e for e in live.desk.result().desk_events if isinstance(e, TradingStateChanged)]
    assert [(c.new_state, c.reason_code, c.source) for c in changes] == [
        (TradingState.HALTED, "SYS_RECONCILE_DRIFT_CRITICAL", "reconciliation")
    ]
    (row,) = store.reconciliations(RUN)
    assert (row.kind, row.level, row.position_drift_micros) == (
        ReconciliationKind.PERIODIC,
        "critical",
        SH,
    )
    differences = msgspec.json.decode(row.differences_json)
    assert differences["positions"] == [
        {"token_id": YES, "desk_size": 0, "venue_size": SH, "unbooked_size": 0, "unexplained": SH}
    ]
    # a second CRITICAL is recorded, the desk stays halted, no second halt event
    live.on_reconciliation(foreign, live.desk_records())
    assert live.halts == ["SYS_RECONCILE_DRIFT_CRITICAL"]
    assert len(store.reconciliations(RUN)) == 2


def test_a_session_without_settings_never_reconciles(tmp_path: Path) -> None:
    market = binary_market()
    venue = PaperVenue(PaperVenueConfig(), [market], RUN)
    strategies, risk, execution = DeskFile().build_slots()
    clock = SimClock(T0)
    desk = Desk(
        run_id=RUN,
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=[market],
        clock=clock,
    )
    live = LiveSession(desk, venue, _NoFeed())  # type: ignore[arg-type]
    clock.advance_to(T0 + 3_600 * S)
    live.step()
    assert live.reconciliations == []
    with pytest.raises(ValueError, match="no reconciliation settings"):
        live.on_reconciliation(venue.reconciliation_snapshot(T0), live.desk_records())
    live.close(cancel_open_orders=False)
