"""Verified signed statements in the event store (table ``signoffs``): reviewer sign-offs
(stage 2), final risk reviews (stage 4) and gate waivers (an operator override of one gate,
signed by the signer list's threshold of approvers). A row is written only after its
statement verified, with its audit entry in the same transaction; the signed envelope is kept,
so the statement can be re-verified offline from the store alone. A statement is recorded once
(unique statement digest).
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from polytraders.store import schema
from polytraders.store.event_store import EventStore
from polytraders.store.records import AuditEntry, json_text

SIGNOFF_RECORDED = "GOV_SIGNOFF_RECORDED"
"""The audit action of a verified reviewer sign-off or final risk review."""

GATE_WAIVED = "GOV_GATE_WAIVED"
"""The audit action of a verified gate waiver (an operator override)."""


WAIVER_KIND = "gate_waiver"
"""The ``kind`` of a gate waiver (the statement kinds are
:class:`polytraders.readiness.governance.signoffs.SignoffKind`)."""


class SignoffRow(msgspec.Struct, frozen=True, kw_only=True):
    """One verified statement.

    Attributes:
        statement_sha256: SHA-256 of the statement's signed payload.
        bot_id, kind, to_state: the bot, what is attested (``reviewer_signoff``,
            ``final_risk_review`` or ``gate_waiver``), for which target state.
        gate_id: the waived gate (waivers), else "".
        code_sha256, config_sha256: the code and config the statement is bound to.
        expires_ns: when it stops counting (ns since the epoch).
        signers: the names whose signatures verified.
        envelope_json: the signed DSSE envelope as verified.
        actor, ts_ns: who recorded it and when (wall clock).
    """

    statement_sha256: str
    bot_id: str
    kind: str
    gate_id: str
    to_state: str
    code_sha256: str
    config_sha256: str
    expires_ns: int
    signers: tuple[str, ...]
    envelope_json: str
    actor: str
    ts_ns: int


def record_signoff(store: EventStore, signoff: SignoffRow) -> None:
    """Record a verified statement with its audit entry (``GOV_SIGNOFF_RECORDED``, or
    ``GOV_GATE_WAIVED`` for a waiver), in one transaction.

    Raises:
        StoreWriteError: the statement was already recorded, or the write failed.
    """
    row = msgspec.structs.asdict(signoff)
    row["signers_json"] = json_text(list(row.pop("signers")))
    action = GATE_WAIVED if signoff.kind == WAIVER_KIND else SIGNOFF_RECORDED
    detail = {
        "bot_id": signoff.bot_id,
        "kind": signoff.kind,
        "gate_id": signoff.gate_id,
        "to_state": signoff.to_state,
        "statement_sha256": signoff.statement_sha256,
        "signers": list(signoff.signers),
    }
    store.append_rows(
        schema.signoffs,
        [row],
        what=f"{signoff.kind} of {signoff.bot_id}",
        audit=AuditEntry(
            ts_ns=signoff.ts_ns,
            actor=signoff.actor,
            action=action,
            detail=json_text(detail),
            run_id=None,
            attempt=None,
        ),
    )


def signoffs(
    store: EventStore, *, bot_id: str | None = None, kind: str | None = None
) -> list[SignoffRow]:
    """Recorded statements in the order recorded, optionally of one bot and kind.

    Raises:
        StoreError: the read failed.
    """
    c = schema.signoffs.c
    query = sa.select(schema.signoffs).order_by(c.row_id)
    if bot_id is not None:
        query = query.where(c.bot_id == bot_id)
    if kind is not None:
        query = query.where(c.kind == kind)
    out = []
    for row in store.select(query):
        data = row._asdict()
        data.pop("row_id")
        data["signers"] = tuple(msgspec.json.decode(data.pop("signers_json")))
        out.append(SignoffRow(**data))
    return out
