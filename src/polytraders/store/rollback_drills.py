"""Rollback drills in the event store (table ``rollback_drills``): a recorded run in which a
bot was demoted and the desk returned to the bot's previous accepted release, with every check
of the drill and its verdict, and its ``GOV_ROLLBACK_DRILL`` audit entry in the same
transaction. Seed 000 stage 4's "rollback plan tested" reads them.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.event_store import EventStore
from polytraders.store.records import AuditEntry, json_text

ROLLBACK_DRILL = "GOV_ROLLBACK_DRILL"
"""The audit action of every recorded drill."""


class DrillCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One written check of a drill: its name, whether it held, and what was measured."""

    name: str
    passed: bool
    detail: str


class RollbackDrillRow(msgspec.Struct, frozen=True, kw_only=True):
    """One drill: ``bot_id`` demoted from release ``from_sequence`` back to release
    ``to_sequence`` in run ``run_id@attempt``; ``passed`` when every check held."""

    bot_id: str
    from_sequence: int
    to_sequence: int
    run_id: str
    attempt: int
    passed: bool
    checks: tuple[DrillCheck, ...]
    actor: str
    ts_ns: int


def record_drill(store: EventStore, drill: RollbackDrillRow) -> None:
    """Record a drill with its ``GOV_ROLLBACK_DRILL`` audit entry, in one transaction.

    Raises:
        StoreWriteError: the write failed.
    """
    row = msgspec.structs.asdict(drill)
    row["checks_json"] = json_text([msgspec.structs.asdict(c) for c in row.pop("checks")])
    detail = {
        "bot_id": drill.bot_id,
        "from_sequence": drill.from_sequence,
        "to_sequence": drill.to_sequence,
        "run": f"{drill.run_id}@{drill.attempt}",
        "passed": drill.passed,
        "failed_checks": [c.name for c in drill.checks if not c.passed],
    }
    store.append_rows(
        schema.rollback_drills,
        [row],
        what=f"rollback drill of {drill.bot_id}",
        audit=AuditEntry(
            ts_ns=drill.ts_ns,
            actor=drill.actor,
            action=ROLLBACK_DRILL,
            detail=json_text(detail),
            run_id=drill.run_id,
            attempt=drill.attempt,
        ),
    )


def drills(store: EventStore, *, bot_id: str | None = None) -> list[RollbackDrillRow]:
    """Recorded drills in the order recorded, optionally of one bot.

    Raises:
        StoreError: the read failed.
    """
    c = schema.rollback_drills.c
    query = sa.select(schema.rollback_drills).order_by(c.row_id)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    out = []
    for row in store.select(query):
        data = row._asdict()
        data.pop("row_id")
        data["checks"] = tuple(
            msgspec.convert(msgspec.json.decode(data.pop("checks_json")), tuple[DrillCheck, ...])
        )
        out.append(RollbackDrillRow(**data))
    return out
