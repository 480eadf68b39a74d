"""Checkpoint rows: what a restarted desk must not forget, appended as it changes.

The ``checkpoints`` table holds, per run attempt, rows numbered 0, 1, 2 … (``sequence``) in
the order they were written. The store does not interpret a row's body (JSON written by
:mod:`polytraders.desk.checkpoints`); it only keeps each row's ``kind``, who wrote it
(``actor``), the desk-clock ``ts_ns`` and its own ``wall_ns``.

Two kinds of writer append to the same attempt:

- the desk that holds the attempt (``kind`` ``desk``), through
  :meth:`~polytraders.store.event_store.EventStore.append_checkpoint`;
- an operator, from another process, while the desk runs or is down (``kill_switch.trip``,
  ``kill_switch.reset``), through
  :meth:`~polytraders.store.event_store.EventStore.append_operator_checkpoint`, which writes
  the audit-log entry in the same transaction.

Both allocate the next sequence inside their insert's transaction; two writers racing for
the same number meet the primary key (or SQLite's write lock), and the loser retries with
the next one, so rows are never lost or reordered.

Each row is written at once in its own transaction (never batched): a checkpoint is durable
before the desk acts on what it records (the kill switch's cancels go out after the trip's
row is committed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.store import schema


class CheckpointRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored checkpoint row.

    Fields: ``run_id`` and ``attempt``; ``sequence`` (0, 1, … per attempt, the order of
    writing); ``ts_ns`` (the writer's clock: desk time, or the operator's wall clock);
    ``wall_ns`` (the store's wall clock when written); ``kind`` (``desk``,
    ``kill_switch.trip``, ``kill_switch.reset``); ``actor`` (``desk`` or the operator);
    ``body_json`` (the body, JSON text as given).
    """

    run_id: str
    attempt: int
    sequence: int
    ts_ns: int
    wall_ns: int
    kind: str
    actor: str
    body_json: str


def insert_checkpoint(connection: sa.Connection, row: dict[str, Any]) -> int:
    """Insert ``row`` (every column but ``sequence``) as the attempt's next row, in the
    caller's transaction; return the sequence it took (one past the highest, 0 for the
    first).

    Raises:
        sqlalchemy.exc.IntegrityError: another writer took that sequence first (retry in a
            new transaction).
    """
    c = schema.checkpoints.c
    highest = connection.execute(
        sa.select(sa.func.max(c.sequence)).where(
            c.run_id == row["run_id"], c.attempt == row["attempt"]
        )
    ).scalar()
    sequence = 0 if highest is None else int(highest) + 1
    connection.execute(schema.checkpoints.insert(), {**row, "sequence": sequence})
    return sequence


def checkpoints_query(
    run_id: str, attempt: int, *, after_sequence: int, kinds: Sequence[str]
) -> sa.Select[Any]:
    """The attempt's rows after ``after_sequence`` (of ``kinds`` when given), in sequence
    order (the primary key's order: an index range scan)."""
    c = schema.checkpoints.c
    query = (
        sa.select(schema.checkpoints)
        .where(c.run_id == run_id, c.attempt == attempt, c.sequence > after_sequence)
        .order_by(c.sequence)
    )
    if kinds:
        query = query.where(c.kind.in_(list(kinds)))
    return query


def checkpoint_from_db(row: sa.Row[Any]) -> CheckpointRow:
    """A :class:`CheckpointRow` from a ``checkpoints`` table row."""
    return CheckpointRow(
        run_id=row.run_id,
        attempt=int(row.attempt),
        sequence=int(row.sequence),
        ts_ns=int(row.ts_ns),
        wall_ns=int(row.wall_ns),
        kind=row.kind,
        actor=row.actor,
        body_json=row.body_json,
    )
