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

Input is untrusted (a websocket frame or a REST answer): anything malformed — not an object, a
missing or non-text ``id``/``status``, a price outside (0, 1), a size that is not positive, a
fee rate that is not a whole number of bps in 0–10,000, a negative or non-integer time, a maker
entry that is no object — raises
:class:`ValueError` before any state changes, in bounded time (numbers are parsed by
:func:`~polytraders.model.money.to_micros`, times and rates are at most 19 digits).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from polytraders.model.fees import taker_fee_micros
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import ONE, to_micros
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


_MAX_DIGITS = 19
_INT64_MAX = 2**63 - 1


def _count(value: object, what: str, *, drop_fraction: bool = False) -> int:
    """A non-negative integer given as int or digit string (at most 19 digits); with
    ``drop_fraction`` a string may carry a fraction, which is dropped (``"1767225600.5"``).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{what} is not an integer")
    digits = value.split(".", 1)[0] if isinstance(value, str) and drop_fraction else str(value)
    if not (digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS):
        raise ValueError(f"{what} {str(value)[:30]!r} is not a non-negative integer")
    return int(digits)


def timestamp_ns(value: object) -> int:
    """A venue timestamp (seconds or ms epoch, as int or string) in ns; 0 when absent.

    Values below 10¹¹ are seconds (some user-channel times are seconds, POLYMARKET.md).

    Raises:
        ValueError: not a non-negative integer (a fraction in a string is dropped), or beyond
            int64 ns.
    """
    if value is None or value == "":
        return 0
    number = _count(value, "timestamp", drop_fraction=True)
    ns = number * 1_000_000_000 if number < 100_000_000_000 else number * 1_000_000
    if ns > _INT64_MAX:
        raise ValueError(f"timestamp {number} is beyond int64 ns")
    return ns


def _text(trade: dict[str, object], key: str) -> str:
    value = trade.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"trade {key} is not text")
    return str(value)


def _price(value: object) -> int:
    price = to_micros(_amount_text(value, "price"))
    if not 0 < price < ONE:
        raise ValueError(f"trade price {value!r} is outside (0, 1)")
    return price


def _size(value: object) -> int:
    size = to_micros(_amount_text(value, "size"))
    if size <= 0:
        raise ValueError(f"trade size {value!r} is not positive")
    return size


def _amount_text(value: object, what: str) -> str:
    """The decimal text of an amount: a string as sent, or a JSON number (its shortest
    ``repr``, parsed exactly)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"trade {what} is missing or not a decimal")
    return value if isinstance(value, str) else repr(value)


class TradeTracker:
    """Turns trade objects into fills of our orders, exactly once per (trade, order).

    A taker fill pays ``fee_rate_bps`` of the trade message (0 when the message has none); a
    maker fill pays none.
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
            ValueError: a malformed trade (module docstring); nothing is changed then.
        """
        if not isinstance(trade, dict):
            raise ValueError("a trade must be a JSON object")
        trade_id = _text(trade, "id")
        status = _text(trade, "status").upper()
        if not trade_id or not status:
            raise ValueError("trade without id or status")
        ts_event_ns = timestamp_ns(trade.get("match_time") or trade.get("timestamp"))
        fee_bps = _count(trade.get("fee_rate_bps") or 0, "fee_rate_bps")
        if fee_bps > 10_000:
            raise ValueError(f"fee_rate_bps {fee_bps} is over 100 %")
        parts: list[tuple[VenueOrder, int, int, LiquiditySide]] = []
        taker_id = _text(trade, "taker_order_id").lower()
        if taker_id in orders_by_hash:
            order = orders_by_hash[taker_id]
            parts.append(
                (order, _price(trade.get("price")), _size(trade.get("size")), LiquiditySide.TAKER)
            )
        makers = trade.get("maker_orders") or []
        if not isinstance(makers, list):
            raise ValueError("maker_orders must be a list")
        for maker in makers:
            if not isinstance(maker, dict):
                raise ValueError("a maker order must be a JSON object")
            order_id = _text(maker, "order_id").lower()
            if order_id in orders_by_hash:
                parts.append(
                    (
                        orders_by_hash[order_id],
                        _price(maker.get("price")),
                        _size(maker.get("matched_amount")),
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
