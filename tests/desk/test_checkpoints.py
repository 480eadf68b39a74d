"""Crash-only restart of the desk from its checkpoint rows in a real event store (SQLite): rows
only on change, the trip durable before its cancels, the controls and seen intents restored,
operators' trips and resets reaching a running or a stopped desk, a failing store halting."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from polytraders.desk.checkpoints import (
    DESK_KIND,
    CheckpointChange,
    CheckpointWriter,
    KillSwitchStateError,
    load_checkpoint,
    reset_kill_switch,
    trip_kill_switch,
)
from polytraders.desk.desk import Desk, DeskCheckpoint
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import OperatorCommand, TradingState
from polytraders.model.orders import OrderStatus
from polytraders.store import EventStore, StoreClosedError
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot
from tests.desk.test_desk import MARKET, S, make_desk, snap
from tests.store import factories as f

RUN = "run-d"


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    opened = EventStore.open(tmp_path / "desk.sqlite")
    f.start(opened, RUN)
    return opened


def _desk(venue: PaperVenue | None = None) -> Desk:
    venue = venue or PaperVenue(PaperVenueConfig(), [MARKET], RUN)
    return Desk(
        run_id=RUN,
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=False))],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
    )


def _changes(store: EventStore) -> list[CheckpointChange]:
    decode = msgspec.json.Decoder(CheckpointChange).decode
    return [decode(r.body_json) for r in store.checkpoints(RUN) if r.kind == DESK_KIND]


def test_rows_are_written_on_change_only(store: EventStore) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    assert len(store.checkpoints(RUN)) == 1  # the start is recorded with its controls
    desk.process(snap(1.0))  # the quoter bids: a new intent and an open order
    desk.process(snap(1.5))  # the order is accepted and rests
    rows = _changes(store)
    assert [r.intents_seen for r in rows] == [(), ("strat.quoter/1",), ()]
    # written ahead when sent, then again once the venue's acknowledgement brings its id
    assert [o.client_order_id for o in rows[1].orders_opened] == ["strat.quoter/1/o0"]
    assert rows[1].orders_opened[0].venue_order_id == ""
    (acknowledged,) = rows[2].orders_opened
    assert acknowledged.client_order_id == "strat.quoter/1/o0" and acknowledged.venue_order_id
    for t in (2.0, 2.5, 3.0, 3.5):  # the same book: no intent, no order change, same equity
        desk.process(snap(t))
    assert len(_changes(store)) == 3
    desk.process(OperatorCommand(ts_event_ns=4 * S, command="kill", operator="alice"))
    desk.process(snap(4.5))  # the cancel confirmed
    rows = _changes(store)
    tripped = rows[3].controls
    assert tripped.trading_state is TradingState.HALTED
    assert (tripped.kill_switch.reason_code, tripped.kill_switch.source) == (
        "SYS_KILL_SWITCH_TRIPPED",
        "operator:alice",
    )
    assert rows[-1].orders_closed == ("strat.quoter/1/o0",)


def test_a_peak_equity_rise_writes_a_row_only_from_the_documented_step(
    store: EventStore,
) -> None:
    state = DeskState.build(cash=100_000_000, markets=[MARKET])
    writer = CheckpointWriter(store, RUN, peak_step_bps=10)
    assert writer.write_if_changed(state) is not None
    state.ledger.peak_equity += 99_999  # 0.099 99 % of 100 pUSD: below the 10 bps step
    assert writer.write_if_changed(state) is None
    state.ledger.peak_equity += 1  # now 10 bps above the peak last written
    row = writer.write_if_changed(state)
    assert row is not None
    assert msgspec.json.decode(row.body_json)["controls"]["peak_equity"] == 100_100_000


class _WatchingVenue(PaperVenue):
    """The paper venue, noting at each ``cancel_all`` whether the store already shows the
    kill switch tripped."""

    store: EventStore
    seen: list[bool]

    def cancel_all(self, now_ns: int) -> None:
        last = load_checkpoint(self.store, RUN)
        self.seen.append(last is not None and last.controls.kill_switch.tripped)
        super().cancel_all(now_ns)


def test_the_trip_is_durable_before_its_cancels_go_out(store: EventStore) -> None:
    venue = _WatchingVenue(PaperVenueConfig(), [MARKET], RUN)
    venue.store, venue.seen = store, []
    desk = _desk(venue)
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.process(snap(1.0))
    desk.trip_kill_switch("RISK_KILLSWITCH_DAILY_LOSS", "risk.killswitch", "loss 6 %")
    assert venue.seen == [True]


def _crash_and_restart(store: EventStore) -> tuple[Desk, EventStore]:
    """The process dies (no shutdown); a new one opens the store and resumes the run."""
    url = store.url
    store.close()
    reopened = EventStore.open(url.removeprefix("sqlite:///"), create=False)
    reopened.resume_run(RUN)
    restored = load_checkpoint(reopened, RUN)
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(reopened, RUN, restored=restored), restored)
    return desk, reopened


def test_a_restart_keeps_the_trip_day_start_peak_and_seen_intents(store: EventStore) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.process(snap(1.0))
    desk.state.ledger.peak_equity += 5_000_000  # a peak reached earlier in the day
    desk.process(OperatorCommand(ts_event_ns=2 * S, command="kill", operator="alice"))
    before = desk.state.controls()
    resumed, store = _crash_and_restart(store)
    assert resumed.state.controls() == before
    assert resumed.state.kill_switch_tripped
    # a strategy that restarts its numbering reuses an id of the run: refused, not executed
    resumed.process(snap(3.0))
    assert resumed.strategies.slots[0].quarantined is not None
    assert "already used in this run" in resumed.strategies.slots[0].quarantined.failure.message
    assert resumed.orders.stats.submitted == 0


def test_an_operator_reset_reaches_the_running_desk_and_a_stale_one_does_not(
    store: EventStore, tmp_path: Path
) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN, operator_poll_ms=1_000))
    desk.process(snap(1.0))
    desk.trip_kill_switch("RISK_KILLSWITCH_FEED_LOST", "risk.killswitch")
    first_trip_ns = desk.state.controls().kill_switch.tripped_ns
    with EventStore.open(tmp_path / "desk.sqlite", create=False) as operator:
        with pytest.raises(KillSwitchStateError, match="already tripped"):
            trip_kill_switch(operator, RUN, operator="bob", reason="x", ts_ns=f.T0_NS)
        reset_kill_switch(operator, RUN, operator="bob", reason="feed back", ts_ns=f.T0_NS)
    desk.process(snap(3.0))
    assert not desk.state.kill_switch_tripped
    assert desk.state.trading_state is TradingState.ACTIVE
    assert desk.operator_actions[-1].command == "reset_kill_switch"
    assert desk.operator_actions[-1].operator == "bob"
    assert desk.desk_events[-1].reason_code == "SYS_KILL_SWITCH_RESET"
    assert [(e.actor, e.action) for e in store.audit_log(RUN)] == [("bob", "GOV_KILL_SWITCH_RESET")]
    # a reset naming an earlier trip never clears a newer one
    desk.trip_kill_switch("RISK_KILLSWITCH_FEED_LOST", "risk.killswitch")
    store.append_operator_checkpoint(
        RUN,
        kind="kill_switch.reset",
        ts_ns=f.T0_NS,
        body=msgspec.json.encode(
            {
                "operator": "eve",
                "reason": "stale",
                "trip_ns": first_trip_ns - 1,
                "trip_reason_code": "RISK_KILLSWITCH_FEED_LOST",
                "trading_state": "ACTIVE",
            }
        ),
        actor="eve",
        action="kill_switch.reset",
        detail="stale",
    )
    desk.process(snap(5.0))
    assert desk.state.kill_switch_tripped


def test_operator_rows_written_while_the_desk_is_down_apply_at_restart(
    store: EventStore, tmp_path: Path
) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.process(snap(1.0))
    assert desk.state.open_orders()
    with EventStore.open(tmp_path / "desk.sqlite", create=False) as operator:
        with pytest.raises(KillSwitchStateError, match="not tripped"):
            reset_kill_switch(operator, RUN, operator="bob", reason="x", ts_ns=f.T0_NS)
        trip_kill_switch(operator, RUN, operator="ana", reason="venue outage", ts_ns=f.T0_NS)
    resumed, store = _crash_and_restart(store)
    switch = resumed.state.controls().kill_switch
    assert (switch.tripped, switch.source, switch.detail, switch.tripped_ns) == (
        True,
        "operator:ana",
        "venue outage",
        f.T0_NS,
    )
    # the restarted desk wrote the trip as its own, acknowledging the operator's row
    assert _changes(store)[-1].controls.kill_switch == switch
    with EventStore.open(tmp_path / "desk.sqlite", create=False) as operator:
        reset_kill_switch(
            operator,
            RUN,
            operator="bob",
            reason="venue back",
            ts_ns=f.T0_NS + 1,
            trading_state=TradingState.REDUCING,
        )
    store.close()
    with EventStore.open(tmp_path / "desk.sqlite", create=False) as reader:
        restored = load_checkpoint(reader, RUN)
    assert restored is not None
    assert not restored.controls.kill_switch.tripped
    assert restored.controls.trading_state is TradingState.REDUCING
    assert restored.controls.trading_reason_code == "SYS_KILL_SWITCH_RESET"


def test_a_reset_the_desk_had_not_read_yet_survives_its_later_rows(store: EventStore) -> None:
    desk = _desk()
    writer = CheckpointWriter(store, RUN, operator_poll_ms=60_000)
    desk.persist_checkpoints(writer)
    desk.process(snap(1.0))
    desk.trip_kill_switch("RISK_KILLSWITCH_FEED_LOST", "risk.killswitch")
    reset_kill_switch(store, RUN, operator="bob", reason="ok", ts_ns=f.T0_NS)
    desk.process(snap(2.0))  # the desk writes again before its next read of the store
    assert _changes(store)[-1].controls.kill_switch.tripped
    restored = load_checkpoint(store, RUN)
    assert restored is not None and not restored.controls.kill_switch.tripped


def test_a_failing_store_trips_the_kill_switch(store: EventStore) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.process(snap(1.0))
    store.close()
    with pytest.raises(StoreClosedError):
        store.checkpoints(RUN)
    desk.process(snap(2.0))
    assert desk.state.kill_switch_tripped
    assert desk.state.controls().kill_switch.reason_code == "SYS_CHECKPOINT_FAILED"
    desk.process(snap(2.5))
    assert all(o.status is not OrderStatus.ACCEPTED for o in desk.state.orders.values())


def test_a_clean_shutdown_is_not_a_halt_to_restore(store: EventStore) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.run([snap(1.0), snap(2.0)])
    assert desk.state.trading_state is TradingState.HALTED  # the shutdown's own HALT
    restored = load_checkpoint(store, RUN)
    assert restored is not None
    assert restored.controls.trading_state is TradingState.ACTIVE
    assert restored.open_orders == ()  # the shutdown cancelled them, and that was written


def test_in_memory_checkpoint_and_resume_keep_the_controls_and_seen_intents() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=False))
    desk.process(snap(1.0))
    desk.trip_kill_switch("RISK_KILLSWITCH_DAILY_LOSS", "risk.killswitch", "6 %")
    checkpoint = msgspec.json.decode(msgspec.json.encode(desk.checkpoint()), type=DeskCheckpoint)
    assert checkpoint.intents_seen == ("strat.quoter/1",)
    resumed = Desk.resume(
        checkpoint,
        venue=PaperVenue(PaperVenueConfig(), [MARKET], RUN),
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=False))],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
    )
    assert resumed.state.controls() == desk.state.controls()
    assert resumed.risk.has_seen("strat.quoter/1")


def test_a_restored_venue_halt_is_lifted_by_a_reset_without_a_trip(
    store: EventStore, tmp_path: Path
) -> None:
    desk = _desk()
    desk.persist_checkpoints(CheckpointWriter(store, RUN))
    desk.process(snap(1.0))
    desk.state.set_trading_state(
        TradingState.HALTED, "SYS_POLY_HEARTBEAT_LAPSED", "venue.polymarket"
    )
    desk.process(snap(2.0))
    resumed, store = _crash_and_restart(store)
    controls = resumed.state.controls()
    assert (controls.trading_state, controls.trading_reason_code) == (
        TradingState.HALTED,
        "SYS_POLY_HEARTBEAT_LAPSED",
    )
    assert not controls.kill_switch.tripped
    with EventStore.open(tmp_path / "desk.sqlite", create=False) as operator:
        _, trip = reset_kill_switch(
            operator, RUN, operator="bob", reason="venue back", ts_ns=f.T0_NS
        )
        assert not trip.tripped
        with pytest.raises(KillSwitchStateError, match="nothing to reset"):
            reset_kill_switch(operator, RUN, operator="bob", reason="again", ts_ns=f.T0_NS)
    resumed.process(snap(4.0))
    assert resumed.state.trading_state is TradingState.ACTIVE
    assert resumed.operator_actions[-1].command == "set_trading_state"
