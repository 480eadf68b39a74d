"""Quote manager: which quotes are working, and when to place, replace, cancel or keep them.

One working order per *slot* of a market: ``"bid"`` and ``"ask"`` (quotes on the primary
token) and ``"unwind:<token id>"`` (end-of-market unwind orders). For each slot and target the
manager decides (:meth:`QuoteManager.action`):

- no working order and a target → PLACE;
- a working order and no target → CANCEL;
- both → REPLACE when the target price moved by at least ``refresh_ticks`` ticks, when the
  working order is older than ``max_quote_age_s``, when its price is off the current tick (a
  tick-size change), or when the target size is now *smaller* than the working size (the cap
  shrank: never leave more resting than allowed); otherwise KEEP.
  Small moves and larger allowed sizes alone never cause a replace: no churn.

What is working is learnt from the strategy's own intents and reconciled on every event with
the desk's open orders (:meth:`QuoteManager.reconcile`), which are the truth: an order listed
by the desk is *seen* and its remaining size is the listed remaining size (summed over its legs:
a sell routed to the complement is still the same intent); a seen order the desk no longer lists
is gone (filled, cancelled, expired, rejected); an order never seen is forgotten once
``ack_grace_ms`` has passed since it was proposed (a risk bot rejected it, or it was never
sent). Venue events (fills, cancels) are applied at once when their client order id is known
from the desk's listing (the id the execution bot gave the order, the same everywhere); ids are
never parsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

from polytraders.model.orders import Side

BID = "bid"
ASK = "ask"
UNWIND_PREFIX = "unwind:"


class QuoteAction(StrEnum):
    """What to do with one slot."""

    KEEP = "KEEP"
    PLACE = "PLACE"
    REPLACE = "REPLACE"
    CANCEL = "CANCEL"


class Target(msgspec.Struct, frozen=True):
    """Where a slot should be: token, side, price and size (micro-units). Immutable and
    compared by value (a frozen msgspec struct: built in C, about a fifth of a frozen
    dataclass's construction cost, and one or two are built per quoting decision)."""

    token_id: str
    side: Side
    price: int
    size: int


@dataclass(slots=True)
class WorkingOrder:
    """A proposed order the strategy believes is working.

    Fields: ``intent_id``, ``market_id``, ``slot``, ``token_id``, ``side``, ``price``,
    ``size`` (remaining micro-shares), ``placed_ns`` (desk time of the proposal), ``seen``
    (the desk has listed it as open), ``client_ids`` (the desk's client order ids for it).
    """

    intent_id: str
    market_id: str
    slot: str
    token_id: str
    side: Side
    price: int
    size: int
    placed_ns: int
    seen: bool = False
    client_ids: list[str] = field(default_factory=list)


class QuoteManager:
    """Working orders per market and slot. See the module docstring.

    Args:
        refresh_ticks: price move (ticks) that justifies a replace (≥ 1).
        max_quote_age_s: age after which a working order is refreshed (≥ 1).
        ack_grace_ms: time a proposed order may be absent from the desk's open orders before it
            is forgotten (≥ 0).

    Raises:
        ValueError: an argument out of range.
    """

    __slots__ = ("_by_intent", "_client_ids", "_grace_ns", "_max_age_ns", "_refresh", "_slots")

    def __init__(self, refresh_ticks: int, max_quote_age_s: int, ack_grace_ms: int) -> None:
        if refresh_ticks < 1 or max_quote_age_s < 1 or ack_grace_ms < 0:
            raise ValueError("refresh_ticks and max_quote_age_s must be >= 1, ack_grace_ms >= 0")
        self._refresh = refresh_ticks
        self._max_age_ns = max_quote_age_s * 1_000_000_000
        self._grace_ns = ack_grace_ms * 1_000_000
        self._slots: dict[str, dict[str, WorkingOrder]] = {}
        self._by_intent: dict[str, WorkingOrder] = {}
        self._client_ids: dict[str, str] = {}

    def reset(self) -> None:
        """Forget every working order."""
        self._slots.clear()
        self._by_intent.clear()
        self._client_ids.clear()

    # ------------------------------------------------------------------ reads
    def working(self, market_id: str) -> dict[str, WorkingOrder]:
        """Working orders of a market by slot (a copy)."""
        return dict(self._slots.get(market_id, {}))

    def get(self, market_id: str, slot: str) -> WorkingOrder | None:
        """The working order in a slot, or None."""
        return self._slots.get(market_id, {}).get(slot)

    def market_of_client_order(self, client_order_id: str) -> str | None:
        """Market of the working order behind a client order id, or None if not ours/known."""
        order = self._lookup(client_order_id)
        return None if order is None else order.market_id

    def markets(self) -> list[str]:
        """Markets with at least one working order, sorted."""
        return sorted(m for m, slots in self._slots.items() if slots)

    # ------------------------------------------------------------------ decisions
    def action(
        self, working: WorkingOrder | None, target: Target | None, tick: int, now_ns: int
    ) -> QuoteAction:
        """What to do to bring a slot from ``working`` to ``target`` (see the module docstring)."""
        if working is None:
            return QuoteAction.KEEP if target is None else QuoteAction.PLACE
        if target is None:
            return QuoteAction.CANCEL
        if (
            target.token_id != working.token_id
            or target.side is not working.side
            or abs(target.price - working.price) >= self._refresh * tick
            or working.price % tick  # off the current tick (the tick size changed)
            or now_ns - working.placed_ns >= self._max_age_ns
            or target.size < working.size
        ):
            return QuoteAction.REPLACE
        return QuoteAction.KEEP

    # ------------------------------------------------------------------ updates
    def record(
        self, market_id: str, slot: str, intent_id: str, target: Target, now_ns: int
    ) -> None:
        """Remember a PLACE/REPLACE just proposed for ``slot`` (replacing what was there)."""
        self.forget(market_id, slot)
        order = WorkingOrder(
            intent_id,
            market_id,
            slot,
            target.token_id,
            target.side,
            target.price,
            target.size,
            now_ns,
        )
        self._slots.setdefault(market_id, {})[slot] = order
        self._by_intent[intent_id] = order

    def forget(self, market_id: str, slot: str) -> WorkingOrder | None:
        """Drop a slot's working order (after a CANCEL); return it."""
        order = self._slots.get(market_id, {}).pop(slot, None)
        if order is not None:
            self._by_intent.pop(order.intent_id, None)
            for client_order_id in order.client_ids:
                self._client_ids.pop(client_order_id, None)
        return order

    def on_fill(self, client_order_id: str, size: int) -> WorkingOrder | None:
        """Reduce the working order behind ``client_order_id`` by a fill of ``size``; drop it
        when nothing remains. Returns the order (None if it is not one of ours)."""
        order = self._lookup(client_order_id)
        if order is None:
            return None
        order.size -= size
        if order.size <= 0:
            self.forget(order.market_id, order.slot)
        return order

    def on_gone(self, client_order_id: str) -> WorkingOrder | None:
        """The venue no longer holds the order (cancelled, expired, rejected): forget it."""
        order = self._lookup(client_order_id)
        if order is not None:
            self.forget(order.market_id, order.slot)
        return order

    def _lookup(self, client_order_id: str) -> WorkingOrder | None:
        intent_id = self._client_ids.get(client_order_id)
        return None if intent_id is None else self._by_intent.get(intent_id)

    def reconcile(
        self, open_orders: Iterable[tuple[str, str, int]], now_ns: int
    ) -> list[WorkingOrder]:
        """Align with the desk's open orders, given as (intent id, client order id, remaining
        micro-shares) of this strategy's orders. Returns the orders forgotten (see the module
        docstring for the rules)."""
        remaining: dict[str, int] = {}
        for intent_id, client_order_id, size in open_orders:
            order = self._by_intent.get(intent_id)
            if order is not None:
                if client_order_id not in self._client_ids:
                    self._client_ids[client_order_id] = intent_id
                    order.client_ids.append(client_order_id)
                remaining[intent_id] = remaining.get(intent_id, 0) + size
        dropped: list[WorkingOrder] = []
        for order in list(self._by_intent.values()):
            listed = remaining.get(order.intent_id)
            if listed is not None:
                order.seen = True
                order.size = listed
            elif order.seen or now_ns - order.placed_ns > self._grace_ns:
                dropped.append(order)
        for order in dropped:
            self.forget(order.market_id, order.slot)
        return dropped
