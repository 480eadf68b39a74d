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
        size: executed micro-shares (> 0): what the venue matched, the order's filled size.
        fee: the commission valued in micro-units of the quote currency (≥ 0; makers pay 0
            on Polymarket). Paid in the quote unless ``fee_size`` > 0.
        fee_size: the part of ``size`` (micro-units of the traded asset, 0 ≤ fee_size ≤ size)
            the venue kept as commission in that asset: a BUY only (Binance spot charges the
            asset received). The position grows by ``size − fee_size``, cash pays the notional
            of the whole ``size`` and ``fee`` (the same commission, valued at ``price``) is
            reported, never also charged to cash (:attr:`cash_fee`, :attr:`booked_fee`).
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
    fee_size: int = 0

    @property
    def notional(self) -> int:
        """``price × size`` in micro-units of the quote currency (exact on venue grids)."""
        return notional_micros(self.price, self.size)

    @property
    def net_size(self) -> int:
        """``size − fee_size``: micro-units the position moves by (unsigned)."""
        return self.size - self.fee_size

    @property
    def position_change(self) -> int:
        """Signed micro-units the position moves by: ``+net_size`` for a BUY, ``−size`` for a
        SELL."""
        return self.size - self.fee_size if self.side is Side.BUY else -self.size

    @property
    def cash_fee(self) -> int:
        """The fee charged to cash (micro-quote): ``fee``, or 0 when the commission was paid
        in the traded asset (``fee_size`` > 0)."""
        return 0 if self.fee_size else self.fee

    @property
    def booked_fee(self) -> int:
        """The fee accounting books (micro-quote): ``fee`` when paid in the quote; for a
        commission paid in the traded asset, the part of the notional the position did not
        get, ``notional(price, size) − notional(price, size − fee_size)``: exactly what cash
        paid beyond the cost basis, so the books balance to the micro-unit. That is ``fee``,
        or one micro-unit less, when ``fee_size`` is the venue's exact commission (the one
        rounding shows in the fees figure only); a commission finer than a micro-unit was
        rounded up into ``fee_size``, so this also counts the value of the part below the
        micro-unit, which stays at the venue as dust the desk does not hold."""
        if not self.fee_size:
            return self.fee
        return notional_micros(self.price, self.size) - notional_micros(
            self.price, self.size - self.fee_size
        )

    def fee_problem(self) -> str | None:
        """Why ``fee`` / ``fee_size`` are out of range, or None: a negative fee, ``fee_size``
        outside [0, size], or ``fee_size`` on a SELL."""
        if self.fee < 0:
            return f"fill {self.fill_id}: negative fee {self.fee}"
        if not 0 <= self.fee_size <= self.size:
            return f"fill {self.fill_id}: fee_size {self.fee_size} outside [0, {self.size}]"
        if self.fee_size and self.side is not Side.BUY:
            return f"fill {self.fill_id}: a commission in the traded asset on a SELL"
        return None
