"""Queue models: where our resting orders stand in a price level's queue (rule 4 of
:mod:`polytraders.venues.paper`).

Our orders are not in the recorded book, so the venue keeps, for each of our resting orders,
``queue_ahead`` (``Q``): the micro-shares of other traders' liquidity ahead of it at its price,
and ``reached``: volume that got past ``Q`` and can fill it now. Our own orders at one level
are kept in time priority (arrival order); an earlier order of ours is ahead of a later one.

A :class:`QueueModel` is four hooks, after hftbacktest's ``QueueModel`` trait
(``models/queue.rs``: ``new_order``, ``trade``, ``depth``, ``is_filled``):

- :meth:`~QueueModel.on_new_order` — ``Q ← ahead`` (rule 4.1);
- :meth:`~QueueModel.on_trade` — volume traded at our price goes through the front of the
  queue (rule 4.6, :func:`volume_through_front`);
- :meth:`~QueueModel.on_level_change` — the level went from ``S_old`` to ``S_new`` and ``U``
  micro-shares of the decrease are not explained by trades: where that ``U`` was (rule 4.4,
  one rule per model);
- :meth:`~QueueModel.fillable` — how much of each order is now fillable (its ``reached``, then
  reset to 0).

The three models differ only in :meth:`~QueueModel.on_level_change`:
:class:`PessimisticQueue` (hftbacktest's RiskAdverseQueueModel), :class:`L2InferenceQueue`
and :class:`ProbabilisticQueue` (hftbacktest's ProbQueueModel with ``PowerProbQueueFunc`` or
``LogProbQueueFunc``). :func:`queue_model` builds the one a config names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from polytraders.model.money import MICROS
from polytraders.model.orders import VenueOrder
from polytraders.venues.paper.config import PaperVenueConfig


@dataclass(slots=True, eq=False)
class WorkingOrder:
    """The venue's state of one of our orders.

    Fields:
        order: the venue's own copy of the order (its ``status``, ``filled_size``,
            ``venue_order_id`` and ``ts_updated_ns`` are kept current).
        sequence: arrival sequence at the venue (time priority).
        fee_rate_ppm: taker fee rate of the order's market category.
        queue_ahead: micro-shares of other traders ahead of it at its price (resting only).
        reached: micro-shares that got past ``queue_ahead`` and can fill it now (a queue
            model sets it; :meth:`QueueModel.fillable` hands it out and resets it).
        reserved: pUSD micro (BUY) or micro-shares (SELL) reserved in the ledger.
        resting: True while it rests on the book.
    """

    order: VenueOrder
    sequence: int
    fee_rate_ppm: int
    queue_ahead: int = 0
    reached: int = 0
    reserved: int = 0
    resting: bool = False

    @property
    def remaining(self) -> int:
        """Micro-shares still open."""
        return self.order.size - self.order.filled_size


def volume_through_front(orders: Sequence[WorkingOrder], volume: int, reach: bool) -> int:
    """Rule 4.6: ``volume`` micro-shares go through the front of one level's queue.

    Walking our orders in time priority with ``v = volume`` and ``x = 0`` (external volume
    consumed so far): ``a ← max(0, Q − x)``; ``e = min(v, a)``; ``Q ← a − e``; ``x += e``;
    ``v −= e``; then, when ``reach`` and ``Q = 0``, the order is reached by
    ``min(v, remaining − reached)`` and ``v`` shrinks by that. Returns the volume left over
    (it went to liquidity behind our orders). With ``reach=False`` (market not accepting
    orders, or the volume was our own taker flow) the queue moves and nothing is reached.
    """
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
        if ahead == 0 and left > 0 and reach:
            room = working.remaining - working.reached
            qty = left if left < room else room
            if qty > 0:
                working.reached += qty
                left -= qty
    return left


def clamp(orders: Sequence[WorkingOrder], new_size: int) -> None:
    """``Q ← min(Q, new_size)`` for every order (no more can be ahead than the level shows)."""
    for working in orders:
        working.queue_ahead = min(working.queue_ahead, new_size)


class QueueModel(Protocol):
    """How the queue ahead of our resting orders at one level moves, and when they fill."""

    name: str
    """``pessimistic``, ``l2_inference`` or ``probabilistic``."""

    def on_new_order(self, working: WorkingOrder, ahead: int) -> None:
        """Rule 4.1: the order starts resting with ``ahead`` micro-shares ahead of it."""

    def on_trade(self, orders: Sequence[WorkingOrder], volume: int, reach: bool) -> int:
        """Rule 4.6: ``volume`` traded at the level's price; returns the volume left."""

    def on_level_change(
        self,
        orders: Sequence[WorkingOrder],
        old_size: int,
        new_size: int,
        unexplained: int,
        *,
        reach: bool,
        trade_fed: bool,
    ) -> None:
        """Rule 4.4: the level shrank or grew from ``old_size`` to ``new_size``, of which
        ``unexplained`` micro-shares of decrease trades do not explain. ``reach``: the market
        accepts orders; ``trade_fed``: the token's feed carries trades (rule 4.3)."""

    def fillable(self, orders: Sequence[WorkingOrder]) -> list[tuple[WorkingOrder, int]]:
        """The orders reached and by how much, in time priority; resets their ``reached``."""


class _FrontQueue:
    """The hooks every model shares (rules 4.1, 4.6 and ``fillable``)."""

    name = ""

    def on_new_order(self, working: WorkingOrder, ahead: int) -> None:
        working.queue_ahead = ahead
        working.reached = 0

    def on_trade(self, orders: Sequence[WorkingOrder], volume: int, reach: bool) -> int:
        return volume_through_front(orders, volume, reach)

    def fillable(self, orders: Sequence[WorkingOrder]) -> list[tuple[WorkingOrder, int]]:
        reached = [(working, working.reached) for working in orders if working.reached]
        for working, _ in reached:
            working.reached = 0
        return reached


class PessimisticQueue(_FrontQueue):
    """Rule 4.4 ``pessimistic``: an unexplained decrease is behind us, ``Q ← min(Q, S_new)``;
    only trades (rule 4.2) and crossing (rule 4.5) fill us."""

    name = "pessimistic"

    def on_level_change(
        self,
        orders: Sequence[WorkingOrder],
        old_size: int,
        new_size: int,
        unexplained: int,
        *,
        reach: bool,
        trade_fed: bool,
    ) -> None:
        clamp(orders, new_size)


class L2InferenceQueue(_FrontQueue):
    """Rule 4.4 ``l2_inference``: an unexplained decrease ``U`` comes off the front (rule 4.6
    with ``V = U``), so once it exceeds the queue ahead it fills us; then
    ``Q ← min(Q, S_new)``. The optimistic bound."""

    name = "l2_inference"

    def on_level_change(
        self,
        orders: Sequence[WorkingOrder],
        old_size: int,
        new_size: int,
        unexplained: int,
        *,
        reach: bool,
        trade_fed: bool,
    ) -> None:
        if unexplained > 0:
            volume_through_front(orders, unexplained, reach)
        clamp(orders, new_size)


class ProbabilisticQueue(_FrontQueue):
    """Rule 4.4 ``probabilistic`` (hftbacktest's ProbQueueModel).

    For the level's first order with ``F = Q₁ > 0`` ahead and ``B = max(0, S_old − F)`` behind,
    the share of ``U`` behind it is ``w = f(B) / (f(B) + f(F))``: ``power`` f(x) = xⁿ, ``log``
    f(x) = ln(1 + x / 10⁶) (x in shares). ``behind = min(B, ⌊w × U⌋)`` and ``ahead = U −
    behind`` go through the front (rule 4.6); they can fill us (``reach``) only when the token's
    feed carries no trades (``trade_fed`` false: the decrease may be trading); then
    ``Q ← min(Q, S_new)``. With an integral n the split is exact integer arithmetic
    (``⌊U × Bⁿ / (Bⁿ + Fⁿ)⌋``); otherwise ``w`` is an IEEE-754 double, floored after the product.
    """

    name = "probabilistic"

    def __init__(self, function: str, power_n: float) -> None:
        if function not in ("power", "log"):
            raise ValueError(f"unknown queue function {function!r}")
        self.function = function
        self.power_n = power_n
        self._integral_n = int(power_n) if float(power_n).is_integer() else None

    def behind(self, front: int, back: int, unexplained: int) -> int:
        """``min(back, ⌊w × unexplained⌋)`` micro-shares of the decrease behind an order with
        ``front`` ahead and ``back`` behind (``front > 0``)."""
        if back <= 0:
            return 0
        if self.function == "power" and self._integral_n is not None:
            n = self._integral_n
            weight_back: int = back**n
            weight_front: int = front**n
            share = unexplained * weight_back // (weight_back + weight_front)
        else:
            if self.function == "power":
                w = 1.0 / (1.0 + (front / back) ** self.power_n)
            else:
                f_back = math.log1p(back / MICROS)
                w = f_back / (f_back + math.log1p(front / MICROS))
            share = int(w * unexplained)
        return min(back, share)

    def on_level_change(
        self,
        orders: Sequence[WorkingOrder],
        old_size: int,
        new_size: int,
        unexplained: int,
        *,
        reach: bool,
        trade_fed: bool,
    ) -> None:
        front = orders[0].queue_ahead if orders else 0
        if unexplained > 0 and front > 0:
            ahead = unexplained - self.behind(front, max(0, old_size - front), unexplained)
            volume_through_front(orders, ahead, reach and not trade_fed)
        clamp(orders, new_size)


def queue_model(config: PaperVenueConfig) -> QueueModel:
    """The queue model ``config.queue_model`` names (with its function and exponent)."""
    if config.queue_model == "pessimistic":
        return PessimisticQueue()
    if config.queue_model == "l2_inference":
        return L2InferenceQueue()
    return ProbabilisticQueue(config.queue_function, config.queue_power_n)
