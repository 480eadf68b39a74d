"""``strat.ema_cross``: directional EMA crossover (seed 004, Day 88 "DirectionalController v1
(EMA crossover), reuses RegimeDetector").

Per token, on each bar close (:mod:`polytraders.bots.strategy.signal_trader`: bars, regime,
targets, orders, position rules):

1. The fast and slow EMAs (:class:`~polytraders.bots.strategy.indicators.Ema`) take the close;
   until ``slow_span_bars_n`` closes were seen the strategy is warming up (no signal).
2. A bullish cross (``fast − slow`` turns positive, :func:`~polytraders.bots.strategy.
   indicators.cross_sign`) targets a long when the regime detector reads VOLATILE — the close
   has run from its regime EMA by ``volatile_trend_ticks`` or moves ``volatile_atr_ticks`` per
   bar: a trending market; in a NORMAL (flat) regime the cross is ignored, except that it
   closes a short (held or being entered).
3. A bearish cross targets a short when ``allow_short`` is set and the regime is VOLATILE;
   otherwise it targets flat (closes a long).
"""

from __future__ import annotations

import random
from typing import ClassVar

from polytraders.bots.strategy.ema_cross.config import SEARCH_SPACE, EmaCrossConfig
from polytraders.bots.strategy.indicators import Ema, cross_sign
from polytraders.bots.strategy.maker_tight.regime import Regime, RegimeReading
from polytraders.bots.strategy.signal_trader import Out, SignalTrader, signal_codes
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace

CODES = signal_codes("STRAT_EMA")
"""The strategy's codes (registered in contracts/reasons.toml, owner strat.ema_cross)."""


class _Averages:
    """The fast and slow EMAs of one token, the last ``fast − slow`` and the closes seen."""

    __slots__ = ("closes", "diff", "fast", "slow")

    def __init__(self, fast_span: int, slow_span: int) -> None:
        self.fast = Ema(fast_span)
        self.slow = Ema(slow_span)
        self.diff: float | None = None
        self.closes = 0


class EmaCross(SignalTrader[EmaCrossConfig]):
    """The EMA crossover strategy. See the module docstring for the decision logic."""

    bot_id: ClassVar[str] = "strat.ema_cross"
    bot_class: ClassVar[BotClass] = BotClass.STRATEGY
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[EmaCrossConfig]] = EmaCrossConfig
    CODES = CODES
    RUNTIME_BUDGET: ClassVar[RuntimeBudget] = RuntimeBudget(
        decision_p95_us=500,
        decision_p99_us=1500,
        error_rate_max_ppm=1_000,
        reject_rate_min_bps=0,
        reject_rate_max_bps=3000,
        calibration=(
            "latency: O(1) per event (two EMA updates and one regime update per bar close, "
            "one order comparison); budgets set at maker_tight's level or below pending a "
            "recorded run; reject band as maker_tight's"
        ),
    )
    SEARCH_SPACE: ClassVar[SearchSpace] = SEARCH_SPACE
    reason_codes: ClassVar[frozenset[str]] = frozenset(CODES)

    def __init__(
        self, config: EmaCrossConfig | None = None, rng: random.Random | None = None
    ) -> None:
        super().__init__(config, rng)
        self._averages: dict[str, _Averages] = {}

    def reset(self) -> None:
        """Forget the EMAs and everything :meth:`SignalTrader.reset` forgets."""
        super().reset()
        self._averages.clear()

    def _on_close(
        self,
        token_id: str,
        close: int,
        reading: RegimeReading,
        held: int,
        out: Out,
    ) -> int | None:
        c = self.config
        averages = self._averages.get(token_id)
        if averages is None:
            averages = self._averages[token_id] = _Averages(c.fast_span_bars_n, c.slow_span_bars_n)
        diff = averages.fast.update(close) - averages.slow.update(close)
        cross = cross_sign(averages.diff, diff)
        averages.diff = diff
        averages.closes += 1
        if averages.closes < c.slow_span_bars_n:
            out.code(CODES.warming_up)
            return None
        trending = reading.regime is Regime.VOLATILE
        if cross > 0:
            if trending:
                return 1
            out.code(CODES.regime_blocked)
            return 0 if held < 0 else None
        if cross < 0:
            if c.allow_short and trending:
                return -1
            if c.allow_short:
                out.code(CODES.regime_blocked)
            return 0
        return None
