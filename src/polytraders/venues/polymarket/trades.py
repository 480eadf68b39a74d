"""Trade lifecycle of our orders on Polymarket: count at MATCHED, final at CONFIRMED, revert at
FAILED (``../shared/POLYMARKET.md`` "Market data", user channel).

Input is a trade object as both ``GET /data/trades`` and the user channel's ``trade`` event
carry it: ``id``, ``status`` (MATCHED → MINED → CONFIRMED, or RETRYING → FAILED),
``taker_order_id``, ``price``, ``size``, ``fee_rate_bps``, ``match_time`` (seconds or ms) and
``maker_orders[{order_id, matched_amount, price}]``. Our part of the trade is found by our
order id (the order hash): as taker (``taker_order_id``) or as one of the makers. The side and
token of the fill come from OUR order, never from the trade message (a maker fill can be on
the complementary token at the complementary price); the price of a maker fill is our maker
order's price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from polytraders.model.fees import taker_fee_micros
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import to_micros
from polytraders.model.orders import VenueOrder

COUNTED = frozenset({"MATCHED", "MINED", "CONFIRMED", "RETRYING"})
"""Statuses under which a fill counts (it has matched and has not failed)."""


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


def timestamp_ns(value: object) -> int:
    """A venue timestamp (seconds or ms epoch, as int or string) in ns; 0 when absent.

    Values below 10¹¹ are seconds (some user-channel times are seconds, POLYMARKET.md)."""
    if value in (None, ""):
        return 0
    number = int(str(value).split(".")[0])
    return number * 1_000_000_000 if number < 100_000_000_000 else number * 1_000_000


class TradeTracker:
    """Turns trade objects into fills of our orders, exactly once per (trade, order).

    ``fee_rate_ppm`` maps token id → taker fee rate (parts per million) when a trade message
    carries no ``fee_rate_bps``.
    """

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], _Part] = {}
        self._known_fill_ids: set[str] = set()

    def mark_known(self, fill_ids: Iterable[str]) -> None:
        """Fill ids already booked (from the store after a restart): when their trades are
        seen they are tracked for later status changes but not reported as NEW again."""
        self._known_fill_ids.update(fill_ids)

    def fills(self) -> list[Fill]:
        """Every counted (not reverted) fill, in first-seen order."""
        return [p.fill for p in self._parts.values() if p.status != "FAILED"]

    def apply(
        self, trade: dict[str, object], orders_by_hash: dict[str, VenueOrder], ts_recv_ns: int
    ) -> list[TradeUpdate]:
        """Apply one trade object; returns the updates for our orders in it.

        Raises:
            ValueError: a malformed trade (missing id/status, non-decimal amounts).
        """
        trade_id = str(trade.get("id") or "")
        status = str(trade.get("status") or "").upper()
        if not trade_id or not status:
            raise ValueError("trade without id or status")
        ts_event_ns = timestamp_ns(trade.get("match_time") or trade.get("timestamp"))
        fee_bps = int(str(trade.get("fee_rate_bps") or "0"))
        parts: list[tuple[VenueOrder, int, int, LiquiditySide]] = []
        taker_id = str(trade.get("taker_order_id") or "").lower()
        if taker_id in orders_by_hash:
            order = orders_by_hash[taker_id]
            parts.append(
                (
                    order,
                    to_micros(str(trade["price"])),
                    to_micros(str(trade["size"])),
                    LiquiditySide.TAKER,
                )
            )
        makers = trade.get("maker_orders") or []
        if not isinstance(makers, list):
            raise ValueError("maker_orders must be a list")
        for maker in makers:
            order_id = str(maker.get("order_id") or "").lower()
            if order_id in orders_by_hash:
                parts.append(
                    (
                        orders_by_hash[order_id],
                        to_micros(str(maker["price"])),
                        to_micros(str(maker["matched_amount"])),
                        LiquiditySide.MAKER,
                    )
                )
        updates: list[TradeUpdate] = []
        for order, price, size, liquidity in parts:
            key = (trade_id, order.venue_order_id.lower())
            known = self._parts.get(key)
            if known is None:
                if status == "FAILED":
                    continue
                fee = (
                    taker_fee_micros(size, price, fee_bps * 100)
                    if liquidity is LiquiditySide.TAKER
                    else 0
                )
                fill = Fill(
                    fill_id=f"{trade_id}:{order.client_order_id}",
                    client_order_id=order.client_order_id,
                    venue_order_id=order.venue_order_id,
                    token_id=order.token_id,
                    market_id=order.market_id,
                    side=order.side,
                    price=price,
                    size=size,
                    fee=fee,
                    liquidity=liquidity,
                    ts_event_ns=ts_event_ns,
                    ts_recv_ns=ts_recv_ns,
                )
                self._parts[key] = _Part(fill, status)
                if fill.fill_id in self._known_fill_ids:
                    continue
                outcome = TradeOutcome.FINAL if status == "CONFIRMED" else TradeOutcome.NEW
                updates.append(TradeUpdate(TradeOutcome.NEW, fill, status))
                if outcome is TradeOutcome.FINAL:
                    updates.append(TradeUpdate(TradeOutcome.FINAL, fill, status))
                continue
            if known.status == status or known.status in ("FAILED", "CONFIRMED"):
                continue
            known.status = status
            if status == "CONFIRMED":
                updates.append(TradeUpdate(TradeOutcome.FINAL, known.fill, status))
            elif status == "FAILED":
                updates.append(TradeUpdate(TradeOutcome.REVERTED, known.fill, status))
        return updates
