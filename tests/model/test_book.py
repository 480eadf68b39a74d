"""L2 order book: invariants under any update sequence, reads, walks, and real-data replay."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.book import OrderBook
from polytraders.model.money import MICROS, micros_from_recorded
from polytraders.model.orders import Side

prices = st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000)
sizes = st.integers(min_value=0, max_value=5).map(lambda s: s * 1_000_000)
updates = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), prices, sizes), max_size=80)


def assert_invariants(book: OrderBook) -> None:
    for side_levels, best_first_desc in ((book.bids(), True), (book.asks(), False)):
        level_prices = [p for p, _ in side_levels]
        assert all(size > 0 for _, size in side_levels)
        assert level_prices == sorted(level_prices, reverse=best_first_desc)
        assert len(set(level_prices)) == len(level_prices)


@given(updates)
def test_any_delta_sequence_keeps_book_valid_and_equal_to_reference(
    seq: list[tuple[Side, int, int]],
) -> None:
    book = OrderBook("t")
    reference: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
    for ts, (side, price, size) in enumerate(seq, start=1):
        book.apply_delta(side, price, size, ts)
        if size:
            reference[side][price] = size
        else:
            reference[side].pop(price, None)
        assert_invariants(book)
        assert book.best_bid() == max(reference[Side.BUY], default=None)
        assert book.best_ask() == min(reference[Side.SELL], default=None)
        assert book.last_update_ns == ts
    assert dict(book.bids()) == reference[Side.BUY]
    assert dict(book.asks()) == reference[Side.SELL]


@given(updates, updates)
def test_batch_equals_sequential(first: list[tuple[Side, int, int]], batch: list) -> None:
    sequential, batched = OrderBook("a"), OrderBook("b")
    for side, price, size in first:
        sequential.apply_delta(side, price, size, 1)
        batched.apply_delta(side, price, size, 1)
    for side, price, size in batch:
        sequential.apply_delta(side, price, size, 2)
    bids = [(p, s) for side, p, s in batch if side is Side.BUY]
    asks = [(p, s) for side, p, s in batch if side is Side.SELL]
    batched.apply_levels(bids, asks, 2)
    assert sequential.bids() == batched.bids() and sequential.asks() == batched.asks()
    assert_invariants(batched)


def test_bad_levels_raise_and_change_nothing() -> None:
    book = OrderBook("t")
    book.apply_snapshot([(450_000, 10)], [(460_000, 10)], 5)
    with pytest.raises(ValueError):
        book.apply_delta(Side.BUY, 440_000, -1, 6)
    with pytest.raises(ValueError):
        book.apply_levels([(440_000, 3)], [(470_000, -2)], 6)
    with pytest.raises(ValueError):
        book.apply_snapshot([(0, 5)], [], 6)
    assert book.bids() == [(450_000, 10)] and book.asks() == [(460_000, 10)]
    assert book.last_update_ns == 5


def make_book() -> OrderBook:
    book = OrderBook("t")
    book.apply_snapshot(
        bids=[(450_000, 10 * MICROS), (440_000, 5 * MICROS), (430_000, 7 * MICROS)],
        asks=[(460_000, 3 * MICROS), (470_000, 20 * MICROS), (500_000, 1 * MICROS)],
        ts_ns=1,
    )
    return book


def test_reads() -> None:
    book = make_book()
    assert (book.best_bid(), book.best_bid_size()) == (450_000, 10 * MICROS)
    assert (book.best_ask(), book.best_ask_size()) == (460_000, 3 * MICROS)
    assert book.spread() == 10_000
    assert book.mid() == 455_000
    # (0.45 * 3 + 0.46 * 10) / 13 = 0.457692..., leaning to the thin ask
    assert book.microprice() == 457_692
    assert book.depth_within(Side.BUY, 1, 10_000) == 15 * MICROS
    assert book.depth_within(Side.SELL, 1, 10_000) == 23 * MICROS
    assert book.depth_within(Side.SELL, 0, 10_000) == 3 * MICROS
    assert book.size_at(Side.BUY, 440_000) == 5 * MICROS
    assert book.bids(2) == [(450_000, 10 * MICROS), (440_000, 5 * MICROS)]
    assert book.asks(1) == [(460_000, 3 * MICROS)]
    assert not book.is_crossed()


def test_empty_and_one_sided_book() -> None:
    book = OrderBook("t")
    assert book.best_bid() is None and book.mid() is None and book.spread() is None
    assert book.microprice() is None and book.depth_within(Side.BUY, 3, 10_000) == 0
    book.apply_delta(Side.BUY, 400_000, MICROS, 1)
    assert book.mid() is None and book.best_ask_size() == 0


def test_crossed_and_locked_are_detected() -> None:
    book = make_book()
    book.apply_delta(Side.BUY, 460_000, MICROS, 2)
    assert book.is_crossed()  # locked
    book.apply_delta(Side.BUY, 470_000, MICROS, 3)
    assert book.is_crossed() and book.spread() == -10_000


def test_walk_two_levels_by_size_and_by_notional() -> None:
    book = make_book()
    walk = book.walk(Side.BUY, 470_000, size=5 * MICROS)
    assert walk.fills == [(460_000, 3 * MICROS), (470_000, 2 * MICROS)]
    assert walk.notional == 1_380_000 + 940_000 and walk.complete
    walk = book.walk(Side.BUY, 460_000, size=5 * MICROS)
    assert walk.fills == [(460_000, 3 * MICROS)] and not walk.complete
    walk = book.walk(Side.BUY, 999_999, notional=2 * MICROS)
    assert walk.fills[0] == (460_000, 3 * MICROS)
    assert walk.fills[1] == (470_000, 1_319_148)  # 0.62 pUSD / 0.47
    assert walk.notional <= 2 * MICROS and walk.complete
    walk = book.walk(Side.SELL, 440_000, size=100 * MICROS)
    assert walk.fills == [(450_000, 10 * MICROS), (440_000, 5 * MICROS)]
    assert not walk.complete
    with pytest.raises(ValueError):
        book.walk(Side.SELL, 1, notional=MICROS)
    with pytest.raises(ValueError):
        book.walk(Side.BUY, 1, size=1, notional=1)


@given(
    st.lists(st.tuples(prices, sizes.filter(bool)), max_size=15),
    st.sampled_from([Side.BUY, Side.SELL]),
    prices,
    st.integers(min_value=1, max_value=30 * MICROS),
)
def test_walk_never_exceeds_book_or_limit(
    levels: list[tuple[int, int]], side: Side, limit: int, amount: int
) -> None:
    book = OrderBook("t")
    if side is Side.BUY:
        book.apply_snapshot([], levels, 1)
    else:
        book.apply_snapshot(levels, [], 1)
    walk = book.walk(side, limit, size=amount)
    shown = dict(book.asks() if side is Side.BUY else book.bids())
    assert walk.size == sum(q for _, q in walk.fills) <= amount
    for price, qty in walk.fills:
        assert 0 < qty <= shown[price]
        assert price <= limit if side is Side.BUY else price >= limit
    fill_prices = [p for p, _ in walk.fills]
    assert fill_prices == sorted(fill_prices, reverse=side is Side.SELL)
    if side is Side.BUY:
        by_notional = book.walk(side, limit, notional=amount)
        assert by_notional.notional <= amount
        assert all(0 < q <= shown[p] and p <= limit for p, q in by_notional.fills)


def _snapshots(path: Path) -> list[tuple[str, int, list, list]]:
    rows = pq.read_table(path / "books.parquet").to_pylist()
    result = []
    for row in rows:
        bids = [
            (micros_from_recorded(p), micros_from_recorded(s))
            for p, s in zip(row["bid_px"], row["bid_sz"], strict=True)
        ]
        asks = [
            (micros_from_recorded(p), micros_from_recorded(s))
            for p, s in zip(row["ask_px"], row["ask_sz"], strict=True)
        ]
        result.append((f"{row['market_id']}:{row['side']}", row["ts"] * 1_000_000, bids, asks))
    return result


@pytest.mark.slow
def test_real_sample_delta_replay_rebuilds_every_snapshot(polymarket_sample: Path) -> None:
    """Diff consecutive real snapshots into level deltas; replaying them must rebuild each."""
    books: dict[str, OrderBook] = {}
    previous: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    crossed = 0
    for key, ts, bids, asks in _snapshots(polymarket_sample):
        book = books.setdefault(key, OrderBook(key))
        old_bids, old_asks = previous.get(key, ({}, {}))
        new_bids, new_asks = dict(bids), dict(asks)
        bid_delta = [(p, 0) for p in old_bids if p not in new_bids]
        bid_delta += [(p, s) for p, s in new_bids.items() if old_bids.get(p) != s]
        ask_delta = [(p, 0) for p in old_asks if p not in new_asks]
        ask_delta += [(p, s) for p, s in new_asks.items() if old_asks.get(p) != s]
        book.apply_levels(bid_delta, ask_delta, ts)
        previous[key] = (new_bids, new_asks)
        assert book.bids() == sorted(new_bids.items(), reverse=True)
        assert book.asks() == sorted(new_asks.items())
        assert_invariants(book)
        crossed += book.is_crossed()
    assert len(books) == 24
    assert 0 < crossed < 100  # the sample holds a few crossed or locked rows (data README)
