"""exec.smartrouter: hand-computed routes on the recorded books, refusals, and properties
(never larger, never more aggressive, always on tick, post-only kept)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.bots.execution.smartrouter import SmartRouter, SmartRouterConfig
from polytraders.bots.execution.smartrouter.pricing import (
    clamp_to_range,
    passive_price,
    round_size,
    would_cross,
)
from polytraders.contracts.authority import route_plan_problems
from polytraders.contracts.bot import bot_problems
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.reasons import load_registry
from polytraders.desk.state import DeskState
from polytraders.model.book import OrderBook
from polytraders.model.events import FeedStatus
from polytraders.model.money import ONE
from polytraders.model.orders import (
    IntentAction,
    OrderIntent,
    OrderStatus,
    Side,
    TimeInForce,
    VenueOrder,
)
from polytraders.readiness.packs import ACCOUNT, BUILDER_CODE, build_state, load_case

S = 1_000_000_000
TICK = 1_000


def setup(edit=None, account=ACCOUNT) -> tuple[DeskState, OrderIntent, str, str]:  # type: ignore[no-untyped-def]
    """The recorded normal case as a real desk state (state dict optionally edited)."""
    case = load_case("exec.smartrouter", "normal")
    if edit is not None:
        edit(case["state"])
    view = build_state(case["state"], account)
    intent = msgspec.convert(case["input"], OrderIntent)
    up, down = (t.token_id for t in view.markets()[0].tokens)
    return view, intent, up, down


def set_tokens(view: DeskState, **changes: object) -> None:
    """Change both tokens' metadata (tick, neg-risk) in the desk's market list."""
    market = view.markets()[0]
    tokens = tuple(msgspec.structs.replace(t, **changes) for t in market.tokens)
    view.add_market(msgspec.structs.replace(market, tokens=tokens))


def test_contract_conforms() -> None:
    assert bot_problems(SmartRouter, load_registry()) == []
    with pytest.raises(ValueError, match="gtd_security_margin_s"):
        SmartRouterConfig(gtd_security_margin_s=30)
    with pytest.raises(ValueError, match="max_batch_count"):
        SmartRouterConfig(max_batch_count=16)
    with pytest.raises(ValueError, match="builder_code"):
        SmartRouterConfig(builder_code="0x1234")


# ---------------------------------------------------------------- pricing units
def test_pricing_units() -> None:
    assert passive_price(Side.BUY, 90_400, TICK) == 90_000
    assert passive_price(Side.SELL, 90_400, TICK) == 91_000
    assert passive_price(Side.SELL, 90_000, TICK) == 90_000
    assert clamp_to_range(Side.BUY, 999_000, 10_000) == 990_000
    assert clamp_to_range(Side.BUY, 0, 10_000) is None
    assert clamp_to_range(Side.SELL, 0, 10_000) == 10_000
    assert clamp_to_range(Side.SELL, 1_000_000, 10_000) is None
    assert round_size(10_005_000, 10_000) == 10_000_000
    book = OrderBook("t")
    book.apply_snapshot([(80_000, 1)], [(90_000, 1)], 1)
    assert would_cross(Side.BUY, 90_000, book) and not would_cross(Side.BUY, 89_000, book)
    assert would_cross(Side.SELL, 80_000, book) and not would_cross(Side.SELL, 81_000, book)


# ---------------------------------------------------------------- routes
def test_normal_route_hand_checked() -> None:
    view, intent, up, _ = setup()
    plan = SmartRouter().decide(intent, view)
    (order,) = plan.orders
    assert order.client_order_id == f"{intent.intent_id}/o0"
    assert (order.token_id, order.side, order.price, order.size) == (
        up,
        Side.BUY,
        89_000,
        10_000_000,
    )
    assert order.exchange == "ctf" and order.post_only and order.builder_code == BUILDER_CODE
    # intended expiry now + 120 s → whole seconds (down) + 60 s security margin
    assert order.expire_at_ns == (intent.expire_at_ns // S + 60) * S
    assert plan.reason_codes == ("EXEC_ROUTED",)
    assert route_plan_problems(intent, plan, None) == []


def test_neg_risk_exchange_and_config_builder_code() -> None:
    view, intent, _, _ = setup()
    set_tokens(view, neg_risk=True)
    code = "0x" + "ab" * 32
    plan = SmartRouter(SmartRouterConfig(builder_code=code)).decide(intent, view)
    assert plan.orders[0].exchange == "neg_risk"
    assert plan.orders[0].builder_code == code  # the router's own code wins over the account's


def test_builder_code_rules() -> None:
    view, intent, _, _ = setup()
    other = "0x" + "cd" * 32
    assert SmartRouter().decide(
        msgspec.structs.replace(intent, builder_code=other), view
    ).reason_codes == ("EXEC_BUILDER_CODE_MISMATCH",)
    assert SmartRouter().decide(
        msgspec.structs.replace(intent, builder_code="0xzz"), view
    ).reason_codes == ("EXEC_BUILDER_CODE_INVALID",)
    view, _, _, _ = setup(account=msgspec.structs.replace(ACCOUNT, builder_code=""))
    assert SmartRouter().decide(intent, view).reason_codes == ("EXEC_BUILDER_CODE_MISSING",)
    relaxed = SmartRouter(SmartRouterConfig(require_builder_code=False)).decide(intent, view)
    assert relaxed.orders[0].builder_code == ""


def test_sell_split_between_held_shares_and_the_complement() -> None:
    view, intent, up, down = setup()
    sell = msgspec.structs.replace(intent, side=Side.SELL, price=90_000, size=30_000_000)
    view.ledger.set_position(up, 12_000_000, 1_000_000)
    # 5 held shares are already offered by another resting sell
    view.add_order(
        VenueOrder(
            client_order_id="x/o0",
            intent_id="x",
            token_id=up,
            side=Side.SELL,
            price=95_000,
            size=5_000_000,
            status=OrderStatus.ACCEPTED,
        )
    )
    plan = SmartRouter().decide(sell, view)
    legs = [(o.token_id, o.side, o.price, o.size) for o in plan.orders]
    assert legs == [(up, Side.SELL, 90_000, 7_000_000), (down, Side.BUY, 910_000, 23_000_000)]
    assert "EXEC_COMPLEMENT_ROUTE" in plan.reason_codes
    # each leg's id derives from the intent and its position: the order's only id from now on
    assert [o.client_order_id for o in plan.orders] == [
        client_order_id(sell.intent_id, 0),
        client_order_id(sell.intent_id, 1),
    ]
    assert route_plan_problems(sell, plan, down) == []


def test_reduce_only_sell_is_never_mirrored() -> None:
    view, intent, up, _ = setup()
    sell = msgspec.structs.replace(
        intent, side=Side.SELL, price=90_000, size=10_000_000, reduce_only=True
    )
    assert SmartRouter().decide(sell, view).reason_codes == ("EXEC_SELL_NOT_HELD",)
    view.ledger.set_position(up, 6_000_000, 500_000)
    plan = SmartRouter().decide(sell, view)
    assert [o.size for o in plan.orders] == [
        6_000_000
    ] and "EXEC_PARTIAL_ROUTE" in plan.reason_codes
    off = SmartRouter(SmartRouterConfig(allow_complement_buy=False))
    assert (
        off.decide(msgspec.structs.replace(sell, reduce_only=False, size=20_000_000), view)
        .orders[0]
        .size
        == 6_000_000
    )


def test_maker_post_only_added_only_when_resting_and_not_crossing() -> None:
    view, intent, _, _ = setup()
    gtc = msgspec.structs.replace(
        intent, post_only=False, time_in_force=TimeInForce.GTC, expire_at_ns=0
    )
    plan = SmartRouter().decide(gtc, view)
    assert plan.orders[0].post_only and "EXEC_POST_ONLY_ADDED" in plan.reason_codes
    marketable = msgspec.structs.replace(gtc, price=95_000)  # crosses the 0.09 ask: a taker
    assert not SmartRouter().decide(marketable, view).orders[0].post_only
    crossing_post_only = msgspec.structs.replace(intent, price=95_000)
    assert SmartRouter().decide(crossing_post_only, view).reason_codes == (
        "EXEC_POST_ONLY_WOULD_CROSS",
    )


def test_market_orders() -> None:
    view, intent, up, _ = setup()
    fak = msgspec.structs.replace(
        intent,
        post_only=False,
        time_in_force=TimeInForce.FAK,
        expire_at_ns=0,
        price=95_000,
        size=20_000_000,
    )
    assert SmartRouter().decide(fak, view).orders[0].time_in_force is TimeInForce.FAK
    # 10 shares at 0.095 is 0.95 pUSD: below the 1 pUSD market-order minimum
    small = msgspec.structs.replace(fak, size=10_000_000)
    assert SmartRouter().decide(small, view).reason_codes == ("EXEC_BELOW_MIN_NOTIONAL",)
    by_cash = msgspec.structs.replace(fak, size=0, notional=5_004_000)
    order = SmartRouter().decide(by_cash, view).orders[0]
    assert (order.size, order.notional) == (0, 5_000_000)
    tiny = msgspec.structs.replace(fak, size=0, notional=500_000)
    assert SmartRouter().decide(tiny, view).reason_codes == ("EXEC_BELOW_MIN_NOTIONAL",)
    view.set_book(up, [(80_000, 1)], [], view.now_ns)
    assert SmartRouter().decide(fak, view).reason_codes == ("EXEC_ONE_SIDED_BOOK",)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda v, up: v.set_book(up, [], [], v.now_ns), "EXEC_NO_BOOK"),
        (
            lambda v, up: v.set_book(up, [(95_000, 1)], [(90_000, 1)], v.now_ns),
            "EXEC_CROSSED_BOOK",
        ),
        (
            lambda v, up: v.apply_event(FeedStatus(ts_event_ns=v.now_ns, token_id=up, stale=True)),
            "EXEC_STALE_BOOK",
        ),
    ],
)
def test_corrupt_books_refuse(mutate, code: str) -> None:  # type: ignore[no-untyped-def]
    view, intent, up, _ = setup()
    mutate(view, up)
    plan = SmartRouter().decide(intent, view)
    assert plan.orders == () and plan.reason_codes == (code,)


def test_refusals() -> None:
    view, intent, _, _ = setup()
    r = SmartRouter()
    assert r.decide(msgspec.structs.replace(intent, price=0), view).reason_codes == (
        "EXEC_INVALID_INTENT",
    )
    assert r.decide(
        msgspec.structs.replace(intent, expire_at_ns=view.now_ns + 2 * S), view
    ).reason_codes == ("EXEC_GTD_TOO_SHORT",)
    assert r.decide(msgspec.structs.replace(intent, price=400), view).reason_codes == (
        "EXEC_PRICE_OUT_OF_RANGE",
    )
    assert r.decide(msgspec.structs.replace(intent, size=4_000), view).reason_codes == (
        "EXEC_BELOW_MIN_SIZE",
    )


def test_cancel_and_replace() -> None:
    view, intent, up, _ = setup()
    for k in (1, 0):
        view.add_order(
            VenueOrder(
                client_order_id=f"old/o{k}",
                intent_id="old",
                token_id=up,
                side=Side.BUY,
                price=80_000,
                size=5_000_000,
                status=OrderStatus.ACCEPTED,
            )
        )
    cancel = OrderIntent(
        intent_id="c1",
        bot_id=intent.bot_id,
        action=IntentAction.CANCEL,
        token_id="anything",
        side=Side.BUY,
        price=0,
        size=0,
        target_intent_id="old",
    )
    plan = SmartRouter().decide(cancel, view)
    assert plan.cancel_client_order_ids == ("old/o0", "old/o1") and plan.orders == ()
    assert plan.reason_codes == ("EXEC_CANCEL_ROUTED",)
    none_open = msgspec.structs.replace(cancel, target_intent_id="gone")
    assert SmartRouter().decide(none_open, view).reason_codes == ("EXEC_CANCEL_NOTHING_OPEN",)
    replace = msgspec.structs.replace(intent, action=IntentAction.REPLACE, target_intent_id="old")
    plan = SmartRouter().decide(replace, view)
    assert plan.cancel_client_order_ids == ("old/o0", "old/o1") and len(plan.orders) == 1
    assert plan.reason_codes == ("EXEC_ROUTED", "EXEC_CANCEL_ROUTED")
    # a refused replacement still withdraws the old order (fail closed)
    bad = msgspec.structs.replace(replace, size=1_000_000)
    plan = SmartRouter().decide(bad, view)
    assert plan.orders == () and plan.cancel_client_order_ids == ("old/o0", "old/o1")
    assert plan.reason_codes == ("EXEC_BELOW_MIN_SIZE", "EXEC_CANCEL_ROUTED")


def test_batches_of_at_most_fifteen() -> None:
    view, intent, _, _ = setup()
    orders = [
        SmartRouter().decide(msgspec.structs.replace(intent, intent_id=f"i{k}"), view).orders[0]
        for k in range(32)
    ]
    batches = SmartRouter().batches(orders)
    assert [len(b) for b in batches] == [15, 15, 2]
    assert [o for b in batches for o in b] == orders
    assert [
        len(b) for b in SmartRouter(SmartRouterConfig(max_batch_count=4)).batches(orders[:9])
    ] == [4, 4, 1]


# ---------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    price=st.integers(1, ONE - 1),
    size=st.integers(1, 200_000_000),
    held=st.integers(0, 100_000_000),
    tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTD, TimeInForce.FOK, TimeInForce.FAK]),
    post_only=st.booleans(),
    reduce_only=st.booleans(),
    tick=st.sampled_from([100, 1_000, 10_000, 100_000]),
)
def test_never_larger_never_more_aggressive_always_on_tick(
    side: Side,
    price: int,
    size: int,
    held: int,
    tif: TimeInForce,
    post_only: bool,
    reduce_only: bool,
    tick: int,
) -> None:
    view, base, up, down = setup()
    set_tokens(view, tick_size=tick)
    view.ledger.set_position(up, held, held // 2)
    rests = tif.rests
    intent = msgspec.structs.replace(
        base,
        side=side,
        price=price,
        size=size,
        time_in_force=tif,
        expire_at_ns=base.expire_at_ns if tif is TimeInForce.GTD else 0,
        post_only=post_only and rests,
        reduce_only=reduce_only,
    )
    plan = SmartRouter().decide(intent, view)
    assert route_plan_problems(intent, plan, down) == []
    assert sum(o.size for o in plan.orders) <= size
    for order in plan.orders:
        token = view.token(order.token_id)
        assert token is not None
        assert order.price % token.tick_size == 0
        assert token.tick_size <= order.price <= ONE - token.tick_size
        assert order.size % 10_000 == 0
        if intent.post_only:
            assert order.post_only
        if order.post_only:
            book = view.book(order.token_id)
            assert book is not None and not would_cross(order.side, order.price, book)
        if order.token_id == up and order.side is Side.SELL:
            assert order.size <= held
    if not plan.orders:
        assert plan.reason_codes and plan.reason_codes[0].startswith("EXEC_")
