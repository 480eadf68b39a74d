"""The ``Venue`` protocol every venue adapter implements (DESIGN.md "Venues").

A venue is driven by the desk's single-threaded loop. The desk submits and cancels orders; the
venue answers with venue events (``OrderAccepted``, ``OrderRejected``, ``OrderCanceled``,
``OrderExpired``, ``Fill``) and funding payments on perpetuals (``FundingPayment``), which the
desk collects with :meth:`Venue.poll` after every market event and timer. A simulated venue
(paper) is also fed every market event through :meth:`Venue.on_market_event` so it can match
against the book; a live venue ignores that and reports what the exchange did.

All prices and sizes are micro-units, all times ns since the epoch. Reason codes on rejections
are registered ``EXEC_…``/``SYS_…`` codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from polytraders.model.events import (
    AnyEvent,
    FundingPayment,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
)
from polytraders.model.fills import Fill
from polytraders.model.orders import VenueOrder
from polytraders.venues.reports import VenueSnapshot

OrderEvent = OrderAccepted | OrderRejected | OrderCanceled | OrderExpired | Fill
"""Events a venue emits about our orders."""
VenueEvent = OrderEvent | FundingPayment
"""Events a venue emits: about our orders, and our perpetuals' funding payments."""


class Venue(Protocol):
    """What the desk needs from a venue."""

    name: str

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        """Send an order. The outcome arrives later as venue events (never raises for a venue
        refusal: that is an ``OrderRejected``). Submitting an already-used
        ``client_order_id`` is a no-op (idempotent)."""
        ...

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Ask to cancel one order; an ``OrderCanceled`` follows if it was open."""
        ...

    def cancel_all(self, now_ns: int) -> None:
        """Cancel every open order of ours (kill switch, shutdown)."""
        ...

    def on_market_event(self, event: AnyEvent) -> None:
        """Feed a market event (simulated venues match on it; live venues ignore it)."""
        ...

    def advance(self, now_ns: int) -> None:
        """Let time pass to ``now_ns``: deliver latency-delayed submissions, expire GTD orders."""
        ...

    def poll(self) -> list[VenueEvent]:
        """Venue events produced since the last poll, in the order they happened."""
        ...

    def open_orders(self) -> Sequence[VenueOrder]:
        """Our orders the venue holds open."""
        ...

    def balances(self) -> dict[str, int]:
        """Asset → free balance (micro-units): collateral (``"pUSD"``) and token holdings."""
        ...

    def heartbeat(self, now_ns: int) -> bool:
        """Send the dead-man-switch heartbeat; False when it was not accepted (venues without
        one return True)."""
        ...


class ReportingVenue(Venue, Protocol):
    """A venue that can also report what it holds for us, for reconciliation (the paper and
    the Polymarket venue). The desk never asks for reports: the live node does, off the
    decision loop for a network venue (:class:`~polytraders.node.venue_worker.VenueWorker`,
    the desk's non-blocking side of a network venue, is a :class:`Venue` only)."""

    def reconciliation_snapshot(self, now_ns: int) -> VenueSnapshot:
        """What the venue holds for us now, for reconciliation (:mod:`.reports`): open
        orders, the fills of our orders, holdings. Read-only: nothing about the venue's
        tracked state changes. A live venue asks the exchange (network; it may run off the
        desk loop, so it must not touch state the loop changes); a simulated one answers from
        memory. ``now_ns`` stamps the snapshot.

        A live venue raises its own request error when the exchange does not answer
        (Polymarket: :class:`~polytraders.venues.polymarket.client.ClobRequestError`).
        """
        ...
