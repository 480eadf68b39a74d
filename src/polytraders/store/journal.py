"""The desk's order journal on the event store: order states and fills stream into a run
attempt as they happen, in the same batches as its envelopes.

:class:`RunJournal` implements :class:`polytraders.desk.orders.OrderJournal` for the attempt
an :class:`EventStore` holds: every order state becomes an ``orders`` row and every booked
fill a ``fills`` row, buffered with the envelopes and written by the same flushes, so a
process killed mid-run leaves everything up to its last flush. A fill taken back (its trade
failed) stays a fill row and gets a ``fill.reverted`` audit entry in the attempt
(:data:`FILL_REVERTED`), written at once; :func:`reverted_fill_ids` reads them back.
"""

from __future__ import annotations

import json

from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder
from polytraders.store.event_store import EventStore
from polytraders.store.run_ref import RunRef

FILL_REVERTED = "fill.reverted"
"""Audit action of a fill reversal; its detail is JSON with ``fill_id``,
``client_order_id``, ``size`` (micro-shares) and ``reason_code``."""


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
