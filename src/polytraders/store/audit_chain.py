"""The audit log as a hash chain: every entry holds the SHA-256 of the entry before it.

Each ``audit_log`` row carries ``prev_sha256`` (the previous entry's ``entry_sha256``;
:data:`GENESIS_SHA256` for the first) and ``entry_sha256`` =
:func:`~polytraders.contracts.canonical.canonical_sha256` of the entry's fields
(:data:`CHAINED_FIELDS`, ``prev_sha256`` included). Changing, deleting, inserting or
reordering any row breaks the chain at that row, which :func:`verify_chain` reports. The
database's append-only triggers refuse such changes already; the chain makes a change made
around them (triggers dropped, the file edited) evident.

A unique index on ``prev_sha256`` gives every entry at most one successor: two writers that
read the same head cannot both commit; the loser's transaction fails with an integrity error
and is retried by its caller onto the new head. Entries are therefore chained in ``row_id``
order.

What a chain cannot show by itself is a consistent rewrite of everything after some entry:
keep the head digest (``polytraders gov log`` prints it) somewhere else to detect that (cf.
the signed checkpoints of transparency logs, ``../shared/research/governance.md`` §2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.contracts.canonical import canonical_sha256
from polytraders.store import schema

GENESIS_SHA256 = "0" * 64
"""The ``prev_sha256`` of the first entry."""

CHAINED_FIELDS = ("ts_ns", "actor", "action", "detail", "run_id", "attempt", "prev_sha256")
"""The fields an entry's digest covers (all of the row but its ``row_id`` and the digest)."""


class ChainedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit entry with its place in the chain (``row_id``: append order)."""

    row_id: int
    ts_ns: int
    actor: str
    action: str
    detail: str
    run_id: str | None
    attempt: int | None
    prev_sha256: str | None
    entry_sha256: str | None


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`verify_chain` found: ``entries`` checked, the ``head_sha256`` (the last
    entry's digest, :data:`GENESIS_SHA256` for an empty log) and the ``problems`` (empty when
    the chain is whole), each naming the row."""

    entries: int
    head_sha256: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def entry_sha256(entry: Mapping[str, Any]) -> str:
    """The digest of one entry: :func:`canonical_sha256` of its :data:`CHAINED_FIELDS`.

    Raises:
        KeyError: a field is missing.
    """
    return canonical_sha256({name: entry[name] for name in CHAINED_FIELDS})


def head_sha256(connection: sa.Connection) -> str:
    """The digest of the last entry (highest ``row_id``), or :data:`GENESIS_SHA256`."""
    a = schema.audit_log.c
    head = connection.execute(
        sa.select(a.entry_sha256).order_by(a.row_id.desc()).limit(1)
    ).scalar_one_or_none()
    return GENESIS_SHA256 if head is None else str(head)


def insert_entry(connection: sa.Connection, row: Mapping[str, Any]) -> str:
    """Append ``row`` (``ts_ns``, ``actor``, ``action``, ``detail``, ``run_id``,
    ``attempt``) to the audit log inside the connection's transaction, chained onto the
    current head; return its digest. Do the transaction's other writes first: on SQLite the
    head is then read under the write lock.

    Raises:
        sqlalchemy.exc.IntegrityError: another writer chained onto the same head first (retry
            the transaction).
        sqlalchemy.exc.SQLAlchemyError: the database refused.
    """
    chained = {name: row[name] for name in CHAINED_FIELDS if name != "prev_sha256"}
    chained["prev_sha256"] = head_sha256(connection)
    digest = entry_sha256(chained)
    connection.execute(schema.audit_log.insert(), {**chained, "entry_sha256": digest})
    return digest


def chain_existing(connection: sa.Connection) -> int:
    """Give every entry without digests its place in the chain, in ``row_id`` order (the
    schema upgrade from version 5 or 6; the caller lifts the UPDATE trigger around it).
    Returns the entries chained."""
    a = schema.audit_log.c
    rows = connection.execute(sa.select(schema.audit_log).order_by(a.row_id)).mappings().all()
    prev = GENESIS_SHA256
    chained = 0
    for row in rows:
        if row["entry_sha256"] is None:
            digest = entry_sha256({**row, "prev_sha256": prev})
            connection.execute(
                schema.audit_log.update()
                .where(a.row_id == row["row_id"])
                .values(prev_sha256=prev, entry_sha256=digest)
            )
            chained += 1
            prev = digest
        else:
            prev = str(row["entry_sha256"])
    return chained


def verify_chain(entries: Iterable[ChainedEntry]) -> ChainReport:
    """Check ``entries`` in ``row_id`` order: each links to the previous entry's digest (the
    first to :data:`GENESIS_SHA256`) and its digest is its fields' digest."""
    prev = GENESIS_SHA256
    problems: list[str] = []
    count = 0
    for entry in entries:
        count += 1
        where = f"audit row {entry.row_id} ({entry.action} by {entry.actor})"
        if entry.prev_sha256 is None or entry.entry_sha256 is None:
            problems.append(f"{where}: not chained (no digests)")
            prev = entry.entry_sha256 or prev
            continue
        if entry.prev_sha256 != prev:
            problems.append(
                f"{where}: links to {entry.prev_sha256[:12]}…, the entry before it is "
                f"{prev[:12]}… (an entry was removed, inserted or reordered)"
            )
        fields = msgspec.structs.asdict(entry)
        recomputed = entry_sha256(fields)
        if recomputed != entry.entry_sha256:
            problems.append(
                f"{where}: its content does not match its digest (altered after it was written)"
            )
        prev = entry.entry_sha256
    return ChainReport(entries=count, head_sha256=prev, problems=tuple(problems))
