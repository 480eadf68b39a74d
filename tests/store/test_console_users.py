"""Console users in the store (SQLite and PostgreSQL): every change a row with its audit
entry, the latest row per name wins, a removed name may come back, only argon2 hashes are
stored, and the database refuses to rewrite the rows."""

from __future__ import annotations

import msgspec
import pytest
import sqlalchemy as sa

from polytraders.store import EventStore, schema
from polytraders.store.audit_chain import verify_chain
from polytraders.store.console_users import (
    USER_CHANGED,
    ConsoleRole,
    add_user,
    change_password,
    current_users,
    find_user,
    remove_user,
)
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.schema import APPEND_ONLY_MESSAGE

HASH_A = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
HASH_B = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$b3RoZXJvdGhlcm90aGVyIQ"


def test_changes_are_rows_with_audit_entries(store: EventStore) -> None:
    add_user(store, name="ana", role=ConsoleRole.ADMIN, password_hash=HASH_A, actor="root", ts_ns=1)
    add_user(store, name="bo", role=ConsoleRole.VIEWER, password_hash=HASH_A, actor="ana", ts_ns=2)
    first = find_user(store, "bo")
    assert first is not None
    change_password(store, name="bo", password_hash=HASH_B, actor="ana", ts_ns=3)
    changed = find_user(store, "bo")
    assert changed is not None
    assert (changed.password_hash, changed.role, changed.actor) == (
        HASH_B,
        ConsoleRole.VIEWER,
        "ana",
    )
    assert changed.version > first.version  # sessions of the old version end
    remove_user(store, name="bo", actor="ana", ts_ns=4)
    assert find_user(store, "bo") is None
    assert [u.name for u in current_users(store)] == ["ana"]
    add_user(
        store, name="bo", role=ConsoleRole.OPERATOR, password_hash=HASH_A, actor="ana", ts_ns=5
    )
    assert [(u.name, u.role) for u in current_users(store)] == [
        ("ana", ConsoleRole.ADMIN),
        ("bo", ConsoleRole.OPERATOR),
    ]
    rows = store.select(sa.select(schema.console_users).order_by(schema.console_users.c.row_id))
    assert [(r.name, r.event, r.role) for r in rows] == [
        ("ana", "added", "admin"),
        ("bo", "added", "viewer"),
        ("bo", "password_changed", "viewer"),
        ("bo", "removed", "viewer"),
        ("bo", "added", "operator"),
    ]
    audit = [e for e in store.audit_log() if e.action == USER_CHANGED]
    assert [(e.actor, msgspec.json.decode(e.detail)) for e in audit] == [
        ("root", {"name": "ana", "event": "added", "role": "admin"}),
        ("ana", {"name": "bo", "event": "added", "role": "viewer"}),
        ("ana", {"name": "bo", "event": "password_changed", "role": "viewer"}),
        ("ana", {"name": "bo", "event": "removed", "role": "viewer"}),
        ("ana", {"name": "bo", "event": "added", "role": "operator"}),
    ]
    assert all("argon2" not in e.detail for e in audit)
    assert verify_chain(store.audit_chain()).problems == ()


def test_refusals_write_nothing(store: EventStore) -> None:
    add_user(store, name="ana", role=ConsoleRole.ADMIN, password_hash=HASH_A, actor="root", ts_ns=1)
    with pytest.raises(EvidenceStateError, match="exists already"):
        add_user(
            store, name="ana", role=ConsoleRole.VIEWER, password_hash=HASH_A, actor="x", ts_ns=2
        )
    with pytest.raises(EvidenceStateError, match="no console user 'cy'"):
        change_password(store, name="cy", password_hash=HASH_A, actor="x", ts_ns=2)
    with pytest.raises(EvidenceStateError, match="no console user 'cy'"):
        remove_user(store, name="cy", actor="x", ts_ns=2)
    plain = "hunter2!"  # a plain password handed in by mistake
    with pytest.raises(EvidenceInputError, match="argon2"):
        add_user(
            store, name="dee", role=ConsoleRole.VIEWER, password_hash=plain, actor="x", ts_ns=2
        )
    for bad in ("Ana", "1ana", "a b", "", "x" * 65):
        with pytest.raises(EvidenceInputError, match="user name"):
            add_user(
                store, name=bad, role=ConsoleRole.VIEWER, password_hash=HASH_A, actor="x", ts_ns=2
            )
    with pytest.raises(EvidenceInputError, match="actor"):
        remove_user(store, name="ana", actor=" ", ts_ns=2)
    assert len(store.select(sa.select(schema.console_users))) == 1
    assert [e.action for e in store.audit_log()] == [USER_CHANGED]


@pytest.mark.parametrize(
    "statement", ["UPDATE console_users SET role = 'admin'", "DELETE FROM console_users"]
)
def test_the_database_refuses_rewriting_users(store: EventStore, statement: str) -> None:
    add_user(store, name="bo", role=ConsoleRole.VIEWER, password_hash=HASH_A, actor="root", ts_ns=1)
    with (
        pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY_MESSAGE),
        store._engine.begin() as connection,
    ):
        connection.exec_driver_sql(statement)
    assert store.append_only_guarded(schema.console_users)
    user = find_user(store, "bo")
    assert user is not None
    assert user.role is ConsoleRole.VIEWER


def test_a_schema_7_store_without_the_table_gets_it_guarded(store_url: str) -> None:
    """A store created at schema 7 before ``console_users`` existed gets the table, with its
    append-only triggers, when it is next opened."""
    with EventStore.open(store_url) as first:
        with first._engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE console_users")
        assert not sa.inspect(first._engine).has_table("console_users")
    with EventStore.open(store_url, create=False) as again:
        assert again.append_only_guarded(schema.console_users)
        add_user(
            again, name="bo", role=ConsoleRole.VIEWER, password_hash=HASH_A, actor="r", ts_ns=1
        )
        assert find_user(again, "bo") is not None
