"""Operator-console users in the event store (table ``console_users``, append-only).

Each change of a user is a row: ``added`` (with its role and argon2 password hash),
``password_changed`` (the new hash) or ``removed``; the current users are each name's latest
row unless it is a removal. Every change is written together with its
``GOV_CONSOLE_USER_CHANGED`` audit entry in one transaction; the audit detail names the user,
the change and the role, never the hash. The store keeps only argon2 hashes (``$argon2…``): a
plain password handed in by mistake is refused, never written.

Roles are ordered: viewer < operator < reviewer < admin, each holding every right of the
roles below it (``docs/console.md``).

Two administrators adding the same name at the same moment may both pass the existence check;
the later row then wins (the audit log shows both).
"""

from __future__ import annotations

import re
from enum import StrEnum

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.event_store import EventStore
from polytraders.store.records import AuditEntry, json_text

USER_CHANGED = "GOV_CONSOLE_USER_CHANGED"
"""The audit action (a registered GOV_ code) recorded with every user change."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
"""A user name: lower case, starting with a letter, at most 64 characters."""

HASH_PREFIX = "$argon2"
"""Every stored password hash is an argon2 hash in PHC string form."""


class ConsoleRole(StrEnum):
    """A console user's role; :attr:`rank` orders them (a higher rank holds every right of the
    lower ones)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    REVIEWER = "reviewer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 (viewer) to 3 (admin)."""
        return list(ConsoleRole).index(self)

    def allows(self, needed: ConsoleRole) -> bool:
        """True when this role holds the rights of ``needed``."""
        return self.rank >= needed.rank


class UserEvent(StrEnum):
    """What a ``console_users`` row records."""

    ADDED = "added"
    HASH_CHANGED = "password_changed"
    REMOVED = "removed"


class ConsoleUser(msgspec.Struct, frozen=True, kw_only=True):
    """A current console user: ``name``, ``role``, ``password_hash`` (argon2, PHC string),
    ``version`` (the row id of its latest change: a session opened before a later change is
    void), who made that change (``actor``) and when (``ts_ns``, wall clock, ns)."""

    name: str
    role: ConsoleRole
    password_hash: str
    version: int
    actor: str
    ts_ns: int


def _user(row: sa.Row[object]) -> ConsoleUser | None:
    data = row._mapping
    if data["event"] == UserEvent.REMOVED:
        return None
    return ConsoleUser(
        name=str(data["name"]),
        role=ConsoleRole(data["role"]),
        password_hash=str(data["password_hash"]),
        version=int(data["row_id"]),
        actor=str(data["actor"]),
        ts_ns=int(data["ts_ns"]),
    )


def find_user(store: EventStore, name: str) -> ConsoleUser | None:
    """The current user called ``name``, or None (never added, or removed).

    Raises:
        StoreError: the read failed.
    """
    c = schema.console_users.c
    query = sa.select(schema.console_users).where(c.name == name).order_by(c.row_id.desc()).limit(1)
    rows = store.select(query)
    return _user(rows[0]) if rows else None


def current_users(store: EventStore) -> list[ConsoleUser]:
    """Every current user, by name.

    Raises:
        StoreError: the read failed.
    """
    c = schema.console_users.c
    latest = sa.select(sa.func.max(c.row_id)).group_by(c.name).scalar_subquery()
    query = sa.select(schema.console_users).where(c.row_id.in_(latest)).order_by(c.name)
    return [user for row in store.select(query) if (user := _user(row)) is not None]


def _check(name: str, actor: str, password_hash: str | None) -> None:
    if not NAME_PATTERN.match(name):
        raise EvidenceInputError(
            f"user name {name!r}: lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter, at most 64 characters"
        )
    if not actor.strip():
        raise EvidenceInputError("a user change needs an actor")
    if password_hash is not None and not password_hash.startswith(HASH_PREFIX):
        raise EvidenceInputError("a console password must be stored as an argon2 hash")


def _append(
    store: EventStore,
    *,
    name: str,
    event: UserEvent,
    role: ConsoleRole,
    password_hash: str,
    actor: str,
    ts_ns: int,
) -> None:
    detail = {"name": name, "event": event.value, "role": role.value}
    store.append_rows(
        schema.console_users,
        [
            {
                "name": name,
                "event": event.value,
                "role": role.value,
                "password_hash": password_hash,
                "actor": actor,
                "ts_ns": ts_ns,
            }
        ],
        what=f"console user {name!r} ({event.value})",
        audit=AuditEntry(
            ts_ns=ts_ns,
            actor=actor,
            action=USER_CHANGED,
            detail=json_text(detail),
            run_id=None,
            attempt=None,
        ),
    )


def add_user(
    store: EventStore,
    *,
    name: str,
    role: ConsoleRole,
    password_hash: str,
    actor: str,
    ts_ns: int,
) -> None:
    """Add a user (a removed name may be added again).

    Raises:
        EvidenceInputError: a malformed name, an empty actor, a hash that is not argon2.
        EvidenceStateError: a current user already has that name.
        StoreError: the read or write failed.
    """
    _check(name, actor, password_hash)
    if find_user(store, name) is not None:
        raise EvidenceStateError(f"console user {name!r} exists already")
    _append(
        store,
        name=name,
        event=UserEvent.ADDED,
        role=role,
        password_hash=password_hash,
        actor=actor,
        ts_ns=ts_ns,
    )


def _existing(store: EventStore, name: str) -> ConsoleUser:
    user = find_user(store, name)
    if user is None:
        raise EvidenceStateError(f"no console user {name!r}")
    return user


def change_password(
    store: EventStore, *, name: str, password_hash: str, actor: str, ts_ns: int
) -> None:
    """Record a user's new password hash (the role stays).

    Raises:
        EvidenceInputError: a malformed name, an empty actor, a hash that is not argon2.
        EvidenceStateError: no current user has that name.
        StoreError: the read or write failed.
    """
    _check(name, actor, password_hash)
    user = _existing(store, name)
    _append(
        store,
        name=name,
        event=UserEvent.HASH_CHANGED,
        role=user.role,
        password_hash=password_hash,
        actor=actor,
        ts_ns=ts_ns,
    )


def remove_user(store: EventStore, *, name: str, actor: str, ts_ns: int) -> None:
    """Remove a user (its sessions end at their next request).

    Raises:
        EvidenceInputError: a malformed name or an empty actor.
        EvidenceStateError: no current user has that name.
        StoreError: the read or write failed.
    """
    _check(name, actor, None)
    user = _existing(store, name)
    _append(
        store,
        name=name,
        event=UserEvent.REMOVED,
        role=user.role,
        password_hash="",
        actor=actor,
        ts_ns=ts_ns,
    )
