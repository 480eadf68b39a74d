"""The ccxt venue's bounded memory of closed orders, against the running Binance USDⓈ-M
simulator through the real ccxt client: closed orders whose trades are applied are forgotten
:data:`CLOSED_ORDER_RETENTION_S` after their last change, the booked trade ids below the
sync's and the snapshot's next trade id are forgotten, and still every trade is booked once,
a trade listed late is booked, reconciliation agrees and a restart duplicates nothing.

Times handed to the venue are a simulated clock (``t0`` plus whole seconds), so retention
windows pass without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytraders.desk.orders import LIVE_RETENTION_MARGIN_S
from polytraders.model.fills import Fill
from polytraders.model.money import MICROS
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.venues.base import VenueEvent
from polytraders.venues.ccxt.venue import (
    CLOSED_ORDER_REPORT_S,
    CLOSED_ORDER_RETENTION_S,
    CcxtVenue,
)
from polytraders.venues.drift import compare, records_of
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from tests.venues.ccxt.loopback import loopback_venue

TOKEN = "binance-usdm:BTCUSDT"
RUN = "run-0123456789abcdef"
SECOND_NS = 1_000_000_000
STEP_S = 10


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


@pytest.fixture
def venue(sim: SimExchangeServer) -> Iterator[CcxtVenue]:
    v = loopback_venue(sim)
    yield v
    v.close()


def order(n: int, side: Side, price: int, size: int, *, post_only: bool = False) -> VenueOrder:
    return VenueOrder(
        client_order_id=f"{RUN}/i{n}/o0",
        intent_id=f"{RUN}/i{n}",
        token_id=TOKEN,
        side=side,
        price=price,
        size=size,
        time_in_force=TimeInForce.GTC if post_only else TimeInForce.FAK,
        post_only=post_only,
    )


def fills_of(events: list[VenueEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def tracked(venue: CcxtVenue) -> dict[str, int]:
    """How many entries each per-order / per-trade map of the venue holds."""
    return {
        "orders": len(venue._orders),
        "by_venue_id": len(venue._by_venue_id),
        "by_wire_id": len(venue._by_wire_id),
        "executed": len(venue._executed),
        "fill_ids": sum(len(ids) for ids in venue._fill_ids.values()),
    }


def trade_ids(sim: SimExchangeServer) -> list[str]:
    return [f"{TOKEN}/t{t.trade_id}" for t in sim.exchange.trades]


def test_the_venue_keeps_closed_orders_as_long_as_a_live_desk() -> None:
    assert CLOSED_ORDER_RETENTION_S == CLOSED_ORDER_REPORT_S + LIVE_RETENTION_MARGIN_S


def test_many_closed_orders_stay_bounded_and_every_trade_is_booked_once(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """40 steps of 10 s: a taker order that fills and a resting order cancelled each step;
    the venue never tracks more than the last minute's orders, yet every trade of the
    simulator is booked exactly once and every windowed snapshot reconciles."""
    t0 = time.time_ns()
    booked: list[Fill] = []
    kept_per_step = CLOSED_ORDER_RETENTION_S // STEP_S  # steps whose orders may stay
    snapshot_listed: int | None = None  # the simulator's trades when the last snapshot ran
    for k in range(40):
        t = t0 + k * STEP_S * SECOND_NS
        bid = sim.exchange.book.best_bid()
        assert bid is not None
        side = Side.BUY if k % 2 == 0 else Side.SELL
        venue.submit(order(2 * k, side, 0, 10_000), t)
        resting = order(2 * k + 1, Side.BUY, bid - 50 * MICROS, 10_000, post_only=True)
        venue.submit(resting, t)
        venue.cancel(resting.client_order_id, t)
        venue.advance(t)
        booked.extend(fills_of(venue.poll()))
        sizes = tracked(venue)
        assert sizes["orders"] <= 2 * kept_per_step
        assert sizes["by_venue_id"] <= sizes["orders"]
        assert sizes["by_wire_id"] <= sizes["orders"]
        assert sizes["executed"] <= sizes["orders"]
        # booked trade ids: none below the sync's next id, or the last snapshot's once taken
        listed_later = 0 if snapshot_listed is None else len(sim.exchange.trades) - snapshot_listed
        assert sizes["fill_ids"] == listed_later
        if k % 5 == 4:
            snapshot = venue.reconciliation_snapshot(t)
            records = records_of(
                venue.orders(),
                {f.fill_id for f in booked},
                {TOKEN: sum(f.size if f.side is Side.BUY else -f.size for f in booked)},
            )
            result = compare(snapshot, records, ReconciliationConfig())
            assert result.level is DriftLevel.OK, result
            assert result.differences.unbooked_fills == ()
            listed = len(sim.exchange.trades) - (snapshot_listed or 0)
            assert len(snapshot.fills) == listed  # since the last one, orders forgotten or not
            snapshot_listed = len(sim.exchange.trades)
    assert venue.order(f"{RUN}/i0/o0") is None  # long forgotten
    assert [f.fill_id for f in booked] == trade_ids(sim)  # each trade once, in order
    assert len(booked) >= 40
    venue.advance(t0 + 41 * STEP_S * SECOND_NS)
    assert venue.poll() == []
    last = t0 + (40 * STEP_S + CLOSED_ORDER_RETENTION_S) * SECOND_NS
    venue.advance(last)
    venue.reconciliation_snapshot(last)
    venue.advance(last + SECOND_NS)
    assert tracked(venue) == {
        "orders": 0,
        "by_venue_id": 0,
        "by_wire_id": 0,
        "executed": 0,
        "fill_ids": 0,
    }

    restarted = loopback_venue(sim)  # a restart with the store's fill ids books nothing twice
    try:
        restarted.rebuild(last, (), {f.fill_id for f in booked})
        assert fills_of(restarted.poll()) == []
    finally:
        restarted.close()


def test_a_trade_listed_after_its_order_closed_is_booked_once_then_the_order_goes(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """The exchange says the order FILLED while ``userTrades`` does not list its trades yet:
    the venue keeps the order past the retention until they are listed, books them once,
    then forgets the order a retention later."""
    hidden = True
    real = venue._trades_since

    def lagging(market: Any, from_id: int | None) -> list[dict[str, Any]]:
        return [] if hidden else real(market, from_id)

    venue._trades_since = lagging  # type: ignore[method-assign]
    t0 = time.time_ns()
    late = order(1, Side.SELL, 0, 20_000)
    venue.submit(late, t0)
    assert fills_of(venue.poll()) == []
    held = venue.order(late.client_order_id)
    assert held is not None and held.status is OrderStatus.FILLED and held.filled_size == 0

    t1 = t0 + 2 * CLOSED_ORDER_RETENTION_S * SECOND_NS
    venue.advance(t1)  # closed long ago, but its trades are missing: kept
    assert venue.order(late.client_order_id) is not None
    assert venue.poll() == []

    hidden = False
    venue.advance(t1 + SECOND_NS)  # no order of ours open: synced for the missing trades
    fills = fills_of(venue.poll())
    assert [f.fill_id for f in fills] == trade_ids(sim)
    assert {f.client_order_id for f in fills} == {late.client_order_id}
    assert sum(f.size for f in fills) == 20_000
    held = venue.order(late.client_order_id)
    assert held is not None and held.filled_size == 20_000

    t2 = t1 + (CLOSED_ORDER_RETENTION_S + 2) * SECOND_NS
    venue.advance(t2)
    assert venue.order(late.client_order_id) is None
    venue.advance(t2 + SECOND_NS)
    assert venue.poll() == []  # never booked twice
    snapshot = venue.reconciliation_snapshot(t2)
    records = records_of([], {f.fill_id for f in fills}, {TOKEN: -20_000})
    assert compare(snapshot, records, ReconciliationConfig()).level is DriftLevel.OK


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["fill", "rest_cancel", "snapshot"]),
            st.integers(0, 2 * CLOSED_ORDER_RETENTION_S),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_interleaving_books_each_trade_exactly_once(
    sim: SimExchangeServer, venue: CcxtVenue, steps: list[tuple[str, int]]
) -> None:
    """Fills, cancels, snapshots and retirements in any order and at any pace: the fills
    emitted are the simulator's new trades, each once (one simulator for all examples: only
    the trades made during an example are counted)."""
    before = len(sim.exchange.trades)
    t = time.time_ns() + 10**6 * SECOND_NS * len(sim.exchange.trades)  # later than any before
    base = 1_000 * len(sim.exchange.trades)
    booked: list[Fill] = []
    for n, (action, wait_s) in enumerate(steps):
        t += wait_s * SECOND_NS
        if action == "fill":
            venue.submit(order(base + n, Side.BUY if n % 2 else Side.SELL, 0, 10_000), t)
        elif action == "rest_cancel":
            bid = sim.exchange.book.best_bid()
            assert bid is not None
            resting = order(base + n, Side.BUY, bid - 50 * MICROS, 10_000, post_only=True)
            venue.submit(resting, t)
            venue.cancel(resting.client_order_id, t)
        else:
            venue.reconciliation_snapshot(t)
        venue.advance(t)
        booked.extend(fills_of(venue.poll()))
    venue.advance(t + (CLOSED_ORDER_RETENTION_S + 1) * SECOND_NS)
    booked.extend(fills_of(venue.poll()))
    assert [f.fill_id for f in booked] == trade_ids(sim)[before:]
