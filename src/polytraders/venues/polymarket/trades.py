"""Trade lifecycle of our orders on Polymarket: count at MATCHED, final at CONFIRMED, revert at
FAILED (``../shared/POLYMARKET.md`` "Market data", user channel).

Input is a typed trade (:class:`~polytraders.venues.polymarket.wire.Trade`, decoded and checked
at the boundary) as both ``GET /data/trades`` and the user channel's ``trade`` event carry it.
Our part of the trade is found by our order id (the order hash): as taker
(``taker_order_id``) or as one of the makers. The side and token of the fill come from OUR
order, never from the trade message (a maker fill can be on the complementary token at the
complementary price); the price of a maker fill is our maker order's price. A taker fill pays
the trade's ``fee_rate_bps`` (0 when absent); a maker fill pays none. The fill id is
``"<trade id>:<client order id>"``, so every reader of the same trade derives the same fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from polytraders.model.fees import taker_fee_micros
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import VenueOrder
from polytraders.venues.polymarket.wire import Trade

FAILED = "FAILED"
"""The status of a trade that failed on chain: its fills do not count."""
_FINAL = frozenset({"CONFIRMED", FAILED})


class TradeOutcome(StrEnum):
    """What one trade update means for our books."""

    NEW = "NEW"
    """First time we see our part of this trade: a fill is emitted."""
    FINAL = "FINAL"
    """CONFIRMED: the counted fill is final."""
    REVERTED = "REVERTED"
    """FAILED after it was counted: the fill must be reverted."""
    UNCHANGED = "UNCHANGED"


@dataclass(slots=True)
class _Part:
    fill: Fill
    status: str


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One outcome for one of our orders in one trade; ``fill`` is our part."""

    outcome: TradeOutcome
    fill: Fill
    status: str


def our_fills(
    trade: Trade, orders_by_hash: Mapping[str, VenueOrder], ts_recv_ns: int
) -> list[Fill]:
    """Our parts of ``trade`` as fills (whatever its status), taker part first, then maker
    parts in the trade's order. ``orders_by_hash`` maps lower-cased order hashes to our
    orders (only their ids, token, market and side are read)."""
    parts: list[tuple[VenueOrder, int, int, LiquiditySide]] = []
    taker = orders_by_hash.get((trade.taker_order_id or "").lower())
    if taker is not None:
        parts.append((taker, trade.price_micros, trade.size_micros, LiquiditySide.TAKER))
    for maker in trade.makers:
        order = orders_by_hash.get(maker.order_id.lower())
        if order is not None:
            parts.append((order, maker.price_micros, maker.matched_micros, LiquiditySide.MAKER))
    ts_event_ns = trade.ts_event_ns
    return [
        Fill(
            fill_id=f"{trade.id}:{order.client_order_id}",
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            token_id=order.token_id,
            market_id=order.market_id,
            side=order.side,
            price=price,
            size=size,
            fee=taker_fee_micros(size, price, trade.fee_bps * 100)
            if liquidity is LiquiditySide.TAKER
            else 0,
            liquidity=liquidity,
            ts_event_ns=ts_event_ns,
            ts_recv_ns=ts_recv_ns,
        )
        for order, price, size, liquidity in parts
    ]


class TradeTracker:
    """Turns trades into fills of our orders, exactly once per (trade, order)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], _Part] = {}
        self._known_fill_ids: set[str] = set()

    def mark_known(self, fill_ids: Iterable[str]) -> None:
        """Fill ids already booked (from the store after a restart, or recovered by
        reconciliation): when their trades are seen they are tracked for later status changes
        but not reported as NEW again, and one first seen FAILED is reported REVERTED."""
        self._known_fill_ids.update(fill_ids)

    def unsettled_orders(self) -> set[str]:
        """Order hashes (lower case) with a part in a trade not final yet (neither CONFIRMED
        nor FAILED)."""
        return {key[1] for key, part in self._parts.items() if part.status not in _FINAL}

    def oldest_unsettled_ns(self) -> int | None:
        """Match time (ns, the trade's ``match_time``; 0 when it had none) of the oldest
        tracked part not final yet, or None when every tracked part is final."""
        return min(
            (p.fill.ts_event_ns for p in self._parts.values() if p.status not in _FINAL),
            default=None,
        )

    def forget(self, order_hashes: set[str]) -> None:
        """Drop the parts of these orders (lower-case hashes): their trades are no longer
        tracked (the venue forgot the orders, so a trade naming them is not ours any more)."""
        self._parts = {k: p for k, p in self._parts.items() if k[1] not in order_hashes}

    def fills(self) -> list[Fill]:
        """Every counted (not reverted) fill, in first-seen order."""
        return [p.fill for p in self._parts.values() if p.status != FAILED]

    def apply(
        self, trade: Trade, orders_by_hash: Mapping[str, VenueOrder], ts_recv_ns: int
    ) -> list[TradeUpdate]:
        """Apply one trade; returns the updates for our orders in it."""
        status = trade.status.upper()
        updates: list[TradeUpdate] = []
        for fill in our_fills(trade, orders_by_hash, ts_recv_ns):
            key = (trade.id, fill.venue_order_id.lower())
            known = self._parts.get(key)
            if known is None:
                booked = fill.fill_id in self._known_fill_ids
                if status == FAILED:
                    if booked:  # booked earlier, failed since: take it back
                        self._parts[key] = _Part(fill, status)
                        updates.append(TradeUpdate(TradeOutcome.REVERTED, fill, status))
                    continue
                self._parts[key] = _Part(fill, status)
                if booked:
                    continue
                updates.append(TradeUpdate(TradeOutcome.NEW, fill, status))
                if status == "CONFIRMED":
                    updates.append(TradeUpdate(TradeOutcome.FINAL, fill, status))
                continue
            if known.status == status or known.status in (FAILED, "CONFIRMED"):
                continue
            known.status = status
            if status == "CONFIRMED":
                updates.append(TradeUpdate(TradeOutcome.FINAL, known.fill, status))
            elif status == FAILED:
                updates.append(TradeUpdate(TradeOutcome.REVERTED, known.fill, status))
        return updates
