"""The order manager's table stays bounded (orders rule 8): after any sequence of orders
opening, filling and closing over hours of desk time, ``state.orders`` holds exactly the open
orders, the orders with fills and the closed ones still inside the retention window; every
retired id is still refused as a duplicate and never reaches the venue again."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import event, given, settings
from hypothesis import strategies as st

from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.ids import client_order_id, intent_id
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import (
    _RETIRE_EVERY_NS,
    CLOSED_ORDER_RETENTION_NS,
    SYS_DUPLICATE_ORDER,
    OrderManager,
    OrderManagerConfig,
)
from polytraders.desk.state import DeskState
from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderIntent, Side, VenueOrder
from polytraders.venues.base import VenueEvent

S = 1_000_000_000
BOT = "strat.scripted"
SESSION = f"{BOT}/s0"


class _Venue:
    """Takes orders and answers what the test scripts (the Venue calls the manager uses)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answers: list[VenueEvent] = []

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self.sent.append(order.client_order_id)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.answers.append(
            OrderCanceled(ts_event_ns=now_ns, ts_recv_ns=now_ns, client_order_id=client_order_id)
        )

    def cancel_all(self, now_ns: int) -> None:
        """Nothing to do: the manager cancels each order it knows."""

    def advance(self, now_ns: int) -> None:
        """Answers are scripted."""

    def poll(self) -> list[VenueEvent]:
        answers, self.answers = self.answers, []
        return answers


def _plan(n: int) -> tuple[OrderIntent, RoutePlan]:
    intent = OrderIntent(
        intent_id=intent_id(SESSION, n), bot_id=BOT, token_id="yes", market_id="m1",
        side=Side.BUY, price=450_000, size=10_000_000,
    )  # fmt: skip
    order = VenueOrder(
        client_order_id=client_order_id(intent.intent_id, 0), intent_id=intent.intent_id,
        bot_id=BOT, token_id="yes", market_id="m1", side=Side.BUY, price=450_000,
        size=10_000_000,
    )  # fmt: skip
    return intent, RoutePlan(orders=(order,))


def _fill(fill_id: str, cid: str, now_ns: int) -> Fill:
    return Fill(
        fill_id=fill_id, client_order_id=cid, token_id="yes", market_id="m1", side=Side.BUY,
        price=450_000, size=10_000_000, liquidity=LiquiditySide.MAKER, ts_event_ns=now_ns,
        ts_recv_ns=now_ns,
    )  # fmt: skip


# one step: minutes of desk time pass, then something happens to one of the orders so far
steps = st.lists(
    st.tuples(
        st.integers(0, 90 * 60),
        st.sampled_from(["place", "accept", "fill", "cancel", "reject", "resend"]),
        st.integers(0, 10_000),
    ),
    min_size=4,
    max_size=60,
)


def _bounds(state: DeskState, now_ns: int, closed_at: dict[str, int]) -> tuple[set[str], set[str]]:
    """(ids the table must hold, ids it may hold): open, filled or closed less than the
    retention ago must stay; one closed up to one retirement period longer may linger."""
    must = {c for c, o in state.orders.items() if o.status.is_open or o.filled_size}
    may = set(must)
    for cid, when in closed_at.items():
        if when > now_ns - CLOSED_ORDER_RETENTION_NS:
            must.add(cid)
        if when > now_ns - CLOSED_ORDER_RETENTION_NS - _RETIRE_EVERY_NS:
            may.add(cid)
    return must, may


@settings(max_examples=150, deadline=None)
@given(steps)
def test_the_table_keeps_open_filled_and_recent_orders_only(
    script: Sequence[tuple[int, str, int]],
) -> None:
    state = DeskState.build(markets=[binary_market("m1", "yes", "no")], cash=10**15)
    venue = _Venue()
    manager = OrderManager(venue, state, OrderManagerConfig(order_burst_count=10_000))
    now = S
    placed: list[str] = []
    closed_at: dict[str, int] = {}  # orders that closed without a fill: when
    filled: set[str] = set()
    for seconds, action, pick in script:
        now += seconds * S
        if action == "place" or not placed:
            intent, plan = _plan(len(placed))
            assert manager.execute(intent, plan, now) == [plan.orders[0].client_order_id]
            placed.append(plan.orders[0].client_order_id)
        else:
            cid = placed[pick % len(placed)]
            order = state.orders.get(cid)
            is_open = order is not None and order.status.is_open
            if action == "resend":
                intent, plan = _plan(pick % len(placed))
                sent_before = list(venue.sent)
                assert manager.execute(intent, plan, now) == []
                [refusal] = manager.drain_local()
                assert isinstance(refusal, OrderRejected)
                assert refusal.reason_code == SYS_DUPLICATE_ORDER
                assert venue.sent == sent_before
            elif is_open and action == "accept":
                venue.answers.append(
                    OrderAccepted(
                        ts_event_ns=now, ts_recv_ns=now, client_order_id=cid, venue_order_id=cid
                    )
                )
            elif is_open and action == "fill":
                venue.answers.append(_fill(f"f{len(filled)}-{now}", cid, now))
                filled.add(cid)
            elif is_open and action == "cancel":
                manager.cancel_orders([cid], now)
                closed_at[cid] = now
            elif is_open and action == "reject":
                venue.answers.append(
                    OrderRejected(
                        ts_event_ns=now, ts_recv_ns=now, client_order_id=cid, reason_code="X"
                    )
                )
                closed_at[cid] = now
        manager.sync(now)
        for cid in filled:
            closed_at.pop(cid, None)  # a fill keeps its order
        table = set(state.orders)
        retired = set(state.retired_order_ids)
        # every order is in exactly one place, and the table is no bigger than it must be
        assert table | retired == set(placed) and not table & retired
        must, may = _bounds(state, now, closed_at)
        assert must <= table <= may
        assert retired.isdisjoint(filled)
        assert all(c in manager.state.retired_order_ids for c in retired)
        assert len(manager.retired_created_ns) == len(retired)
    event(f"retired {min(len(state.retired_order_ids), 3)}+")
