"""Fills: one execution of (part of) one of our orders.

A fill is both a model object (accounting consumes it) and a venue event (the venue emits it),
so it carries the event times ``ts_event_ns`` (venue) and ``ts_recv_ns`` (our receipt).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from polytraders.model.money import notional_micros
from polytraders.model.orders import Side


class LiquiditySide(StrEnum):
    """MAKER: our order rested and was hit. TAKER: our order crossed on arrival."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class Fill(msgspec.Struct, frozen=True, kw_only=True, tag="fill"):
    """An execution of ``size`` micro-shares at ``price`` micro-units.

    Fields:
        fill_id: deterministic id (unique per run).
        client_order_id / venue_order_id: the order that filled.
        token_id, market_id: what traded.
        side: OUR side (on Polymarket take it from our order, never from the trade message;
            ``../shared/POLYMARKET.md`` "Market data").
        price: execution price (micro-units per share).
        size: executed micro-shares (> 0).
        fee: fee paid in micro-units of the quote currency (≥ 0; makers pay 0 on Polymarket).
        liquidity: MAKER or TAKER.
        ts_event_ns: venue time of the execution; ts_recv_ns: when we learnt of it.
    """

    fill_id: str
    client_order_id: str
    venue_order_id: str = ""
    token_id: str
    market_id: str = ""
    side: Side
    price: int
    size: int
    fee: int = 0
    liquidity: LiquiditySide
    ts_event_ns: int
    ts_recv_ns: int = 0

    @property
    def notional(self) -> int:
        """``price × size`` in micro-units of the quote currency (exact on venue grids)."""
        return notional_micros(self.price, self.size)
