"""Intents, markets and events: structural rules and exact JSON round trips."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.events import (
    EVENT_DECODER,
    EVENT_ENCODER,
    BookDelta,
    BookSnapshot,
    FeedStatus,
    KillSwitchTripped,
    MarketStatus,
    OperatorCommand,
    Trade,
)
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, MarketState, OutcomeToken, market_problems
from polytraders.model.orders import (
    IntentAction,
    OrderIntent,
    OrderStatus,
    Side,
    TimeInForce,
    VenueOrder,
    intent_problems,
)


def intent(**changes: object) -> OrderIntent:
    base = OrderIntent(
        intent_id="i1",
        bot_id="strat.x",
        token_id="yes",
        side=Side.BUY,
        price=450_000,
        size=5_000_000,
    )
    return msgspec.structs.replace(base, **changes)


def test_valid_intents_have_no_problems() -> None:
    assert intent_problems(intent()) == []
    assert intent_problems(intent(post_only=True)) == []
    assert (
        intent_problems(intent(time_in_force=TimeInForce.GTD, expire_at_ns=10**18, post_only=True))
        == []
    )
    assert intent_problems(intent(size=0, notional=2_000_000, time_in_force=TimeInForce.FAK)) == []
    assert (
        intent_problems(intent(action=IntentAction.CANCEL, target_intent_id="i0", price=0, size=0))
        == []
    )


def test_invalid_intents_are_named() -> None:
    cases = {
        "price must be positive": intent(price=0),
        "exactly one of size and notional": intent(size=0),
        "notional sizing is only for BUY": intent(size=0, notional=1, side=Side.SELL),
        "post-only needs GTC or GTD": intent(post_only=True, time_in_force=TimeInForce.FOK),
        "GTD needs expire_at_ns": intent(time_in_force=TimeInForce.GTD),
        "CANCEL needs target_intent_id": intent(action=IntentAction.CANCEL),
        "required": intent(token_id=""),
    }
    for needle, bad in cases.items():
        problems = intent_problems(bad)
        assert any(needle in p for p in problems), (needle, problems)


def test_side_and_status_helpers() -> None:
    assert Side.BUY.opposite is Side.SELL and Side.SELL.sign == -1
    assert TimeInForce.GTD.rests and not TimeInForce.FAK.rests
    assert OrderStatus.PARTIALLY_FILLED.is_open and not OrderStatus.CANCELED.is_open
    order = VenueOrder(
        client_order_id="o", intent_id="i", token_id="t", side=Side.BUY, price=1, size=10
    )
    order.filled_size = 4
    assert order.remaining_size == 6


def make_market(**changes: object) -> Market:
    yes = OutcomeToken(token_id="y", market_id="m", outcome="Yes", complement_token_id="n")
    no = OutcomeToken(token_id="n", market_id="m", outcome="No", complement_token_id="y")
    return msgspec.structs.replace(Market(market_id="m", tokens=(yes, no)), **changes)


def test_market_rules() -> None:
    assert market_problems(make_market()) == []
    assert market_problems(make_market(payouts={"y": 1_000_000, "n": 0})) == []
    assert market_problems(make_market(payouts={"y": 1_000_000, "n": 1_000_000}))
    assert market_problems(make_market(tokens=()))
    market = make_market()
    assert market.token("n").complement_token_id == "y"
    bad = OutcomeToken(token_id="n", market_id="m", outcome="No", complement_token_id="x")
    assert market_problems(make_market(tokens=(market.tokens[0], bad)))


levels = st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**12)), max_size=5)


@given(levels, levels, st.integers(0, 2**62), st.booleans())
def test_events_round_trip_exactly(bids: list, asks: list, ts: int, synthetic: bool) -> None:
    events = [
        BookSnapshot(token_id="t", bids=bids, asks=asks, ts_event_ns=ts, synthetic=synthetic),
        BookDelta(token_id="t", bids=bids, asks=asks, ts_event_ns=ts, sequence=7, prev_sequence=6),
        Trade(token_id="t", price=450_000, size=1, aggressor=Side.SELL, ts_event_ns=ts),
        MarketStatus(
            market_id="m",
            state=MarketState.RESOLVED,
            accepting_orders=False,
            winning_token_id="t",
            ts_event_ns=ts,
        ),
        FeedStatus(token_id="t", stale=True, reason_code="SYS_FEED_GAP", ts_event_ns=ts),
        KillSwitchTripped(reason_code="SYS_KILL_SWITCH_TRIPPED", source="op", ts_event_ns=ts),
        OperatorCommand(command="kill", operator="jd", args={"why": "test"}, ts_event_ns=ts),
        Fill(
            fill_id="f",
            client_order_id="o",
            token_id="t",
            side=Side.BUY,
            price=1,
            size=1,
            liquidity=LiquiditySide.MAKER,
            ts_event_ns=ts,
        ),
    ]
    for event in events:
        encoded = EVENT_ENCODER.encode(event)
        decoded = EVENT_DECODER.decode(encoded)
        assert type(decoded) is type(event)
        assert EVENT_ENCODER.encode(decoded) == encoded
