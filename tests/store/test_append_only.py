"""Append-only: the API has no update or delete path (prune is the one explicit maintenance
path, tested in test_prune.py), the database refuses them, and an attempt's facts are written
once."""

from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.model.position import Position
from polytraders.store import (
    SCHEMA_VERSION,
    EventStore,
    RunStatus,
    StoreSchemaError,
    StoreWriteError,
)
from polytraders.store.schema import APPEND_ONLY_MESSAGE, APPEND_ONLY_TABLES, GOVERNANCE_TABLES
from tests.store import factories as f


def test_the_api_offers_no_update_or_delete() -> None:
    public = [name for name, _ in inspect.getmembers(EventStore) if not name.startswith("_")]
    mutating = ("update", "delete", "remove", "drop", "truncate", "replace", "edit", "set_")
    assert [name for name in public if name.startswith(mutating)] == []


@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_the_database_refuses_updates_and_deletes_on_every_table(
    store: EventStore, statement: str
) -> None:
    run = ids.run_id("tamper", 1)
    gone = ids.run_id("tamper-pruned", 1)
    f.start(store, gone)
    store.end_run(gone, ended_ns=f.T0_NS, produced=f.produced(store, gone))
    store.prune([gone], actor="test", reason="a tombstone in run_prunes")
    f.start(store, run)
    for item in f.timeline(run, 1):
        store.record(item)
    store.append_order(run, f.order(run, 0))
    store.append_fill(run, f.fill(run, 0))
    store.append_position(run, Position(f.TOKEN), ts_ns=f.T0_NS)
    store.audit(actor="t", action="a", ts_ns=1, run=run)
    store.append_checkpoint(run, kind="desk", ts_ns=f.T0_NS, body=b"{}")
    f.reconciliation(store, run)
    for table in GOVERNANCE_TABLES:
        store.append_rows(table, [f.placeholder_row(table)], what=table.name)
    store.end_run(
        run, ended_ns=f.T0_NS + 1, produced=f.produced(store, run)
    )  # every table now holds a row
    for table in APPEND_ONLY_TABLES:
        column = next(iter(table.columns)).name
        sql = statement.format(t=table.name, c=column)
        with (
            pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY_MESSAGE),
            store._engine.begin() as connection,
        ):
            connection.execute(sa.text(sql))
    assert store.envelopes(run) == f.timeline(run, 1)


def test_an_attempt_starts_once_and_ends_once(store: EventStore) -> None:
    run = ids.run_id("once", 1)
    f.start(store, run)
    with pytest.raises(StoreWriteError, match="attempt 1 is already open in this store"):
        f.start(store, run)
    store.end_run(run, ended_ns=f.T0_NS + 10, produced=f.produced(store, run))
    with pytest.raises(StoreWriteError, match=r"run '.*@1' has ended"):
        store.end_run(
            run, ended_ns=f.T0_NS + 20, status=RunStatus.FAILED, detail="boom", produced=f.NOTHING
        )
    with pytest.raises(StoreWriteError, match=r"run '.*@1' has ended"):
        store.end_run(f"{run}@1", ended_ns=f.T0_NS + 20, produced=f.NOTHING)
    assert [(r.attempt, r.status) for r in store.runs()] == [(1, RunStatus.COMPLETED)]


def test_nothing_is_appended_to_an_ended_or_unknown_run(store: EventStore) -> None:
    run = ids.run_id("ended", 1)
    f.start(store, run)
    store.record(f.timeline(run, 1)[0])
    store.end_run(
        run,
        ended_ns=f.T0_NS + 10,
        status=RunStatus.HALTED,
        detail="RISK_X",
        produced=f.produced(store, run),
    )
    with pytest.raises(StoreWriteError, match="has ended"):
        store.record(f.timeline(run, 1)[1])
    with pytest.raises(StoreWriteError, match="has ended"):
        store.append_fill(run, f.fill(run, 0))
    with pytest.raises(StoreWriteError, match="never started"):
        store.record(f.timeline("run-unknown", 1)[0])
    with pytest.raises(StoreWriteError, match="never started"):
        store.end_run("run-unknown", ended_ns=1, produced=f.NOTHING)
    f.start(store, run)  # attempt 2
    with pytest.raises(StoreWriteError, match="final status"):
        store.end_run(run, ended_ns=1, status=RunStatus.RUNNING, produced=f.NOTHING)
    for status in (RunStatus.HALTED, RunStatus.FAILED, RunStatus.INTERRUPTED):
        with pytest.raises(StoreWriteError, match=f"end_run {status.value} needs a detail"):
            store.end_run(run, ended_ns=1, status=status, detail=" ", produced=f.NOTHING)
    with pytest.raises(StoreWriteError, match=r"'.*@1' has ended"):
        store.append_fill(f"{run}@1", f.fill(run, 0))
    assert len(store.envelopes(f"{run}@1")) == 1
    assert store.envelopes(run) == []


def test_a_fill_is_booked_once(store_url: str) -> None:
    run = ids.run_id("double-fill", 1)
    store = EventStore.open(store_url)
    f.start(store, run)
    store.append_order(run, f.order(run, 0))
    store.append_fill(run, f.fill(run, 0))
    store.flush()
    store.append_fill(run, f.fill(run, 0))
    with pytest.raises(StoreWriteError, match=r"IntegrityError|UniqueViolation"):
        store.flush()
    with EventStore.open(store_url) as reader:
        assert reader.fills(run) == [f.fill(run, 0)]
    with pytest.raises(StoreWriteError):
        store.close()


def test_a_database_of_another_schema_version_is_refused(store_url: str) -> None:
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # an empty database written by a future version
        connection.execute(sa.text("CREATE TABLE store_meta (key VARCHAR(64), value TEXT)"))
        connection.execute(sa.text("INSERT INTO store_meta VALUES ('schema_version', '999')"))
    engine.dispose()
    with pytest.raises(StoreSchemaError, match="schema version 999"):
        EventStore.open(store_url)


@pytest.mark.parametrize("older", ["1", "2", "3", "4"])
def test_an_older_store_is_refused_in_one_line_saying_what_to_do(
    store_url: str, older: str
) -> None:
    """Schema 1 keyed runs by run id alone, schema 2 had neither checkpoints nor produced
    counts, schema 3 only one of them, schema 4 no reconciliations: each is refused, and left
    without new tables."""
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE store_meta (key VARCHAR(64), value TEXT)"))
        connection.execute(sa.text(f"INSERT INTO store_meta VALUES ('schema_version', '{older}')"))
        connection.execute(sa.text("CREATE TABLE runs (run_id VARCHAR(200) PRIMARY KEY)"))
    with pytest.raises(StoreSchemaError) as caught:
        EventStore.open(store_url)
    message = str(caught.value)
    assert "\n" not in message
    assert f"has schema version {older} and this polytraders writes version {SCHEMA_VERSION}" in (
        message
    )
    assert "give --store a new file or database" in message
    with engine.connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) == {"store_meta", "runs"}
    engine.dispose()
