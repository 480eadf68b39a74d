"""Fair value of a binary market from its two complementary books.

Buying YES at ``p`` is economically selling NO at ``1 − p`` (DESIGN.md "Model"), so the two
books of a market are one book seen from two sides. :func:`merged_top` folds the complement's
book into the primary token's terms — a complement bid at ``q`` is a primary ask at ``1 − q``, a
complement ask at ``q`` a primary bid at ``1 − q`` — and keeps the better price per side, summing
the sizes when both books show the same price. The fair value of the primary token comes from
that merged top of book; the complement's fair value is ``1 − fair`` by construction, so the two
tokens can never disagree.

When both books show the same price, the larger of the two sizes is kept, not their sum:
Polymarket publishes each token's book *including* the mirrored orders of the complement (the
recorded sample shows the UP bid size at ``p`` equal to the DOWN ask size at ``1 − p`` on every
snapshot), so adding them would count the same orders twice.

Inputs are read-only :class:`~polytraders.model.book.BookView`\\ s; prices and sizes are
micro-units. A missing, one-sided or crossed merged book has no fair value: the caller must stand
down rather than quote around a made-up price (``../shared/POLYMARKET.md`` "Peers' lessons").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

from polytraders.model.book import BookView
from polytraders.model.money import ONE


class BookProblem(StrEnum):
    """Why a market has no fair value: NO_BOOK (a book was never seen or is empty on both
    sides), ONE_SIDED (bid or ask missing after merging), CROSSED (merged best bid ≥ best ask)."""

    NO_BOOK = "NO_BOOK"
    ONE_SIDED = "ONE_SIDED"
    CROSSED = "CROSSED"


class MergedTop(NamedTuple):
    """Best bid and ask of the primary token after folding in the complement's book.

    Fields: ``bid``/``ask`` prices and ``bid_size``/``ask_size`` (micro-units) of the primary
    token; when both books quote the same price the larger size is kept.
    """

    bid: int
    bid_size: int
    ask: int
    ask_size: int


def _better(
    price_a: int | None, size_a: int, price_b: int | None, size_b: int, high: bool
) -> tuple[int | None, int]:
    if price_a is None:
        return price_b, size_b
    if price_b is None:
        return price_a, size_a
    if price_a == price_b:
        return price_a, max(size_a, size_b)
    if (price_a > price_b) == high:
        return price_a, size_a
    return price_b, size_b


def merged_top(primary: BookView | None, complement: BookView | None) -> MergedTop | BookProblem:
    """Top of book of the primary token with the complement's book mirrored in.

    Returns a :class:`MergedTop`, or the :class:`BookProblem` that prevents one. Either book may
    be ``None`` (never seen); both missing or both empty is ``NO_BOOK``.
    """
    if primary is None and complement is None:
        return BookProblem.NO_BOOK
    bid: int | None = None
    ask: int | None = None
    bid_size = ask_size = 0
    if primary is not None:
        bid, bid_size = primary.best_bid(), primary.best_bid_size()
        ask, ask_size = primary.best_ask(), primary.best_ask_size()
    if complement is not None:
        c_bid, c_ask = complement.best_bid(), complement.best_ask()
        mirrored_ask = None if c_bid is None else ONE - c_bid
        mirrored_bid = None if c_ask is None else ONE - c_ask
        bid, bid_size = _better(bid, bid_size, mirrored_bid, complement.best_ask_size(), True)
        ask, ask_size = _better(ask, ask_size, mirrored_ask, complement.best_bid_size(), False)
    if bid is None and ask is None:
        return BookProblem.NO_BOOK
    if bid is None or ask is None:
        return BookProblem.ONE_SIDED
    if bid >= ask:
        return BookProblem.CROSSED
    return MergedTop(bid, bid_size, ask, ask_size)


FairValueMethod = Literal["mid", "microprice"]


def fair_value(top: MergedTop, method: FairValueMethod) -> int:
    """Fair value (micro-units) of the primary token from a merged top of book.

    ``mid``: ``(bid + ask) // 2``. ``microprice``: ``(bid × ask_size + ask × bid_size) /
    (bid_size + ask_size)`` rounded down (Stoikov, "The micro-price", 2018, first-order form); it
    leans toward the side with less size. Both lie in ``[bid, ask]``. The complement's fair value
    is ``1 − fair`` (:func:`complement_fair_value`).
    """
    if method == "mid" or top.bid_size + top.ask_size == 0:
        return (top.bid + top.ask) // 2
    return (top.bid * top.ask_size + top.ask * top.bid_size) // (top.bid_size + top.ask_size)


def complement_fair_value(fair: int) -> int:
    """Fair value of the complementary token: ``1 − fair`` (micro-units)."""
    return ONE - fair
