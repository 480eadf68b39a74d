"""Polymarket taker fee: shares × rate × p × (1 − p), rounded to 5 decimals (POLYMARKET.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.fees import DEFAULT_FEE_RATES_PPM, taker_fee_micros


def test_hand_computed_fees() -> None:
    # 10 shares at 0.50, crypto 0.07: 10 * 0.07 * 0.25 = 0.175 pUSD
    assert taker_fee_micros(10_000_000, 500_000, 70_000) == 175_000
    # 3 shares at 0.46: 3 * 0.07 * 0.46 * 0.54 = 0.052164 -> 0.05216
    assert taker_fee_micros(3_000_000, 460_000, 70_000) == 52_160
    # geopolitics is free; price at the extremes pays nothing
    assert taker_fee_micros(10_000_000, 500_000, DEFAULT_FEE_RATES_PPM["geopolitics"]) == 0
    assert taker_fee_micros(10_000_000, 0, 70_000) == 0


def test_rejects_out_of_range_inputs() -> None:
    with pytest.raises(ValueError):
        taker_fee_micros(-1, 500_000, 70_000)
    with pytest.raises(ValueError):
        taker_fee_micros(1, 1_000_001, 70_000)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=1_000_000),
    st.sampled_from(sorted(set(DEFAULT_FEE_RATES_PPM.values()))),
)
def test_matches_decimal_formula(size: int, price: int, rate: int) -> None:
    exact = (Decimal(size) / 10**6 * Decimal(rate) / 10**6 * Decimal(price) / 10**6) * (
        1 - Decimal(price) / 10**6
    )
    expected = exact.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
    assert taker_fee_micros(size, price, rate) == int(expected * 10**6)
    assert taker_fee_micros(size, price, rate) % 10 == 0
