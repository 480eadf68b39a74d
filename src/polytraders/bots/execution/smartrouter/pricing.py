"""Venue grid rules for one order leg: tick rounding, price range, size precision, crossing.

Polymarket (``../shared/POLYMARKET.md`` "Orders"): a price is a multiple of the token's current
tick within ``[tick, 1 − tick]``; sizes have 2 decimals. Rounding is always in the
*never-more-aggressive* direction: a BUY rounds down, a SELL rounds up, so routing can only make
an order less likely to trade, never pay more or sell for less than the strategy asked.
"""

from __future__ import annotations

from polytraders.model.book import BookView
from polytraders.model.money import ONE, Rounding, round_to_step
from polytraders.model.orders import Side


def passive_price(side: Side, price: int, tick: int) -> int:
    """``price`` on the ``tick`` grid, rounded away from the other side of the book
    (BUY down, SELL up). Micro-units.

    Raises:
        ValueError: ``tick`` not positive.
    """
    return round_to_step(price, tick, Rounding.DOWN if side is Side.BUY else Rounding.UP)


def clamp_to_range(side: Side, price: int, tick: int) -> int | None:
    """An on-tick price moved into ``[tick, 1 − tick]`` when that is less aggressive, else None.

    A BUY above ``1 − tick`` becomes ``1 − tick`` (pays less); a BUY below ``tick`` cannot be
    placed (None). A SELL below ``tick`` becomes ``tick`` (receives more); a SELL above
    ``1 − tick`` cannot be placed (None).
    """
    if side is Side.BUY:
        if price < tick:
            return None
        return min(price, ONE - tick)
    if price > ONE - tick:
        return None
    return max(price, tick)


def round_size(size: int, step: int) -> int:
    """``size`` rounded down to the venue's size step (micro-shares); never larger."""
    return round_to_step(size, step, Rounding.DOWN)


def would_cross(side: Side, price: int, book: BookView) -> bool:
    """True when an order at ``price`` would trade on arrival against ``book`` (a BUY at or above
    the best ask, a SELL at or below the best bid)."""
    if side is Side.BUY:
        ask = book.best_ask()
        return ask is not None and price >= ask
    bid = book.best_bid()
    return bid is not None and price <= bid
