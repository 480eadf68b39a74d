"""Round trips: what goes into the store comes back exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os

import msgspec
import pytest

from polytraders.contracts import ids
from polytraders.contracts.envelope import timeline_sha256, write_jsonl
from polytraders.model.orders import OrderStatus, Side
from polytraders.model.position import Position
from polytraders.store import (
    AuditEntry,
    EventStore,
    PositionSnapshot,
    RunStatus,
    StoreWriteError,
    UnknownRunError,
)
from tests.store import factories as f


def test_envelopes_come_back_exactly_in_sequence_order(store: EventStore) -> None:
    run = ids.run_id("roundtrip", 1)
    f.start(store, run)
    recorded = f.timeline(run, 40)  # 160 envelopes: 2 full batches of 64 and a remainder
    for item in reversed(recorded):  # arrival order does not matter, sequence does
        store.record(item)
    assert store.envelopes(run) == recorded
    assert list(store.iter_envelopes(run)) == recorded


def test_export_is_byte_identical_to_the_recorded_timeline(store: EventStore) -> None:
    run = ids.run_id("export", 1)
    f.start(store, run)
    recorded = f.timeline(run, 25)
    for item in recorded:
        store.record(item)
    exported = io.BytesIO()
    assert store.export_jsonl(run, exported) == len(recorded)
    expected = io.BytesIO()
    write_jsonl(recorded, expected)
    assert exported.getvalue() == expected.getvalue()
    assert timeline_sha256(store.envelopes(run)) == timeline_sha256(recorded)


def test_runs_record_start_and_end(store_url: str) -> None:
    first, second = ids.run_id("runs", 1), ids.run_id("runs", 2)
    wall = f.WallClock(1_000)
    with EventStore.open(store_url, wall_clock_ns=wall) as store:
        started = store.start_run(
            run_id=first,
            started_ns=100,
            seed=42,
            desk_config='{"b": 1, "a": [1, 2]}',
            desk_config_version="cfg-x",
            data_source="data/samples/polymarket/resolvedkit_btc15m",
            synthetic=False,
        )
        assert (started.status, started.attempt, started.started_wall_ns) == (
            RunStatus.RUNNING,
            1,
            1_000,
        )
        wall.advance(1)
        store.start_run(
            run_id=second,
            started_ns=200,
            seed=0,
            desk_config={"z": 1, "a": 2},
            desk_config_version="cfg-y",
            data_source="synthetic seed 0",
            synthetic=True,
        )
        wall.advance(2)
        store.end_run(
            first,
            ended_ns=150,
            status=RunStatus.HALTED,
            detail="RISK_KILL_SWITCH",
            produced=f.produced(store, first),
        )
        runs = store.runs()
        assert [r.run_id for r in runs] == [first, second]
        assert runs[0] == msgspec.structs.replace(
            started,
            ended_ns=150,
            ended_wall_ns=3_000_001_000,
            status=RunStatus.HALTED,
            detail="RISK_KILL_SWITCH",
        )
        assert runs[0].desk_config_json == '{"b": 1, "a": [1, 2]}'  # verbatim, not re-encoded
        assert runs[0].ended_wall_ns == 3_000_001_000
        assert runs[0].lease == started.lease
        assert runs[0].lease is not None and runs[0].lease.owner.pid == os.getpid()
        assert runs[1].desk_config_json == '{"a":2,"z":1}'  # mapping: canonical, keys sorted
        assert (runs[1].ended_ns, runs[1].status, runs[1].detail) == (None, RunStatus.RUNNING, "")
        assert runs[1].abandoned == ""  # this process holds it
        assert store.run(second) == runs[1]
        assert store.run(f"{second}@1") == runs[1]
        assert store.run(f"{second}@2") is None
        assert store.run("run-unknown") is None


def test_order_lifecycle_fills_and_positions_round_trip(store: EventStore) -> None:
    run = ids.run_id("orders", 1)
    f.start(store, run)
    placed = f.order(run, 0)
    store.append_order(run, placed)
    placed.status = OrderStatus.ACCEPTED
    placed.venue_order_id = "0xv0"
    store.append_order(run, placed)  # the row is a copy: later mutation does not leak in
    placed.status = OrderStatus.PARTIALLY_FILLED
    placed.filled_size = 4_000_000
    store.append_order(run, placed)
    fill = f.fill(run, 0)
    store.append_fill(run, fill)
    position = Position(f.TOKEN)
    position.apply(fill)
    store.append_position(run, position, ts_ns=fill.ts_recv_ns)

    orders = store.orders(run)
    assert [o.status for o in orders] == [
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
    ]
    assert [o.venue_order_id for o in orders] == ["", "0xv0", "0xv0"]
    assert orders[2].filled_size == 4_000_000
    assert orders[2].side is Side.BUY
    assert store.fills(run) == [fill]
    # 4 shares at 0.45 = 1.80 pUSD paid; fee 0.0099 pUSD.
    assert store.positions(run) == [
        PositionSnapshot(
            run_id=run,
            attempt=1,
            ts_ns=fill.ts_recv_ns,
            token_id=f.TOKEN,
            size=4_000_000,
            cost_basis=1_800_000,
            realized_pnl=0,
            fees=9_900,
            fill_count=1,
        )
    ]


def test_audit_log_is_written_at_once_in_order(store: EventStore) -> None:
    run = ids.run_id("audit", 1)
    f.start(store, run)
    store.audit(actor="operator:ana", action="kill_switch.trip", ts_ns=5, run=run)
    store.audit(
        actor="operator:ben",
        action="kill_switch.reset",
        ts_ns=9,
        detail={"reason": "drill over", "approvals": 2},
    )
    assert store.audit_log() == [
        AuditEntry(
            ts_ns=5,
            actor="operator:ana",
            action="kill_switch.trip",
            detail="",
            run_id=run,
            attempt=1,
        ),
        AuditEntry(
            ts_ns=9,
            actor="operator:ben",
            action="kill_switch.reset",
            detail='{"approvals":2,"reason":"drill over"}',
            run_id=None,
            attempt=None,
        ),
    ]
    assert [e.action for e in store.audit_log(run)] == ["kill_switch.trip"]


def test_reopening_keeps_everything_and_schema_creation_is_idempotent(store_url: str) -> None:
    run = ids.run_id("reopen", 1)
    with EventStore.open(store_url) as first:
        f.start(first, run)
        for item in f.timeline(run, 3):
            first.record(item)
    with EventStore.open(store_url) as second:
        assert second.envelopes(run) == f.timeline(run, 3)
        assert second.next_sequence(run) == 12
        with pytest.raises(UnknownRunError, match="run 'run-empty' is not in the store"):
            second.next_sequence("run-empty")
        with pytest.raises(StoreWriteError, match="is not open in this store"):
            second.record(f.timeline(run, 4)[12])
        # the run is still RUNNING, its lease held by this very process: continue it
        assert second.resume_run(run).attempt == 1
        for item in f.timeline(run, 4)[12:]:
            second.record(item)
        assert second.envelopes(run) == f.timeline(run, 4)
        assert second.check_integrity(run) == []
        owners = {r.lease.owner.pid for r in second.runs() if r.lease is not None}
        assert owners == {os.getpid()}


def test_a_fill_with_a_commission_in_the_traded_asset_round_trips(store: EventStore) -> None:
    """``fee_size`` (schema 8) comes back exactly, beside a fill without one."""
    run = ids.run_id("fee-size", 1)
    f.start(store, run)
    store.append_order(run, f.order(run, 0))
    store.append_order(run, f.order(run, 1))
    plain = f.fill(run, 0)
    base_fee = msgspec.structs.replace(f.fill(run, 1), fee_size=4_000, fee=1_800)
    store.append_fill(run, plain)
    store.append_fill(run, base_fee)
    store.flush()
    assert store.fills(run) == [plain, base_fee]
    assert [x.fee_size for x in store.fills(run)] == [0, 4_000]
