"""The queries that read run attempts back: records with their end and latest lease, attempt
numbering, and row counts. Shared by the event store and its prune path."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.lease import abandoned_reason
from polytraders.store.records import Lease, Owner, RunCounts, RunRecord, RunStatus
from polytraders.store.run_ref import RunRef


def records_query() -> sa.Select[Any]:
    """Every attempt with its end (if any) and its latest heartbeat (if any), ordered by
    wall-clock start, run id and attempt."""
    r, e, lease = schema.runs.c, schema.run_ends.c, schema.run_leases.c
    latest = (
        sa.select(lease.run_id, lease.attempt, sa.func.max(lease.row_id).label("row_id"))
        .group_by(lease.run_id, lease.attempt)
        .subquery("latest_lease")
    )
    beat = schema.run_leases.alias("beat")
    return (
        sa.select(
            r.run_id,
            r.attempt,
            r.started_ns,
            e.ended_ns,
            r.started_wall_ns,
            e.ended_wall_ns,
            r.seed,
            r.desk_config_json,
            r.desk_config_version,
            r.data_source,
            r.synthetic,
            sa.func.coalesce(e.status, r.status).label("status"),
            sa.func.coalesce(e.detail, "").label("detail"),
            beat.c.renewed_wall_ns,
            beat.c.lease_s,
            beat.c.owner_host,
            beat.c.owner_pid,
            beat.c.owner_process_start,
        )
        .select_from(
            schema.runs.outerjoin(
                schema.run_ends, sa.and_(r.run_id == e.run_id, r.attempt == e.attempt)
            )
            .outerjoin(latest, sa.and_(r.run_id == latest.c.run_id, r.attempt == latest.c.attempt))
            .outerjoin(beat, beat.c.row_id == latest.c.row_id)
        )
        .order_by(r.started_wall_ns, r.run_id, r.attempt)
    )


def where_ref(query: sa.Select[Any], run_id: str, attempt: int) -> sa.Select[Any]:
    """``query`` (of :func:`records_query`) narrowed to one attempt."""
    r = schema.runs.c
    return query.where(r.run_id == run_id, r.attempt == attempt)


def record_from_row(row: sa.Row[Any], now_wall_ns: int, host: str) -> RunRecord:
    """A :class:`RunRecord` from a row of :func:`records_query`; ``abandoned`` is judged at
    ``now_wall_ns`` (wall clock) on ``host`` (this host's name)."""
    lease = None
    if row.renewed_wall_ns is not None:
        lease = Lease(
            owner=Owner(
                host=row.owner_host, pid=int(row.owner_pid), process_start=row.owner_process_start
            ),
            renewed_wall_ns=int(row.renewed_wall_ns),
            lease_s=int(row.lease_s),
        )
    status = RunStatus(row.status)
    return RunRecord(
        run_id=row.run_id,
        attempt=int(row.attempt),
        started_ns=int(row.started_ns),
        ended_ns=None if row.ended_ns is None else int(row.ended_ns),
        started_wall_ns=int(row.started_wall_ns),
        ended_wall_ns=None if row.ended_wall_ns is None else int(row.ended_wall_ns),
        seed=int(row.seed),
        desk_config_json=row.desk_config_json,
        desk_config_version=row.desk_config_version,
        data_source=row.data_source,
        synthetic=bool(row.synthetic),
        status=status,
        detail=row.detail,
        lease=lease,
        abandoned=abandoned_reason(status, lease, now_wall_ns, host),
    )


def latest_attempt(connection: sa.Connection, run_id: str) -> int | None:
    """The highest recorded attempt of ``run_id`` (None when it has none)."""
    r = schema.runs.c
    value = connection.execute(
        sa.select(sa.func.max(r.attempt)).where(r.run_id == run_id)
    ).scalar_one()
    return None if value is None else int(value)


def next_attempt(connection: sa.Connection, run_id: str) -> int:
    """The number the next attempt of ``run_id`` takes: one past the highest ever used,
    pruned attempts included (an attempt number is never reused)."""
    r, p = schema.runs.c, schema.run_prunes.c
    used = [
        connection.execute(sa.select(sa.func.max(r.attempt)).where(r.run_id == run_id)).scalar(),
        connection.execute(sa.select(sa.func.max(p.attempt)).where(p.run_id == run_id)).scalar(),
    ]
    return max((int(value) for value in used if value is not None), default=0) + 1


def count_rows(connection: sa.Connection, ref: RunRef | None) -> dict[RunRef, RunCounts]:
    """Rows per attempt in the envelope, order, fill and position tables: of one attempt
    (``ref`` with an attempt) or of every attempt (None). Attempts without rows are absent."""
    found: dict[RunRef, dict[str, int]] = {}
    tables: list[tuple[str, sa.Table, Any]] = [
        ("envelopes", schema.envelopes, sa.func.count()),
        ("orders", schema.orders, sa.func.count()),
        (
            "distinct_orders",
            schema.orders,
            sa.func.count(sa.distinct(schema.orders.c.client_order_id)),
        ),
        ("fills", schema.fills, sa.func.count()),
        ("positions", schema.positions, sa.func.count()),
    ]
    for name, table, aggregate in tables:
        query = sa.select(table.c.run_id, table.c.attempt, aggregate).group_by(
            table.c.run_id, table.c.attempt
        )
        if ref is not None:
            query = query.where(table.c.run_id == ref.run_id, table.c.attempt == ref.attempt)
        for run_id, attempt, count in connection.execute(query):
            found.setdefault(RunRef(run_id, int(attempt)), {})[name] = int(count)
    return {key: RunCounts(**values) for key, values in found.items()}
