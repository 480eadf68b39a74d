"""Worst-case loss at resolution: hand-computed cases and brute-force property checks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.model.exposure import (
    OutcomeLoss,
    UnknownTokenError,
    amount_loss,
    event_scenario_loss,
    event_worst_loss,
    holding_loss,
    max_amount_within,
    order_rates,
    portfolio_exposure,
)
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import MICROS, complement_price, notional_micros
from polytraders.model.orders import OrderStatus, Side, VenueOrder
from polytraders.model.position import Position


def _market(mid: str, event: str = "") -> Market:
    yes, no = f"{mid}:Y", f"{mid}:N"
    return Market(
        market_id=mid,
        neg_risk_event_id=event,
        tokens=(
            OutcomeToken(token_id=yes, market_id=mid, outcome="Yes", complement_token_id=no),
            OutcomeToken(token_id=no, market_id=mid, outcome="No", complement_token_id=yes),
        ),
    )


def _position(token: str, side: Side, price: int, size: int) -> Position:
    position = Position(token)
    position.apply_trade(side, price, size)
    return position


def _order(token: str, side: Side, price: int, size: int, intent: str = "i") -> VenueOrder:
    return VenueOrder(
        client_order_id=f"o-{token}-{side}-{price}-{size}",
        intent_id=intent,
        token_id=token,
        side=side,
        price=price,
        size=size,
        status=OrderStatus.ACCEPTED,
    )


# ---------------------------------------------------------------- hand-computed cases
def test_single_long_loses_its_cost_if_the_other_side_wins() -> None:
    report = portfolio_exposure([_market("m")], [_position("m:Y", Side.BUY, 400_000, 100 * MICROS)])
    exposure = report.markets["m"]
    assert exposure.held == OutcomeLoss(-60 * MICROS, 40 * MICROS)
    assert exposure.worst == 40 * MICROS
    assert report.total == 40 * MICROS


def test_yes_and_no_held_together_offset() -> None:
    holdings = [
        _position("m:Y", Side.BUY, 400_000, 100 * MICROS),
        _position("m:N", Side.BUY, 550_000, 100 * MICROS),
    ]
    report = portfolio_exposure([_market("m")], holdings)
    # paid 95 pUSD, 100 shares pay out whichever side wins: a 5 pUSD gain either way.
    assert report.markets["m"].held == OutcomeLoss(-5 * MICROS, -5 * MICROS)
    assert report.total == 0


def test_open_orders_count_only_when_filling_hurts() -> None:
    orders = [
        _order("m:Y", Side.BUY, 300_000, 10 * MICROS),  # loses 3 if NO wins
        _order("m:N", Side.BUY, 600_000, 10 * MICROS),  # loses 6 if YES wins
    ]
    report = portfolio_exposure([_market("m")], [], orders)
    assert report.markets["m"].pending == OutcomeLoss(6 * MICROS, 3 * MICROS)
    assert report.total == 6 * MICROS


def test_sell_of_held_token_adds_loss_only_if_that_token_wins() -> None:
    holdings = [_position("m:Y", Side.BUY, 400_000, 100 * MICROS)]
    orders = [_order("m:Y", Side.SELL, 700_000, 50 * MICROS)]
    exposure = portfolio_exposure([_market("m")], holdings, orders).markets["m"]
    # selling 50 at 0.70 gives up 0.30 per share if YES wins; helps if NO wins (not counted).
    assert exposure.pending == OutcomeLoss(15 * MICROS, 0)


def test_notional_buy_counts_its_whole_notional() -> None:
    order = VenueOrder(
        client_order_id="o",
        intent_id="i",
        token_id="m:N",
        side=Side.BUY,
        price=500_000,
        size=0,
        notional=20 * MICROS,
    )
    assert portfolio_exposure([_market("m")], [], [order]).markets["m"].pending == OutcomeLoss(
        20 * MICROS, 0
    )


def test_replaced_orders_are_excluded() -> None:
    orders = [_order("m:Y", Side.BUY, 300_000, 10 * MICROS, intent="old")]
    report = portfolio_exposure([_market("m")], [], orders, exclude_intent_ids=frozenset({"old"}))
    assert report.total == 0


def test_neg_risk_event_nets_a_yes_against_a_no() -> None:
    markets = [_market("a", "ev"), _market("b", "ev"), _market("c", "ev")]
    holdings = [
        _position("a:Y", Side.BUY, 300_000, 100 * MICROS),  # 30 paid
        _position("b:N", Side.BUY, 600_000, 100 * MICROS),  # 60 paid
    ]
    report = portfolio_exposure(markets, holdings)
    # a wins: a:Y pays 100, b:N pays 100 -> -110; b wins: nothing pays -> 90;
    # c wins or none: b:N pays 100 -> -10. Worst 90.
    assert report.events["ev"] == 90 * MICROS
    # standalone sum of per-market worst would be 30 + 60 = 90 here too; the event is not larger.
    assert report.total == 90 * MICROS
    assert report.group_base("a") == OutcomeLoss(-110 * MICROS, 90 * MICROS)


def test_neg_risk_no_in_every_member_is_hedged_when_one_must_win() -> None:
    markets = [_market("a", "ev"), _market("b", "ev")]
    holdings = [
        _position("a:N", Side.BUY, 500_000, 10 * MICROS),
        _position("b:N", Side.BUY, 500_000, 10 * MICROS),
    ]
    # paid 10; if exactly one wins, exactly one NO pays 10 -> 0 loss; if none wins both pay -> -10.
    assert portfolio_exposure(markets, holdings, exactly_one_wins=True).total == 0
    assert portfolio_exposure(markets, holdings).total == 0
    # separate standalone markets would each risk 5.
    standalone = [_market("a"), _market("b")]
    assert portfolio_exposure(standalone, holdings).total == 10 * MICROS


def test_unknown_token_fails_closed() -> None:
    with pytest.raises(UnknownTokenError):
        portfolio_exposure([_market("m")], [_position("x:Y", Side.BUY, 500_000, MICROS)])
    with pytest.raises(UnknownTokenError):
        portfolio_exposure([_market("m")], [], [_order("x:Y", Side.BUY, 500_000, MICROS)])


def test_order_rates_reject_bad_prices() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        order_rates(Side.BUY, MICROS, True)
    with pytest.raises(ValueError, match="notional"):
        order_rates(Side.SELL, 500_000, True, by_notional=True)


def test_max_amount_within_hand_case() -> None:
    # flat market, cap 10 pUSD, BUY YES at 0.40: at most 25 shares (10 / 0.40).
    rates = order_rates(Side.BUY, 400_000, True)
    assert max_amount_within(OutcomeLoss(0, 0), rates, 10 * MICROS) == 25 * MICROS
    # already over the cap on the YES side (-> relaxed to 15): a BUY YES only adds NO-side loss.
    assert max_amount_within(OutcomeLoss(15 * MICROS, 0), rates, 10 * MICROS) == 37_500_000


# ---------------------------------------------------------------- properties
PRICES = st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000)
SIZES = st.integers(min_value=1, max_value=5_000).map(lambda s: s * 10_000)
SIDES = st.sampled_from([Side.BUY, Side.SELL])


@given(PRICES, SIZES, SIDES, st.booleans())
def test_complement_identity_buy_yes_is_sell_no(
    price: int, size: int, side: Side, is_first: bool
) -> None:
    """Buying one token at p has the same loss per outcome as selling the other at 1 − p."""
    direct = amount_loss(order_rates(side, price, is_first), size)
    mirrored = amount_loss(order_rates(side.opposite, complement_price(price), not is_first), size)
    assert direct == mirrored


@given(st.lists(st.tuples(st.booleans(), SIDES, PRICES, SIZES), min_size=1, max_size=6))
@settings(max_examples=150)
def test_pending_loss_is_the_worst_subset_of_fills(
    orders: list[tuple[bool, Side, int, int]],
) -> None:
    """Per outcome, the pending loss equals the worst loss over every subset of orders filling."""
    venue_orders = [
        _order("m:Y" if first else "m:N", side, price, size) for first, side, price, size in orders
    ]
    pending = portfolio_exposure([_market("m")], [], venue_orders).markets["m"].pending
    for outcome_first in (True, False):
        worst = 0
        for mask in itertools.product((False, True), repeat=len(orders)):
            loss = 0
            for filled, (first, side, price, size) in zip(mask, orders, strict=True):
                if not filled:
                    continue
                cash = notional_micros(price, size)
                wins = first == outcome_first
                if side is Side.BUY:
                    loss += cash - (size if wins else 0)
                else:
                    loss += (size if wins else 0) - cash
            worst = max(worst, loss)
        got = pending.if_first if outcome_first else pending.if_second
        assert got == worst


@given(st.lists(st.tuples(SIDES, PRICES, SIZES), min_size=0, max_size=4), PRICES, SIZES)
def test_held_loss_matches_settlement_cash(
    trades: list[tuple[Side, int, int]], price: int, size: int
) -> None:
    """Held loss = cash paid − payout, for every outcome, whatever the trading history."""
    yes = Position("m:Y")
    no = Position("m:N")
    yes.apply_trade(Side.BUY, price, size)
    paid = notional_micros(price, size)
    for side, p, s in trades:
        no.apply_trade(side, p, s)
        paid += notional_micros(p, s) if side is Side.BUY else -notional_micros(p, s)
    loss = portfolio_exposure([_market("m")], [yes, no]).markets["m"].held
    # money conservation: the open cost is what was paid net, plus the PnL already realized.
    assert yes.cost_basis + no.cost_basis == paid + yes.realized_pnl + no.realized_pnl
    assert loss.if_first == yes.cost_basis + no.cost_basis - yes.size
    assert loss.if_second == yes.cost_basis + no.cost_basis - no.size
    assert loss == holding_loss(yes.size, yes.cost_basis, True).plus(
        holding_loss(no.size, no.cost_basis, False)
    )


@given(
    st.lists(
        st.tuples(st.integers(-50, 50), st.integers(-50, 50)).map(
            lambda t: OutcomeLoss(t[0] * MICROS, t[1] * MICROS)
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_event_worst_is_the_worst_scenario(losses: list[OutcomeLoss], exactly_one: bool) -> None:
    """The event's worst-case loss is the largest of the brute-force scenarios."""
    scenarios = [
        sum(loss.if_first if i == k else loss.if_second for i, loss in enumerate(losses))
        for k in range(len(losses))
    ]
    if not exactly_one:
        scenarios.append(sum(loss.if_second for loss in losses))
    assert event_worst_loss(losses, exactly_one) == max(0, *scenarios)
    pairs = [(str(i), loss) for i, loss in enumerate(losses)]
    for k in range(len(losses)):
        seen = event_scenario_loss(pairs, str(k), exactly_one)
        assert seen.if_first == scenarios[k]
        assert max(0, seen.if_first, seen.if_second) == event_worst_loss(losses, exactly_one)


@given(
    st.integers(-100, 100).map(lambda v: v * MICROS),
    st.integers(-100, 100).map(lambda v: v * MICROS),
    SIDES,
    PRICES,
    st.booleans(),
    st.integers(0, 200).map(lambda v: v * MICROS),
)
def test_max_amount_within_is_tight(
    first: int, second: int, side: Side, price: int, is_first: bool, cap: int
) -> None:
    """The largest fitting amount fits, one micro-unit more does not (when bounded)."""
    base = OutcomeLoss(first, second)
    rates = order_rates(side, price, is_first)
    limit = max(cap, base.worst)
    fit = max_amount_within(base, rates, cap)
    assert fit is not None  # one outcome always loses with a priced order
    assert fit >= 0
    assert base.plus(amount_loss(rates, fit)).worst <= limit
    assert base.plus(amount_loss(rates, fit + 1)).worst > limit


@given(st.lists(st.tuples(st.booleans(), SIDES, PRICES, SIZES), max_size=5))
def test_total_never_below_any_market(orders: list[tuple[bool, Side, int, int]]) -> None:
    markets = [_market("a"), _market("b", "ev"), _market("c", "ev")]
    venue_orders = [
        _order(f"{'abc'[i % 3]}:{'Y' if first else 'N'}", side, price, size)
        for i, (first, side, price, size) in enumerate(orders)
    ]
    report = portfolio_exposure(markets, [], venue_orders)
    assert report.total >= report.markets["a"].worst
    assert report.total >= report.events["ev"] >= 0
    assert report.total == report.markets["a"].worst + report.events["ev"]
    assert report.group_worst("b") == report.events["ev"]
