"""Prune, the one explicit maintenance path: it removes exactly the chosen attempts in one
transaction, tombstones and audits them, never takes a RUNNING attempt with a live lease, and
leaves the append-only triggers in force for everything else."""

from __future__ import annotations

import json

import msgspec
import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.model.position import Position
from polytraders.store import (
    Backend,
    EventStore,
    RunRecord,
    RunRef,
    RunStatus,
    StoreWriteError,
    UnknownRunError,
    schema,
    select_for_prune,
)
from polytraders.store.schema import APPEND_ONLY_MESSAGE
from tests.store import factories as f

DAY_NS = 86_400 * 1_000_000_000


def _recorded(store: EventStore, name: str, intents: int = 30) -> str:
    run: str = ids.run_id(name, 1)
    f.start(store, run)
    for item in f.timeline(run, intents):
        store.record(item)
    for n in range(intents):
        store.append_order(run, f.order(run, n))
        store.append_fill(run, f.fill(run, n))
    store.append_position(run, Position(f.TOKEN), ts_ns=f.T0_NS)
    for n in range(2):
        store.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS + n, body=b"{}")
    f.reconciliation(store, run)
    store.audit(actor="desk", action="run.note", ts_ns=f.T0_NS, run=run)
    store.end_run(run, ended_ns=f.T0_NS + 1, produced=f.produced(store, run))
    return run


def _rows(store: EventStore, table: sa.Table, run: str) -> int:
    with store._engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.run_id == run)
        return int(connection.execute(query).scalar_one())


def test_prune_removes_exactly_the_chosen_attempt_and_audits_it(store: EventStore) -> None:
    gone, kept = _recorded(store, "old"), _recorded(store, "new")
    result = store.prune([gone], actor="ana@desk", reason="older than a week")
    assert result.pruned == (RunRef(gone, 1),)
    assert result.rows == {
        "envelopes": 120,
        "orders": 30,
        "fills": 30,
        "positions": 1,
        "checkpoints": 2,
        "reconciliations": 1,
        "run_leases": 1,
        "run_ends": 1,
        "runs": 1,
    }
    for table in schema.RUN_SCOPED_TABLES:
        assert _rows(store, table, gone) == 0
        assert _rows(store, table, kept) > 0
    assert [r.run_id for r in store.runs()] == [kept]
    assert store.check_integrity(kept) == []
    assert store.check_integrity(gone) == [f"run '{gone}' is not recorded"]
    entries = store.audit_log()
    assert [e.action for e in entries] == ["run.note", "run.note", "store.prune"]
    assert entries[0].run_id == gone  # the audit log keeps what it said about the pruned run
    prune_entry = entries[-1]
    assert prune_entry.actor == "ana@desk"
    assert json.loads(prune_entry.detail) == {
        "reason": "older than a week",
        "rows": result.rows,
        "runs": [f"{gone}@1"],
    }
    with store._engine.connect() as connection:
        tombstones = connection.execute(sa.select(schema.run_prunes)).all()
    assert [(t.run_id, t.attempt, t.actor, t.reason) for t in tombstones] == [
        (gone, 1, "ana@desk", "older than a week")
    ]
    if store.backend is Backend.SQLITE:
        assert result.bytes_freed is not None and result.bytes_freed > 0
    else:
        assert result.bytes_freed is None


def test_after_a_prune_the_triggers_still_refuse_every_other_delete_and_update(
    store: EventStore,
) -> None:
    gone, kept = _recorded(store, "gone"), _recorded(store, "kept")
    store.prune([gone], actor="t", reason="r")
    for table in schema.GOVERNANCE_TABLES:  # a row each, so row triggers have one to refuse
        store.append_rows(table, [f.placeholder_row(table)], what=table.name)
    for table in schema.APPEND_ONLY_TABLES:
        column = next(iter(table.columns)).name
        for statement in (
            f"DELETE FROM {table.name}",
            f"UPDATE {table.name} SET {column} = {column}",
        ):
            with (
                pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY_MESSAGE),
                store._engine.begin() as connection,
            ):
                connection.execute(sa.text(statement))
    assert store.check_integrity(kept) == []
    assert len(store.envelopes(kept)) == 120


def test_a_running_attempt_with_a_live_lease_is_never_pruned(store_url: str) -> None:
    clock = f.WallClock()
    writer = EventStore.open(store_url, wall_clock_ns=clock)
    with EventStore.open(store_url, wall_clock_ns=clock) as operator:
        done = _recorded(writer, "done")
        live = ids.run_id("live", 1)
        f.start(writer, live)
        writer.record(f.envelope(live, 0))
        for store in (writer, operator):
            with pytest.raises(StoreWriteError, match=r"RUNNING with a live lease; not pruned"):
                store.prune([done, live], actor="t", reason="r")
        assert {r.run_id for r in operator.runs()} == {done, live}  # nothing was deleted
        plan = select_for_prune(operator.runs(), now_wall_ns=clock(), keep_last=0)
        assert [r.run_id for r in plan.selected] == [done]
        assert [r.run_id for r in plan.protected] == [live]
        clock.advance(3_600)  # the writer went silent: its lease lapsed, the run is ABANDONED
        abandoned = operator.run(live)
        assert abandoned is not None and abandoned.state == "ABANDONED"
        assert operator.prune([live], actor="t", reason="abandoned").pruned == (RunRef(live, 1),)
        with pytest.raises(UnknownRunError):
            operator.prune(["run-nope"], actor="t", reason="r")
        with pytest.raises(StoreWriteError, match="needs an actor and a reason"):
            operator.prune([done], actor="t", reason=" ")
    # the silent writer wakes up: its next heartbeat has no run to renew, and fails closed
    writer.record(f.envelope(live, 1))
    with pytest.raises(StoreWriteError, match=r"flush of 1 rows and 1 lease heartbeat"):
        writer.flush()
    with pytest.raises(StoreWriteError):
        writer.close()


def _record(run_id: str, attempt: int, started_wall_ns: int, status: RunStatus) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        attempt=attempt,
        started_ns=0,
        ended_ns=None,
        started_wall_ns=started_wall_ns,
        ended_wall_ns=None,
        seed=0,
        desk_config_json="{}",
        desk_config_version="v",
        data_source="d",
        synthetic=True,
        status=status,
        detail="",
        lease=None,
        abandoned="",
    )


def test_prune_criteria_must_all_hold() -> None:
    now = 100 * DAY_NS
    records = [
        _record("run-a", 1, 10 * DAY_NS, RunStatus.COMPLETED),
        _record("run-a", 2, 50 * DAY_NS, RunStatus.FAILED),
        _record("run-b", 1, 90 * DAY_NS, RunStatus.COMPLETED),
        _record("run-c", 1, 95 * DAY_NS, RunStatus.RUNNING),  # live (not abandoned)
        _record("run-d", 1, 99 * DAY_NS, RunStatus.INTERRUPTED),
    ]
    records.append(msgspec.structs.replace(records[3], run_id="run-e", abandoned="gone"))

    def chosen(**criteria: object) -> list[str]:
        plan = select_for_prune(records, now_wall_ns=now, **criteria)  # type: ignore[arg-type]
        return [str(r.ref) for r in plan.selected]

    assert chosen(keep_last=2) == ["run-a@1", "run-a@2", "run-b@1"]  # run-c: protected
    assert chosen(older_than_days=30) == ["run-a@1", "run-a@2"]
    assert chosen(keep_last=5, older_than_days=30) == ["run-a@1"]
    assert chosen(refs=[RunRef("run-a")]) == ["run-a@2"]  # RUN_ID = its latest attempt
    assert chosen(refs=[RunRef("run-a", 1), RunRef("run-e")], keep_last=1) == [
        "run-a@1",
        "run-e@1",
    ]
    assert chosen(keep_last=0, older_than_days=0) == [
        "run-a@1",
        "run-a@2",
        "run-b@1",
        "run-e@1",
        "run-d@1",
    ]
    with pytest.raises(ValueError, match="needs --keep-last, --older-than-days or --run"):
        chosen()
    with pytest.raises(ValueError, match="'run-a@3' is not in the store"):
        chosen(refs=[RunRef("run-a", 3)])
