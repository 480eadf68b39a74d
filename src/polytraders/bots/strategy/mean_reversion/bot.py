"""``strat.mean_reversion``: Bollinger bands and Wilder RSI on bar closes, in a neutral regime
only (seed 004, Day 97 "MeanReversionController v1 (Bollinger/RSI), regime gate: neutral
only").

Per token, on each bar close (:mod:`polytraders.bots.strategy.signal_trader`: bars, regime,
targets, orders, position rules):

1. The bands (:class:`~polytraders.bots.strategy.indicators.RollingBands`) and the RSI
   (:class:`~polytraders.bots.strategy.indicators.WilderRsi`) take the close; until both have
   a reading the strategy is warming up.
2. When the regime detector reads VOLATILE (not neutral), the target is flat: nothing is
   entered, a held position is closed, a working entry is withdrawn.
3. Holding (or entering) a long, a close at or above the mean targets flat; a short, a close at
   or below the mean.
4. Flat in a NORMAL regime: a close at or below the lower band with RSI ≤ ``rsi_oversold_pct``
   targets a long; at or above the upper band with RSI ≥ ``rsi_overbought_pct`` a short, only
   with ``allow_short``.
"""

from __future__ import annotations

import random
from typing import ClassVar

from polytraders.bots.strategy.indicators import RollingBands, WilderRsi
from polytraders.bots.strategy.maker_tight.regime import Regime, RegimeReading
from polytraders.bots.strategy.mean_reversion.config import SEARCH_SPACE, MeanReversionConfig
from polytraders.bots.strategy.signal_trader import Out, SignalTrader, signal_codes
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace

CODES = signal_codes("STRAT_MR")
"""The strategy's codes (registered in contracts/reasons.toml, owner strat.mean_reversion)."""


class MeanReversion(SignalTrader[MeanReversionConfig]):
    """The Bollinger / RSI mean-reversion strategy. See the module docstring."""

    bot_id: ClassVar[str] = "strat.mean_reversion"
    bot_class: ClassVar[BotClass] = BotClass.STRATEGY
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[MeanReversionConfig]] = MeanReversionConfig
    CODES = CODES
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=500,
        decision_p99_us=1500,
        error_rate_max_ppm=1_000,
        reject_rate_min_bps=0,
        reject_rate_max_bps=3000,
        calibration=(
            "latency: O(1) per event (one band, RSI and regime update per bar close, one "
            "order comparison); budgets set at maker_tight's level or below pending a "
            "recorded run; reject band as maker_tight's"
        ),
    )
    SEARCH_SPACE: ClassVar[SearchSpace] = SEARCH_SPACE
    reason_codes: ClassVar[frozenset[str]] = frozenset(CODES)

    def __init__(
        self, config: MeanReversionConfig | None = None, rng: random.Random | None = None
    ) -> None:
        super().__init__(config, rng)
        self._bands: dict[str, RollingBands] = {}
        self._rsi: dict[str, WilderRsi] = {}

    def reset(self) -> None:
        """Forget the bands and RSI and everything :meth:`SignalTrader.reset` forgets."""
        super().reset()
        self._bands.clear()
        self._rsi.clear()

    def _on_close(
        self,
        token_id: str,
        close: int,
        reading: RegimeReading,
        held: int,
        out: Out,
    ) -> int | None:
        c = self.config
        bands_of = self._bands.get(token_id)
        if bands_of is None:
            bands_of = self._bands[token_id] = RollingBands(
                c.band_window_bars_n, c.band_stddevs_ratio
            )
            self._rsi[token_id] = WilderRsi(c.rsi_period_bars_n)
        bands = bands_of.update(close)
        rsi = self._rsi[token_id].update(close)
        if bands is None or rsi is None:
            out.code(CODES.warming_up)
            return None
        if reading.regime is Regime.VOLATILE:
            out.code(CODES.regime_blocked)
            return 0
        if (held > 0 and close >= bands.mean) or (held < 0 and close <= bands.mean):
            return 0
        if held == 0:
            if close <= bands.lower and rsi <= c.rsi_oversold_pct:
                return 1
            if close >= bands.upper and rsi >= c.rsi_overbought_pct and c.allow_short:
                return -1
        return None
