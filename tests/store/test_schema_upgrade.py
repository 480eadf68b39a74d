"""A schema-5 store (everything but the governance tables) is upgraded in place when opened:
the governance tables appear, append-only like the rest; what it held is kept; the version row
says 6 and stays guarded; the upgrade is in the audit log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from polytraders.store import SCHEMA_VERSION, EventStore, schema
from tests.store import factories as f


def test_a_schema_5_store_is_upgraded_in_place(store_url: str) -> None:
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    engine = sa.create_engine(url)
    version_5 = [t for t in schema.metadata.sorted_tables if t not in schema.GOVERNANCE_TABLES]
    with engine.begin() as connection:
        schema.metadata.create_all(connection, tables=version_5)
        connection.execute(schema.store_meta.insert(), {"key": "schema_version", "value": "5"})
    run = "run-before-upgrade"
    with EventStore.open(store_url) as store:  # writes nothing governance-related yet
        f.start(store, run)
        store.end_run(run, ended_ns=f.T0_NS, produced=f.produced(store, run))
    # that open already upgraded; a second open finds version 6 and changes nothing
    with EventStore.open(store_url, create=False) as store:
        assert [r.run_id for r in store.runs()] == [run]
        upgrades = [e for e in store.audit_log() if e.action == "store.upgrade"]
        assert len(upgrades) == 1
        assert '"from":"5"' in upgrades[0].detail and '"to":"6"' in upgrades[0].detail
        for table in schema.GOVERNANCE_TABLES:  # the new tables take rows
            store.append_rows(table, [f.placeholder_row(table)], what=table.name)
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert {t.name for t in schema.GOVERNANCE_TABLES} <= names
        rows = connection.execute(sa.select(schema.store_meta)).all()
        assert [(r.key, r.value) for r in rows] == [("schema_version", str(SCHEMA_VERSION))]
    for statement in (
        "UPDATE store_meta SET value = '5'",
        "DELETE FROM promotions",
        "UPDATE ci_runs SET outcome = 'passed'",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()
