"""``ChildSchedule``: the children (TWAP slices) of routed intents waiting for their release.

An execution bot's plan may schedule children (:attr:`RoutePlan.children
<polytraders.contracts.decisions.RoutePlan.children>`, checked by
:func:`~polytraders.contracts.authority.children_problems`). The desk keeps them here and, in
time order, releases each when its ``release_ns`` comes (simulated clock: before the first
event at or after that time, like a timer, and at once when it is already due; live clock: on
:meth:`Desk.tick <polytraders.desk.desk.Desk.tick>` too). Rules of a release
(:meth:`Desk._release_child <polytraders.desk.desk.Desk>`):

- The child may send ``target − committed`` micro-shares: ``target`` is the plan's orders plus
  every child up to this one; ``committed`` is, over every order already sent for the parent,
  its filled size once closed, else its size (an order the desk no longer tracks counts its
  whole size). So a skipped or shrunk slice is caught up by the next one, and the parent's
  size is never exceeded. Nothing left: a desk envelope ``SYS_CHILD_NOTHING_LEFT``.
- Otherwise the ENFORCED bot that made the plan routes the child (its ``release`` step,
  :class:`~polytraders.contracts.bot.ChildRouter`) against the book of now; the desk checks
  and records the plan (an envelope per release or skip) and sends its orders.
- The remaining children are dropped, with one desk envelope ``SYS_CHILDREN_CANCELLED`` whose
  output lists them, when: the kill switch trips or the desk enters HALTED (except an
  unwind's: :mod:`polytraders.desk.unwind`; its children are dropped when the position is flat
  instead); the desk is
  REDUCING and the parent is not reduce-only; the bot is no longer ENFORCED or fails; a CANCEL
  or REPLACE intent targets the parent; the desk shuts down. A release refused alone for being
  over the bot's budget (``SYS_BOT_OVER_BUDGET``) drops nothing: the next child catches up.
- The parent intent's outcome stays working until its last child is released or dropped.

Children are not in a checkpoint: after a restart, a schedule is gone (its sent orders are
reconciled like any other).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from polytraders.contracts.decisions import ChildSlice
from polytraders.desk.slots import BotSlot
from polytraders.model.orders import OrderIntent, VenueOrder


@dataclass(slots=True)
class PendingChildren:
    """The children of one parent intent still to release.

    Attributes:
        parent: the approved intent the plan was made for.
        slot: the execution slot that made the plan (it routes every child).
        first_leg: the plan's order count: child ``k`` uses leg ``first_leg + k``.
        base_size: total size of the plan's own orders (micro-shares).
        children: every child of the plan, in release order.
        next_index: the next child to release.
        sent: (client order id, size) of every order sent for the parent so far.
        codes: reason codes of the releases so far (for the parent's outcome).
        unwind: the parent is an unwind the desk started (:mod:`polytraders.desk.unwind`):
            its children go out while the kill switch is tripped or the desk HALTED, until
            the position is flat.
    """

    parent: OrderIntent
    slot: BotSlot
    first_leg: int
    base_size: int
    children: tuple[ChildSlice, ...]
    next_index: int = 0
    sent: list[tuple[str, int]] = field(default_factory=list)
    codes: dict[str, None] = field(default_factory=dict)
    unwind: bool = False

    @property
    def remaining(self) -> tuple[ChildSlice, ...]:
        """Children not yet released."""
        return self.children[self.next_index :]

    def committed(self, orders: Mapping[str, VenueOrder]) -> int:
        """Size committed by the orders sent so far (micro-shares): a closed order's filled
        size, an open or no longer tracked order's whole size."""
        total = 0
        for cid, size in self.sent:
            order = orders.get(cid)
            total += size if order is None or order.status.is_open else order.filled_size
        return total

    def target_size(self) -> int:
        """Cumulative size the parent may have committed once the next child is released."""
        return self.base_size + sum(c.size for c in self.children[: self.next_index + 1])


class ChildSchedule:
    """Pending children of routed intents, by parent intent id; due ones come out in order of
    release time, ties in the order the plans were scheduled."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingChildren] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._order = 0

    def add(self, pending: PendingChildren) -> None:
        """Schedule ``pending``'s next child.

        Raises:
            ValueError: nothing left to release, or the parent already has a schedule.
        """
        if not pending.remaining:
            raise ValueError("no child left to schedule")
        key = pending.parent.intent_id
        if self._pending.get(key) not in (None, pending):
            raise ValueError(f"intent {key} already has children scheduled")
        self._pending[key] = pending
        self._order += 1
        heapq.heappush(self._heap, (pending.remaining[0].release_ns, self._order, key))

    def next_due_ns(self) -> int | None:
        """Release time of the next child, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, until_ns: int) -> PendingChildren | None:
        """The schedule whose next child is due at or before ``until_ns`` (taken out: give it
        back with :meth:`add` when children remain), or None."""
        if not self._heap or self._heap[0][0] > until_ns:
            return None
        _, _, key = heapq.heappop(self._heap)
        return self._pending.pop(key)

    def drop(self, intent_id: str) -> PendingChildren | None:
        """Take out the schedule of ``intent_id`` (None when it has none)."""
        pending = self._pending.pop(intent_id, None)
        if pending is not None:
            self._heap = [e for e in self._heap if e[2] != intent_id]
            heapq.heapify(self._heap)
        return pending

    def drop_all(self, *, keep_unwinds: bool = False) -> list[PendingChildren]:
        """Take out every schedule (with ``keep_unwinds``, every one but the desk's unwinds),
        in release order."""
        out = [
            self._pending[key]
            for _, _, key in sorted(self._heap)
            if not (keep_unwinds and self._pending[key].unwind)
        ]
        for pending in out:
            del self._pending[pending.parent.intent_id]
        self._heap = [e for e in self._heap if e[2] in self._pending]
        heapq.heapify(self._heap)
        return out

    def __contains__(self, intent_id: object) -> bool:
        """True while ``intent_id`` has children scheduled."""
        return intent_id in self._pending

    def unsent(self, orders: Mapping[str, VenueOrder]) -> list[tuple[OrderIntent, int]]:
        """Every scheduled parent with the size it may still send (its size less what its
        orders committed, :meth:`PendingChildren.committed`), in scheduling order."""
        return [(p.parent, p.parent.size - p.committed(orders)) for p in self._pending.values()]

    def has_other_than_unwinds(self) -> bool:
        """True when a schedule other than an unwind's is pending."""
        return any(not p.unwind for p in self._pending.values())

    def __len__(self) -> int:
        return len(self._pending)
