"""Wallet allowance checks in the event store: the evidence of the gate "Wallet allowance
verified (CTFExchangeV2)" (seed 000 stage 3;
:func:`polytraders.readiness.measures.wallet_allowance`).

A check (:class:`~polytraders.model.allowance.AllowanceCheck`: account, signer, spenders, the
balance and each spender's allowance in micro-pUSD, verified or not) is one audit entry
``GOV_WALLET_ALLOWANCE_CHECKED`` with the check as its JSON detail, written by a ``--live``
start-up whether it passed or not. A passing check names the run attempt that then started
(the entry's ``run``); a failing one refuses the start, so no attempt exists and the entry is
desk-wide (``run`` None). No table of its own: the audit log is append-only already.
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from polytraders.model.allowance import AllowanceCheck
from polytraders.store import schema
from polytraders.store.event_store import EventStore
from polytraders.store.run_ref import RunRef

ACTION = "GOV_WALLET_ALLOWANCE_CHECKED"
"""The audit action (a registered GOV_ code) of every recorded allowance check."""


class RecordedAllowanceCheck(msgspec.Struct, frozen=True, kw_only=True):
    """A check as recorded: when (``ts_ns``, wall clock), the run attempt it started (None
    for a refused start) and the check itself."""

    ts_ns: int
    run_id: str | None
    attempt: int | None
    check: AllowanceCheck


def record_allowance_check(
    store: EventStore, check: AllowanceCheck, *, ts_ns: int, run: RunRef | None = None
) -> None:
    """Append ``check`` as a ``GOV_WALLET_ALLOWANCE_CHECKED`` audit entry by ``desk`` (for
    ``run``'s attempt, or desk-wide).

    Raises:
        StoreWriteError: an unknown run, or the write failed.
    """
    store.audit(
        actor="desk", action=ACTION, ts_ns=ts_ns, detail=msgspec.to_builtins(check), run=run
    )


def allowance_checks(store: EventStore) -> list[RecordedAllowanceCheck]:
    """Every recorded allowance check, in the order recorded.

    Raises:
        StoreError: the read failed.
        msgspec.ValidationError: an entry's detail is not a check (an altered row).
    """
    a = schema.audit_log.c
    query = (
        sa.select(a.ts_ns, a.detail, a.run_id, a.attempt)
        .where(a.action == ACTION)
        .order_by(a.row_id)
    )
    return [
        RecordedAllowanceCheck(
            ts_ns=int(row.ts_ns),
            run_id=row.run_id,
            attempt=None if row.attempt is None else int(row.attempt),
            check=msgspec.json.decode(row.detail, type=AllowanceCheck),
        )
        for row in store.select(query)
    ]
