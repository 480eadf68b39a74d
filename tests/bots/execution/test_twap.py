"""exec.twap: slicing properties (hypothesis), the schedule of decide, each child's release
against a real recorded book (the exec.smartrouter fixture's BTC 15-minute market), and the
unwind intent; the desk's contract checks on plans with children."""

from __future__ import annotations

from itertools import pairwise

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.bots.execution.twap import Twap, TwapConfig, twap_slices, unwind_intent
from polytraders.bots.execution.twap import bot as twap
from polytraders.contracts.authority import children_problems, route_plan_problems
from polytraders.contracts.bot import ChildRouter, bot_problems
from polytraders.contracts.decisions import ChildSlice, RoutePlan
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.reasons import load_registry
from polytraders.desk.state import DeskState
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.readiness.packs import build_state, load_case

NS = 1_000_000_000
CASE = load_case("exec.smartrouter", "normal")
UP = next(t for t in CASE["state"]["books"] if t.endswith(":UP"))
MARKET = CASE["state"]["markets"][0]["market_id"]
STEP = 10_000


def state(held: int = 0) -> DeskState:
    desk = build_state(CASE["state"])
    if held:
        book = desk.book(UP)
        assert book is not None and book.best_ask() is not None
        desk.ledger.apply_fill(
            Fill(
                fill_id="f-held",
                client_order_id="seed/o0",
                token_id=UP,
                side=Side.BUY,
                price=book.best_ask() or 0,
                size=held,
                fee=0,
                liquidity=LiquiditySide.TAKER,
                ts_event_ns=desk.now_ns,
            )
        )
    return desk


def intent(
    side: Side = Side.BUY, size: int = 60_000_000, price: int = 990_000, **kw: object
) -> OrderIntent:
    return OrderIntent(
        intent_id="strat.t/i1",
        bot_id="strat.t",
        token_id=UP,
        market_id=MARKET,
        side=side,
        price=price,
        size=size,
        **kw,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------- slicing
@given(
    lots=st.integers(min_value=1, max_value=200_000),
    slices=st.integers(min_value=1, max_value=1_000),
    min_lots=st.integers(min_value=0, max_value=1_000),
    step=st.sampled_from([1, 10_000, 1_000_000]),
    duration_s=st.integers(min_value=1, max_value=86_400),
    start_ns=st.integers(min_value=0, max_value=2 * 10**18),
)
def test_slices_sum_exactly_on_the_lot_above_the_minimum_in_time(
    lots: int, slices: int, min_lots: int, step: int, duration_s: int, start_ns: int
) -> None:
    size, min_size = lots * step, min_lots * step
    children = twap_slices(
        size,
        start_ns=start_ns,
        duration_ns=duration_s * NS,
        slices=slices,
        min_size=min_size,
        step=step,
    )
    if size < max(min_size, step):
        assert children == ()
        return
    assert 1 <= len(children) <= slices
    assert sum(c.size for c in children) == size
    assert all(c.size % step == 0 and c.size >= max(min_size, step) for c in children)
    # a smaller minimum or one more child would not fit: the count is the largest possible
    assert len(children) == slices or (len(children) + 1) * max(min_size, step) > size
    releases = [c.release_ns for c in children]
    assert releases[0] == start_ns
    assert all(b > a for a, b in pairwise(releases))
    assert releases[-1] < start_ns + duration_s * NS
    assert max(c.size for c in children) - min(c.size for c in children) <= step


def test_slicing_refuses_sizes_off_the_lot() -> None:
    with pytest.raises(ValueError, match="multiple of the lot"):
        twap_slices(15_000, start_ns=0, duration_ns=NS, slices=2, min_size=0, step=10_000)


# ---------------------------------------------------------------------- decide
def test_decide_schedules_children_over_the_duration() -> None:
    view = state()
    plan = Twap(TwapConfig(duration_s=60, slice_count=6)).decide(intent(), view)
    assert plan.reason_codes == (twap.SCHEDULED,) and plan.orders == ()
    assert [c.size for c in plan.child_slices] == [10_000_000] * 6
    assert [c.release_ns - view.now_ns for c in plan.child_slices] == [
        k * 10 * NS for k in range(6)
    ]
    assert route_plan_problems(intent(), plan, None) == []
    assert children_problems(intent(), plan, view.now_ns) == []


def test_a_reduce_only_intent_uses_the_unwind_schedule_and_minimum_merges_slices() -> None:
    config = TwapConfig(unwind_duration_s=40, unwind_slice_count=20)
    plan = Twap(config).decide(intent(Side.SELL, size=12_345_678, reduce_only=True), state())
    # 12.34 shares (rounded to the lot) cannot make 20 children of >= 5 shares: 2 children
    assert plan.reason_codes == (twap.SCHEDULED, twap.SIZE_ROUNDED)
    assert [c.size for c in plan.child_slices] == [6_170_000, 6_170_000]
    assert plan.child_slices[1].release_ns - plan.child_slices[0].release_ns == 20 * NS


def test_a_gtd_intent_is_worked_before_its_expiry() -> None:
    view = state()
    plan = Twap(TwapConfig(duration_s=600, slice_count=3)).decide(
        intent(time_in_force=TimeInForce.GTD, expire_at_ns=view.now_ns + 30 * NS), view
    )
    assert [c.release_ns - view.now_ns for c in plan.child_slices] == [0, 10 * NS, 20 * NS]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"post_only": True}, twap.UNSUPPORTED),
        ({"time_in_force": TimeInForce.FOK}, twap.UNSUPPORTED),
        ({"size": 4_000_000}, twap.BELOW_MIN_SIZE),
        ({"token_id": "nope"}, twap.UNKNOWN_TOKEN),
        ({"size": -1}, twap.INVALID_INTENT),
        ({"time_in_force": TimeInForce.GTD, "expire_at_ns": 1}, twap.EXPIRED),
    ],
)
def test_refusals_are_hard_and_schedule_nothing(fields: dict[str, object], code: str) -> None:
    plan = Twap().decide(msgspec.structs.replace(intent(), **fields), state())
    assert plan.reason_codes == (code,) and plan.child_slices == () and plan.orders == ()
    assert load_registry()[code].severity.value == "hard"


def test_cancel_names_the_target_orders() -> None:
    cancel = msgspec.structs.replace(
        intent(),
        intent_id="strat.t/i2",
        action=IntentAction.CANCEL,
        size=0,
        price=0,
        target_intent_id="strat.t/i1",
    )
    plan = Twap().decide(cancel, state())
    assert plan.reason_codes == (twap.CANCEL_NOTHING_OPEN,) and plan.child_slices == ()


# ---------------------------------------------------------------------- release
def test_a_child_takes_within_the_band_at_the_worst_level_it_reaches() -> None:
    view = state()
    book = view.book(UP)
    assert book is not None
    ask = book.best_ask()
    assert ask is not None
    bot = Twap(TwapConfig(max_cross_ticks=2, max_depth_take_pct=100))
    plan = bot.release(intent(size=20_000_000), 3, view)
    (order,) = plan.orders
    assert plan.reason_codes == (twap.CHILD_ROUTED,)
    assert order.client_order_id == client_order_id("strat.t/i1", 3)
    assert order.time_in_force is TimeInForce.FAK and order.side is Side.BUY
    assert ask <= order.price <= ask + 2 * 1_000 and order.price % 1_000 == 0
    walk = book.walk(Side.BUY, order.price, size=order.size)
    assert walk.complete and walk.fills[-1][0] == order.price
    assert route_plan_problems(intent(size=20_000_000), plan, None, first_leg=3) == []


def test_thin_depth_shrinks_then_skips_a_child() -> None:
    view = state()
    book = view.book(UP)
    assert book is not None and book.best_ask() is not None
    depth = book.depth_within(Side.SELL, 0, 1_000)  # size at the best ask
    bot = Twap(TwapConfig(max_cross_ticks=0, max_depth_take_pct=100))
    plan = bot.release(intent(size=depth + 100_000_000), 0, view)
    (order,) = plan.orders
    assert plan.reason_codes == (twap.CHILD_ROUTED, twap.CHILD_SHRUNK)
    assert order.size == depth - depth % STEP and order.price == book.best_ask()
    # a take share too small for 5 shares at the touch skips the child
    tiny = Twap(TwapConfig(max_cross_ticks=0, max_depth_take_pct=1))
    if depth // 100 < 5_000_000:
        assert tiny.release(intent(size=50_000_000), 0, view).reason_codes == (twap.DEPTH_THIN,)


def test_a_limit_away_from_the_touch_skips_and_a_sell_is_capped_by_holdings() -> None:
    view = state(held=30_000_000)
    book = view.book(UP)
    assert book is not None and book.best_ask() is not None and book.best_bid() is not None
    bot = Twap(TwapConfig(max_depth_take_pct=100))
    low = intent(price=book.best_ask() - 1_000)
    assert bot.release(low, 0, view).reason_codes == (twap.LIMIT_AWAY,)
    sell = intent(Side.SELL, size=40_000_000, price=1_000, reduce_only=True)
    (order,) = bot.release(sell, 0, view).orders
    assert order.size == 30_000_000 and order.reduce_only and order.price >= book.best_bid() - 2_000
    assert bot.release(sell, 0, state()).reason_codes == (twap.NOTHING_HELD,)


# ---------------------------------------------------------------------- unwind + contract
def test_unwind_intent_is_reduce_only_for_the_whole_position() -> None:
    token = state().token(UP)
    assert token is not None
    long = unwind_intent(token, 12_340_000, 1_000, intent_id="k/i1", bot_id="risk.k", now_ns=5)
    assert (long.side, long.size, long.reduce_only, long.price) == (
        Side.SELL,
        12_340_000,
        True,
        1_000,
    )
    short = unwind_intent(token, -3, 999_000, intent_id="k/i2", bot_id="risk.k", now_ns=5)
    assert (short.side, short.size) == (Side.BUY, 3)
    with pytest.raises(ValueError, match="no position"):
        unwind_intent(token, 0, 1_000, intent_id="k/i3", bot_id="risk.k", now_ns=5)


def test_the_bot_meets_the_contract_and_has_a_release_step() -> None:
    assert bot_problems(Twap, load_registry()) == []
    assert isinstance(Twap(), ChildRouter)


def test_children_beyond_the_intent_or_out_of_order_are_violations() -> None:
    plan = RoutePlan(
        children=(ChildSlice(release_ns=10, size=40), ChildSlice(release_ns=10, size=30))
    )
    problems = children_problems(intent(size=60), plan, 10)
    assert "children and orders exceed the intent's size" in problems
    assert "child release times are not strictly increasing from now" in problems
