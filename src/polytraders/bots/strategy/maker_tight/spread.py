"""Spread engine: where to quote, in whole ticks around an inventory-skewed fair value.

Half-spread (ticks, an integer ≥ 1)::

    half = max(base_half_spread_ticks
               + ⌈vol_widen_ratio × atr_ticks⌉
               + (volatile_extra_ticks if the regime is VOLATILE else 0)
               + ⌈inventory_widen_ticks × |net| / max_position⌉,
               fee floor ticks)

Reservation price (micro-units): ``center = fair − ⌊inventory_skew_ticks × tick × net /
max_position⌋`` — long inventory lowers both quotes so the ask is likelier to fill and the bid
less (the inventory term of Avellaneda & Stoikov, "High-frequency trading in a limit order book",
2008, in its linear form). ``net`` is clamped to ``±max_position``.

Quotes: ``bid = ⌊center − half × tick⌋_tick``, ``ask = ⌈center + half × tick⌉_tick``; then
post-only clamps so a quote never crosses the book (``bid ≤ best ask − tick``, ``ask ≥ best bid
+ tick``); a side outside Polymarket's price range ``[tick, 1 − tick]`` is dropped. Hence
``ask − bid ≥ 2 ticks`` always, and both quotes rest.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from polytraders.bots.strategy.maker_tight.fair_value import MergedTop
from polytraders.bots.strategy.maker_tight.regime import Regime, RegimeReading
from polytraders.model.money import ONE, Rounding, round_to_step


class QuotePrices(NamedTuple):
    """Target prices (micro-units) of the primary token; None where a side is not quoted."""

    bid: int | None
    ask: int | None
    half_spread_ticks: int
    center: int


class SpreadEngine:
    """Computes quote prices. See the module docstring for the formulas.

    Args:
        base_half_spread_ticks: minimum half-spread (≥ 1 tick).
        vol_widen_ratio: half-spread ticks added per tick of ATR (≥ 0).
        volatile_extra_ticks: extra half-spread ticks in the VOLATILE regime (≥ 0).
        inventory_widen_ticks: extra half-spread ticks at full inventory (≥ 0).
        inventory_skew_ticks: reservation-price shift at full inventory (≥ 0).

    Raises:
        ValueError: an argument out of range.
    """

    __slots__ = ("_base", "_inv_skew", "_inv_widen", "_vol_extra", "_vol_ratio")

    def __init__(
        self,
        base_half_spread_ticks: int,
        vol_widen_ratio: float,
        volatile_extra_ticks: int,
        inventory_widen_ticks: int,
        inventory_skew_ticks: int,
    ) -> None:
        if base_half_spread_ticks < 1:
            raise ValueError("the half-spread is at least one tick")
        if (
            min(vol_widen_ratio, volatile_extra_ticks, inventory_widen_ticks, inventory_skew_ticks)
            < 0
        ):
            raise ValueError("widening and skew parameters must not be negative")
        self._base = base_half_spread_ticks
        self._vol_ratio = vol_widen_ratio
        self._vol_extra = volatile_extra_ticks
        self._inv_widen = inventory_widen_ticks
        self._inv_skew = inventory_skew_ticks

    def half_spread_ticks(
        self, reading: RegimeReading | None, net: int, max_position: int, fee_floor_ticks: int
    ) -> int:
        """Half-spread in whole ticks (≥ 1). ``reading`` None (no history) adds no volatility.

        Raises:
            ValueError: ``max_position`` not positive.
        """
        if max_position <= 0:
            raise ValueError("max_position must be positive")
        half = self._base
        if reading is not None:
            half += math.ceil(self._vol_ratio * reading.atr_ticks)
            if reading.regime is Regime.VOLATILE:
                half += self._vol_extra
        used = min(abs(net), max_position)
        half += -(-self._inv_widen * used // max_position)
        return max(half, fee_floor_ticks, 1)

    def center(self, fair: int, tick: int, net: int, max_position: int) -> int:
        """Inventory-skewed reservation price (micro-units)."""
        clamped = max(-max_position, min(net, max_position))
        return fair - (self._inv_skew * tick * clamped) // max_position

    def quote_prices(
        self,
        fair: int,
        tick: int,
        top: MergedTop,
        *,
        reading: RegimeReading | None,
        net: int,
        max_position: int,
        fee_floor_ticks: int,
    ) -> QuotePrices:
        """Bid and ask targets for the primary token that never cross ``top``.

        Raises:
            ValueError: ``tick`` or ``max_position`` not positive.
        """
        if tick <= 0:
            raise ValueError("tick must be positive")
        half = self.half_spread_ticks(reading, net, max_position, fee_floor_ticks)
        center = self.center(fair, tick, net, max_position)
        bid = round_to_step(center - half * tick, tick, Rounding.DOWN)
        ask = round_to_step(center + half * tick, tick, Rounding.UP)
        bid = min(bid, round_to_step(top.ask - tick, tick, Rounding.DOWN))
        ask = max(ask, round_to_step(top.bid + tick, tick, Rounding.UP))
        return QuotePrices(
            bid if bid >= tick else None, ask if ask <= ONE - tick else None, half, center
        )
