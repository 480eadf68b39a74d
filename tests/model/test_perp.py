"""Perpetual-futures rules: brackets, margins, funding, liquidation price; money conserved."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side
from polytraders.model.perp import (
    BTCUSDT_BRACKETS,
    PPM,
    PerpAccount,
    bracket_for,
    bracket_problems,
    funding_payment,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    margin_ratio_at_least,
    margin_ratio_ppm,
    next_funding_ms,
    notional,
)
from polytraders.model.position import Position

TICK = 100_000  # 0.1 USDT
LOT = 1_000  # 0.001 BTC
prices = st.integers(20_000, 120_000).map(lambda p: p * MICROS)
sizes = st.integers(1, 5_000).map(lambda n: n * LOT)
rates_ppb = st.integers(-3_000_000, 3_000_000)  # ±0.3 % per period


def position(size: int, entry: int) -> Position:
    held = Position("BTCUSDT")
    held.apply_trade(Side.BUY if size > 0 else Side.SELL, entry, abs(size))
    return held


def test_btcusdt_table_is_binances_and_consistent() -> None:
    assert bracket_problems(BTCUSDT_BRACKETS) == []
    # the FAQ's examples: 264,000 USDT is at 1 %; 500,000 USDT has a 1,300 USDT maint amount.
    assert bracket_for(BTCUSDT_BRACKETS, 264_000 * MICROS).maint_ratio_ppm == 10_000
    assert bracket_for(BTCUSDT_BRACKETS, 500_000 * MICROS).maint_amount_micros == 1_300 * MICROS
    broken = (BTCUSDT_BRACKETS[0], BTCUSDT_BRACKETS[2])
    assert bracket_problems(broken) and bracket_problems(())


def test_bracket_boundaries_are_exact() -> None:
    first, second = BTCUSDT_BRACKETS[:2]
    cap = first.cap_micros  # 50,000 USDT belongs to the first bracket, a micro more to the next
    assert bracket_for(BTCUSDT_BRACKETS, 0) is first
    assert bracket_for(BTCUSDT_BRACKETS, cap) is first
    assert bracket_for(BTCUSDT_BRACKETS, cap + 1) is second
    assert maintenance_margin(cap, BTCUSDT_BRACKETS) == 200 * MICROS  # 50,000 × 0.4 %
    assert maintenance_margin(cap + 1, BTCUSDT_BRACKETS) == 200 * MICROS + 1  # × 0.5 % − 50
    with pytest.raises(ValueError, match="above the last"):
        bracket_for(BTCUSDT_BRACKETS, BTCUSDT_BRACKETS[-1].cap_micros + 1)
    with pytest.raises(ValueError, match="non-negative"):
        bracket_for(BTCUSDT_BRACKETS, -1)


@given(st.integers(0, 500_000_000 * MICROS - 1))
def test_maintenance_margin_is_continuous_and_monotone(value: int) -> None:
    here = maintenance_margin(value, BTCUSDT_BRACKETS)
    bracket = bracket_for(BTCUSDT_BRACKETS, value)
    exact = Fraction(value * bracket.maint_ratio_ppm, PPM) - bracket.maint_amount_micros
    assert 0 <= here - exact < 1  # rounded up to a micro-USDT
    assert here <= maintenance_margin(value + 1, BTCUSDT_BRACKETS)


@given(sizes, st.booleans(), prices, prices, st.integers(0, 100_000 * MICROS))
def test_margin_ratio_rises_as_the_mark_moves_against_the_position(
    size: int, long: bool, entry: int, mark: int, wallet: int
) -> None:
    held = position(size if long else -size, entry)
    adverse = mark - TICK if long else mark + TICK

    def ratio_at_least(price: int, threshold_ppm: int) -> bool:
        balance = wallet + held.unrealized_pnl(price)
        mm = maintenance_margin(notional(held, price), BTCUSDT_BRACKETS)
        return margin_ratio_at_least(mm, balance, threshold_ppm)

    for threshold in (100_000, 500_000, 800_000, 1_000_000):  # 10 %, 50 %, 80 %, liquidation
        if ratio_at_least(mark, threshold):
            assert ratio_at_least(adverse, threshold)
    before = margin_ratio_ppm(
        maintenance_margin(notional(held, mark), BTCUSDT_BRACKETS),
        wallet + held.unrealized_pnl(mark),
    )
    after = margin_ratio_ppm(
        maintenance_margin(notional(held, adverse), BTCUSDT_BRACKETS),
        wallet + held.unrealized_pnl(adverse),
    )
    assert after is None or (before is not None and after >= before)


def test_margin_ratio_figures() -> None:
    assert margin_ratio_ppm(200 * MICROS, 1_000 * MICROS) == 200_000  # 20 %
    assert margin_ratio_ppm(1, 3) == 333_334  # rounded up
    assert margin_ratio_ppm(1, 0) is None and margin_ratio_at_least(0, 0, PPM)
    assert initial_margin(1_000 * MICROS + 1, 20) == 50 * MICROS + 1
    with pytest.raises(ValueError, match="leverage"):
        initial_margin(1, 0)


@given(sizes, st.booleans(), prices, rates_ppb)
def test_funding_sign_rules(size: int, long: bool, mark: int, rate: int) -> None:
    held = position(size if long else -size, mark)
    paid = funding_payment(held, mark, rate)
    exact = Fraction(-held.size * mark * rate, MICROS * 1_000_000_000)
    assert 0 <= exact - paid < 1  # floored: never in the account's favour
    if rate > 0:
        assert (paid < 0) if long else (paid >= 0)
    elif rate < 0:
        assert (paid >= 0) if long else (paid < 0)
    else:
        assert paid == 0
    assert funding_payment(Position("BTCUSDT"), mark, rate) == 0


def test_funding_payment_example_and_times() -> None:
    # 0.5 BTC long at mark 60,000, rate 0.01 %: pays 30,000 × 0.0001 = 3 USDT.
    assert (
        funding_payment(position(500_000, 60_000 * MICROS), 60_000 * MICROS, 100_000) == -3 * MICROS
    )
    eight_h = 8 * 3_600_000
    assert next_funding_ms(0) == eight_h and next_funding_ms(eight_h - 1) == eight_h
    assert next_funding_ms(eight_h) == 2 * eight_h


fills_or_fundings = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]), prices, sizes, st.integers(0, 50 * MICROS)
        ),
        st.tuples(prices, rates_ppb),  # a funding time: (mark, rate)
    ),
    max_size=40,
)


@given(fills_or_fundings)
def test_wallet_moves_by_realized_minus_fees_plus_funding(
    events: list[tuple[Side, int, int, int] | tuple[int, int]],
) -> None:
    account = PerpAccount("BTCUSDT", 10_000 * MICROS, 20)
    realized = funding = 0
    for event in events:
        if len(event) == 4:
            side, price, size, fee = event
            realized += account.trade(side, price, size, fee)
        else:
            mark, rate = event
            funding += account.settle_funding(mark, rate)
    assert realized == account.position.realized_pnl and funding == account.funding_micros
    fees = account.position.fees
    assert account.wallet_micros == 10_000 * MICROS + realized - fees + funding
    if account.position.size == 0:
        assert account.position.cost_basis == 0


@given(sizes, st.booleans(), prices, st.integers(1, 125))
def test_initial_margin_fits_after_an_order_the_margin_check_accepts(
    size: int, long: bool, price: int, leverage: int
) -> None:
    """The engine's rule (open from flat at ``price``, marked at ``price``): accept when the
    initial margin ≤ margin balance; after it the margin balance still covers it."""
    account = PerpAccount("BTCUSDT", 1_000 * MICROS, leverage)
    wanted = initial_margin(notional_micros(price, size), leverage)
    fee = notional_micros(price, size) * 5 // 10_000
    if wanted > account.margin_balance(price) - fee:
        return
    account.trade(Side.BUY if long else Side.SELL, price, size, fee)
    assert account.initial_margin(price) <= account.margin_balance(price)


@given(sizes, st.booleans(), prices, st.integers(1, 100_000 * MICROS))
def test_liquidation_price_is_where_the_margin_ratio_reaches_100_pct(
    size: int, long: bool, entry: int, wallet: int
) -> None:
    held = position(size if long else -size, entry)
    price = liquidation_price(held, wallet, BTCUSDT_BRACKETS)
    if price is None:
        return
    beyond = price - 1 if long else price + 1  # a micro past the rounded price
    if beyond <= 0:
        return
    balance = wallet + held.unrealized_pnl(beyond)
    mm = maintenance_margin(notional(held, beyond), BTCUSDT_BRACKETS)
    assert margin_ratio_at_least(mm, balance, PPM)


def test_liquidation_price_example() -> None:
    # 0.5 BTC long at 60,000 with 1,500 USDT: (1,500 − 30,000) / (0.5 × (0.004 − 1))
    # = 57,228.915662…, rounded up; the notional there (28,614) is in the first bracket.
    assert liquidation_price(
        position(500_000, 60_000 * MICROS), 1_500 * MICROS, BTCUSDT_BRACKETS
    ) == (57_228_915_663)
    # the short's mirror: (1,500 + 30,000) / (0.5 × 1.004) = 62,749.003984…, rounded down
    assert liquidation_price(
        position(-500_000, 60_000 * MICROS), 1_500 * MICROS, BTCUSDT_BRACKETS
    ) == (62_749_003_984)
    # 1 BTC with 3,000 USDT: the first bracket's price has a notional of 57,228 > 50,000, so the
    # second's formula holds: (3,000 + 50 − 60,000) / (0.005 − 1) = 57,236.180904…
    assert liquidation_price(
        position(MICROS, 60_000 * MICROS), 3_000 * MICROS, BTCUSDT_BRACKETS
    ) == (57_236_180_905)
    assert liquidation_price(Position("BTCUSDT"), 1, BTCUSDT_BRACKETS) is None
    assert (
        liquidation_price(position(MICROS, 60_000 * MICROS), 70_000 * MICROS, BTCUSDT_BRACKETS)
        is None
    )
