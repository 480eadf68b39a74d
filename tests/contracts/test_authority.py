"""Authority checks: reshape never riskier, routes never larger or elsewhere, REDUCE, HALT and
the kill switch only for bots declaring the capability, ACTIVE never asked for by a bot."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from polytraders.contracts.authority import (
    Capability,
    capability_problems,
    monitor_decision_problems,
    proposal_problems,
    reshape_problems,
    risk_decision_problems,
    route_plan_problems,
)
from polytraders.contracts.decisions import (
    MonitorAction,
    MonitorDecision,
    Proposal,
    RiskDecision,
    RoutePlan,
    Verdict,
)
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass
from polytraders.model.events import TradingState
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce, VenueOrder

NONE: frozenset[Capability] = frozenset()
HALT_ONLY = frozenset({Capability.HALT})
REDUCE_ONLY = frozenset({Capability.REDUCE})
ALL = frozenset(Capability)

BASE = OrderIntent(
    intent_id="i1",
    bot_id="strat.x",
    token_id="yes",
    market_id="m",
    side=Side.BUY,
    price=450_000,
    size=10_000_000,
)


def replace(intent: OrderIntent, **changes: object) -> OrderIntent:
    return msgspec.structs.replace(intent, **changes)


def test_safer_reshapes_pass() -> None:
    assert reshape_problems(BASE, replace(BASE, size=5_000_000)) == []
    assert reshape_problems(BASE, replace(BASE, price=440_000)) == []
    assert reshape_problems(BASE, replace(BASE, post_only=True)) == []
    assert reshape_problems(BASE, replace(BASE, reduce_only=True)) == []
    sell = replace(BASE, side=Side.SELL)
    assert reshape_problems(sell, replace(sell, price=460_000)) == []
    taker = replace(BASE, time_in_force=TimeInForce.FAK)
    assert (
        reshape_problems(taker, replace(taker, time_in_force=TimeInForce.GTC, post_only=True)) == []
    )


def test_riskier_reshapes_are_named() -> None:
    cases = {
        "increased size": replace(BASE, size=11_000_000),
        "more aggressive": replace(BASE, price=460_000),
        "changed token_id": replace(BASE, token_id="no"),
        "changed side": replace(BASE, side=Side.SELL),
        "changed intent_id": replace(BASE, intent_id="other"),
        "time in force": replace(BASE, time_in_force=TimeInForce.FAK),
    }
    for needle, reshaped in cases.items():
        assert any(needle in p for p in reshape_problems(BASE, reshaped)), needle
    post_only = replace(BASE, post_only=True, reduce_only=True)
    problems = reshape_problems(post_only, BASE)
    assert any("dropped post-only" in p for p in problems)
    assert any("dropped reduce-only" in p for p in problems)
    gtd = replace(BASE, time_in_force=TimeInForce.GTD, expire_at_ns=100)
    assert any("extended" in p for p in reshape_problems(gtd, replace(gtd, expire_at_ns=200)))
    cancel = replace(BASE, action=IntentAction.CANCEL, target_intent_id="i0")
    assert reshape_problems(cancel, cancel) == ["a cancel cannot be reshaped"]


@given(
    st.integers(1, 99).map(lambda c: c * 10_000),
    st.integers(1, 99).map(lambda c: c * 10_000),
    st.integers(1, 10**9),
    st.integers(1, 10**9),
    st.sampled_from([Side.BUY, Side.SELL]),
)
def test_reshape_passes_iff_not_larger_and_not_more_aggressive(
    price: int, new_price: int, size: int, new_size: int, side: Side
) -> None:
    original = replace(BASE, side=side, price=price, size=size)
    reshaped = replace(original, price=new_price, size=new_size)
    aggressive = new_price > price if side is Side.BUY else new_price < price
    assert (reshape_problems(original, reshaped) == []) == (new_size <= size and not aggressive)


def test_halt_and_reduce_need_their_capability_and_the_risk_class() -> None:
    halt = RiskDecision(verdict=Verdict.HALT, reason_codes=("RISK_X",))
    assert risk_decision_problems(BotClass.RISK, HALT_ONLY, BASE, halt) == []
    assert risk_decision_problems(BotClass.RISK, REDUCE_ONLY, BASE, halt) == [
        "HALT needs the HALT capability"
    ]
    assert risk_decision_problems(BotClass.EXECUTION, ALL, BASE, halt)
    reducing = RiskDecision(
        verdict=Verdict.REJECT, reason_codes=("RISK_X",), set_state=TradingState.REDUCING
    )
    assert risk_decision_problems(BotClass.RISK, HALT_ONLY, BASE, reducing) == [
        "entering REDUCING needs the REDUCE capability"
    ]
    assert risk_decision_problems(BotClass.RISK, REDUCE_ONLY, BASE, reducing) == []
    halted = RiskDecision(
        verdict=Verdict.REJECT, reason_codes=("RISK_X",), set_state=TradingState.HALTED
    )
    assert risk_decision_problems(BotClass.RISK, REDUCE_ONLY, BASE, halted)
    assert risk_decision_problems(BotClass.RISK, HALT_ONLY, BASE, halted) == []


def test_no_bot_may_ask_for_active() -> None:
    """Loosening the trading state is an operator's act, whatever the bot declares."""
    active = RiskDecision(verdict=Verdict.APPROVE, set_state=TradingState.ACTIVE)
    assert risk_decision_problems(BotClass.RISK, ALL, BASE, active) == [
        "no bot may ask for ACTIVE (only an operator resumes trading)"
    ]


def test_monitor_findings_need_their_capability() -> None:
    halt = MonitorDecision(action=MonitorAction.HALT, reason_codes=("RISK_X",))
    reduce = MonitorDecision(action=MonitorAction.REDUCE, reason_codes=("RISK_X",))
    assert monitor_decision_problems(BotClass.RISK, HALT_ONLY, halt) == []
    assert monitor_decision_problems(BotClass.RISK, REDUCE_ONLY, reduce) == []
    assert monitor_decision_problems(BotClass.RISK, REDUCE_ONLY, halt) == [
        "HALT needs the HALT capability"
    ]
    assert monitor_decision_problems(BotClass.RISK, HALT_ONLY, reduce) == [
        "REDUCE needs the REDUCE capability"
    ]
    assert monitor_decision_problems(BotClass.STRATEGY, ALL, halt)[0].startswith("a strategy")
    silent = MonitorDecision(action=MonitorAction.HALT, reason_codes=())
    assert monitor_decision_problems(BotClass.RISK, ALL, silent) == ["HALT needs a reason code"]


def test_capabilities_are_limited_by_class() -> None:
    assert capability_problems(BotClass.RISK, ALL) == []
    assert capability_problems(BotClass.RISK, frozenset({Capability.KILL_SWITCH})) == [
        "KILL_SWITCH needs HALT"
    ]
    assert capability_problems(BotClass.STRATEGY, HALT_ONLY) == ["a strategy bot cannot hold HALT"]
    assert capability_problems(BotClass.EXECUTION, NONE) == []


def test_decision_shape_rules() -> None:
    assert risk_decision_problems(
        BotClass.RISK, NONE, BASE, RiskDecision(verdict=Verdict.RESHAPE)
    ) == ["RESHAPE without a reshaped intent"]
    assert risk_decision_problems(
        BotClass.RISK, NONE, BASE, RiskDecision(verdict=Verdict.APPROVE, reshaped=BASE)
    )
    assert risk_decision_problems(BotClass.RISK, NONE, BASE, RiskDecision(verdict=Verdict.REJECT))
    riskier = RiskDecision(verdict=Verdict.RESHAPE, reshaped=replace(BASE, size=BASE.size + 1))
    assert any(
        "increased size" in p for p in risk_decision_problems(BotClass.RISK, NONE, BASE, riskier)
    )


def order(**changes: object) -> VenueOrder:
    base = VenueOrder(
        client_order_id=client_order_id("i1", 0),
        intent_id="i1",
        token_id="yes",
        side=Side.BUY,
        price=450_000,
        size=10_000_000,
    )
    return msgspec.structs.replace(base, **changes)


def test_route_plan_rules() -> None:
    second = order(client_order_id=client_order_id("i1", 1), size=6_000_000)
    ok = RoutePlan(orders=(order(size=4_000_000), second))
    assert route_plan_problems(BASE, ok, "no") == []
    assert route_plan_problems(BASE, RoutePlan(orders=(order(size=10_000_001),)), "no")
    assert route_plan_problems(BASE, RoutePlan(orders=(order(price=460_000),)), "no")
    assert route_plan_problems(BASE, RoutePlan(orders=(order(side=Side.SELL),)), "no")
    assert route_plan_problems(BASE, RoutePlan(orders=(order(intent_id="x"),)), "no")
    assert route_plan_problems(BASE, RoutePlan(orders=(order(token_id="zzz"),)), "no")
    cancel = replace(BASE, action=IntentAction.CANCEL, target_intent_id="i0")
    assert route_plan_problems(cancel, RoutePlan(cancel_client_order_ids=("o0",)), "no") == []
    assert route_plan_problems(cancel, RoutePlan(orders=(order(),)), "no")
    post_only = replace(BASE, post_only=True)
    assert any(
        "post-only" in p for p in route_plan_problems(post_only, RoutePlan(orders=(order(),)), "no")
    )


def test_client_order_ids_derive_from_the_intent_and_position() -> None:
    """Order k of a plan for intent I has id ``I/o<k>``, exactly: another id, another intent's
    id, a skipped position or two orders with one id are all refused."""
    first, second = order(size=4_000_000), order(client_order_id="i1/o1", size=6_000_000)
    assert first.client_order_id == "i1/o0"
    assert route_plan_problems(BASE, RoutePlan(orders=(first, second)), "no") == []
    for wrong in ("run-x/o7", "i2/o0", "i1/o1", "i1/o0/o0", "", "I1/o0"):
        problems = route_plan_problems(
            BASE, RoutePlan(orders=(order(client_order_id=wrong),)), "no"
        )
        assert problems == [
            f"order #0 has client order id {wrong!r}, not 'i1/o0' "
            "(ids derive from the intent and the order's position)"
        ]
    twice = RoutePlan(orders=(first, order(size=6_000_000)))  # both "i1/o0"
    assert route_plan_problems(BASE, twice, "no") == [
        "order #1 has client order id 'i1/o0', not 'i1/o1' "
        "(ids derive from the intent and the order's position)"
    ]
    swapped = RoutePlan(orders=(second, first))
    assert len(route_plan_problems(BASE, swapped, "no")) == 2


@given(st.text(min_size=1, max_size=40), st.integers(1, 15))
def test_derived_ids_are_distinct_and_accepted(intent_id: str, legs: int) -> None:
    intent = replace(BASE, intent_id=intent_id, size=legs * 1_000_000)
    orders = tuple(
        order(intent_id=intent_id, client_order_id=client_order_id(intent_id, k), size=1_000_000)
        for k in range(legs)
    )
    assert len({o.client_order_id for o in orders}) == legs
    assert route_plan_problems(intent, RoutePlan(orders=orders), "no") == []


def test_complement_route_is_the_mirrored_trade_only() -> None:
    sell_yes = replace(BASE, side=Side.SELL, price=450_000)
    buy_no = order(token_id="no", side=Side.BUY, price=550_000)
    assert route_plan_problems(sell_yes, RoutePlan(orders=(buy_no,)), "no") == []
    # paying more than 1 - p for the complement is a more aggressive trade
    assert route_plan_problems(
        sell_yes, RoutePlan(orders=(order(token_id="no", price=560_000),)), "no"
    )
    # the complement route is never allowed for reduce-only intents or unknown complements
    reduce_only = replace(sell_yes, reduce_only=True)
    assert route_plan_problems(reduce_only, RoutePlan(orders=(buy_no,)), "no")
    assert route_plan_problems(sell_yes, RoutePlan(orders=(buy_no,)), None)


def test_proposal_problems() -> None:
    assert proposal_problems("strat.x", Proposal(intents=(BASE,))) == []
    assert proposal_problems("strat.y", Proposal(intents=(BASE,)))
    # a strategy cancels or replaces only its own intents ("<bot_id>/…")
    own = replace(BASE, action=IntentAction.CANCEL, target_intent_id="strat.x/1")
    assert proposal_problems("strat.x", Proposal(intents=(own,))) == []
    for target in ("strat.y/1", "strat.xy/1", "adopted:0xabc", "strat.x"):
        foreign = replace(BASE, action=IntentAction.REPLACE, target_intent_id=target)
        assert proposal_problems("strat.x", Proposal(intents=(foreign,))) == [
            f"intent i1 targets {target!r}, not an intent of strat.x"
        ]
