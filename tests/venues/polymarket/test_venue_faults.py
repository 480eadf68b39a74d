"""Single venue faults do not halt trading for good, and the venue's view of our orders is
exact: the venue against the simulator on a controllable clock (the ``now_ns`` handed to
``advance``; the simulator's own 10 s dead-man window never passes during a test).

Venue rules (``../shared/POLYMARKET.md`` "Dead-man switch and venue states"): a heartbeat
every ~5 s, everything cancelled 10 s after the last accepted one; 425 during an engine
restart (back off 1–2 s, then exponentially); 429 with ``Retry-After``; 503 cancel-only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.view import VenueState
from polytraders.desk.orders import OrderManager
from polytraders.desk.state import DeskState
from polytraders.model.events import OrderAccepted, OrderCanceled
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderIntent, OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, first_token, order, throwaway_key, top
from tests.waiting import wait_until

S = 1_000_000_000


@pytest.fixture
def fresh() -> Iterator[tuple[SimClobServer, PolymarketVenue]]:
    """A simulator of its own (no other test's heartbeat chain) and a venue on it whose
    liveness runs on the test's clock."""
    key = throwaway_key()
    account: Account = account_for_key(key)
    with SimClobServer(SimSettings(limit_markets=1, confirm_ms=50), account) as sim:
        config = PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
        venue = PolymarketVenue.from_credentials(credentials_for(key, account), config)
        for token_id in sorted(sim.exchange.tokens):
            venue.load_token(token_id)
        venue.mark_reconciled()
        yield sim, venue
        sim.control("clear")
        venue.close()


def test_a_single_429_on_a_heartbeat_is_retried_when_retry_after_ends(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    t0 = time.time_ns()
    assert venue.heartbeat(t0)
    sim.control("rate_limit", count=1, retry_after_s="1", path="/v1/heartbeats")
    venue.advance(t0 + 5 * S)  # due: refused with 429, Retry-After 1 s
    assert venue.last_heartbeat_ok_ns == t0
    beats = sim.exchange.heartbeat_counter
    venue.advance(t0 + 5 * S + S // 2)  # still inside Retry-After: nothing sent
    assert sim.exchange.heartbeat_counter == beats
    venue.advance(t0 + 6 * S)  # Retry-After over: retried at once, not 5 s later
    assert venue.last_heartbeat_ok_ns == t0 + 6 * S
    assert sim.exchange.heartbeat_counter == beats + 1
    venue.advance(t0 + 10 * S + S // 2)  # the old 10 s window from t0 has passed: no lapse
    assert venue.halt_reason == ""
    assert sim.sim_state()["dead_man_fired"] == 0


def test_a_425_on_a_heartbeat_is_retried_after_the_restart_back_off(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    t0 = time.time_ns()
    assert venue.heartbeat(t0)
    sim.control("engine_restart", duration_ms=1_000, post_only_ms=0)
    venue.advance(t0 + 5 * S)  # 425: the venue's mode, learnt from the heartbeat
    assert venue.venue_state(t0 + 5 * S) is VenueState.RESTARTING
    assert venue.last_heartbeat_ok_ns == t0
    wait_until(  # the simulator's 1 s window runs on its wall clock
        lambda: time.time_ns() >= sim.exchange.faults.engine_restart_until_ns, 10, "the restart"
    )
    venue.advance(t0 + 6_500_000_000)  # the 1.5 s back-off: retried, the engine answers
    assert venue.last_heartbeat_ok_ns == t0 + 6_500_000_000
    assert venue.venue_state(t0 + 6_500_000_000) is not VenueState.RESTARTING
    venue.advance(t0 + 10_500_000_000)
    assert venue.halt_reason == ""


def test_a_lapse_asks_the_venue_and_never_reports_held_orders_cancelled(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    bid, _ = top(venue, token)
    t0 = time.time_ns()
    assert venue.heartbeat(t0)
    quotes = [order(token, Side.BUY, bid - 10_000 * k) for k in (1, 2)]
    for quote in quotes:
        venue.submit(quote, t0)
    venue.flush(t0)
    assert sum(isinstance(e, OrderAccepted) for e in venue.poll()) == 2
    # every request is refused for a while: the heartbeat cannot get through, and neither
    # can the lapse's questions to the venue
    sim.control("rate_limit", count=1_000, retry_after_s="1")
    venue.advance(t0 + 5 * S)
    venue.advance(t0 + 10_500_000_000)  # no heartbeat accepted for 10.5 s: lapse
    assert venue.halt_reason == "SYS_POLY_HEARTBEAT_LAPSED"
    assert sim.sim_state()["orders_live"] == 2  # the simulator never fired and holds them...
    assert venue.poll() == []  # ... so they are not reported cancelled
    assert all(venue.order(q.client_order_id).status is OrderStatus.ACCEPTED for q in quotes)  # type: ignore[union-attr]
    sim.control("clear")
    venue.advance(t0 + 11 * S)  # the venue answers: cancel-all confirms, then report
    canceled = [e for e in venue.poll() if isinstance(e, OrderCanceled)]
    assert {e.client_order_id for e in canceled} == {q.client_order_id for q in quotes}
    assert sim.sim_state()["orders_live"] == 0
    assert venue.halt_reason == "SYS_POLY_HEARTBEAT_LAPSED"  # sticky until an operator


def test_cancel_only_ends_by_itself_through_a_probe(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    bid, _ = top(venue, token)
    t0 = time.time_ns()
    sim.control("cancel_only", on=True)
    venue.submit(order(token, Side.BUY, bid - 10_000), t0)
    venue.flush(t0)
    (withdrawn,) = venue.poll()  # the venue's mode refused it: withdrawn, not a desk error
    assert isinstance(withdrawn, OrderCanceled) and withdrawn.reason_code == "SYS_POLY_CANCEL_ONLY"
    assert venue.venue_state(t0) is VenueState.CANCEL_ONLY
    venue.advance(t0 + S // 2)
    assert venue.venue_state(t0 + S // 2) is VenueState.CANCEL_ONLY
    venue.advance(t0 + S)  # first probe due: the next order goes out alone
    assert venue.venue_state(t0 + S) is VenueState.NORMAL
    first = [order(token, Side.BUY, bid - 10_000 * k) for k in (1, 2)]
    for item in first:
        venue.submit(item, t0 + S)
    posted = sim.sim_state()["stats"].get("orders_posted", 0)
    venue.flush(t0 + S)  # still cancel-only: the probe is refused, the other withdrawn
    assert [(type(e), e.reason_code) for e in venue.poll()] == [  # type: ignore[union-attr]
        (OrderCanceled, "SYS_POLY_CANCEL_ONLY"),
        (OrderCanceled, "SYS_POLY_CANCEL_ONLY"),
    ]
    assert sim.sim_state()["stats"].get("orders_posted", 0) == posted  # 503 before any order
    assert venue.venue_state(t0 + S) is VenueState.CANCEL_ONLY
    venue.advance(t0 + 2 * S)  # the back-off doubled: no probe yet
    assert venue.venue_state(t0 + 2 * S) is VenueState.CANCEL_ONLY
    sim.control("cancel_only", on=False)
    venue.advance(t0 + 3 * S)
    assert venue.venue_state(t0 + 3 * S) is VenueState.NORMAL
    second = [order(token, Side.BUY, bid - 10_000 * k) for k in (1, 2)]
    for item in second:
        venue.submit(item, t0 + 3 * S)
    venue.flush(t0 + 3 * S)  # the probe is accepted: the mode is over, the rest follows
    assert [type(e) for e in venue.poll()] == [OrderAccepted, OrderAccepted]
    assert venue.venue_state(t0 + 4 * S) is VenueState.NORMAL and venue.halt_reason == ""


def test_closed_only_refusals_set_the_mode_until_the_venue_lifts_it(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    bid, _ = top(venue, token)
    t0 = time.time_ns()
    sim.control("closed_only", on=True)
    batch = [order(token, Side.BUY, bid - 10_000 * k) for k in (1, 2, 3)]
    venue.submit(batch[0], t0)
    venue.flush(t0)
    (withdrawn,) = venue.poll()
    assert isinstance(withdrawn, OrderCanceled) and withdrawn.reason_code == "SYS_POLY_CLOSED_ONLY"
    assert venue.venue_state(t0) is VenueState.CLOSED_ONLY  # recorded: orders stop
    posted = sim.sim_state()["stats"]["orders_posted"]
    for item in batch[1:]:
        venue.submit(item, t0)
    venue.flush(t0)
    assert [e.reason_code for e in venue.poll()] == ["SYS_POLY_CLOSED_ONLY"] * 2  # type: ignore[union-attr]
    assert sim.sim_state()["stats"]["orders_posted"] == posted  # nothing sent
    venue.advance(t0 + 10 * S)  # asks the ban status: still closed-only
    assert venue.venue_state(t0 + 10 * S) is VenueState.CLOSED_ONLY
    sim.control("closed_only", on=False)
    venue.advance(t0 + 20 * S)  # the venue's own signal lifts it
    assert venue.venue_state(t0 + 20 * S) is VenueState.NORMAL and venue.halt_reason == ""
    venue.submit(order(token, Side.BUY, bid - 10_000), t0 + 20 * S)
    venue.flush(t0 + 20 * S)
    assert [type(e) for e in venue.poll()] == [OrderAccepted]


def _manager(venue: PolymarketVenue) -> OrderManager:
    return OrderManager(venue, DeskState())


def _send(manager: OrderManager, template: VenueOrder, now_ns: int) -> VenueOrder:
    intent = OrderIntent(
        intent_id=template.intent_id,
        bot_id="strat.test",
        token_id=template.token_id,
        side=template.side,
        price=template.price,
        size=template.size,
    )
    (cid,) = manager.execute(intent, RoutePlan(orders=(template,)), now_ns)
    return manager.state.orders[cid]


def _drain(manager: OrderManager, venue: PolymarketVenue, now_ns: int) -> list[object]:
    venue.advance(now_ns)
    venue.sync_trades(now_ns)
    events = venue.poll()
    for event in events:
        manager.apply(event, now_ns)
    manager.end_of_batch()
    return list(events)


def test_a_partly_filled_order_counts_its_fill_once_and_stays_partly_filled(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    _, ask = top(venue, token)
    available = sum(s for p, s in sim.exchange.tokens[token].asks.items() if p <= ask)
    manager = _manager(venue)
    now = time.time_ns()
    mine = _send(manager, order(token, Side.BUY, ask, size=available + 10_000_000), now)
    events = _drain(manager, venue, now)
    assert sum(isinstance(e, Fill) for e in events) == 1
    (at_sim,) = sim.exchange.orders.values()
    assert at_sim.size_matched == available and at_sim.status == "LIVE"
    assert mine.filled_size == available  # counted once, not by venue and desk both
    assert mine.status is OrderStatus.PARTIALLY_FILLED
    assert manager.state.open_orders() == [mine]


def test_a_finished_order_stays_finished_through_cancel_all(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    bid, ask = top(venue, token)
    manager = _manager(venue)
    now = time.time_ns()
    filled = _send(manager, order(token, Side.BUY, ask, size=5_000_000), now)
    resting = _send(manager, order(token, Side.BUY, bid - 20_000), now)
    _drain(manager, venue, now)
    assert filled.status is OrderStatus.FILLED and filled.filled_size == 5_000_000
    assert manager.state.open_orders() == [resting]  # the filled order left the index
    manager.cancel_all(now)
    _drain(manager, venue, now)
    assert filled.status is OrderStatus.FILLED  # never flipped back to PENDING_CANCEL
    assert resting.status is OrderStatus.CANCELED
    assert manager.state.open_orders() == []
    assert manager.stats.terminal_kept == 0
    by_id = {o.order_id: o.status for o in sim.exchange.orders.values()}
    assert by_id == {filled.venue_order_id: "MATCHED", resting.venue_order_id: "CANCELED"}


def test_a_fak_order_closes_as_the_venue_records_it(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    sim, venue = fresh
    token = first_token(sim)
    _, ask = top(venue, token)
    available = sum(s for p, s in sim.exchange.tokens[token].asks.items() if p <= ask)
    manager = _manager(venue)
    now = time.time_ns()
    fak = _send(
        manager,
        order(token, Side.BUY, ask, size=available + 5_000_000, time_in_force=TimeInForce.FAK),
        now,
    )
    _drain(manager, venue, now)
    (at_sim,) = sim.exchange.orders.values()
    assert (at_sim.status, at_sim.size_matched) == ("CANCELED", available)
    assert (fak.status, fak.filled_size) == (OrderStatus.CANCELED, available)
    tracked = venue.order(fak.client_order_id)
    assert tracked is not None and tracked.status is OrderStatus.CANCELED


def test_the_heartbeat_goes_out_between_the_batches_of_a_slow_flush(
    fresh: tuple[SimClobServer, PolymarketVenue],
) -> None:
    """Three batches, each acknowledged 250 ms late, hold the loop longer than the 300 ms
    heartbeat interval: the heartbeat is sent between batches, so a slow venue never starves
    the dead-man switch (liveness on the wall clock, as in live use)."""
    sim, tested = fresh
    venue = PolymarketVenue(
        tested.client,
        tested.signer,
        PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0, heartbeat_interval_ms=300),
        wall_clock_ns=time.time_ns,
    )
    for token_id in tested.tokens:
        venue.set_token(tested.tokens[token_id])
    venue.mark_reconciled()
    token = first_token(sim)
    bid, _ = top(venue, token)
    assert venue.heartbeat(time.time_ns())
    beats = sim.exchange.heartbeat_counter
    sim.control("delay_acks", ms=250)
    now = time.time_ns()
    for k in range(1, 32):  # 31 orders: batches of 15, 15 and 1
        venue.submit(order(token, Side.BUY, bid - 10_000 * k, size=5_000_000), now)
    venue.flush(now)
    assert sum(isinstance(e, OrderAccepted) for e in venue.poll()) == 31
    assert sim.exchange.heartbeat_counter > beats
    assert venue.last_heartbeat_ok_ns > now
