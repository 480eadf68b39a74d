"""A BUY whose commission the venue keeps in the bought asset (``Fill.fee_size``, Binance spot):
the position grows by ``size − fee_size``, cash pays the whole size's notional and no quote
fee, and the books equal the exchange's balances to the micro-unit (hand-computed cases and a
hypothesis property against an exchange-style account kept apart)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.backtest.result import money_of
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Instrument
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position

SPOT = Instrument(
    venue="binance-spot", symbol="BTCUSDT", price_increment=10_000, size_increment=10, min_size=10
)
TOKEN = SPOT.token_id


def spot_fill(n: int, side: Side, price: int, size: int, fee: int, fee_size: int = 0) -> Fill:
    return Fill(
        fill_id=f"f{n}", client_order_id=f"o{n}", token_id=TOKEN, market_id=TOKEN, side=side,
        price=price, size=size, fee=fee, fee_size=fee_size, liquidity=LiquiditySide.TAKER,
        ts_event_ns=n,
    )  # fmt: skip


def test_a_base_fee_buy_then_a_sell_of_the_whole_position() -> None:
    book = Ledger(10_000 * MICROS)
    # 0.01 BTC at 61,800.30 USDT; 0.1 % = 0.00001 BTC kept by the exchange (worth 0.618003)
    buy = spot_fill(1, Side.BUY, 61_800_300_000, 10_000, fee=618_003, fee_size=10)
    book.apply_fill(buy)
    position = book.position(TOKEN)
    assert position is not None
    assert (position.size, position.cost_basis) == (9_990, 617_384_997)
    assert book.cash == 10_000 * MICROS - 618_003_000  # the whole 0.01 BTC's notional, no fee
    assert book.fees == position.fees == 618_003 == buy.booked_fee  # whole micro-units: exact
    assert book.buy_notional == 618_003_000 and book.reconciliation_error() == 0
    # the exchange holds 0.00999 BTC and 9,381.997 USDT: the books are those balances
    assert book.equity(lambda _: 61_800_300_000) == 9_381_997_000 + 617_384_997
    # sell the whole position (0.00999 BTC) at 61,900: the commission 0.1 % in USDT
    proceeds = notional_micros(61_900_000_000, 9_990)
    sell = spot_fill(2, Side.SELL, 61_900_000_000, 9_990, fee=proceeds // 1000)
    book.apply_fill(sell)
    assert (position.size, position.cost_basis) == (0, 0)
    assert position.realized_pnl == proceeds - 617_384_997
    assert book.cash == 10_000 * MICROS - 618_003_000 + proceeds - proceeds // 1000
    assert book.fees == 618_003 + proceeds // 1000 and book.reconciliation_error() == 0
    assert book.cash - book.initial_cash == position.realized_pnl - book.fees


def test_an_inexact_commission_books_its_rounding_in_the_fees_figure_only() -> None:
    book = Ledger(10_000 * MICROS)
    # 12.34 micro-BTC kept: the wire rounds fee_size up to 13 and fee (its value) up to 762,616
    buy = spot_fill(1, Side.BUY, 61_800_300_000, 12_340, fee=762_616, fee_size=13)
    book.apply_fill(buy)
    assert book.size(TOKEN) == 12_327
    assert book.cash == 10_000 * MICROS - 762_615_702
    # the fee booked is what cash paid beyond the cost basis: 13 micro-BTC at the price
    assert book.fees == buy.booked_fee == 762_615_702 - 761_812_298 == 803_404
    assert book.reconciliation_error() == 0


def test_fee_size_out_of_range_is_refused_and_changes_nothing() -> None:
    book = Ledger(10_000 * MICROS)
    for bad, match in (
        (spot_fill(1, Side.BUY, 60_000_000_000, 10_000, 600_000, fee_size=10_010), "outside"),
        (spot_fill(1, Side.BUY, 60_000_000_000, 10_000, 600_000, fee_size=-1), "outside"),
        (spot_fill(1, Side.SELL, 60_000_000_000, 10_000, 600_000, fee_size=10), "on a SELL"),
    ):
        with pytest.raises(ValueError, match=match):
            book.apply_fill(bad)
        with pytest.raises(ValueError, match=match):
            Position(TOKEN).apply(bad)
    assert book.positions() == [] and book.cash == 10_000 * MICROS


def test_a_commission_of_the_whole_size_leaves_the_position_and_pays_the_notional() -> None:
    book = Ledger(10_000 * MICROS)
    book.apply_fill(spot_fill(1, Side.BUY, 60_000_000_000, 10, fee=600_000, fee_size=10))
    assert (book.size(TOKEN), book.cash, book.fees) == (0, 10_000 * MICROS - 600_000, 600_000)
    assert book.reconciliation_error() == 0


def test_reverting_a_base_fee_buy_and_restoring_a_snapshot_are_exact() -> None:
    book = Ledger(10_000 * MICROS)
    book.apply_fill(spot_fill(1, Side.BUY, 61_800_300_000, 10_000, 618_003, fee_size=10))
    before = book.to_json()
    book.apply_fill(spot_fill(2, Side.BUY, 61_800_400_000, 12_340, 762_617, fee_size=13))
    restored = Ledger.from_json(book.to_json())
    assert restored.size(TOKEN) == book.size(TOKEN) == 9_990 + 12_327
    book.revert_fill("f2")
    after = msgspec.json.decode(book.to_json())
    expected = msgspec.json.decode(before)
    expected["seen_fill_ids"] = ["f1", "f2"]  # a reverted fill stays seen
    assert after == expected


# ---------------------------------------------------------------- property
# (is_buy, price in whole ticks of 0.01 USDT, size in lots of 10 micro-BTC, commission in 10⁻⁸)
trades = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(5_000_000, 7_000_000),
        st.integers(1, 5_000),
        st.integers(0, 1_000),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(trades, st.integers(5_000_000, 7_000_000))
def test_books_equal_an_exchange_style_account(trades: list, mark_ticks: int) -> None:
    """An exchange-style account, kept apart in micro-units as Binance spot moves balances
    (a BUY credits ``qty − fee_size`` of the base and debits the notional; a SELL debits the
    base and credits the notional less its quote commission), against the ledger fed the same
    trades as the ccxt wire builds them: cash, position and ``cash + position × mark`` equal
    the exchange's quote balance, base balance and its value, exactly; the fees figure is the
    quote fees plus what cash paid beyond the cost basis, within one micro-unit per base-fee
    BUY of Σ ``Fill.fee``."""
    start = 100_000 * MICROS
    book = Ledger(start)
    quote, base = start, 0
    reported_fees = base_fee_buys = 0
    for n, (is_buy, ticks, lots, commission_e8) in enumerate(trades):
        price, size = ticks * 10_000, lots * 10
        notional = notional_micros(price, size)
        if is_buy:
            if notional > quote:
                continue  # refused by the exchange: insufficient balance
            fee_size = min(-(-commission_e8 // 100), size)
            fee = -(-fee_size * price // MICROS)  # the commission's value, rounded up
            fill = spot_fill(n, Side.BUY, price, size, fee, fee_size)
            quote -= notional
            base += size - fee_size
            base_fee_buys += bool(fee_size)
        else:
            size = min(size, base)  # never more than held: the desk's position is the balance
            if size == 0:
                continue
            notional = notional_micros(price, size)
            fee = -(-notional * commission_e8 // (MICROS * 100))  # a rate of commission_e8 ppm
            fill = spot_fill(n, Side.SELL, price, size, fee)
            quote += notional - fee
            base -= size
        reported_fees += fill.fee
        assert book.apply_fill(fill)
        assert book.cash == quote and book.size(TOKEN) == base
        assert book.reconciliation_error() == 0
    mark = mark_ticks * 10_000
    assert book.equity(lambda _: mark) == quote + notional_micros(mark, base)
    assert 0 <= reported_fees - book.fees <= base_fee_buys


def test_money_figures_from_fills_follow_the_base_fee() -> None:
    buy = spot_fill(1, Side.BUY, 61_800_300_000, 12_340, fee=762_616, fee_size=13)
    sell = spot_fill(2, Side.SELL, 61_900_000_000, 12_320, fee=762_609)
    money, per = money_of([buy, sell], [], {TOKEN: 62_000_000_000}, [SPOT])
    book = Ledger(0)
    book.apply_fill(buy)
    book.apply_fill(sell)
    assert per[0].final_positions == {TOKEN: 7} == {TOKEN: book.size(TOKEN)}
    assert money.fees == book.fees
    assert money.realized_pnl == book.realized_pnl
    # pnl = the change of equity at the final mark
    assert money.pnl == book.equity(lambda _: 62_000_000_000) - book.initial_cash
