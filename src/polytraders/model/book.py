"""L2 order book for one token or instrument.

Prices and sizes are integer micro-units. A level's size is the *total* resting at that price
(Polymarket ``price_change`` and Binance ``depthUpdate`` semantics: size = new total, 0 removes
the level; ``../shared/POLYMARKET.md`` "Market data"). Side convention: ``Side.BUY`` is the bid
side, ``Side.SELL`` the ask side, as in Polymarket's ``price_change.side``.

Representation (chosen for the hot path, see ``bench/bench_book.py``): per side a ``dict``
price → size plus a sorted ``list`` of prices, ascending on both sides, so the best bid is the
last bid price and the best ask the first ask price. Updating an existing level is one dict
store; adding or removing a level is a bisect plus a list insert/delete (books hold ≤ a few
thousand levels, so the memmove is cheap). Reading the best price is one list index.

Invariants (property-tested): no level with size ≤ 0 is ever stored; each price list is sorted,
duplicate-free and equal to its dict's keys. Bad input raises :class:`ValueError` *before* any
change, so a rejected update never leaves the book half-applied.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from polytraders.model.money import MICROS
from polytraders.model.orders import Side

Level = tuple[int, int]
"""(price, size) in micro-units."""


class WalkResult(NamedTuple):
    """Result of walking one side of a book.

    Fields:
        size: micro-shares that would fill.
        notional: cash for them (micro-units, Σ ⌊price × size / 10⁶⌋ per level).
        fills: (price, size) per level touched, in walk order.
        complete: True when the requested size or notional was fully available.
    """

    size: int
    notional: int
    fills: list[Level]
    complete: bool


class BookView(Protocol):
    """Read-only view of an :class:`OrderBook`: what bots may use (they never mutate books)."""

    @property
    def token_id(self) -> str: ...
    @property
    def last_update_ns(self) -> int: ...
    def best_bid(self) -> int | None: ...
    def best_ask(self) -> int | None: ...
    def best_bid_size(self) -> int: ...
    def best_ask_size(self) -> int: ...
    def mid(self) -> int | None: ...
    def microprice(self) -> int | None: ...
    def spread(self) -> int | None: ...
    def is_crossed(self) -> bool: ...
    def size_at(self, side: Side, price: int) -> int: ...
    def bids(self, depth: int | None = None) -> list[Level]: ...
    def asks(self, depth: int | None = None) -> list[Level]: ...
    def depth_within(self, side: Side, ticks: int, tick_size: int) -> int: ...
    def walk(
        self, taker_side: Side, limit_price: int, size: int = 0, notional: int = 0
    ) -> WalkResult: ...


class OrderBook:
    """Mutable L2 book. See the module docstring for semantics and invariants.

    Attributes:
        token_id: token or instrument the book is for.
        last_update_ns: event time (ns) of the last applied snapshot or delta; 0 before any.
    """

    __slots__ = ("_ask_px", "_asks", "_bid_px", "_bids", "last_update_ns", "token_id")

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_px: list[int] = []
        self._ask_px: list[int] = []
        self.last_update_ns = 0

    # ------------------------------------------------------------------ updates
    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level], ts_ns: int) -> None:
        """Replace the whole book. Levels may come in any order; a size of 0 is dropped.

        Raises:
            ValueError: a negative size or a non-positive price (the book is left unchanged).
        """
        new_bids = _checked_levels(bids)
        new_asks = _checked_levels(asks)
        self._bids = new_bids
        self._asks = new_asks
        self._bid_px = sorted(new_bids)
        self._ask_px = sorted(new_asks)
        self.last_update_ns = ts_ns

    def apply_delta(self, side: Side, price: int, size: int, ts_ns: int) -> None:
        """Set the total size at one price level (0 removes it).

        Raises:
            ValueError: negative size or non-positive price (nothing changes).
        """
        if size < 0 or price <= 0:
            raise ValueError(f"invalid level price={price} size={size}")
        if side is Side.BUY:
            _set_level(self._bids, self._bid_px, price, size)
        else:
            _set_level(self._asks, self._ask_px, price, size)
        self.last_update_ns = ts_ns

    def apply_levels(self, bids: Sequence[Level], asks: Sequence[Level], ts_ns: int) -> None:
        """Apply a batch of level changes (new totals) atomically: all or none.

        This is the hot path for ``BookDelta`` events (one per venue message).

        Raises:
            ValueError: any negative size or non-positive price (nothing changes).
        """
        for price, size in bids:
            if size < 0 or price <= 0:
                raise ValueError(f"invalid bid level price={price} size={size}")
        for price, size in asks:
            if size < 0 or price <= 0:
                raise ValueError(f"invalid ask level price={price} size={size}")
        _apply_side(self._bids, self._bid_px, bids)
        _apply_side(self._asks, self._ask_px, asks)
        self.last_update_ns = ts_ns

    # ------------------------------------------------------------------ reads
    def best_bid(self) -> int | None:
        """Highest bid price, or None when there are no bids."""
        return self._bid_px[-1] if self._bid_px else None

    def best_ask(self) -> int | None:
        """Lowest ask price, or None when there are no asks."""
        return self._ask_px[0] if self._ask_px else None

    def best_bid_size(self) -> int:
        """Size at the best bid (0 when empty)."""
        return self._bids[self._bid_px[-1]] if self._bid_px else 0

    def best_ask_size(self) -> int:
        """Size at the best ask (0 when empty)."""
        return self._asks[self._ask_px[0]] if self._ask_px else 0

    def mid(self) -> int | None:
        """(best bid + best ask) / 2 rounded down to a micro-unit; None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return (self._bid_px[-1] + self._ask_px[0]) // 2

    def microprice(self) -> int | None:
        """Size-weighted mid: ``(bid × ask_size + ask × bid_size) / (bid_size + ask_size)``.

        Leans toward the side with less size (Stoikov, "The micro-price", 2018, first-order
        form). Rounded down to a micro-unit; None if a side is empty.
        """
        if not self._bid_px or not self._ask_px:
            return None
        bid, ask = self._bid_px[-1], self._ask_px[0]
        bid_size, ask_size = self._bids[bid], self._asks[ask]
        return (bid * ask_size + ask * bid_size) // (bid_size + ask_size)

    def spread(self) -> int | None:
        """Best ask − best bid (negative when crossed); None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return self._ask_px[0] - self._bid_px[-1]

    def is_crossed(self) -> bool:
        """True when best bid ≥ best ask (crossed or locked): not a valid resting book."""
        return bool(self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0])

    def size_at(self, side: Side, price: int) -> int:
        """Total size resting at ``price`` on ``side`` (0 if no level)."""
        return (self._bids if side is Side.BUY else self._asks).get(price, 0)

    def bids(self, depth: int | None = None) -> list[Level]:
        """Bid levels best first (descending price), at most ``depth`` of them."""
        prices = self._bid_px[::-1] if depth is None else self._bid_px[: -depth - 1 : -1]
        return [(p, self._bids[p]) for p in prices]

    def asks(self, depth: int | None = None) -> list[Level]:
        """Ask levels best first (ascending price), at most ``depth`` of them."""
        prices = self._ask_px if depth is None else self._ask_px[:depth]
        return [(p, self._asks[p]) for p in prices]

    def level_count(self) -> tuple[int, int]:
        """(number of bid levels, number of ask levels)."""
        return len(self._bid_px), len(self._ask_px)

    def depth_within(self, side: Side, ticks: int, tick_size: int) -> int:
        """Total size on ``side`` priced within ``ticks × tick_size`` of that side's best price.

        ``ticks=0`` gives the size at the best level. 0 when the side is empty.
        """
        reach = ticks * tick_size
        if side is Side.BUY:
            if not self._bid_px:
                return 0
            floor = self._bid_px[-1] - reach
            start = bisect_left(self._bid_px, floor)
            return sum(self._bids[p] for p in self._bid_px[start:])
        if not self._ask_px:
            return 0
        ceiling = self._ask_px[0] + reach
        end = bisect_left(self._ask_px, ceiling + 1)
        return sum(self._asks[p] for p in self._ask_px[:end])

    def walk(
        self, taker_side: Side, limit_price: int, size: int = 0, notional: int = 0
    ) -> WalkResult:
        """What a marketable order would take from this book, without changing it.

        A BUY takes asks from the lowest up while price ≤ ``limit_price``; a SELL takes bids
        from the highest down while price ≥ ``limit_price``. Give exactly one of ``size``
        (micro-shares) or ``notional`` (micro-units of cash, BUY only: whole micro-shares
        affordable at each level, rounded down). Never takes more than a level shows.

        Raises:
            ValueError: not exactly one of size/notional positive, or notional on a SELL.
        """
        if (size > 0) == (notional > 0) or size < 0 or notional < 0:
            raise ValueError("give exactly one positive amount: size or notional")
        if notional and taker_side is not Side.BUY:
            raise ValueError("notional sizing is for BUY orders only")
        if taker_side is Side.BUY:
            prices: Iterable[int] = self._ask_px
            levels = self._asks
        else:
            prices = reversed(self._bid_px)
            levels = self._bids
        fills: list[Level] = []
        taken = spent = 0
        complete = False
        for price in prices:
            if (price > limit_price) if taker_side is Side.BUY else (price < limit_price):
                break
            available = levels[price]
            want = (notional - spent) * MICROS // price if notional else size - taken
            if want <= 0:
                complete = True
                break
            qty = available if available < want else want
            fills.append((price, qty))
            taken += qty
            spent += price * qty // MICROS
            if qty == want:
                complete = True
                break
        return WalkResult(taken, spent, fills, complete)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.token_id!r}, bid={self.best_bid()}x{self.best_bid_size()}, "
            f"ask={self.best_ask()}x{self.best_ask_size()}, levels={self.level_count()})"
        )


def _set_level(levels: dict[int, int], prices: list[int], price: int, size: int) -> None:
    if size:
        if price not in levels:
            insort(prices, price)
        levels[price] = size
    elif price in levels:
        del levels[price]
        del prices[bisect_left(prices, price)]


def _apply_side(levels: dict[int, int], prices: list[int], changes: Sequence[Level]) -> None:
    """Apply validated (price, new total) changes to one side; the loop is inlined here
    rather than calling :func:`_set_level` per level (the per-level call is the hot cost)."""
    for price, size in changes:
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]


def _checked_levels(levels: Iterable[Level]) -> dict[int, int]:
    result: dict[int, int] = {}
    for price, size in levels:
        if size < 0 or price <= 0:
            raise ValueError(f"invalid level price={price} size={size}")
        if size:
            result[price] = size
    return result
