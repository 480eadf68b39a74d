"""The MetaAllocator's budgets (issue 21 item 6, Done-when): no strategy's capital in use ever
exceeds its budget, whatever intents, fills (partial or full, at or better than the limit,
longs and shorts), cancels and book moves come; the allocator's rules around that."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.accounting.ledger import Ledger
from polytraders.contracts.allocation import Allocation
from polytraders.desk.allocator import (
    SYS_ALLOCATOR_BUDGET_EXCEEDED,
    SYS_ALLOCATOR_BUDGET_RESHAPED,
    SYS_ALLOCATOR_UNKNOWN_STRATEGY,
    AllocatorConfig,
    DrawdownTier,
    MetaAllocator,
)
from polytraders.desk.orders import OrderManager
from polytraders.desk.state import DeskState
from polytraders.model.events import OrderAccepted, OrderCanceled
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import BINANCE_USDM, Instrument
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.paper.venue import PaperVenue

BTC = Instrument(
    venue=BINANCE_USDM, symbol="BTCUSDT", price_increment=100_000, size_increment=1_000,
    min_size=1_000,
)  # fmt: skip
ETH = Instrument(
    venue=BINANCE_USDM, symbol="ETHUSDT", price_increment=10_000, size_increment=1_000,
    min_size=1_000,
)  # fmt: skip
INSTRUMENTS = (BTC, ETH)
BASE_PRICE = {BTC.token_id: 60_000_000_000, ETH.token_id: 2_500_000_000}
STRATS = ("strat.alpha", "strat.beta", "strat.gamma")
CASH = 1_000_000_000_000  # 1 000 000 USDT


@dataclass
class Harness:
    """A real desk state and order manager with the allocator as their fill listener."""

    state: DeskState
    orders: OrderManager
    allocator: MetaAllocator
    intents: dict[str, list[str]] = field(default_factory=dict)
    count: int = 0

    def book(self, token: str, mid: int, step: int) -> None:
        self.state.set_book(token, [(mid - step, 1_000_000)], [(mid + step, 1_000_000)], 1)

    def submit(self, intent: OrderIntent) -> tuple[str, OrderIntent | None]:
        """Through the allocator; an approved (maybe reshaped) intent becomes an open order
        (a REPLACE's target stays open: the new order could be held, the old still fill)."""
        verdict = self.allocator.check(intent, self.state)
        approved = intent if not verdict.code else verdict.intent
        if approved is None:
            return verdict.code, None
        self.count += 1
        order = VenueOrder(
            client_order_id=f"{approved.intent_id}/0",
            intent_id=approved.intent_id,
            bot_id=approved.bot_id,
            token_id=approved.token_id,
            side=approved.side,
            price=approved.price,
            size=approved.size,
            status=OrderStatus.PENDING_NEW,
        )
        self.state.add_order(order)
        self.orders.apply(
            OrderAccepted(
                ts_event_ns=self.count,
                client_order_id=order.client_order_id,
                venue_order_id=f"v{self.count}",
            ),
            1,
        )
        self.intents.setdefault(approved.bot_id, []).append(approved.intent_id)
        return verdict.code, approved

    def fill(self, order: VenueOrder, size: int, improve_ticks: int) -> None:
        """Fill ``size`` of ``order`` at ``improve_ticks`` × 100 ticks better than its limit."""
        tick = next(i for i in INSTRUMENTS if i.token_id == order.token_id).price_increment
        better = -improve_ticks * 100 if order.side is Side.BUY else improve_ticks * 100
        price = max(order.price + better * tick, tick)
        self.count += 1
        self.orders.apply(
            Fill(
                fill_id=f"f{self.count}",
                client_order_id=order.client_order_id,
                token_id=order.token_id,
                side=order.side,
                price=price,
                size=size,
                liquidity=LiquiditySide.MAKER,
                ts_event_ns=self.count,
            ),
            1,
        )

    def cancel(self, order: VenueOrder) -> None:
        self.count += 1
        self.orders.apply(
            OrderCanceled(ts_event_ns=self.count, client_order_id=order.client_order_id), 1
        )

    def within_budgets(self) -> None:
        for s in STRATS:
            used = self.allocator.capital_in_use(s, self.state)
            assert used <= self.allocator.budget(s), (s, used, self.allocator.budget(s))


def harness(allocator_cls: type[MetaAllocator] = MetaAllocator, **config: object) -> Harness:
    state = DeskState(ledger=Ledger(CASH))
    for instrument in INSTRUMENTS:
        state.add_instrument(instrument)
    venue = PaperVenue(PaperVenueConfig(), [], "run-alloc", instruments=list(INSTRUMENTS))
    orders = OrderManager(venue, state)
    settings_ = {
        "budgets_pct": {"strat.alpha": 40, "strat.beta": 30, "strat.gamma": 20},
        "reserve_pct": 10,
        **config,
    }
    allocator = allocator_cls(AllocatorConfig.model_validate(settings_), STRATS, STRATS)
    orders.listener = allocator
    h = Harness(state, orders, allocator)
    for instrument in INSTRUMENTS:
        token = instrument.token_id
        h.book(token, BASE_PRICE[token], instrument.price_increment)
    allocator.start(state)
    return h


def intent(
    n: int,
    strategy: str,
    instrument: Instrument,
    side: Side,
    price: int,
    size: int,
    action: IntentAction = IntentAction.PLACE,
    target: str = "",
) -> OrderIntent:
    return OrderIntent(
        intent_id=f"{strategy}/{n}",
        bot_id=strategy,
        action=action,
        token_id=instrument.token_id,
        side=side,
        price=price,
        size=size,
        target_intent_id=target,
    )


_intent_step = st.tuples(
    st.just("intent"),
    st.sampled_from(STRATS),
    st.sampled_from(INSTRUMENTS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(-50, 50),  # ticks x 100 from the base price
    st.integers(1, 12_000),  # lots (0.001)
    st.booleans(),  # REPLACE an earlier intent of the strategy
)
_fill_step = st.tuples(
    st.just("fill"), st.integers(0, 10**6), st.integers(1, 100), st.integers(0, 30)
)
_cancel_step = st.tuples(st.just("cancel"), st.integers(0, 10**6))
_book_step = st.tuples(st.just("book"), st.sampled_from(INSTRUMENTS), st.integers(-200, 200))
STEPS = st.lists(st.one_of(_intent_step, _fill_step, _cancel_step, _book_step), max_size=60)


def run_steps(h: Harness, steps: list[tuple[object, ...]]) -> None:
    for n, step in enumerate(steps):
        kind = step[0]
        if kind == "intent":
            _, strategy, instrument, side, ticks, lots, replace = step
            assert isinstance(instrument, Instrument) and isinstance(strategy, str)
            assert isinstance(ticks, int) and isinstance(lots, int)
            price = BASE_PRICE[instrument.token_id] + ticks * 100 * instrument.price_increment
            earlier = h.intents.get(strategy, [])
            action = IntentAction.REPLACE if replace and earlier else IntentAction.PLACE
            target = earlier[-1] if action is IntentAction.REPLACE else ""
            h.submit(
                intent(n, strategy, instrument, side, price, lots * 1_000, action, target)  # type: ignore[arg-type]
            )
        elif kind in ("fill", "cancel"):
            open_orders = list(h.state.open_orders())
            if not open_orders:
                continue
            assert isinstance(step[1], int)
            order = open_orders[step[1] % len(open_orders)]
            if kind == "cancel":
                h.cancel(order)
            else:
                _, _, pct, improve = step
                assert isinstance(pct, int) and isinstance(improve, int)
                lots = order.remaining_size // 1_000
                size = max(lots * pct // 100, 1) * 1_000
                h.fill(order, size, improve)
        else:
            _, instrument, ticks = step
            assert isinstance(instrument, Instrument) and isinstance(ticks, int)
            token = instrument.token_id
            step_ = instrument.price_increment
            h.book(token, BASE_PRICE[token] + ticks * 10 * step_, step_)
        h.within_budgets()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_no_strategy_ever_exceeds_its_budget(steps: list[tuple[object, ...]]) -> None:
    h = harness()
    run_steps(h, steps)


class _ReplaceUnchecked(MetaAllocator):
    """A planted bug: REPLACE intents skip the budget check."""

    def check(self, intent: OrderIntent, view: object) -> object:  # type: ignore[override]
        if intent.action is IntentAction.REPLACE:
            from polytraders.desk.allocator import Verdict

            return Verdict("", intent)
        return super().check(intent, view)  # type: ignore[arg-type]


def test_the_property_catches_a_planted_bug() -> None:
    """The same property finds the bug of a REPLACE that skips the check."""
    found: list[BaseException] = []

    @settings(max_examples=500, deadline=None, database=None)
    @given(steps=STEPS)
    def prop(steps: list[tuple[object, ...]]) -> None:
        run_steps(harness(_ReplaceUnchecked), steps)

    try:
        prop()
    except AssertionError as exc:
        found.append(exc)
    assert found, "the property missed the planted REPLACE bug"


def test_reshape_cuts_to_the_largest_size_that_fits_and_reducing_passes() -> None:
    h = harness()
    price = BASE_PRICE[BTC.token_id]
    # alpha: 40 % of 1 000 000 = 400 000 USDT at 60 000 -> 6.666 BTC -> 6.666 on the 0.001 step
    code, approved = h.submit(intent(1, "strat.alpha", BTC, Side.BUY, price, 10_000_000))
    assert code == SYS_ALLOCATOR_BUDGET_RESHAPED and approved is not None
    assert approved.size == 6_666_000
    code, refused = h.submit(intent(2, "strat.alpha", BTC, Side.BUY, price, 1_000))
    assert (code, refused) == (SYS_ALLOCATOR_BUDGET_EXCEEDED, None)
    # another strategy's budget is its own
    code, _ = h.submit(intent(3, "strat.beta", BTC, Side.BUY, price, 1_000_000))
    assert code == ""
    # a sell that only reduces alpha's filled long passes at full budget
    (order,) = [o for o in h.state.open_orders() if o.bot_id == "strat.alpha"]
    h.fill(order, order.size, 0)
    code, approved = h.submit(intent(4, "strat.alpha", BTC, Side.SELL, price, 6_666_000))
    assert code == "" and approved is not None
    # a sell beyond the long opens a short: its excess counts
    code, approved = h.submit(intent(5, "strat.alpha", BTC, Side.SELL, price, 5_000_000))
    assert code == SYS_ALLOCATOR_BUDGET_EXCEEDED
    h.within_budgets()


def test_fail_closed_and_build_errors() -> None:
    h = harness()
    code, _ = h.submit(intent(1, "strat.other", BTC, Side.BUY, BASE_PRICE[BTC.token_id], 1_000))
    assert code == SYS_ALLOCATOR_UNKNOWN_STRATEGY
    config = AllocatorConfig(budgets_pct={"strat.alpha": 90}, reserve_pct=10)
    with pytest.raises(ValueError, match="without a budget"):
        MetaAllocator(config, STRATS, ("strat.alpha", "strat.beta"))
    with pytest.raises(ValueError, match="not among the strategies"):
        MetaAllocator(config, ("strat.beta",), ())
    with pytest.raises(ValidationError, match="must be 100"):
        AllocatorConfig(budgets_pct={"strat.alpha": 60}, reserve_pct=10)
    with pytest.raises(ValidationError, match="strictly increasing"):
        AllocatorConfig(
            budgets_pct={"strat.alpha": 100},
            drawdown_tiers=[
                DrawdownTier(drawdown_pct=5, shift_pct=10),
                DrawdownTier(drawdown_pct=5, shift_pct=20),
            ],
        )


def _drawdown_harness(frozen: bool) -> Harness:
    h = harness(
        drawdown_tiers=[DrawdownTier(drawdown_pct=1, shift_pct=50)],
        lookback_intervals=4,
        min_budget_pct=5,
        frozen=frozen,
    )
    price = BASE_PRICE[BTC.token_id]
    for n, (strategy, side) in enumerate([("strat.alpha", Side.BUY), ("strat.beta", Side.SELL)]):
        code, approved = h.submit(intent(n, strategy, BTC, side, price, 5_000_000))
        assert code == "" and approved is not None
        (order,) = [o for o in h.state.open_orders() if o.intent_id == approved.intent_id]
        h.fill(order, order.size, 0)
    return h


def _fall(h: Harness, steps: int, start: int = 0) -> list[Allocation | None]:
    """BTC falls 100, 200 or 300 USDT per check: alpha (long 5) loses, beta (short 5)
    gains; the desk loses through gamma's long."""
    out: list[Allocation | None] = []
    mid = BASE_PRICE[BTC.token_id] - start
    for k in range(steps):
        mid -= (k % 3 + 1) * 100_000_000
        h.book(BTC.token_id, mid, BTC.price_increment)
        h.state.mark()
        out.append(h.allocator.on_timer(h.state))
    return out


def test_a_drawdown_tier_moves_weight_toward_the_better_score() -> None:
    h = _drawdown_harness(frozen=False)
    price = BASE_PRICE[BTC.token_id]
    code, approved = h.submit(intent(9, "strat.gamma", BTC, Side.BUY, price, 4_000_000))
    assert code == SYS_ALLOCATOR_BUDGET_RESHAPED and approved is not None
    (order,) = [o for o in h.state.open_orders() if o.intent_id == approved.intent_id]
    h.fill(order, order.size, 0)
    h.state.mark()
    # the desk is long 3.333 BTC (gamma's budget): 1 % of 1 000 000 is a 3 000 USDT fall
    allocations = _fall(h, 30)
    made = [a for a in allocations if a is not None]
    assert len(made) == 1  # one tier, entered once; deeper falls do not reallocate again
    (realloc,) = made
    assert realloc.reason == "SYS_ALLOCATOR_REALLOCATED" and realloc.tier == 1
    assert realloc.scores_ppm["strat.beta"] > 0 > realloc.scores_ppm["strat.alpha"]
    before = h.allocator.allocations[0].weights_ppm
    after = realloc.weights_ppm
    assert after["strat.beta"] > before["strat.beta"]
    assert after["strat.alpha"] < before["strat.alpha"]
    assert after["strat.gamma"] < before["strat.gamma"]
    assert sum(after.values()) + realloc.reserve_ppm == 1_000_000
    assert realloc.equity_micros < CASH and realloc.drawdown_ppm >= 10_000
    # budgets now follow the new weights at the equity of the reallocation
    assert h.allocator.budget("strat.beta") == after["strat.beta"] * realloc.equity_micros
    # a reset restores the static split (and tier 0)
    reset = h.allocator.reset(h.state)
    assert reset.weights_ppm == before and reset.tier == 0


def test_frozen_allocator_does_not_reallocate_until_unfrozen() -> None:
    h = _drawdown_harness(frozen=True)
    price = BASE_PRICE[BTC.token_id]
    _, approved = h.submit(intent(9, "strat.gamma", BTC, Side.BUY, price, 4_000_000))
    assert approved is not None
    (order,) = [o for o in h.state.open_orders() if o.intent_id == approved.intent_id]
    h.fill(order, order.size, 0)
    h.state.mark()
    assert _fall(h, 30) == [None] * 30
    unfrozen = h.allocator.set_frozen(h.state, False)
    assert unfrozen is not None and unfrozen.reason == "SYS_ALLOCATOR_UNFROZEN"
    assert h.allocator.set_frozen(h.state, False) is None
    (realloc,) = [a for a in _fall(h, 1, start=6_000_000_000) if a is not None]
    assert realloc.reason == "SYS_ALLOCATOR_REALLOCATED"
