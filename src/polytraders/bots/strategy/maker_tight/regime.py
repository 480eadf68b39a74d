"""Volatility regime per market from O(1) running indicators.

Per market the detector keeps, in ticks (floats: analytics, never money):

- ``ema``: exponential moving average of the fair value, ``ema += α (fair − ema)`` with
  ``α = 2 / (span + 1)`` (the usual span convention);
- ``atr``: ATR-style average absolute move of the fair value between observations,
  ``atr += β (|fair − previous fair| − atr)``;
- ``trend``: ``|fair − ema|``, how far the price has run from its average.

The regime is VOLATILE when ``atr`` reaches ``volatile_atr_ticks`` or ``trend`` reaches
``volatile_trend_ticks``, and returns to NORMAL only when both fall below ``exit_ratio`` times
their thresholds (hysteresis: no flapping at the boundary; the earlier desk's "regime hold"
lesson, ``../shared/seeds/004_*.txt`` Day 64). Each update is O(1).

Several events can carry the same venue time (both tokens of a market snapshotted together).
Observations with the same ``ts_ns`` as the previous one *replace* it instead of adding a
zero move, so a two-token update counts once and the detector is independent of how the venue
splits one instant into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec


class Regime(StrEnum):
    """NORMAL or VOLATILE (wider quotes)."""

    NORMAL = "NORMAL"
    VOLATILE = "VOLATILE"


@dataclass(slots=True)
class _State:
    ts_ns: int
    fair_ticks: float
    ema: float
    atr: float
    regime: Regime
    count: int


class RegimeReading(msgspec.Struct, frozen=True):
    """The indicators of one market after an update (ticks) and its regime.

    ``observations`` counts distinct venue times seen (a warm-up gauge). Immutable, compared
    by value (a frozen msgspec struct: cheap to build, one per market-data event).
    """

    ema_ticks: float
    atr_ticks: float
    trend_ticks: float
    regime: Regime
    observations: int


class RegimeDetector:
    """Running EMA / ATR regime detector, one state per market id.

    Args:
        ema_span_events: span of the fair-value EMA (≥ 1).
        atr_span_events: span of the ATR average (≥ 1).
        volatile_atr_ticks: ATR (ticks) at or above which the regime is VOLATILE (> 0).
        volatile_trend_ticks: ``|fair − ema|`` (ticks) at or above which it is VOLATILE (> 0).
        exit_ratio: fraction of each threshold both indicators must fall below to leave
            VOLATILE (0 < r ≤ 1).

    Raises:
        ValueError: an argument out of range.
    """

    __slots__ = (
        "_alpha",
        "_atr_exit",
        "_atr_on",
        "_beta",
        "_prev",
        "_state",
        "_trend_exit",
        "_trend_on",
    )

    def __init__(
        self,
        ema_span_events: int,
        atr_span_events: int,
        volatile_atr_ticks: float,
        volatile_trend_ticks: float,
        exit_ratio: float,
    ) -> None:
        if ema_span_events < 1 or atr_span_events < 1:
            raise ValueError("spans must be at least 1")
        if volatile_atr_ticks <= 0 or volatile_trend_ticks <= 0 or not 0 < exit_ratio <= 1:
            raise ValueError("thresholds must be positive and exit_ratio in (0, 1]")
        self._alpha = 2.0 / (ema_span_events + 1)
        self._beta = 2.0 / (atr_span_events + 1)
        self._atr_on = volatile_atr_ticks
        self._trend_on = volatile_trend_ticks
        self._atr_exit = volatile_atr_ticks * exit_ratio
        self._trend_exit = volatile_trend_ticks * exit_ratio
        self._state: dict[str, _State] = {}
        self._prev: dict[str, _State | None] = {}

    def reset(self) -> None:
        """Forget every market."""
        self._state.clear()
        self._prev.clear()

    def update(self, market_id: str, ts_ns: int, fair: int, tick: int) -> RegimeReading:
        """Add one fair-value observation (micro-units, on a ``tick`` grid of micro-units).

        Raises:
            ValueError: ``tick`` not positive.
        """
        if tick <= 0:
            raise ValueError("tick must be positive")
        fair_ticks = fair / tick
        state = self._state.get(market_id)
        if state is not None and state.ts_ns == ts_ns:
            base = self._prev.get(market_id)  # same instant: redo the last update
        else:
            base = state
            self._prev[market_id] = (
                None
                if state is None
                else _State(
                    state.ts_ns, state.fair_ticks, state.ema, state.atr, state.regime, state.count
                )
            )
        if base is None:
            new = _State(ts_ns, fair_ticks, fair_ticks, 0.0, Regime.NORMAL, 1)
        else:
            ema = base.ema + self._alpha * (fair_ticks - base.ema)
            atr = base.atr + self._beta * (abs(fair_ticks - base.fair_ticks) - base.atr)
            trend = abs(fair_ticks - ema)
            regime = base.regime
            if atr >= self._atr_on or trend >= self._trend_on:
                regime = Regime.VOLATILE
            elif atr < self._atr_exit and trend < self._trend_exit:
                regime = Regime.NORMAL
            new = _State(ts_ns, fair_ticks, ema, atr, regime, base.count + 1)
        self._state[market_id] = new
        return RegimeReading(new.ema, new.atr, abs(new.fair_ticks - new.ema), new.regime, new.count)

    def reading(self, market_id: str) -> RegimeReading | None:
        """The market's current reading, or None before its first observation."""
        s = self._state.get(market_id)
        if s is None:
            return None
        return RegimeReading(s.ema, s.atr, abs(s.fair_ticks - s.ema), s.regime, s.count)
