"""Regime detector: hand-computed EMA/ATR updates, hysteresis, same-instant coalescing, and a
replay of real recorded fair values."""

from __future__ import annotations

import math

import pytest
from bench.data import polymarket_snapshots

from polytraders.bots.strategy.maker_tight.regime import Regime, RegimeDetector

TICK = 1_000


def detector(**kw: float) -> RegimeDetector:
    args = {
        "ema_span_events": 3,
        "atr_span_events": 3,
        "volatile_atr_ticks": 2.0,
        "volatile_trend_ticks": 50.0,
        "exit_ratio": 0.5,
    }
    args.update(kw)
    return RegimeDetector(**args)  # type: ignore[arg-type]


def test_hand_computed_update() -> None:
    d = detector()  # α = β = 2 / 4 = 0.5
    first = d.update("m", 1, 500_000, TICK)
    assert (first.ema_ticks, first.atr_ticks, first.regime) == (500.0, 0.0, Regime.NORMAL)
    second = d.update("m", 2, 504_000, TICK)  # move 4 ticks
    assert second.ema_ticks == pytest.approx(502.0)
    assert second.atr_ticks == pytest.approx(2.0)  # 0 + 0.5 × (4 − 0)
    assert second.regime is Regime.VOLATILE  # atr reached 2 ticks
    assert second.observations == 2


def test_hysteresis_leaves_volatile_only_below_the_exit_level() -> None:
    d = detector()
    d.update("m", 1, 500_000, TICK)
    d.update("m", 2, 504_000, TICK)  # atr 2.0 → VOLATILE
    r = d.update("m", 3, 504_000, TICK)  # atr 1.0: below 2 but not below 1.0 (exit level)
    assert r.atr_ticks == pytest.approx(1.0)
    assert r.regime is Regime.VOLATILE
    r = d.update("m", 4, 504_000, TICK)  # atr 0.5 < 1.0 and trend small → NORMAL
    assert r.regime is Regime.NORMAL


def test_same_instant_replaces_the_last_observation() -> None:
    a, b = detector(), detector()
    a.update("m", 1, 500_000, TICK)
    a.update("m", 2, 503_000, TICK)
    a.update("m", 2, 503_000, TICK)  # the complement's message at the same venue time
    b.update("m", 1, 500_000, TICK)
    b.update("m", 2, 503_000, TICK)
    assert a.reading("m") == b.reading("m")
    a.update("m", 2, 502_000, TICK)  # a later message at the same instant corrects it
    c = detector()
    c.update("m", 1, 500_000, TICK)
    c.update("m", 2, 502_000, TICK)
    assert a.reading("m") == c.reading("m")


def test_markets_are_independent_and_reset_forgets() -> None:
    d = detector()
    d.update("a", 1, 500_000, TICK)
    d.update("a", 2, 510_000, TICK)
    assert d.reading("b") is None
    d.update("b", 1, 300_000, TICK)
    assert d.reading("b").regime is Regime.NORMAL  # type: ignore[union-attr]
    d.reset()
    assert d.reading("a") is None


def test_trend_alone_can_make_it_volatile() -> None:
    d = detector(volatile_atr_ticks=100.0, volatile_trend_ticks=3.0)
    d.update("m", 1, 500_000, TICK)
    r = d.update("m", 2, 508_000, TICK)  # ema 504 → trend 4 ≥ 3, atr 4 < 100
    assert r.trend_ticks == pytest.approx(4.0)
    assert r.regime is Regime.VOLATILE


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="spans"):
        detector(ema_span_events=0)
    with pytest.raises(ValueError, match="thresholds"):
        detector(exit_ratio=1.5)
    with pytest.raises(ValueError, match="tick"):
        detector().update("m", 1, 1, 0)


@pytest.mark.slow
def test_real_sample_mid_replay_is_finite_and_sees_both_regimes() -> None:
    d = detector(
        ema_span_events=20, atr_span_events=20, volatile_atr_ticks=5.0, volatile_trend_ticks=30.0
    )
    regimes: set[Regime] = set()
    for key, ts_ns, bids, asks in polymarket_snapshots():
        if not key.endswith(":UP") or not bids or not asks:
            continue
        r = d.update(key.split(":")[0], ts_ns, (bids[0][0] + asks[0][0]) // 2, TICK)
        assert math.isfinite(r.atr_ticks) and r.atr_ticks >= 0
        regimes.add(r.regime)
    assert regimes == {Regime.NORMAL, Regime.VOLATILE}
