"""The desk state's incrementally kept figures equal a fresh computation after any sequence of
changes: ``DeskState.exposure`` against ``portfolio_exposure`` of the markets, positions and
open orders (every market, event, total, combined, group base and group worst, with random
exclusions and both neg-risk variants, or the same error), and ``DeskState.equity`` against
``Ledger.equity`` marked to the books' mids."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.desk.state import DeskState
from polytraders.model.events import BookDelta, MarketStatus
from polytraders.model.exposure import (
    ExposureReport,
    StaleExposureError,
    UnknownTokenError,
    portfolio_exposure,
)
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.orders import OrderStatus, Side, VenueOrder

SHARE = 1_000_000
MARKET_IDS = ["a", "b", "c", "d", "e", "f"]
INTENTS = ["i0", "i1", "i2", "i3"]
TOKENS = [f"{m}:{s}" for m in MARKET_IDS for s in ("Y", "N")] + ["stray"]


def _market(market_id: str, event: str, tokens: tuple[str, ...] | None = None) -> Market:
    ids = tokens if tokens is not None else (f"{market_id}:Y", f"{market_id}:N")
    return Market(
        market_id=market_id,
        neg_risk_event_id=event,
        tokens=tuple(
            OutcomeToken(
                token_id=t,
                market_id=market_id,
                outcome=f"o{k}",
                complement_token_id=ids[1 - k] if len(ids) == 2 else "",
            )
            for k, t in enumerate(ids)
        ),
    )


on_grid = st.integers(1, 99).map(lambda p: p * 10_000)
prices = st.one_of(
    on_grid,
    on_grid,
    st.integers(1, 999_999),  # anywhere inside (0, 1): rounding of the adverse loss
    on_grid,
    on_grid,
    st.sampled_from([0, 1_000_000, 1_200_000]),  # invalid: the report must fail as the formula
)
sizes = st.integers(1, 300).map(lambda s: s * 10_000 * 7)


@st.composite
def market_ops(draw: st.DrawFn) -> tuple:
    market_id = draw(st.sampled_from(MARKET_IDS))
    event = draw(st.sampled_from(["", "", "e1", "e2"]))
    shape = draw(st.sampled_from(["binary", "binary", "binary", "one-token", "shared-token"]))
    tokens = None
    if shape == "one-token":
        tokens = (f"{market_id}:Y",)
    elif shape == "shared-token":  # a token id another market also names (bad metadata)
        tokens = (f"{market_id}:Y", draw(st.sampled_from(TOKENS)))
    return ("market", _market(market_id, event, tokens))


@st.composite
def order_ops(draw: st.DrawFn, n: int) -> tuple:
    side = draw(st.sampled_from(Side))
    by_notional = draw(st.integers(0, 5)) == 0
    size = 0 if by_notional else draw(sizes)
    return (
        "order",
        VenueOrder(
            client_order_id=f"o{draw(st.integers(0, n))}",  # sometimes an id already open
            intent_id=draw(st.sampled_from(INTENTS)),
            token_id=draw(st.sampled_from(TOKENS)),
            side=side,
            price=draw(prices),
            size=size,
            notional=draw(sizes) if by_notional else 0,
            status=draw(st.sampled_from([OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW])),
        ),
    )


def operations(n: int) -> st.SearchStrategy[tuple]:
    return st.one_of(
        market_ops(),
        order_ops(n),
        st.tuples(st.just("fill_order"), st.integers(0, 50), st.integers(1, 400)),
        st.tuples(st.just("unfill_order"), st.integers(0, 50), st.integers(1, 400)),
        st.tuples(st.just("close_order"), st.integers(0, 50)),
        st.tuples(
            st.just("fill"),
            st.sampled_from(TOKENS),
            st.sampled_from(Side),
            st.integers(1, 99).map(lambda p: p * 10_000),
            sizes,
        ),
        st.tuples(st.just("revert"), st.sampled_from(TOKENS)),
        st.tuples(st.just("settle"), st.sampled_from(MARKET_IDS), st.booleans()),
        st.tuples(
            st.just("position"),
            st.sampled_from(TOKENS),
            st.integers(-300, 300).map(lambda s: s * 10_000),
            st.integers(-200, 200).map(lambda c: c * 10_001),
        ),
        st.tuples(
            st.just("book"),
            st.sampled_from(TOKENS),
            st.lists(st.tuples(st.integers(1, 49), st.integers(0, 3)), max_size=3),
            st.lists(st.tuples(st.integers(51, 99), st.integers(0, 3)), max_size=3),
        ),
        st.tuples(st.just("mark")),
    )


def _apply(state: DeskState, op: tuple, n: int, latest_fill: dict[str, str]) -> None:
    kind = op[0]
    open_orders = state.open_orders()
    if kind == "market":
        state.add_market(op[1])
    elif kind == "order":
        state.add_order(op[1])
    elif kind in ("fill_order", "unfill_order", "close_order") and open_orders:
        order = open_orders[op[1] % len(open_orders)]
        if kind == "close_order":
            order.status = OrderStatus.CANCELED
            state.order_closed(order.client_order_id)
            return
        step = op[2] * 10_000
        if kind == "fill_order":
            order.filled_size += step
        else:
            order.filled_size = max(order.filled_size - step, 0)
        state.order_changed(order.client_order_id)
    elif kind == "fill":
        _, token, side, price, size = op
        fill = Fill(
            fill_id=f"f{n}", client_order_id="x", token_id=token, market_id=token.split(":")[0],
            side=side, price=price, size=size, liquidity=LiquiditySide.TAKER, ts_event_ns=n,
        )  # fmt: skip
        state.ledger.apply_fill(fill)
        latest_fill[token] = fill.fill_id
    elif kind == "revert" and op[1] in latest_fill:
        with contextlib.suppress(ValueError):  # its market settled since: refused, no change
            state.ledger.revert_fill(latest_fill.pop(op[1]))
    elif kind == "settle":
        market = state.market(op[1])
        if market is not None and len(market.tokens) == 2:
            winner = market.tokens[0 if op[2] else 1].token_id
            resolved = MarketStatus(
                ts_event_ns=n,
                market_id=op[1],
                state=MarketState.RESOLVED,
                accepting_orders=False,
                winning_token_id=winner,
            )
            with contextlib.suppress(ValueError):  # a held token it cannot pay: refused
                state.apply_event(resolved)
    elif kind == "position" and (op[2] != 0 or op[3] == 0):
        state.ledger.set_position(op[1], op[2], op[3])
    elif kind == "book":
        bids = [(p * 10_000, s * SHARE) for p, s in op[2]]
        asks = [(p * 10_000, s * SHARE) for p, s in op[3]]
        state.apply_event(BookDelta(ts_event_ns=n, token_id=op[1], bids=bids, asks=asks))
    elif kind == "mark":
        state.mark()


def _same(incremental: ExposureReport, fresh: ExposureReport) -> None:
    assert incremental.total == fresh.total
    assert dict(incremental.events) == dict(fresh.events)
    assert incremental.markets == fresh.markets
    for market_id in fresh.markets:
        assert incremental.combined(market_id) == fresh.combined(market_id)
        assert incremental.group_base(market_id) == fresh.group_base(market_id)
        assert incremental.group_worst(market_id) == fresh.group_worst(market_id)


def _check(state: DeskState, excluded: frozenset[str], exactly_one_wins: bool) -> None:
    expected: ExposureReport | ValueError
    try:
        expected = portfolio_exposure(
            state.markets(), state.positions(), state.open_orders(), excluded, exactly_one_wins
        )
    except ValueError as error:  # UnknownTokenError is a ValueError too
        expected = error
    if isinstance(expected, ValueError):
        event(f"fails: {type(expected).__name__}")
        with pytest.raises(type(expected)):
            state.exposure(excluded, exactly_one_wins)
    else:
        event("compared")
        _same(state.exposure(excluded, exactly_one_wins), expected)
    assert state.equity == state.ledger.equity(state.mid)


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_incremental_exposure_and_equity_equal_a_fresh_computation(data: st.DataObject) -> None:
    state = DeskState(ledger=Ledger(10**12))
    for market_id in data.draw(st.sets(st.sampled_from(MARKET_IDS)), label="known at start"):
        state.add_market(_market(market_id, data.draw(st.sampled_from(["", "e1", "e2"]))))
    latest_fill: dict[str, str] = {}
    for n in range(data.draw(st.integers(1, 60), label="steps")):
        op = data.draw(operations(n), label=f"op{n}")
        _apply(state, op, n, latest_fill)
        if data.draw(st.integers(0, 3)) == 0 or n < 3:
            excluded = frozenset(data.draw(st.sets(st.sampled_from(INTENTS), max_size=2)))
            note(f"check after op{n}, excluding {sorted(excluded)}")
            for exactly_one_wins in (False, True):
                _check(state, excluded, exactly_one_wins)
    for exactly_one_wins in (False, True):
        _check(state, frozenset(), exactly_one_wins)


def test_a_state_built_on_a_restored_ledger_counts_its_positions() -> None:
    ledger = Ledger(1_000 * SHARE)
    ledger.apply_fill(
        Fill(
            fill_id="f",
            client_order_id="x",
            token_id="a:Y",
            side=Side.BUY,
            price=400_000,
            size=10 * SHARE,
            liquidity=LiquiditySide.TAKER,
            ts_event_ns=1,
        )
    )
    state = DeskState(ledger=Ledger.restore(ledger.snapshot()))
    with pytest.raises(UnknownTokenError):  # its market is not known yet
        state.exposure()
    state.add_market(_market("a", ""))
    assert state.exposure().total == 4 * SHARE  # the cost if NO wins
    assert state.equity == 1_000 * SHARE  # no book yet: the position is valued at cost
    state.set_book("a:Y", [(500_000, SHARE)], [(600_000, SHARE)], 2)
    assert state.equity == 1_000 * SHARE - 4 * SHARE + 5_500_000  # 10 shares at mid 0.55


def test_a_report_read_after_a_change_is_refused() -> None:
    state = DeskState.build(markets=[_market("a", "")], positions={"a:Y": (10 * SHARE, SHARE)})
    report = state.exposure()
    assert report.total == SHARE
    state.ledger.set_position("a:Y", 20 * SHARE, 2 * SHARE)
    with pytest.raises(StaleExposureError):
        _ = report.total
    assert state.exposure().total == 2 * SHARE


def test_a_ledger_has_one_watcher() -> None:
    state = DeskState()
    with pytest.raises(ValueError, match="already watched"):
        DeskState(ledger=state.ledger)
