"""Stores of schema 5 (no governance tables), 6 (no release tables, an audit log without
its hash chain) and 7 (no ``fills.fee_size``) are upgraded in place when opened: the missing
tables and columns appear, append-only like the rest; what the store held is kept (a fill
recorded before reads back with ``fee_size`` 0); the audit entries already there are chained
in append order; the version row says 8 and stays guarded; the upgrade is in the audit
log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from polytraders.store import SCHEMA_VERSION, EventStore, schema
from polytraders.store.audit_chain import insert_entry, verify_chain
from polytraders.store.records import FILL_COLUMNS, fill_row
from tests.store import factories as f


def _old_store(url: str, version: int) -> sa.Engine:
    """A store as release ``version`` wrote it, holding two audit entries (chained from
    version 7 on, as that release wrote them) and one fill."""
    missing = {5: schema.GOVERNANCE_TABLES, 6: schema.SCHEMA_7_TABLES}.get(version, ())
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = [t for t in schema.metadata.sorted_tables if t not in missing]
        schema.metadata.create_all(connection, tables=tables)
        connection.exec_driver_sql("ALTER TABLE fills DROP COLUMN fee_size")
        if version < 7:
            connection.exec_driver_sql(f"DROP INDEX {schema.AUDIT_CHAIN_INDEX.name}")
            for column in ("prev_sha256", "entry_sha256"):
                connection.exec_driver_sql(f"ALTER TABLE audit_log DROP COLUMN {column}")
        connection.execute(
            schema.store_meta.insert(), {"key": "schema_version", "value": str(version)}
        )
        for i in range(2):
            entry = {"ts_ns": f.T0_NS + i, "actor": "ops", "action": "kill_switch.trip"}
            entry |= {"detail": f"old entry {i}", "run_id": None, "attempt": None}
            if version < 7:  # not chained yet
                connection.execute(schema.audit_log.insert(), entry)
            else:
                insert_entry(connection, entry)
        connection.execute(
            schema.runs.insert(),
            f.placeholder_row(schema.runs) | {"run_id": OLD_RUN, "status": "COMPLETED"},
        )
        fill = f.fill(OLD_RUN, 0)
        row = dict(zip(FILL_COLUMNS, fill_row(OLD_RUN, 1, fill), strict=True))
        del row["fee_size"]  # the column release 7 did not have
        connection.execute(schema.fills.insert(), row)
    return engine


OLD_RUN = "run-recorded-before-upgrade"


@pytest.mark.parametrize("version", [5, 6, 7])
def test_an_older_store_is_upgraded_in_place(store_url: str, version: int) -> None:
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    engine = _old_store(url, version)
    run = "run-before-upgrade"
    with EventStore.open(store_url) as store:
        f.start(store, run)
        store.end_run(run, ended_ns=f.T0_NS, produced=f.produced(store, run))
    # that open already upgraded; a second open finds version 8 and changes nothing
    with EventStore.open(store_url, create=False) as store:
        assert sorted(r.run_id for r in store.runs()) == sorted([run, OLD_RUN])
        # the fill recorded before reads back exactly, with no commission in the traded asset
        assert store.fills(OLD_RUN) == [f.fill(OLD_RUN, 0)]
        assert store.fills(OLD_RUN)[0].fee_size == 0
        entries = store.audit_chain()
        assert [e.detail for e in entries[:2]] == ["old entry 0", "old entry 1"]
        upgrades = [e for e in entries if e.action == "store.upgrade"]
        assert len(upgrades) == 1
        assert upgrades[0].detail == f'{{"from":"{version}","to":"{SCHEMA_VERSION}"}}'
        report = verify_chain(entries)
        assert report.intact and report.entries == len(entries) >= 3
        new_tables = schema.GOVERNANCE_TABLES if version == 5 else schema.SCHEMA_7_TABLES
        for table in new_tables:  # the new tables take rows
            store.append_rows(table, [f.placeholder_row(table)], what=table.name)
        store.audit(actor="ops", action="kill_switch.reset", ts_ns=f.T0_NS)
        assert verify_chain(store.audit_chain()).intact
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert {t.name for t in schema.GOVERNANCE_TABLES} <= names
        rows = connection.execute(sa.select(schema.store_meta)).all()
        assert [(r.key, r.value) for r in rows] == [("schema_version", str(SCHEMA_VERSION))]
    for statement in (
        "UPDATE store_meta SET value = '5'",
        "UPDATE audit_log SET detail = 'rewritten'",
        "DELETE FROM audit_log",
        "DELETE FROM signoffs",
        "UPDATE releases SET sequence = 9",
        "UPDATE fills SET fee_size = 1",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    engine.dispose()
