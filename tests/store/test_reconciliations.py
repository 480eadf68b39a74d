"""Reconciliations in the store: appended at once to the held attempt, read back exactly in
order per attempt, refused when malformed, and a schema-4 store (no ``reconciliations``
table) is refused in one line without being changed. SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.store import (
    SCHEMA_VERSION,
    EventStore,
    ReconciliationKind,
    StoreSchemaError,
    StoreWriteError,
    UnknownRunError,
    schema,
)
from tests.store import factories as f


def test_reconciliations_are_read_back_in_order_per_attempt(store: EventStore) -> None:
    run = ids.run_id("reconciled", 1)
    f.start(store, run)
    first = store.append_reconciliation(
        run,
        ts_ns=f.T0_NS,
        kind=ReconciliationKind.STARTUP,
        level="warning",
        order_drift_micros=1,
        position_drift_micros=0,
        reason_codes=["SYS_RECONCILE_DRIFT_WARNING"],
        differences_json='{"orders":[{"client_order_id":"c-1"}]}',
    )
    second = f.reconciliation(store, run, ts_ns=f.T0_NS + 60, level="critical")
    store.end_run(run, ended_ns=f.T0_NS + 61, produced=f.produced(store, run))
    f.start(store, run)  # attempt 2 holds none yet
    assert store.reconciliations(f"{run}@1") == [first, second]
    assert store.reconciliations(run) == []
    assert (first.run_id, first.attempt, first.kind, first.level) == (
        run,
        1,
        ReconciliationKind.STARTUP,
        "warning",
    )
    assert first.reason_codes == ("SYS_RECONCILE_DRIFT_WARNING",)
    assert first.differences_json == '{"orders":[{"client_order_id":"c-1"}]}'
    assert second.reason_codes == ("SYS_RECONCILE_DRIFT_CRITICAL",)
    with pytest.raises(UnknownRunError):
        store.reconciliations("never-ran")
    assert store.check_integrity(f"{run}@1") == []


def test_a_reconciliation_follows_the_rows_recorded_before_it(store_url: str) -> None:
    """Written at once (after a flush of what is pending): a reader sees it without a flush,
    together with the order recorded before it."""
    run = ids.run_id("at-once", 1)
    with EventStore.open(store_url, batch_size=1_000) as writer:
        f.start(writer, run)
        writer.append_order(run, f.order(run, 0))
        f.reconciliation(writer, run)
        with EventStore.open(store_url, create=False) as reader:
            assert len(reader.reconciliations(run)) == 1
            assert len(reader.orders(run)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "hourly"}, "unknown kind 'hourly'"),
        ({"level": ""}, "level must be 1 to 16 characters"),
        ({"level": "x" * 17}, "level must be 1 to 16 characters"),
        ({"differences_json": "{not json"}, "the differences are not JSON"),
        ({"order_drift_micros": -1}, "drifts must not be negative"),
        ({"position_drift_micros": 1.5}, "position_drift_micros must be an int"),
        ({"ts_ns": 2**63}, "does not fit a 64-bit signed integer"),
        ({"level": "o\x00k"}, "contains a NUL character"),
    ],
)
def test_malformed_reconciliations_are_refused(
    store: EventStore, changes: dict[str, object], message: str
) -> None:
    run = ids.run_id("refused", 1)
    f.start(store, run)
    arguments: dict[str, object] = {
        "ts_ns": f.T0_NS,
        "kind": ReconciliationKind.PERIODIC,
        "level": "ok",
        "order_drift_micros": 0,
        "position_drift_micros": 0,
        "reason_codes": [],
        "differences_json": "{}",
    }
    with pytest.raises(StoreWriteError, match=message):
        store.append_reconciliation(run, **{**arguments, **changes})  # type: ignore[arg-type]
    assert store.reconciliations(run) == []


def test_only_the_holding_store_records_reconciliations(store_url: str) -> None:
    run = ids.run_id("held-elsewhere", 1)
    with EventStore.open(store_url) as writer, EventStore.open(store_url) as other:
        f.start(writer, run)
        with pytest.raises(StoreWriteError, match="is not open in this store"):
            f.reconciliation(other, run)
        writer.end_run(run, ended_ns=f.T0_NS, produced=f.produced(writer, run))
        with pytest.raises(StoreWriteError, match="has ended"):
            f.reconciliation(writer, run)


def test_a_schema_4_store_is_refused_in_one_line_and_left_unchanged(store_url: str) -> None:
    """A store as version 4 wrote it (every table but ``reconciliations``, one run in it): the
    store does not migrate silently, so opening it says which version it holds and what to do,
    and adds nothing."""
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    engine = sa.create_engine(url)
    version_4 = [t for t in schema.metadata.sorted_tables if t is not schema.reconciliations]
    with engine.begin() as connection:
        schema.metadata.create_all(connection, tables=version_4)
        connection.execute(schema.store_meta.insert(), {"key": "schema_version", "value": "4"})
        connection.execute(
            schema.runs.insert(),
            {
                "run_id": "run-v4",
                "attempt": 1,
                "started_ns": f.T0_NS,
                "started_wall_ns": f.T0_NS,
                "seed": 0,
                "desk_config_json": "{}",
                "desk_config_version": "cfg",
                "data_source": "v4",
                "synthetic": False,
                "status": "RUNNING",
            },
        )
    with engine.connect() as connection:
        before = set(sa.inspect(connection).get_table_names())
    for create in (True, False):
        with pytest.raises(StoreSchemaError) as caught:
            EventStore.open(store_url, create=create)
        message = str(caught.value)
        assert "\n" not in message
        assert f"has schema version 4 and this polytraders writes version {SCHEMA_VERSION}" in (
            message
        )
        assert "give --store a new file or database" in message
    with engine.connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) == before
        assert "reconciliations" not in before
        assert connection.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar() == 1
    engine.dispose()
