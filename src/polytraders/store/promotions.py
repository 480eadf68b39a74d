"""Gate evaluations and promotions in the event store (tables ``gate_evaluations`` and
``promotions``): every evaluation of a bot's gates, and every promotion attempt's outcome with
the evaluation and evidence digest it rests on. A bot's current lifecycle state is the target
of its latest ``promoted`` or ``demoted`` row (none: Idea only).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.errors import StoreWriteError
from polytraders.store.event_store import EventStore


class PromotionOutcome(StrEnum):
    """What a promotion row records."""

    PROMOTED = "promoted"
    REFUSED = "refused"
    DEMOTED = "demoted"


class GateEvaluationRow(msgspec.Struct, frozen=True, kw_only=True):
    """One gate's result in one evaluation (a ``gate_evaluations`` row).

    Attributes:
        evaluation_id: the evaluation it belongs to (one per ``gates check`` / promotion
            step).
        bot_id, from_state, to_state: what was evaluated (to_state may be a stage name).
        gate_id, phase, critical: the gate, its phase (Successful / Inconclusive / Error /
            Failed), whether it blocks.
        value, threshold, window: measured value, success condition, window, as text.
        evidence_json: the evidence list as JSON (kind, ref, digest, result per piece).
        evidence_digest: SHA-256 over the evidence.
        commit_sha: the commit evaluated ("" outside git).
        ts_ns: when (ns since the epoch, the evaluation's clock).
    """

    evaluation_id: str
    bot_id: str
    from_state: str
    to_state: str
    gate_id: str
    phase: str
    critical: bool
    value: str
    threshold: str
    window: str
    evidence_json: str
    evidence_digest: str
    commit_sha: str
    ts_ns: int


class PromotionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One promotion attempt's outcome (a ``promotions`` row); ``reason_code`` is the GOV_
    code recorded with it."""

    row_id: int
    bot_id: str
    from_state: str
    to_state: str
    outcome: PromotionOutcome
    reason_code: str
    evaluation_id: str
    evidence_digest: str
    actor: str
    detail: str
    ts_ns: int


def append_gate_evaluations(store: EventStore, rows: Sequence[GateEvaluationRow]) -> None:
    """Record one evaluation's gate results at once, in one transaction.

    Raises:
        StoreWriteError: the write failed (e.g. the evaluation id was already recorded).
    """
    if not rows:
        return
    store.append_rows(
        schema.gate_evaluations,
        [msgspec.structs.asdict(row) for row in rows],
        what=f"gate evaluation {rows[0].evaluation_id} of {rows[0].bot_id}",
    )


def gate_evaluations(
    store: EventStore, *, bot_id: str | None = None, evaluation_id: str | None = None
) -> list[GateEvaluationRow]:
    """Recorded gate results in the order recorded, optionally of one bot or evaluation.

    Raises:
        StoreError: the read failed.
    """
    c = schema.gate_evaluations.c
    query = sa.select(schema.gate_evaluations).order_by(c.row_id)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    if evaluation_id is not None:
        query = query.where(c.evaluation_id == evaluation_id)
    fields = GateEvaluationRow.__struct_fields__
    return [
        GateEvaluationRow(**{k: v for k, v in row._asdict().items() if k in fields})
        for row in store.select(query)
    ]


def append_promotion(
    store: EventStore,
    *,
    bot_id: str,
    from_state: str,
    to_state: str,
    outcome: PromotionOutcome,
    reason_code: str,
    evaluation_id: str,
    evidence_digest: str,
    actor: str,
    detail: str,
    ts_ns: int,
) -> PromotionRow:
    """Record a promotion attempt's outcome and return the stored row.

    Raises:
        StoreWriteError: an empty actor or reason code, or the write failed.
    """
    if not actor or not reason_code:
        raise StoreWriteError("a promotion row needs an actor and a reason code")
    row: dict[str, Any] = {
        "bot_id": bot_id,
        "from_state": from_state,
        "to_state": to_state,
        "outcome": PromotionOutcome(outcome).value,
        "reason_code": reason_code,
        "evaluation_id": evaluation_id,
        "evidence_digest": evidence_digest,
        "actor": actor,
        "detail": detail,
        "ts_ns": ts_ns,
    }
    store.append_rows(schema.promotions, [row], what=f"promotion of {bot_id} to {to_state}")
    return promotions(store, bot_id=bot_id)[-1]


def promotions(store: EventStore, *, bot_id: str | None = None) -> list[PromotionRow]:
    """Every promotion row in the order recorded, optionally of one bot.

    Raises:
        StoreError: the read failed.
    """
    c = schema.promotions.c
    query = sa.select(schema.promotions).order_by(c.row_id)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    out = []
    for row in store.select(query):
        data = row._asdict()
        data["outcome"] = PromotionOutcome(data["outcome"])
        out.append(PromotionRow(**data))
    return out
