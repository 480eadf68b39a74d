"""Configuration and search space of ``strat.mean_reversion`` (the shared fields and their
units: :class:`~polytraders.bots.strategy.signal_trader.SignalConfig`). Hard limits are the
``ge``/``le`` bounds; the defaults lie inside them."""

from __future__ import annotations

from pydantic import Field

from polytraders.bots.strategy.signal_trader import SignalConfig
from polytraders.contracts.search_space import CategoricalParam, FloatParam, IntParam, SearchSpace


class MeanReversionConfig(SignalConfig):
    """Parameters of the Bollinger / RSI mean-reversion strategy."""

    band_window_bars_n: int = Field(default=20, ge=2, le=5_000)
    """Closes in the Bollinger window (mean and population standard deviation)."""

    band_stddevs_ratio: float = Field(default=2.0, ge=0.5, le=5.0)
    """Band half-width in standard deviations."""

    rsi_period_bars_n: int = Field(default=14, ge=2, le=1_000)
    """Wilder's RSI period, in bars."""

    rsi_oversold_pct: int = Field(default=30, ge=1, le=49)
    """RSI at or below which a touch of the lower band is confirmed (a long entry)."""

    rsi_overbought_pct: int = Field(default=70, ge=51, le=99)
    """RSI at or above which a touch of the upper band is confirmed (a short entry, with
    ``allow_short``)."""

    volatile_trend_ticks: float = Field(default=30.0, ge=0.5, le=10_000.0)
    """Distance of the close from the regime EMA (ticks) at or above which the regime is
    VOLATILE (no longer neutral: no entry, a held position is closed)."""


SEARCH_SPACE = SearchSpace(
    MeanReversionConfig,
    IntParam(name="bar_s", low=5, high=120, step=5),
    IntParam(name="band_window_bars_n", low=10, high=60, step=5),
    FloatParam(name="band_stddevs_ratio", low=1.0, high=3.0, step=0.25),
    IntParam(name="rsi_period_bars_n", low=5, high=30),
    IntParam(name="rsi_oversold_pct", low=10, high=40, step=5),
    IntParam(name="rsi_overbought_pct", low=60, high=90, step=5),
    IntParam(name="stop_loss_bps", low=0, high=5_000, step=250),
    FloatParam(name="volatile_trend_ticks", low=5.0, high=200.0, log=True),
    FloatParam(name="volatile_atr_ticks", low=1.0, high=100.0, log=True),
    CategoricalParam(name="order_lifetime_s", choices=(60, 120, 300)),
)
"""The tunable parameters of :class:`MeanReversionConfig` (the notional, ``allow_short`` and
the end window are the operator's choices, not tunables)."""
