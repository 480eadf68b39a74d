"""Pruning: the one explicit maintenance path that removes recorded runs from the store.

Everything in the store is append-only, enforced by database triggers. A prune does not turn
them off: in one transaction it first appends a tombstone per attempt to ``run_prunes`` (when,
who, why), which is what the DELETE triggers of the run-scoped tables let through, then
deletes that attempt's rows (children before ``runs``), then appends an ``audit_log`` entry
(``store.prune``: the attempts, the reason and the rows deleted per table). UPDATE stays
refused everywhere; the audit log and the tombstones are never deletable. A RUNNING attempt
whose lease is alive is never pruned.

Which attempts a prune takes is chosen by :func:`select_for_prune`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.audit_chain import insert_entry
from polytraders.store.records import RunRecord, RunStatus, json_text
from polytraders.store.run_ref import RunRef

PRUNE_ACTION = "store.prune"
"""The audit-log action of a prune."""

_NS_PER_DAY = 86_400 * 1_000_000_000


class PrunePlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a prune would take: ``selected`` attempts (oldest first), and ``protected`` ones
    that matched the criteria but are RUNNING with a live lease (never pruned)."""

    selected: tuple[RunRecord, ...]
    protected: tuple[RunRecord, ...]


class PruneResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a prune did: the ``pruned`` attempts, ``rows`` deleted per table, and the SQLite
    file size (main file plus WAL, bytes) before the prune and after its VACUUM (None on
    PostgreSQL, where autovacuum reclaims the space)."""

    pruned: tuple[RunRef, ...]
    rows: dict[str, int]
    bytes_before: int | None
    bytes_after: int | None

    @property
    def bytes_freed(self) -> int | None:
        """Bytes the SQLite file shrank by (None on PostgreSQL)."""
        if self.bytes_before is None or self.bytes_after is None:
            return None
        return self.bytes_before - self.bytes_after


def is_live(record: RunRecord) -> bool:
    """True for a RUNNING attempt that is not ABANDONED: its writer holds a live lease."""
    return record.status is RunStatus.RUNNING and not record.abandoned


def select_for_prune(
    records: Sequence[RunRecord],
    *,
    now_wall_ns: int,
    keep_last: int | None = None,
    older_than_days: float | None = None,
    refs: Sequence[RunRef] | None = None,
) -> PrunePlan:
    """The attempts matching **every** criterion given (at least one is required):

    - ``keep_last=N``: not among the N attempts started last (wall clock; all run ids);
    - ``older_than_days=D``: started more than D days before ``now_wall_ns``;
    - ``refs``: named by one of these references (``RUN_ID`` = its latest attempt; each must
      name an attempt in ``records``).

    Live RUNNING attempts that match go to ``protected``, not ``selected``.

    Raises:
        ValueError: no criterion, ``keep_last`` < 0, ``older_than_days`` < 0, or a reference
            naming no attempt in ``records``.
    """
    if keep_last is None and older_than_days is None and refs is None:
        raise ValueError("a prune needs --keep-last, --older-than-days or --run")
    ordered = sorted(records, key=lambda r: (r.started_wall_ns, r.run_id, r.attempt))
    candidates = list(ordered)
    if refs is not None:
        named = {_resolve(ref, ordered) for ref in refs}
        candidates = [r for r in candidates if (r.run_id, r.attempt) in named]
    if keep_last is not None:
        if keep_last < 0:
            raise ValueError(f"--keep-last must be 0 or more, got {keep_last}")
        kept = (
            {(r.run_id, r.attempt) for r in ordered[len(ordered) - keep_last :]}
            if keep_last
            else set()
        )
        candidates = [r for r in candidates if (r.run_id, r.attempt) not in kept]
    if older_than_days is not None:
        if older_than_days < 0:
            raise ValueError(f"--older-than-days must be 0 or more, got {older_than_days}")
        cutoff_ns = now_wall_ns - int(older_than_days * _NS_PER_DAY)
        candidates = [r for r in candidates if r.started_wall_ns < cutoff_ns]
    return PrunePlan(
        selected=tuple(r for r in candidates if not is_live(r)),
        protected=tuple(r for r in candidates if is_live(r)),
    )


def _resolve(ref: RunRef, records: Sequence[RunRecord]) -> tuple[str, int]:
    attempts = [r.attempt for r in records if r.run_id == ref.run_id]
    if ref.attempt is None and attempts:
        return ref.run_id, max(attempts)
    if ref.attempt in attempts:
        return ref.run_id, ref.attempt
    raise ValueError(f"run {str(ref)!r} is not in the store")


def delete_attempts(
    connection: sa.Connection,
    attempts: Sequence[RunRef],
    *,
    actor: str,
    reason: str,
    ts_ns: int,
) -> dict[str, int]:
    """Tombstone, delete and audit ``attempts`` (each with its attempt number) inside the
    connection's transaction; return the rows deleted per table.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused (the caller's transaction rolls
            back as a whole).
    """
    connection.execute(
        schema.run_prunes.insert(),
        [
            {
                "run_id": ref.run_id,
                "attempt": ref.attempt,
                "ts_ns": ts_ns,
                "actor": actor,
                "reason": reason,
            }
            for ref in attempts
        ],
    )
    rows: dict[str, int] = {}
    for table in schema.RUN_SCOPED_TABLES:
        deleted = 0
        for ref in attempts:
            result = connection.execute(
                table.delete().where(table.c.run_id == ref.run_id, table.c.attempt == ref.attempt)
            )
            deleted += int(result.rowcount)
        rows[table.name] = deleted
    insert_entry(
        connection,
        {
            "ts_ns": ts_ns,
            "actor": actor,
            "action": PRUNE_ACTION,
            "detail": json_text(
                {"runs": [str(ref) for ref in attempts], "reason": reason, "rows": rows}
            ),
            "run_id": None,
            "attempt": None,
        },
    )
    return rows
