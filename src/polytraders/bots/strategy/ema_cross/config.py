"""Configuration and search space of ``strat.ema_cross`` (the shared fields and their units:
:class:`~polytraders.bots.strategy.signal_trader.SignalConfig`). Hard limits are the
``ge``/``le`` bounds; the defaults lie inside them."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from polytraders.bots.strategy.signal_trader import SignalConfig
from polytraders.contracts.search_space import CategoricalParam, FloatParam, IntParam, SearchSpace


class EmaCrossConfig(SignalConfig):
    """Parameters of the EMA crossover strategy."""

    fast_span_bars_n: int = Field(default=5, ge=1, le=1_000)
    """Span of the fast EMA of the closes, in bars."""

    slow_span_bars_n: int = Field(default=20, ge=2, le=5_000)
    """Span of the slow EMA, in bars (more than the fast span); signals start after this many
    closes."""

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast_span_bars_n >= self.slow_span_bars_n:
            raise ValueError("fast_span_bars_n must be below slow_span_bars_n")
        return self


SEARCH_SPACE = SearchSpace(
    EmaCrossConfig,
    IntParam(name="bar_s", low=5, high=120, step=5),
    IntParam(name="fast_span_bars_n", low=2, high=15),
    IntParam(name="slow_span_bars_n", low=16, high=80, step=4),
    IntParam(name="take_profit_bps", low=0, high=5_000, step=250),
    IntParam(name="stop_loss_bps", low=0, high=5_000, step=250),
    IntParam(name="regime_ema_bars_n", low=5, high=100, step=5),
    FloatParam(name="volatile_trend_ticks", low=1.0, high=100.0, log=True),
    FloatParam(name="volatile_atr_ticks", low=1.0, high=100.0, log=True),
    CategoricalParam(name="order_lifetime_s", choices=(60, 120, 300)),
)
"""The tunable parameters of :class:`EmaCrossConfig` (fast spans stay below slow spans; the
notional, ``allow_short`` and the end window are the operator's choices, not tunables)."""
