"""The desk's order journal on the event store: order states and fills stream into a run
attempt as they happen, in the same batches as its envelopes.

:class:`RunJournal` implements :class:`polytraders.desk.orders.OrderJournal` for the attempt
an :class:`EventStore` holds: every order state becomes an ``orders`` row and every booked
fill a ``fills`` row, buffered with the envelopes and written by the same flushes, so a
process killed mid-run leaves everything up to its last flush. A fill taken back (its trade
failed) stays a fill row and gets a ``fill.reverted`` audit entry in the attempt
(:data:`FILL_REVERTED`), written at once; :func:`reverted_fill_ids` reads them back.

A perpetual's funding payment the desk booked is a ``funding.booked`` audit entry
(:data:`FUNDING_BOOKED`), one found at a live start-up that the ledger does not book (the
exchange's balance the desk starts from includes it) a ``funding.recovered`` one
(:data:`FUNDING_RECOVERED`), both written at once (a few a day per perpetual);
:func:`funding_payments` reads both back, so a restart knows which payments the run has seen.
"""

from __future__ import annotations

import json

import msgspec

from polytraders.model.events import FundingPayment
from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder
from polytraders.store.event_store import EventStore
from polytraders.store.run_ref import RunRef

FILL_REVERTED = "fill.reverted"
"""Audit action of a fill reversal; its detail is JSON with ``fill_id``,
``client_order_id``, ``size`` (micro-shares) and ``reason_code``."""
FUNDING_BOOKED = "funding.booked"
"""Audit action of a funding payment the desk booked; its detail is the
:class:`~polytraders.model.events.FundingPayment` as JSON."""
FUNDING_RECOVERED = "funding.recovered"
"""Audit action of a funding payment a live start-up found at the exchange and the store did
not hold (paid while no desk ran; the starting balance includes it); detail as
:data:`FUNDING_BOOKED`'s."""
_FUNDING_ACTIONS = (FUNDING_BOOKED, FUNDING_RECOVERED)


class RunJournal:
    """Writes a desk's order states and fills into the attempt ``run`` that ``store`` holds.

    Raises (from each call): :class:`~polytraders.store.errors.StoreWriteError` when the store
    refuses or fails the write (the desk maps it to ``SYS_STORE_WRITE_FAILED``).
    """

    def __init__(self, store: EventStore, run: RunRef | str) -> None:
        self.store = store
        self.run = run

    def order_changed(self, order: VenueOrder) -> None:
        """Buffer the order's current state as an ``orders`` row (copied now)."""
        self.store.append_order(self.run, order)

    def fill_booked(self, fill: Fill) -> None:
        """Buffer the fill as a ``fills`` row."""
        self.store.append_fill(self.run, fill)

    def fill_reverted(self, fill: Fill, reason_code: str, ts_ns: int) -> None:
        """Record the reversal of a booked fill as a ``fill.reverted`` audit entry (after
        flushing pending rows, so the fill row it names is stored first)."""
        self.store.audit(
            actor="desk",
            action=FILL_REVERTED,
            ts_ns=ts_ns,
            detail={
                "fill_id": fill.fill_id,
                "client_order_id": fill.client_order_id,
                "size": fill.size,
                "reason_code": reason_code,
            },
            run=self.run,
        )

    def funding_booked(self, payment: FundingPayment) -> None:
        """Record the payment as a ``funding.booked`` audit entry (:func:`record_funding`)."""
        record_funding(self.store, self.run, payment, FUNDING_BOOKED)


def record_funding(
    store: EventStore, run: RunRef | str, payment: FundingPayment, action: str
) -> None:
    """Write ``payment`` as an audit entry ``action`` (:data:`FUNDING_BOOKED` or
    :data:`FUNDING_RECOVERED`) of the attempt ``run``, at its funding time, after flushing
    pending rows.

    Raises:
        StoreWriteError: the store refused or failed the write.
    """
    store.audit(
        actor="desk",
        action=action,
        ts_ns=payment.ts_event_ns,
        detail=msgspec.to_builtins(payment),
        run=run,
    )


def funding_payments(store: EventStore, run: RunRef | str) -> list[FundingPayment]:
    """The attempt's funding payments, booked and recovered, in append order.

    Raises:
        RunRefError / UnknownRunError: a malformed reference or no such attempt.
        msgspec.ValidationError: an entry's detail is not a funding payment.
    """
    return [
        msgspec.json.decode(entry.detail, type=FundingPayment)
        for entry in store.audit_log(run)
        if entry.action in _FUNDING_ACTIONS
    ]


def reverted_fill_ids(store: EventStore, run: RunRef | str) -> set[str]:
    """Ids of the attempt's fills that were taken back (``fill.reverted`` audit entries).

    Raises:
        RunRefError / UnknownRunError: a malformed reference or no such attempt.
    """
    return {
        str(json.loads(entry.detail)["fill_id"])
        for entry in store.audit_log(run)
        if entry.action == FILL_REVERTED
    }
