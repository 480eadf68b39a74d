"""Price indicators of the signal strategies (``strat.ema_cross``, ``strat.mean_reversion``):
small running units fed one bar close (a mid price in micro-units) at a time.

Floats are analytics here (DESIGN.md "Numbers"): they never become a price or a size. Every
unit is a deterministic function of the sequence of closes it was fed (IEEE-754 arithmetic in a
fixed order), so the same closes always give the same readings and the same signals.

- :class:`Ema`: ``ema += α (x − ema)``, ``α = 2 / (span + 1)``, seeded with the first close
  (the span convention of the regime detector, :mod:`..maker_tight.regime`).
- :class:`RollingBands`: Bollinger bands over the last ``window`` closes: mean ± k·σ with the
  population standard deviation (Bollinger, *Bollinger on Bollinger Bands*, 2001). Sums of the
  closes and of their squares are kept as exact integers, so the variance numerator
  ``n·Σx² − (Σx)²`` is exact and never negative.
- :class:`WilderRsi`: Wilder's RSI (*New Concepts in Technical Trading Systems*, 1978): the
  first averages are the simple means of the first ``period`` gains and losses, then
  ``avg = (avg·(period − 1) + x) / period``; ``RSI = 100 − 100 / (1 + avg_gain / avg_loss)``,
  100 when there was no loss, 50 when there was no move at all.
- :func:`cross_sign`: the crossover rule: the sign of ``fast − slow`` turns.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec


class Ema:
    """Exponential moving average of the closes fed to :meth:`update`.

    Args:
        span: the span in closes (≥ 1); ``α = 2 / (span + 1)``.

    Raises:
        ValueError: ``span`` below 1.
    """

    __slots__ = ("_alpha", "value")

    def __init__(self, span: int) -> None:
        if span < 1:
            raise ValueError("span must be at least 1")
        self._alpha = 2.0 / (span + 1)
        self.value: float | None = None
        """The average after the last close, None before the first."""

    def update(self, close: int) -> float:
        """Add one close (micro-units) and return the new average."""
        if self.value is None:
            self.value = float(close)
        else:
            self.value += self._alpha * (close - self.value)
        return self.value


class Bands(msgspec.Struct, frozen=True):
    """Bollinger bands of the last ``window`` closes (micro-units as floats):
    ``lower ≤ mean ≤ upper``, ``upper − mean = mean − lower = k·stddev``."""

    lower: float
    mean: float
    upper: float
    stddev: float


class RollingBands:
    """Bollinger bands over a sliding window of closes.

    Args:
        window: closes in the window (≥ 2).
        stddevs_ratio: band half-width in standard deviations (> 0).

    Raises:
        ValueError: an argument out of range.
    """

    __slots__ = ("_closes", "_k", "_sum", "_sum_sq", "_window")

    def __init__(self, window: int, stddevs_ratio: float) -> None:
        if window < 2 or not stddevs_ratio > 0:
            raise ValueError("window must be at least 2 and stddevs_ratio positive")
        self._window = window
        self._k = stddevs_ratio
        self._closes: deque[int] = deque()
        self._sum = 0
        self._sum_sq = 0

    def update(self, close: int) -> Bands | None:
        """Add one close (micro-units); the bands once the window is full, else None."""
        self._closes.append(close)
        self._sum += close
        self._sum_sq += close * close
        if len(self._closes) > self._window:
            old = self._closes.popleft()
            self._sum -= old
            self._sum_sq -= old * old
        n = len(self._closes)
        if n < self._window:
            return None
        mean = self._sum / n
        stddev = math.sqrt(n * self._sum_sq - self._sum * self._sum) / n
        return Bands(mean - self._k * stddev, mean, mean + self._k * stddev, stddev)


class WilderRsi:
    """Wilder's relative strength index of the closes fed to :meth:`update` (0 to 100).

    Args:
        period: Wilder's smoothing period in closes (≥ 1).

    Raises:
        ValueError: ``period`` below 1.
    """

    __slots__ = ("_gain", "_last", "_loss", "_period", "_seen")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError("period must be at least 1")
        self._period = period
        self._last: int | None = None
        self._seen = 0
        self._gain = 0.0
        self._loss = 0.0

    def update(self, close: int) -> float | None:
        """Add one close (micro-units); the RSI once ``period`` moves were seen, else None."""
        last, self._last = self._last, close
        if last is None:
            return None
        move = close - last
        gain, loss = (move, 0) if move > 0 else (0, -move)
        p = self._period
        self._seen += 1
        if self._seen <= p:  # seeding: simple means of the first `period` moves
            self._gain += gain / p
            self._loss += loss / p
            if self._seen < p:
                return None
        else:
            self._gain = (self._gain * (p - 1) + gain) / p
            self._loss = (self._loss * (p - 1) + loss) / p
        if self._loss == 0.0:
            return 50.0 if self._gain == 0.0 else 100.0
        return 100.0 - 100.0 / (1.0 + self._gain / self._loss)


def cross_sign(previous_diff: float | None, diff: float) -> int:
    """The crossover of two averages from their difference ``fast − slow`` before and now:
    +1 when it turns positive (a bullish cross: it was ≤ 0, it is > 0), −1 when it turns
    negative (was ≥ 0, is < 0), 0 otherwise (no previous difference, or no change of sign)."""
    if previous_diff is None:
        return 0
    if diff > 0 >= previous_diff:
        return 1
    if diff < 0 <= previous_diff:
        return -1
    return 0
