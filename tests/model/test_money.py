"""Exact decimal ⇄ micro-unit conversion and tick arithmetic."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.money import (
    MAX_DECIMAL_CHARS,
    MAX_EXPONENT,
    Rounding,
    complement_price,
    fixed_micros,
    from_micros,
    is_valid_binary_price,
    micros_from_recorded,
    notional_micros,
    round_to_step,
    to_micros,
)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0.45", 450_000),
        ("10", 10_000_000),
        ("61800.30", 61_800_300_000),
        ("61800.30000000", 61_800_300_000),
        ("0.00100000", 1_000),
        ("-0.000001", -1),
        ("+3.5", 3_500_000),
        (".5", 500_000),
        ("5.", 5_000_000),
        ("1e-3", 1_000),
        ("2.5E2", 250_000_000),
        ("  0.01 ", 10_000),
    ],
)
def test_to_micros_parses_venue_strings_exactly(text: str, micros: int) -> None:
    assert to_micros(text) == micros


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "--1", "0x10", "1e", ".", "1_000", "١٢"])
def test_to_micros_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        to_micros(text)


def test_to_micros_refuses_inexact_without_rounding() -> None:
    with pytest.raises(ValueError, match="more than 6 decimals"):
        to_micros("0.1234567")


def test_to_micros_rounds_in_the_named_direction() -> None:
    assert to_micros("0.1234567", Rounding.DOWN) == 123_456
    assert to_micros("0.1234567", Rounding.UP) == 123_457
    assert to_micros("-0.1234567", Rounding.DOWN) == -123_457
    assert to_micros("-0.1234567", Rounding.UP) == -123_456
    assert to_micros("0.0000005", Rounding.HALF_EVEN) == 0
    assert to_micros("0.0000015", Rounding.HALF_EVEN) == 2


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_round_trip_is_exact(value: int) -> None:
    text = from_micros(value)
    assert to_micros(text) == value
    assert Decimal(text) == Decimal(value) / 1_000_000


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False))
def test_any_six_decimal_string_parses_to_its_exact_value(value: Decimal) -> None:
    assert to_micros(str(value)) == int(value * 1_000_000)


def test_from_micros_is_shortest() -> None:
    assert from_micros(450_000) == "0.45"
    assert from_micros(10_000_000) == "10"
    assert from_micros(0) == "0"
    assert from_micros(-1_500_000) == "-1.5"


def test_fixed_micros_pads_and_refuses_loss() -> None:
    assert fixed_micros(4_500_000, 2) == "4.50"
    assert fixed_micros(-10, 5) == "-0.00001"
    assert fixed_micros(7_000_000, 0) == "7"
    with pytest.raises(ValueError):
        fixed_micros(1, 5)


def test_recorded_doubles_lose_only_float_noise() -> None:
    assert micros_from_recorded(1.9300000000000002) == 1_930_000
    assert micros_from_recorded(0.47) == 470_000
    assert micros_from_recorded(1123.67) == 1_123_670_000
    with pytest.raises(ValueError):
        micros_from_recorded(0.1234567)
    with pytest.raises(ValueError):
        micros_from_recorded(float("nan"))


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([100, 1_000, 10_000, 100_000]),
)
def test_round_to_step_direction_and_grid(value: int, step: int) -> None:
    down = round_to_step(value, step, Rounding.DOWN)
    up = round_to_step(value, step, Rounding.UP)
    nearest = round_to_step(value, step, Rounding.HALF_EVEN)
    assert down % step == 0 and up % step == 0 and nearest % step == 0
    assert down <= value <= up
    assert up - down in (0, step)
    assert abs(nearest - value) * 2 <= step


def test_round_to_step_refuses_bad_step() -> None:
    with pytest.raises(ValueError):
        round_to_step(5, 0, Rounding.DOWN)


def test_notional_and_complement() -> None:
    # BUY 10 @ 0.45 -> makerAmount 4_500_000 (POLYMARKET.md "Orders")
    assert notional_micros(450_000, 10_000_000) == 4_500_000
    assert notional_micros(333_333, 1, Rounding.DOWN) == 0
    assert notional_micros(333_333, 1, Rounding.UP) == 1
    assert complement_price(450_000) == 550_000


def test_binary_price_rule() -> None:
    assert is_valid_binary_price(10_000, 10_000)
    assert is_valid_binary_price(990_000, 10_000)
    assert not is_valid_binary_price(0, 10_000)
    assert not is_valid_binary_price(1_000_000, 10_000)
    assert not is_valid_binary_price(455_000, 10_000)
    assert is_valid_binary_price(455_000, 1_000)


# ---------------------------------------------------------------- bounded work (issue 12)
HUGE_DECIMALS = [
    "1e-20000000",  # issue 12: 18 s of arithmetic before the bound
    "61826.621e400000000",
    "1e999999999",
    "9" * 5_000,
    "0." + "0" * 5_000 + "1",
    " " * 10 + "1" * 100,
]


@pytest.mark.parametrize("text", HUGE_DECIMALS, ids=lambda t: f"{t[:12]}…{len(t)}")
@pytest.mark.parametrize("rounding", [None, Rounding.DOWN])
def test_to_micros_refuses_unbounded_text_before_any_arithmetic(
    text: str, rounding: Rounding | None
) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"characters|exponent"):
        to_micros(text, rounding)
    assert time.perf_counter() - started < 0.01


@pytest.mark.parametrize("text", ["1e1_0", "1e١", "1e+-3", "1e 3"])
def test_to_micros_exponent_is_plain_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError):
        to_micros(text)


def test_to_micros_bounds_leave_every_venue_number_exact() -> None:
    assert to_micros("1e30") == 10**36
    assert to_micros("1e-30", Rounding.UP) == 1
    assert to_micros("6.18003E+4") == 61_800_300_000
    assert to_micros("0." + "0" * 55 + "1", Rounding.DOWN) == 0  # 59 characters
    longest = "9" * MAX_DECIMAL_CHARS
    assert to_micros(longest) == int(longest) * 1_000_000


def test_micros_from_recorded_refuses_doubles_beyond_the_exponent_bound() -> None:
    with pytest.raises(ValueError, match="exponent"):
        micros_from_recorded(1e300)
    assert micros_from_recorded(1e20) == 10**26


@given(st.text(max_size=80))
def test_to_micros_on_any_text_is_a_value_or_value_error(text: str) -> None:
    try:
        value = to_micros(text, Rounding.HALF_EVEN)
    except ValueError:
        return
    assert abs(value) < 10 ** (MAX_DECIMAL_CHARS + MAX_EXPONENT + 7)
