"""Positions with exact average entry price, realized PnL and fees.

A position is signed micro-shares (long > 0). ``cost_basis`` is the exact cash (micro-units of
the quote currency) paid for the shares still open, so ``cost_basis / size`` is the average
entry price with no rounding drift. When part of a position is closed, the cost removed is
``cost_basis × closed / size`` rounded toward zero; the remainder stays in ``cost_basis``, so
realized + remaining cost always add up to what was paid (money is conserved to the micro-unit),
and a full round trip realizes exactly ``(exit − entry) × size``.

A BUY whose commission the venue kept in the bought asset (``Fill.fee_size`` > 0, Binance
spot) adds ``size − fee_size`` at the fill price (cost basis ``notional(price, size −
fee_size)``) and books :attr:`Fill.booked_fee <polytraders.model.fills.Fill.booked_fee>` as
its fee, so cost basis + fee is the notional of the whole executed ``size`` that cash paid.
"""

from __future__ import annotations

from fractions import Fraction

from polytraders.model.fills import Fill
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side


class Position:
    """Position in one token or instrument.

    Attributes:
        token_id: what is held.
        size: signed micro-shares (BUY fills add, SELL fills subtract).
        cost_basis: signed cash (micro-units) of the open size at entry; positive for longs.
        realized_pnl: realized trading PnL before fees (micro-units).
        fees: fees paid (micro-units, ≥ 0 normally; rebates make it smaller).
        fill_count: fills applied.
    """

    __slots__ = ("cost_basis", "fees", "fill_count", "realized_pnl", "size", "token_id")

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        self.size = 0
        self.cost_basis = 0
        self.realized_pnl = 0
        self.fees = 0
        self.fill_count = 0

    def apply(self, fill: Fill) -> int:
        """Apply one fill; return the PnL it realized (micro-units, before fees).

        The position moves by ``fill.size − fill.fee_size`` (module docstring) and the fee
        booked is :attr:`Fill.booked_fee <polytraders.model.fills.Fill.booked_fee>`.

        Raises:
            ValueError: fill for another token, with non-positive size/negative price, or a
                fee out of range (:meth:`Fill.fee_problem`).
        """
        if fill.token_id != self.token_id:
            raise ValueError(f"fill for {fill.token_id} applied to position in {self.token_id}")
        if fill.size <= 0 or fill.price < 0:
            raise ValueError("fill size must be positive and price non-negative")
        problem = fill.fee_problem()
        if problem is not None:
            raise ValueError(problem)
        return self.apply_trade(fill.side, fill.price, fill.net_size, fill.booked_fee)

    def apply_trade(self, side: Side, price: int, size: int, fee: int = 0) -> int:
        """Apply a trade of ``size`` at ``price`` on ``side``; return realized PnL (micro)."""
        signed = size if side is Side.BUY else -size
        cash = notional_micros(price, size)
        signed_cash = cash if side is Side.BUY else -cash
        self.fees += fee
        self.fill_count += 1
        if self.size == 0 or (self.size > 0) == (signed > 0):
            self.size += signed
            self.cost_basis += signed_cash
            return 0
        closing = min(abs(signed), abs(self.size))
        # cost of the closed part, rounded toward zero; remainder stays in the basis.
        removed = _div_toward_zero(self.cost_basis * closing, abs(self.size))
        closing_cash = notional_micros(price, closing)
        # long closed by a sell: receive cash, give up basis. short closed by a buy: the reverse.
        realized = closing_cash - removed if self.size > 0 else -closing_cash - removed
        self.cost_basis -= removed
        self.size += closing if self.size < 0 else -closing
        self.realized_pnl += realized
        leftover = abs(signed) - closing
        if leftover:  # flipped through zero: the rest opens a new position at this price
            self.size = leftover if side is Side.BUY else -leftover
            opened = notional_micros(price, leftover)
            self.cost_basis = opened if side is Side.BUY else -opened
        return realized

    def avg_entry_price(self) -> Fraction:
        """Exact average entry price (micro-units per share) of the open size; 0 when flat."""
        if self.size == 0:
            return Fraction(0)
        return Fraction(self.cost_basis * MICROS, self.size)

    def avg_entry_price_micros(self) -> int:
        """Average entry price rounded down to a micro-unit (for display); 0 when flat."""
        if self.size == 0:
            return 0
        return (self.cost_basis * MICROS) // self.size

    def unrealized_pnl(self, mark_price: int) -> int:
        """PnL of the open size marked at ``mark_price`` (micro-units, floor-rounded)."""
        return notional_micros(mark_price, self.size) - self.cost_basis

    def __repr__(self) -> str:
        return (
            f"Position({self.token_id!r}, size={self.size}, cost_basis={self.cost_basis}, "
            f"realized_pnl={self.realized_pnl}, fees={self.fees})"
        )


def _div_toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient
