"""Checkpoint rows: appended at once in order, read back by attempt, kind and sequence; an
operator's row reaches an attempt another store holds, with its audit entry in the same
transaction; concurrent writers never lose or reorder a row."""

from __future__ import annotations

import threading

import pytest

from polytraders.contracts import ids
from polytraders.store import EventStore, StoreWriteError
from tests.store import factories as f


def test_desk_rows_are_numbered_in_order_and_read_back_verbatim(
    store: EventStore, store_url: str
) -> None:
    run = ids.run_id("checkpoint-order", 1)
    f.start(store, run)
    bodies = ['{"n":0}', b'{"n": 1}', '{"n":2,"x":"\\u00e9"}']
    written = [
        store.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS + n, body=body)
        for n, body in enumerate(bodies)
    ]
    assert [row.sequence for row in written] == [0, 1, 2]
    store.append_operator_checkpoint(
        run,
        kind="kill_switch.trip",
        ts_ns=f.T0_NS + 9,
        body='{"operator":"ana"}',
        actor="ana",
        action="kill_switch.trip",
        detail="why",
    )
    with EventStore.open(store_url, create=False) as reader:
        rows = reader.checkpoints(run)
        assert [(r.sequence, r.kind, r.actor) for r in rows] == [
            (0, "desk", "desk"),
            (1, "desk", "desk"),
            (2, "desk", "desk"),
            (3, "kill_switch.trip", "ana"),
        ]
        assert [r.body_json for r in rows[:3]] == ['{"n":0}', '{"n": 1}', '{"n":2,"x":"\\u00e9"}']
        assert rows[:3] == written  # what append returned is what is stored
        assert [r.sequence for r in reader.checkpoints(run, after_sequence=1)] == [2, 3]
        only = reader.checkpoints(run, kinds=("kill_switch.trip", "kill_switch.reset"))
        assert [r.sequence for r in only] == [3]
        assert reader.checkpoints(f"{run}@1") == rows


def test_checkpoints_belong_to_their_attempt(store: EventStore) -> None:
    run = ids.run_id("checkpoint-attempts", 1)
    f.start(store, run)
    store.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS, body="{}")
    store.end_run(run, ended_ns=f.T0_NS + 1, produced=f.produced(store, run))
    f.start(store, run)
    assert store.checkpoints(run) == []
    assert store.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS, body="{}").sequence == 0
    assert [r.attempt for r in store.checkpoints(f"{run}@1")] == [1]


def test_bad_checkpoints_are_refused_before_anything_is_written(store: EventStore) -> None:
    run = ids.run_id("checkpoint-bad", 1)
    with pytest.raises(StoreWriteError, match="never started"):
        store.append_checkpoint(run, kind="desk", ts_ns=1, body="{}")
    f.start(store, run)
    with pytest.raises(StoreWriteError, match="the body is not JSON"):
        store.append_checkpoint(run, kind="desk", ts_ns=1, body="{not json")
    with pytest.raises(StoreWriteError, match="needs a kind and an actor"):
        store.append_checkpoint(run, kind="", ts_ns=1, body="{}")
    with pytest.raises(StoreWriteError, match="NUL"):
        store.append_checkpoint(run, kind="desk", ts_ns=1, body="{}", actor="a\x00b")
    with pytest.raises(StoreWriteError, match=r"64 bits|int"):
        store.append_checkpoint(run, kind="desk", ts_ns=2**64, body="{}")
    assert store.checkpoints(run) == []


def test_an_operator_row_reaches_an_attempt_held_elsewhere_with_its_audit_entry(
    store_url: str,
) -> None:
    run = ids.run_id("checkpoint-operator", 1)
    with EventStore.open(store_url) as desk, EventStore.open(store_url) as operator:
        f.start(desk, run)
        desk.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS, body="{}")
        with pytest.raises(StoreWriteError, match="not open in this store"):
            operator.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS, body="{}")
        row = operator.append_operator_checkpoint(
            run,
            kind="kill_switch.reset",
            ts_ns=f.T0_NS + 5,
            body='{"operator":"ana"}',
            actor="ana",
            action="kill_switch.reset",
            detail={"reason": "checked the venue", "trip_ns": 3},
        )
        assert (row.run_id, row.attempt, row.sequence, row.actor) == (run, 1, 1, "ana")
        assert [r.sequence for r in desk.checkpoints(run, kinds=("kill_switch.reset",))] == [1]
        entries = desk.audit_log(run)
        assert [(e.actor, e.action, e.ts_ns) for e in entries] == [
            ("ana", "kill_switch.reset", f.T0_NS + 5)
        ]
        assert entries[0].detail == '{"reason":"checked the venue","trip_ns":3}'
        with pytest.raises(StoreWriteError, match="not in the store"):
            operator.append_operator_checkpoint(
                "run-unknown", kind="k", ts_ns=1, body="{}", actor="a", action="x", detail=""
            )
        desk.end_run(run, ended_ns=f.T0_NS + 9, produced=f.produced(desk, run))
        with pytest.raises(StoreWriteError, match=r"has ended \(COMPLETED\)"):
            operator.append_operator_checkpoint(
                run, kind="kill_switch.reset", ts_ns=1, body="{}", actor="a", action="x", detail=""
            )
        assert len(desk.checkpoints(run)) == 2
        assert len(desk.audit_log(run)) == 1  # the refused row wrote no audit entry either


def test_racing_writers_never_lose_or_reorder_a_row(store_url: str) -> None:
    """The desk and an operator append at once from two stores (two connections): each row
    gets its own sequence, 0..n-1 without gaps, and each writer's rows keep their order."""
    run = ids.run_id("checkpoint-race", 1)
    per_writer = 40
    with EventStore.open(store_url) as desk, EventStore.open(store_url) as operator:
        f.start(desk, run)
        errors: list[BaseException] = []

        def write_desk() -> None:
            try:
                for n in range(per_writer):
                    desk.append_checkpoint(run, kind="desk", ts_ns=n, body=f'{{"n":{n}}}')
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        def write_operator() -> None:
            try:
                for n in range(per_writer):
                    operator.append_operator_checkpoint(
                        run,
                        kind="kill_switch.trip",
                        ts_ns=n,
                        body=f'{{"n":{n}}}',
                        actor="ana",
                        action="kill_switch.trip",
                        detail="",
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write_desk), threading.Thread(target=write_operator)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        rows = desk.checkpoints(run)
    assert [r.sequence for r in rows] == list(range(2 * per_writer))
    for kind in ("desk", "kill_switch.trip"):
        assert [r.ts_ns for r in rows if r.kind == kind] == list(range(per_writer))
