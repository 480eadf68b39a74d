"""Queue position of our resting orders at one price level (rule 4 of
:mod:`polytraders.venues.paper`).

Our orders are not in the recorded book, so the venue keeps, for each of our resting orders,
``queue_ahead``: the micro-shares of other traders' liquidity ahead of it at its price. Our own
orders at one level are kept in time priority (arrival order); an earlier order of ours is ahead
of a later one.

Two ways the queue moves, both exact:

- **Volume through the front** (:func:`volume_through_front`): ``V`` micro-shares trade at the
  level. Walking our orders in time priority with ``v = V`` and ``x = 0`` (external volume
  consumed so far): ``a ← max(0, queue_ahead − x)``; ``e = min(v, a)``; ``queue_ahead ← a − e``;
  ``x += e``; ``v −= e``; then if ``queue_ahead = 0`` the order fills ``min(v, remaining)`` and
  ``v`` shrinks by that. So the fills at the level sum to at most ``V − (queue ahead of the
  first order)``, and never more than ``V``.
- **Cancellations** (:func:`cancellations`): the level shrank by ``D`` micro-shares from
  ``S_old`` to ``S_new`` without trades: ``none`` keeps ``queue_ahead``; ``proportional`` sets
  ``queue_ahead ← queue_ahead − ⌊D × queue_ahead / S_old⌋``. Both then clamp
  ``queue_ahead ← min(queue_ahead, S_new)`` (there cannot be more ahead of us than the level
  shows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polytraders.model.orders import VenueOrder


@dataclass(slots=True, eq=False)
class WorkingOrder:
    """The venue's state of one of our orders.

    Fields:
        order: the venue's own copy of the order (its ``status``, ``filled_size``,
            ``venue_order_id`` and ``ts_updated_ns`` are kept current).
        sequence: arrival sequence at the venue (time priority).
        fee_rate_ppm: taker fee rate of the order's market category.
        queue_ahead: micro-shares of other traders ahead of it at its price (resting only).
        reserved: pUSD micro (BUY) or micro-shares (SELL) reserved in the ledger.
        resting: True while it rests on the book.
    """

    order: VenueOrder
    sequence: int
    fee_rate_ppm: int
    queue_ahead: int = 0
    reserved: int = 0
    resting: bool = False

    @property
    def remaining(self) -> int:
        """Micro-shares still open."""
        return self.order.size - self.order.filled_size


def volume_through_front(
    orders: Sequence[WorkingOrder], volume: int, fill: bool = True
) -> tuple[list[tuple[WorkingOrder, int]], int]:
    """Consume ``volume`` micro-shares from the front of one level's queue (module rules).

    Updates ``queue_ahead`` of every order; returns the fills (order, micro-shares) in time
    priority and the volume left over after our orders (it went to liquidity behind us). With
    ``fill=False`` (market not accepting orders, or the volume was our own taker flow) the
    queue moves and nothing fills.
    """
    fills: list[tuple[WorkingOrder, int]] = []
    left = volume
    external = 0
    for working in orders:
        ahead = working.queue_ahead - external
        ahead = max(ahead, 0)
        eaten = left if left < ahead else ahead
        ahead -= eaten
        external += eaten
        left -= eaten
        working.queue_ahead = ahead
        if ahead == 0 and left > 0 and fill:
            remaining = working.remaining
            qty = left if left < remaining else remaining
            if qty > 0:
                fills.append((working, qty))
                left -= qty
    return fills, left


def cancellations(
    orders: Sequence[WorkingOrder], drop: int, old_size: int, new_size: int, proportional: bool
) -> None:
    """Move the queue for a decrease of ``drop`` micro-shares (of the level's fall from
    ``old_size`` to ``new_size``) attributed to cancellations (module rules); clamps every
    ``queue_ahead`` to ``new_size``."""
    for working in orders:
        ahead = working.queue_ahead
        if proportional and drop > 0 and old_size > 0:
            ahead -= drop * ahead // old_size
        working.queue_ahead = ahead if ahead < new_size else new_size


def clamp(orders: Sequence[WorkingOrder], new_size: int) -> None:
    """``queue_ahead ← min(queue_ahead, new_size)`` for every order."""
    for working in orders:
        working.queue_ahead = min(working.queue_ahead, new_size)
