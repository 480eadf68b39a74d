"""Ledger: hand-computed cases and hypothesis properties (position = Σ fills, money conserved
through trading, funding and settlement, funding booked once per payment id, snapshot/restore
exact)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.desk.fixtures import binary_market
from polytraders.model.events import FundingPayment
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import notional_micros
from polytraders.model.orders import Side

MARKET = binary_market("m1", "yes", "no")


def fill(n: int, side: Side, price: int, size: int, fee: int = 0, token: str = "yes") -> Fill:
    return Fill(
        fill_id=f"f{n}", client_order_id=f"o{n}", token_id=token, market_id="m1", side=side,
        price=price, size=size, fee=fee, liquidity=LiquiditySide.TAKER, ts_event_ns=n,
    )  # fmt: skip


def funding(funding_id: str, amount: int, ts_ns: int = 0) -> FundingPayment:
    return FundingPayment(
        ts_event_ns=ts_ns, funding_id=funding_id, token_id="binance-usdm:BTCUSDT", amount=amount
    )


def ledger(cash: int = 1_000_000_000) -> Ledger:
    book = Ledger(cash)
    book.register_market(MARKET)
    return book


def test_hand_computed_trade_and_settlement() -> None:
    book = ledger(100_000_000)  # 100 pUSD
    book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000, fee=173_250))  # 10 @ 0.45
    assert book.cash == 100_000_000 - 4_500_000 - 173_250
    book.apply_fill(fill(2, Side.SELL, 500_000, 4_000_000))  # 4 @ 0.50 → +0.20 realized
    position = book.position("yes")
    assert position is not None
    assert (position.size, position.cost_basis, position.realized_pnl) == (
        6_000_000,
        2_700_000,
        200_000,
    )
    booked = book.settle("m1", {"yes": 1_000_000, "no": 0}, ts_ns=99)
    assert [(s.token_id, s.cash, s.realized_pnl) for s in booked] == [("yes", 6_000_000, 3_300_000)]
    assert book.cash == 100_000_000 - 4_500_000 - 173_250 + 2_000_000 + 6_000_000
    assert book.realized_pnl == 3_500_000 and book.fees == 173_250
    assert position.size == 0 and book.reconciliation_error() == 0
    assert book.settle("m1", {"yes": 1_000_000, "no": 0}, ts_ns=100) == []  # settles once


def test_losing_side_settles_at_zero() -> None:
    book = ledger(10_000_000)
    book.apply_fill(fill(1, Side.BUY, 300_000, 10_000_000, token="no"))
    [settlement] = book.settle("m1", {"yes": 1_000_000, "no": 0}, ts_ns=5)
    assert settlement.cash == 0 and settlement.realized_pnl == -3_000_000
    assert book.cash == 7_000_000


def test_duplicate_fill_is_ignored_and_bad_fill_refused() -> None:
    book = ledger()
    assert book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000))
    assert not book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000))
    assert book.size("yes") == 10_000_000
    with pytest.raises(ValueError, match="invalid fill"):
        book.apply_fill(fill(2, Side.BUY, 450_000, 10_000_000, fee=-1))
    assert book.size("yes") == 10_000_000


def test_settlement_needs_a_payout_for_every_held_token() -> None:
    book = ledger()
    book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000))
    with pytest.raises(ValueError, match="no payout"):
        book.settle("m1", {"no": 0}, ts_ns=1)


def test_mark_to_mid_equity_curve_and_peak() -> None:
    book = ledger(10_000_000)
    book.apply_fill(fill(1, Side.BUY, 400_000, 10_000_000))  # cash 6, 10 shares
    mids = {"yes": 500_000}
    assert book.mark(1, mids.get) == 11_000_000
    assert book.mark(2, mids.get) == 11_000_000  # unchanged: no new point
    mids["yes"] = 300_000
    assert book.mark(3, mids.get) == 9_000_000
    assert [(p.ts_ns, p.equity) for p in book.equity_curve] == [(1, 11_000_000), (3, 9_000_000)]
    assert book.peak_equity == 11_000_000
    # no mid any more: the last mark is kept
    assert book.equity(lambda _t: None) == 9_000_000
    assert book.unrealized_pnl(lambda _t: None) == -1_000_000


def test_exposure_uses_the_complement() -> None:
    book = ledger()
    book.apply_fill(fill(1, Side.BUY, 400_000, 100_000_000))  # 100 YES @ 0.40
    assert book.exposure([MARKET]).markets["m1"].worst == 40_000_000
    book.apply_fill(fill(2, Side.BUY, 550_000, 100_000_000, token="no"))  # + 100 NO @ 0.55
    assert book.exposure([MARKET]).markets["m1"].worst == 0


def test_snapshot_restore_is_exact_and_checked() -> None:
    book = ledger()
    book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000, fee=1_000))
    book.mark(1, {"yes": 460_000}.get)
    restored = Ledger.from_json(book.to_json())
    assert restored.to_json() == book.to_json()
    assert not restored.apply_fill(
        fill(1, Side.BUY, 450_000, 10_000_000)
    )  # idempotent after restart
    tampered = msgspec.structs.replace(book.snapshot(), cash=book.cash + 1)
    with pytest.raises(ValueError, match="does not reconcile"):
        Ledger.restore(tampered)


prices = st.integers(1, 99).map(lambda p: p * 10_000)
sizes = st.integers(1, 10_000).map(lambda s: s * 10_000)  # 0.01-share steps
fills = st.lists(
    st.tuples(st.sampled_from(["yes", "no"]), st.sampled_from(Side), prices, sizes,
              st.integers(0, 50_000)),
    max_size=40,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(fills, st.sampled_from(["yes", "no"]), st.lists(st.integers(-50_000, 50_000), max_size=40))
def test_positions_equal_fills_and_money_is_conserved(
    trades: list[tuple[str, Side, int, int, int]], winner: str, fundings: list[int]
) -> None:
    start = 1_000_000_000
    book = ledger(start)
    buys = sells = fees = funded = 0
    for n, (token, side, price, size, fee) in enumerate(trades):
        book.apply_fill(fill(n, side, price, size, fee, token))
        notional = notional_micros(price, size)
        buys += notional if side is Side.BUY else 0
        sells += notional if side is Side.SELL else 0
        fees += fee
        assert book.reconciliation_error() == 0
        if n < len(fundings):  # a funding payment between fills: cash only, its own line
            assert book.apply_funding(funding(f"p{n}", fundings[n], n))
            funded += fundings[n]
            assert book.reconciliation_error() == 0
    for n in range(len(trades), len(fundings)):
        book.apply_funding(funding(f"p{n}", fundings[n], n))
        funded += fundings[n]
    assert book.funding == funded
    assert book.cash == start - buys + sells - fees + funded
    assert book.reconciliation_error() == 0
    for token in ("yes", "no"):
        expected = sum(s if d is Side.BUY else -s for t, d, _p, s, _f in trades if t == token)
        assert book.size(token) == expected
    held = {t: book.size(t) for t in ("yes", "no")}
    book.settle("m1", {"yes": 1_000_000 if winner == "yes" else 0,
                       "no": 1_000_000 if winner == "no" else 0}, ts_ns=10**9)  # fmt: skip
    payouts = held[winner]  # 1 pUSD per winning share (negative when short)
    assert book.settled_payouts == payouts
    assert book.cash == start - buys + sells - fees + payouts + funded
    assert book.reconciliation_error() == 0
    assert book.open_cost_basis() == 0
    assert book.realized_pnl == book.cash - start + fees - funded
    assert Ledger.from_json(book.to_json()).to_json() == book.to_json()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.integers(-(10**9), 10**9)), max_size=60),
    st.integers(0, 60),
)
def test_funding_payments_with_duplicates_book_the_sum_of_the_distinct_ones(
    reports: list[tuple[int, int]], restart_at: int
) -> None:
    """A venue reports payments, some more than once (re-polled, replayed): each id counts
    once, whatever the order, also across a snapshot and restore (a restart)."""
    start = 1_000_000_000
    book = ledger(start)
    first_amount: dict[str, int] = {}
    for n, (which, amount) in enumerate(reports):
        if n == restart_at:
            book = Ledger.from_json(book.to_json())
        payment_id = f"binance-usdm:BTCUSDT/f{which}"
        new = payment_id not in first_amount
        first_amount.setdefault(payment_id, amount)
        assert book.apply_funding(funding(payment_id, amount, n)) is new
        assert book.reconciliation_error() == 0
    distinct = sum(first_amount.values())
    assert book.funding == distinct and book.cash == start + distinct
    assert [p.funding_id for p in book.funding_payments] == list(first_amount)
    assert Ledger.from_json(book.to_json()).funding == distinct


def test_a_ledger_without_funding_snapshots_as_before() -> None:
    """No funding: the snapshot's JSON has no ``funding_payments`` key (earlier runs' result
    digests are unchanged); with one, it round-trips."""
    book = ledger()
    book.apply_fill(fill(1, Side.BUY, 450_000, 10_000_000))
    assert b"funding" not in book.to_json()
    book.apply_funding(funding("p1", -12_201, 5))
    restored = Ledger.from_json(book.to_json())
    assert restored.funding_payments == [funding("p1", -12_201, 5)]
    assert restored.snapshot().funding == -12_201 and restored.cash == book.cash


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["yes", "no"]),
            st.integers(1, 99).map(lambda p: p * 10_000),
            st.integers(1, 50).map(lambda s: s * 1_000_000),
            st.one_of(st.none(), st.integers(1, 99).map(lambda p: p * 10_000)),
            st.one_of(st.none(), st.integers(1, 99).map(lambda p: p * 10_000)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_mark_returns_the_equity_at_the_mids_it_remembers(
    steps: list[tuple[str, int, int, int | None, int | None]],
) -> None:
    book = ledger()
    for n, (token, price, size, yes_mid, no_mid) in enumerate(steps):
        book.apply_fill(fill(n, Side.BUY, price, size, token=token))
        mids = {"yes": yes_mid, "no": no_mid}
        equity = book.mark(n, mids.get)
        assert equity == book.equity(mids.get)  # mark is equity at these mids
        # and with no mid at all now, every position is valued at what mark remembered
        assert book.equity(lambda _t: None) == equity


def test_reverting_the_latest_fill_is_exact_and_refuses_what_it_cannot_undo() -> None:
    book = ledger(100_000_000)
    book.apply_fill(fill(1, Side.BUY, 400_000, 10_000_000, fee=10))
    before = book.snapshot()
    book.apply_fill(fill(2, Side.BUY, 500_000, 10_000_000, fee=20))
    reverted = book.revert_fill("f2")
    assert reverted.fill_id == "f2"
    after = book.snapshot()
    assert msgspec.structs.replace(after, seen_fill_ids=before.seen_fill_ids) == before
    assert not book.apply_fill(fill(2, Side.BUY, 500_000, 10_000_000))  # never booked again
    book.apply_fill(fill(3, Side.SELL, 450_000, 5_000_000))
    with pytest.raises(ValueError, match="not the latest"):
        book.revert_fill("f1")
    with pytest.raises(KeyError):
        book.revert_fill("f2")  # already reversed
    with pytest.raises(KeyError):
        book.revert_fill("nope")
    book.settle("m1", {"yes": 1_000_000, "no": 0}, 10)
    with pytest.raises(ValueError, match="settled"):
        book.revert_fill("f3")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(1, 99).map(lambda c: c * 10_000),
            st.integers(1, 300).map(lambda s: s * 10_000),
            st.integers(0, 1_000).map(lambda f: f * 10),
            st.sampled_from(["yes", "no"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_reverting_any_latest_fill_restores_the_ledger(trades: list) -> None:
    book = ledger()
    for n, (side, price, size, fee, token) in enumerate(trades[:-1]):
        book.apply_fill(fill(n, side, price, size, fee, token))
    before = book.snapshot()
    side, price, size, fee, token = trades[-1]
    last = fill(len(trades), side, price, size, fee, token)
    book.apply_fill(last)
    book.revert_fill(last.fill_id)
    after = book.snapshot()
    assert msgspec.structs.replace(after, seen_fill_ids=before.seen_fill_ids) == before
    assert book.reconciliation_error() == 0
