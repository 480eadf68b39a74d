"""Positions: exact average entry, realized PnL and fees; money conserved."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position


def fill(side: Side, price: int, size: int, fee: int = 0, token: str = "t") -> Fill:
    return Fill(
        fill_id="f",
        client_order_id="o",
        token_id=token,
        side=side,
        price=price,
        size=size,
        fee=fee,
        liquidity=LiquiditySide.TAKER,
        ts_event_ns=1,
    )


def test_average_entry_is_exact() -> None:
    position = Position("t")
    position.apply(fill(Side.BUY, 450_000, 10 * MICROS))
    position.apply(fill(Side.BUY, 460_000, 20 * MICROS))
    # (4.5 + 9.2) / 30 = 0.456666... exactly
    assert position.avg_entry_price() == Fraction(13_700_000 * MICROS, 30 * MICROS)
    assert position.avg_entry_price_micros() == 456_666
    assert position.cost_basis == 13_700_000


def test_round_trip_realizes_price_difference_times_size_minus_fees() -> None:
    position = Position("t")
    position.apply(fill(Side.BUY, 450_000, 10 * MICROS, fee=175_000))
    realized = position.apply(fill(Side.SELL, 520_000, 10 * MICROS, fee=174_720))
    assert realized == 700_000  # (0.52 - 0.45) * 10
    assert position.realized_pnl - position.fees == 700_000 - 349_720
    assert position.size == 0 and position.cost_basis == 0


def test_short_then_cover_and_flip() -> None:
    position = Position("t")
    position.apply(fill(Side.SELL, 600_000, 5 * MICROS))
    assert position.size == -5 * MICROS and position.cost_basis == -3_000_000
    realized = position.apply(fill(Side.BUY, 500_000, 8 * MICROS))
    assert realized == 500_000  # covered 5 at 0.10 profit each
    assert position.size == 3 * MICROS and position.cost_basis == 1_500_000
    assert position.unrealized_pnl(550_000) == 150_000


def test_rejects_foreign_or_invalid_fill() -> None:
    position = Position("t")
    with pytest.raises(ValueError):
        position.apply(fill(Side.BUY, 1, MICROS, token="other"))
    with pytest.raises(ValueError):
        position.apply(fill(Side.BUY, 1, 0))


trades = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000),
        st.integers(min_value=1, max_value=5_000).map(lambda s: s * 10_000),  # 0.01 share steps
        st.integers(min_value=0, max_value=50_000),
    ),
    max_size=40,
)


@given(trades)
def test_size_is_sum_of_signed_fills_and_money_is_conserved(
    seq: list[tuple[Side, int, int, int]],
) -> None:
    position = Position("t")
    cash = 0
    for side, price, size, fee in seq:
        position.apply(fill(side, price, size, fee))
        cash += -notional_micros(price, size) if side is Side.BUY else notional_micros(price, size)
    assert position.size == sum(s if side is Side.BUY else -s for side, _, s, _ in seq)
    assert position.fees == sum(f for *_, f in seq)
    # cash paid + value of what is held at cost == realized PnL, to the micro-unit
    assert cash + position.cost_basis == position.realized_pnl
    if position.size == 0:
        assert position.cost_basis == 0
    assert position.fill_count == len(seq)


@given(
    st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000),
    st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000),
    st.integers(min_value=1, max_value=10_000).map(lambda s: s * 10_000),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
)
def test_round_trip_pnl_exact(entry: int, exit_: int, size: int, fee_in: int, fee_out: int) -> None:
    position = Position("t")
    position.apply(fill(Side.BUY, entry, size, fee_in))
    position.apply(fill(Side.SELL, exit_, size, fee_out))
    expected = (exit_ - entry) * size // MICROS
    assert (exit_ - entry) * size % MICROS == 0
    assert position.realized_pnl - position.fees == expected - fee_in - fee_out
