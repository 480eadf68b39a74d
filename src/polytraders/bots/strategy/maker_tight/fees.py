"""Fee manager: what trading a market costs, from Polymarket's taker-fee formula.

Quotes are post-only makers, and makers pay no fee on Polymarket; but inventory a maker picks up
may have to be closed by taking liquidity, which pays ``shares × rate × p × (1 − p)``
(:func:`polytraders.model.fees.taker_fee_micros`, ``../shared/POLYMARKET.md`` "Fees"). The fee
manager turns that into a spread floor: a quote's half-spread should cover ``fee_cover_pct`` % of
the taker fee per share at the fair value, so a round trip closed by a taker is not a loss by
construction. Rates come from the category table (configuration, parts per million).
"""

from __future__ import annotations

from collections.abc import Mapping

from polytraders.model.fees import DEFAULT_FEE_RATES_PPM, taker_fee_micros
from polytraders.model.money import MICROS

_HALF_SPREAD_CACHE_SIZE = 65_536
"""Entries :meth:`FeeManager.min_half_spread_ticks` remembers before starting afresh."""


class FeeManager:
    """Per-market fee figures.

    Args:
        fee_cover_pct: percentage (0–200) of the per-share taker fee the half-spread must cover.
        rates_ppm: taker fee rate per market category, parts per million; categories missing
            from it use the ``"other"`` rate.

    Raises:
        ValueError: ``fee_cover_pct`` negative, or ``rates_ppm`` without an ``"other"`` rate.
    """

    __slots__ = ("_cover_pct", "_half_spread_ticks", "_rates")

    def __init__(
        self, fee_cover_pct: int, rates_ppm: Mapping[str, int] = DEFAULT_FEE_RATES_PPM
    ) -> None:
        if fee_cover_pct < 0:
            raise ValueError("fee_cover_pct must not be negative")
        if "other" not in rates_ppm:
            raise ValueError("the fee table needs an 'other' rate")
        self._cover_pct = fee_cover_pct
        self._rates = dict(rates_ppm)
        # (category, fair, tick) -> min_half_spread_ticks: a pure function of its arguments
        # (the rates and cover are fixed at construction), asked on every quoting decision
        self._half_spread_ticks: dict[tuple[str, int, int], int] = {}

    def rate_ppm(self, category: str) -> int:
        """Taker fee rate of a category (ppm), ``"other"`` when the category is not listed."""
        return self._rates.get(category, self._rates["other"])

    def taker_fee_per_share_micros(self, category: str, price: int) -> int:
        """Taker fee (micro-pUSD) for one share at ``price``, rounded as the venue rounds."""
        return taker_fee_micros(MICROS, price, self.rate_ppm(category))

    def maker_fee_micros(self, size: int, price: int) -> int:
        """Fee a post-only maker fill pays: 0 on Polymarket (makers pay none)."""
        del size, price
        return 0

    def min_half_spread_ticks(self, category: str, fair: int, tick: int) -> int:
        """Fewest whole ticks of half-spread covering ``fee_cover_pct`` % of the per-share taker
        fee at ``fair`` (ceiling).

        Example: crypto (0.07), fair 0.50, 50 % cover, tick 0.01: fee per share 0.0175,
        half of it 0.00875 → 1 tick.

        Raises:
            ValueError: ``tick`` not positive.
        """
        key = (category, fair, tick)
        ticks = self._half_spread_ticks.get(key)
        if ticks is None:
            if tick <= 0:
                raise ValueError("tick must be positive")
            needed = self.taker_fee_per_share_micros(category, fair) * self._cover_pct
            ticks = -(-needed // (100 * tick))
            if len(self._half_spread_ticks) >= _HALF_SPREAD_CACHE_SIZE:
                self._half_spread_ticks.clear()
            self._half_spread_ticks[key] = ticks
        return ticks
