"""The audit log is one hash chain: writers racing on the same head all land, in one chain;
any row altered, deleted or inserted around the append-only triggers breaks it at that row."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from polytraders.store import EventStore
from polytraders.store.audit_chain import GENESIS_SHA256, verify_chain
from tests.store import factories as f


def _engine(store_url: str) -> sa.Engine:
    return sa.create_engine(store_url if "://" in store_url else f"sqlite:///{store_url}")


def _lift_guards(connection: sa.Connection) -> None:
    """What someone editing the database directly does first."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")


def test_concurrent_writers_extend_one_chain(store_url: str) -> None:
    with EventStore.open(store_url):
        pass
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with EventStore.open(store_url, create=False) as store:
                for i in range(15):
                    store.audit(actor=name, action="test.entry", ts_ns=f.T0_NS + i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{k}",)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with EventStore.open(store_url, create=False) as store:
        entries = store.audit_chain()
    report = verify_chain(entries)
    assert report.intact, report.problems
    assert report.entries == 45
    assert entries[0].prev_sha256 == GENESIS_SHA256
    assert report.head_sha256 == entries[-1].entry_sha256


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_log SET detail = 'nothing happened' WHERE row_id = 2",
        "UPDATE audit_log SET actor = 'mallory' WHERE row_id = 3",
        "DELETE FROM audit_log WHERE row_id = 2",
        "INSERT INTO audit_log (ts_ns, actor, action, detail) VALUES (1, 'x', 'y', 'z')",
    ],
)
def test_a_direct_edit_breaks_the_chain(store_url: str, edit: str) -> None:
    with EventStore.open(store_url) as store:
        for i in range(4):
            store.audit(actor="ops", action="kill_switch.reset", ts_ns=f.T0_NS + i, detail=str(i))
        assert verify_chain(store.audit_chain()).intact
    engine = _engine(store_url)
    with engine.begin() as connection:
        _lift_guards(connection)
        connection.exec_driver_sql(edit)
    engine.dispose()
    with EventStore.open(store_url, create=False) as store:
        report = verify_chain(store.audit_chain())
    assert not report.intact
    assert any("audit row" in problem for problem in report.problems)
