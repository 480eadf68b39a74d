"""Spread engine, order sizer and fee manager: hand-computed cases and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.bots.strategy.maker_tight.fair_value import MergedTop
from polytraders.bots.strategy.maker_tight.fees import FeeManager
from polytraders.bots.strategy.maker_tight.regime import Regime, RegimeReading
from polytraders.bots.strategy.maker_tight.sizer import OrderSizer, QuoteSizes
from polytraders.bots.strategy.maker_tight.spread import SpreadEngine
from polytraders.model.money import ONE

TICK = 1_000
MAX = 100_000_000


def engine(**kw: float) -> SpreadEngine:
    args = {
        "base_half_spread_ticks": 1,
        "vol_widen_ratio": 1.0,
        "volatile_extra_ticks": 1,
        "inventory_widen_ticks": 1,
        "inventory_skew_ticks": 2,
    }
    args.update(kw)
    return SpreadEngine(**args)  # type: ignore[arg-type]


def reading(atr: float, regime: Regime = Regime.NORMAL) -> RegimeReading:
    return RegimeReading(0.0, atr, 0.0, regime, 10)


# ---------------------------------------------------------------- fee manager
def test_fee_floor_hand_computed() -> None:
    fees = FeeManager(50)
    # crypto 0.07 × 0.5 × 0.5 = 0.0175 per share; half of it 0.00875 → 9 ticks of 0.001
    assert fees.taker_fee_per_share_micros("crypto", 500_000) == 17_500
    assert fees.min_half_spread_ticks("crypto", 500_000, TICK) == 9
    assert fees.min_half_spread_ticks("crypto", 500_000, 10_000) == 1  # 0.01 tick
    assert fees.min_half_spread_ticks("geopolitics", 500_000, TICK) == 0  # fee-free category
    assert fees.rate_ppm("no-such-category") == 50_000  # "other"
    assert fees.maker_fee_micros(10_000_000, 500_000) == 0
    assert FeeManager(0).min_half_spread_ticks("crypto", 500_000, TICK) == 0


def test_fee_manager_rejects_bad_setup() -> None:
    with pytest.raises(ValueError, match="negative"):
        FeeManager(-1)
    with pytest.raises(ValueError, match="other"):
        FeeManager(10, {"crypto": 1})


# ---------------------------------------------------------------- spread engine
def test_half_spread_components() -> None:
    e = engine()
    assert e.half_spread_ticks(None, 0, MAX, 0) == 1
    assert e.half_spread_ticks(reading(1.2), 0, MAX, 0) == 3  # 1 + ⌈1.2⌉
    assert e.half_spread_ticks(reading(1.2, Regime.VOLATILE), 0, MAX, 0) == 4
    assert e.half_spread_ticks(None, MAX // 2, MAX, 0) == 2  # 1 + ⌈0.5 × 1⌉
    assert e.half_spread_ticks(None, -3 * MAX, MAX, 0) == 2  # clamped at full inventory
    assert e.half_spread_ticks(None, 0, MAX, 7) == 7  # fee floor dominates


def test_center_skews_against_inventory() -> None:
    e = engine()
    assert e.center(500_000, TICK, 0, MAX) == 500_000
    assert e.center(500_000, TICK, MAX, MAX) == 498_000  # long: 2 ticks lower
    assert e.center(500_000, TICK, -MAX // 2, MAX) == 501_000  # short half: 1 tick higher


def test_quotes_hand_computed_and_clamped() -> None:
    e = engine()
    top = MergedTop(480_000, 1, 520_000, 1)
    q = e.quote_prices(500_400, TICK, top, reading=None, net=0, max_position=MAX, fee_floor_ticks=0)
    assert (q.bid, q.ask, q.half_spread_ticks) == (499_000, 502_000, 1)  # ⌊499.4⌋, ⌈501.4⌉
    narrow = MergedTop(499_000, 1, 500_000, 1)  # one-tick market: quotes join the best prices
    q = e.quote_prices(
        499_500, TICK, narrow, reading=None, net=0, max_position=MAX, fee_floor_ticks=5
    )
    assert (q.bid, q.ask) == (494_000, 505_000)
    tight = e.quote_prices(
        499_500, TICK, narrow, reading=None, net=0, max_position=MAX, fee_floor_ticks=0
    )
    assert (tight.bid, tight.ask) == (498_000, 501_000)


def test_extreme_prices_drop_a_side() -> None:
    e = engine()
    top = MergedTop(997_000, 1, 999_000, 1)
    q = e.quote_prices(998_500, TICK, top, reading=None, net=0, max_position=MAX, fee_floor_ticks=2)
    assert q.ask is None and q.bid == 996_000
    low = MergedTop(1_000, 1, 2_000, 1)
    q = e.quote_prices(1_500, TICK, low, reading=None, net=0, max_position=MAX, fee_floor_ticks=2)
    assert q.bid is None and q.ask == 4_000


@given(
    bid=st.integers(1, 997),
    width=st.integers(1, 30),
    fair_frac=st.floats(0, 1),
    atr=st.floats(0, 20),
    net=st.integers(-2 * MAX, 2 * MAX),
    floor=st.integers(0, 10),
    volatile=st.booleans(),
)
def test_quotes_never_cross_and_stay_on_tick(
    bid: int, width: int, fair_frac: float, atr: float, net: int, floor: int, volatile: bool
) -> None:
    bid_px = bid * TICK
    ask_px = min(bid_px + width * TICK, ONE - TICK)
    if ask_px <= bid_px:
        return
    fair = bid_px + int((ask_px - bid_px) * fair_frac)
    top = MergedTop(bid_px, 1, ask_px, 1)
    r = reading(atr, Regime.VOLATILE if volatile else Regime.NORMAL)
    q = engine().quote_prices(
        fair, TICK, top, reading=r, net=net, max_position=MAX, fee_floor_ticks=floor
    )
    assert q.half_spread_ticks >= 1
    if q.bid is not None:
        assert q.bid % TICK == 0 and TICK <= q.bid < ask_px
    if q.ask is not None:
        assert q.ask % TICK == 0 and bid_px < q.ask <= ONE - TICK
    if q.bid is not None and q.ask is not None:
        assert q.ask - q.bid >= 2 * TICK


# ---------------------------------------------------------------- order sizer
def test_sizes_hand_computed() -> None:
    s = OrderSizer(10_000_000, MAX, 50, 10_000)
    assert s.sizes(0, 5_000_000) == QuoteSizes(10_000_000, 10_000_000)
    # long 50 shares: the bid shrinks by 50 % × 0.5 = 25 %
    assert s.sizes(50_000_000, 5_000_000) == QuoteSizes(7_500_000, 10_000_000)
    # long 95 shares: the bid is capped at 5 shares of room
    assert s.sizes(95_000_000, 5_000_000) == QuoteSizes(5_000_000, 10_000_000)
    # long 97 shares: 3 shares of room is below the 5-share minimum → bid not quoted
    assert s.sizes(97_000_000, 5_000_000) == QuoteSizes(0, 10_000_000)
    assert s.sizes(MAX, 5_000_000) == QuoteSizes(0, 10_000_000)
    assert s.sizes(-MAX, 5_000_000) == QuoteSizes(10_000_000, 0)
    # over the limit (fills elsewhere): still only the reducing side
    assert s.sizes(-2 * MAX, 5_000_000) == QuoteSizes(10_000_000, 0)
    # size-step rounding: 10 × (1 − 0.5 × 0.333333) = 8.333335 → 8.33 shares
    assert s.sizes(33_333_330, 1).bid == 8_330_000


def test_sizer_rejects_bad_setup() -> None:
    with pytest.raises(ValueError, match="positive"):
        OrderSizer(0, MAX, 50, 10_000)
    with pytest.raises(ValueError, match="0-100"):
        OrderSizer(1, MAX, 101, 10_000)


@given(
    net=st.integers(-3 * MAX, 3 * MAX),
    skew=st.integers(0, 100),
    size=st.integers(1_000_000, 50_000_000),
    min_size=st.integers(0, 10_000_000),
)
def test_a_fill_of_either_quote_never_exceeds_max_position(
    net: int, skew: int, size: int, min_size: int
) -> None:
    s = OrderSizer(size, MAX, skew, 10_000)
    q = s.sizes(net, min_size)
    assert q.bid >= 0 and q.ask >= 0
    assert q.bid % 10_000 == 0 and q.ask % 10_000 == 0
    if q.bid:
        assert net + q.bid <= MAX and q.bid >= min_size
    if q.ask:
        assert net - q.ask >= -MAX and q.ask >= min_size
