"""Book liquidity our own fills have consumed (rule 5 of :mod:`polytraders.venues.paper`).

The recorded (or live) book never shows the effect of our simulated trades, so the venue keeps,
per token and book side, the micro-shares our fills took at each price:

- ``taken(side, p)`` grows by every micro-share one of our orders takes from the level
  ``(side, p)`` (a taker fill at arrival, or a resting order filled because the opposite side
  crossed it).
- Available size of the level = ``max(0, S(side, p) − taken(side, p))`` where ``S`` is the size
  the book shows. Every match reads the available size, never ``S``, so the same liquidity never
  fills two of our orders.
- ``taken(side, p)`` is forgotten when the book no longer has a level at ``(side, p)`` (a delta
  sets it to 0, a snapshot omits it, or the book is cleared): when the level shows again it is
  new liquidity.

Side convention as in :class:`polytraders.model.book.OrderBook`: ``Side.BUY`` = bids,
``Side.SELL`` = asks.
"""

from __future__ import annotations

from typing import NamedTuple

from polytraders.model.book import OrderBook
from polytraders.model.money import MICROS
from polytraders.model.orders import Side


class ConsumedLiquidity:
    """Micro-shares taken by our fills per (book side, price) of one token."""

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        self._taken: dict[tuple[Side, int], int] = {}

    def __bool__(self) -> bool:
        return bool(self._taken)

    def taken(self, side: Side, price: int) -> int:
        """Micro-shares our fills took at this level and the book still shows."""
        return self._taken.get((side, price), 0)

    def available(self, book: OrderBook, side: Side, price: int) -> int:
        """``max(0, S − taken)`` for the level ``(side, price)`` of ``book``."""
        size = book.size_at(side, price)
        if not size:
            return 0
        left = size - self._taken.get((side, price), 0)
        return left if left > 0 else 0

    def consume(self, side: Side, price: int, size: int) -> None:
        """Record that our fills took ``size`` micro-shares from the level ``(side, price)``."""
        if size <= 0:
            raise ValueError("consumed size must be positive")
        key = (side, price)
        self._taken[key] = self._taken.get(key, 0) + size

    def forget_removed(self, book: OrderBook) -> None:
        """Forget every level the book no longer shows (call after each book update)."""
        if self._taken:
            gone = [key for key in self._taken if not book.size_at(key[0], key[1])]
            for key in gone:
                del self._taken[key]

    def items(self) -> list[tuple[Side, int, int]]:
        """(side, price, taken) for every tracked level, sorted (for tests and reports)."""
        return sorted((side, price, taken) for (side, price), taken in self._taken.items())


class Take(NamedTuple):
    """What a marketable order can take from the available book.

    Fields:
        levels: (price, micro-shares) per level, best first.
        size: Σ micro-shares.
        notional: Σ ⌊price × size / 10⁶⌋ (micro-pUSD).
        complete: the whole size is available within the limit; for a notional order, the
            unspent notional ``N − spent`` cannot buy one more micro-share at any price up to
            the limit (``⌊(N − spent) × 10⁶ / limit⌋ = 0`` or the walk used it all).
    """

    levels: list[tuple[int, int]]
    size: int
    notional: int
    complete: bool


def available_take(
    book: OrderBook,
    consumed: ConsumedLiquidity,
    taker_side: Side,
    limit_price: int,
    *,
    size: int = 0,
    notional: int = 0,
) -> Take:
    """Walk the available liquidity opposite ``taker_side`` up to ``limit_price`` (rule 2).

    A BUY takes asks from the lowest while ``ask ≤ limit_price``; a SELL takes bids from the
    highest while ``bid ≥ limit_price``. At each level it takes ``min(available, wanted)``
    where ``wanted`` is the remaining size, or for a notional order the whole micro-shares the
    remaining notional buys at that price (``⌊(N − spent) × 10⁶ / price⌋``). Changes nothing.

    Raises:
        ValueError: not exactly one of ``size``/``notional`` positive, or notional on a SELL.
    """
    if (size > 0) == (notional > 0) or size < 0 or notional < 0:
        raise ValueError("give exactly one positive amount: size or notional")
    if notional and taker_side is not Side.BUY:
        raise ValueError("notional sizing is for BUY orders only")
    if taker_side is Side.BUY:
        book_side = Side.SELL
        prices = [p for p, _ in book.asks()]
    else:
        book_side = Side.BUY
        prices = [p for p, _ in book.bids()]
    levels: list[tuple[int, int]] = []
    taken = spent = 0
    complete = False
    for price in prices:
        if (price > limit_price) if taker_side is Side.BUY else (price < limit_price):
            break
        want = (notional - spent) * MICROS // price if notional else size - taken
        if want <= 0:
            complete = True
            break
        available = consumed.available(book, book_side, price)
        if not available:
            continue
        qty = available if available < want else want
        levels.append((price, qty))
        taken += qty
        spent += price * qty // MICROS
        if qty == want:
            complete = True
            break
    if notional and not complete and (notional - spent) * MICROS // limit_price == 0:
        complete = True  # what is left cannot buy one micro-share even at the limit
    return Take(levels, taken, spent, complete)
