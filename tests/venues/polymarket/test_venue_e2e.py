"""The venue end to end through the official client against the simulator on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.orders import OrderStatus, Side, TimeInForce
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, first_token, order, throwaway_key, top
from tests.waiting import wait_until


def test_quotes_are_signed_posted_and_a_marketable_order_fills(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    token = first_token(sim)
    bid, ask = top(venue, token)
    resting = order(token, Side.BUY, bid - 10_000, post_only=True)
    taker = order(token, Side.BUY, ask, size=6_000_000)
    now = time.time_ns()
    venue.submit(resting, now)
    venue.submit(taker, now)
    venue.advance(now)
    venue.sync_trades(time.time_ns())
    events = venue.poll()
    accepted = {e.client_order_id for e in events if isinstance(e, OrderAccepted)}
    assert accepted == {resting.client_order_id, taker.client_order_id}
    fills = [e for e in events if isinstance(e, Fill)]
    assert len(fills) == 1
    fill = fills[0]
    assert (fill.client_order_id, fill.side, fill.price, fill.size) == (
        taker.client_order_id,
        Side.BUY,
        ask,
        6_000_000,
    )
    assert fill.liquidity is LiquiditySide.TAKER
    assert fill.fee > 0
    # the venue's order id is the EIP-712 hash we computed before posting
    resting_hash = venue.order(resting.client_order_id).venue_order_id  # type: ignore[union-attr]
    assert resting_hash in {o.id for o in venue.fetch_open_orders()}
    assert venue.order(taker.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_resting_order_fills_as_maker_when_the_replayed_book_crosses_it(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    token = first_token(sim)
    bid, ask = top(venue, token)
    quote = order(token, Side.BUY, ask - 10_000 if ask - 10_000 > bid else bid, post_only=True)
    now = time.time_ns()
    venue.submit(quote, now)
    venue.flush(now)
    assert isinstance(venue.poll()[0], OrderAccepted)
    filled: list[Fill] = []
    for _ in range(400):
        sim.step(5)
        venue.sync_trades(time.time_ns())
        filled += [e for e in venue.poll() if isinstance(e, Fill)]
        if filled:
            break
    if not filled:
        pytest.skip("the replayed book never reached the quote")
    assert filled[0].liquidity is LiquiditySide.MAKER
    assert filled[0].price == quote.price and filled[0].side is Side.BUY
    assert filled[0].fee == 0


def test_batches_hold_at_most_15_orders(sim: SimClobServer, venue: PolymarketVenue) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    before = sim.sim_state()["stats"].get("orders_posted", 0)
    now = time.time_ns()
    orders = [order(token, Side.BUY, bid - 10_000 * (1 + i % 5), size=5_000_000) for i in range(20)]
    for o in orders:
        venue.submit(o, now)
    venue.flush(now)
    accepted = [e for e in venue.poll() if isinstance(e, OrderAccepted)]
    assert len(accepted) == 20
    assert sim.sim_state()["stats"]["orders_posted"] - before == 20
    venue.cancel_all(time.time_ns())
    canceled = [e for e in venue.poll() if isinstance(e, OrderCanceled)]
    assert len(canceled) == 20
    assert sim.sim_state()["orders_live"] == 0


def test_submit_is_idempotent_and_restart_never_duplicates(
    sim: SimClobServer, venue: PolymarketVenue, signer_key: str, sim_account: Account
) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    quote = order(token, Side.BUY, bid - 20_000)
    now = time.time_ns()
    venue.submit(quote, now)
    venue.submit(quote, now)
    venue.flush(now)
    assert [type(e) for e in venue.poll()] == [OrderAccepted]
    # a restarted process re-derives the same order (same client id and creation time)
    again = PolymarketVenue.from_credentials(
        credentials_for(signer_key, sim_account),
        PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0, require_reconciliation=False),
    )
    again.load_token(token)
    twin = order(token, Side.BUY, quote.price)
    twin.client_order_id, twin.ts_created_ns = quote.client_order_id, quote.ts_created_ns
    again.submit(twin, now)
    twin_hash = again.order(twin.client_order_id).venue_order_id  # type: ignore[union-attr]
    assert twin_hash == venue.order(quote.client_order_id).venue_order_id  # type: ignore[union-attr]
    again.flush(now)
    rejected = again.poll()
    assert isinstance(rejected[0], OrderRejected)
    assert "duplicate" in rejected[0].message
    again.close()


@pytest.mark.parametrize(
    ("price_offset", "size", "code"),
    [
        (-500, 10_000_000, "SYS_VENUE_INVALID_TICK"),  # off the 0.001 and 0.01 grids
        (0, 2_000_000, "SYS_VENUE_BELOW_MIN_SIZE"),
        (0, 10_005_000, "SYS_VENUE_INVALID_ORDER"),  # not whole 0.01 shares
    ],
)
def test_local_validation_rejects_with_registered_codes(
    sim: SimClobServer, venue: PolymarketVenue, price_offset: int, size: int, code: str
) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    venue.submit(order(token, Side.BUY, bid + price_offset, size=size), time.time_ns())
    (event,) = venue.poll()
    assert isinstance(event, OrderRejected) and event.reason_code == code


def test_venue_rejections_map_to_codes(sim: SimClobServer, venue: PolymarketVenue) -> None:
    token = first_token(sim)
    bid, ask = top(venue, token)
    cross = order(token, Side.BUY, ask, post_only=True)
    broke = order(token, Side.BUY, bid - 10_000, size=5_000_000_000)  # 5,000 shares > balance
    no_position = order(token, Side.SELL, ask + 50_000, size=4_000_000_000)
    now = time.time_ns()
    for o in (cross, broke, no_position):
        venue.submit(o, now)
    venue.flush(now)
    codes = {e.client_order_id: e.reason_code for e in venue.poll() if isinstance(e, OrderRejected)}
    assert codes == {
        cross.client_order_id: "SYS_VENUE_POST_ONLY_WOULD_CROSS",
        broke.client_order_id: "SYS_VENUE_INSUFFICIENT_BALANCE",
        no_position.client_order_id: "SYS_VENUE_INSUFFICIENT_BALANCE",
    }


def test_fok_that_cannot_fill_is_killed(sim: SimClobServer, venue: PolymarketVenue) -> None:
    token = first_token(sim)
    _, ask = top(venue, token)
    fok = order(token, Side.BUY, ask, size=900_000_000, time_in_force=TimeInForce.FOK)
    venue.submit(fok, time.time_ns())
    venue.flush(time.time_ns())
    (event,) = venue.poll()
    assert isinstance(event, OrderRejected)
    assert event.reason_code == "SYS_VENUE_FOK_NOT_FILLED"


def test_engine_restart_window_backs_off_halts_then_post_only(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    sim.control("engine_restart", duration_ms=600, post_only_ms=60_000)
    now = time.time_ns()
    venue.submit(order(token, Side.BUY, bid - 10_000, post_only=True), now)
    venue.flush(now)
    (event,) = venue.poll()
    # the venue's mode refused it, not the order: withdrawn, no desk error
    assert isinstance(event, OrderCanceled) and event.reason_code == "SYS_POLY_ENGINE_RESTART"
    assert venue.halt_reason == "SYS_POLY_ENGINE_RESTART"
    venue.submit(order(token, Side.BUY, bid - 10_000, post_only=True), now + 1)
    (event,) = venue.poll()  # refused locally during the back-off, nothing sent
    assert event.reason_code == "SYS_POLY_ENGINE_RESTART"  # type: ignore[union-attr]
    wait_until(  # the simulator's 600 ms restart window is over
        lambda: time.time_ns() >= sim.exchange.faults.engine_restart_until_ns, 10, "the restart"
    )
    later = now + 1_600_000_000  # past the first 1.5 s back-off
    venue.advance(later)
    assert venue.halt_reason == ""
    assert venue.post_only_mode(later)
    taker = order(token, Side.BUY, bid - 10_000)
    venue.submit(taker, later)
    (event,) = venue.poll()
    assert isinstance(event, OrderRejected) and event.reason_code == "SYS_POLY_POST_ONLY_MODE"
    maker = order(token, Side.BUY, bid - 10_000, post_only=True)
    venue.submit(maker, later)
    venue.flush(later)
    assert [type(e) for e in venue.poll()] == [OrderAccepted]


def test_post_only_window_from_503(sim: SimClobServer, venue: PolymarketVenue) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    sim.control("post_only", duration_ms=60_000)
    now = time.time_ns()
    plain = order(token, Side.BUY, bid - 10_000)
    venue.submit(plain, now)
    venue.flush(now)
    (event,) = venue.poll()
    assert isinstance(event, OrderCanceled) and event.reason_code == "SYS_POLY_POST_ONLY_MODE"
    assert venue.post_only_mode(now + 1) and venue.halt_reason == ""
    maker = order(token, Side.BUY, bid - 10_000, post_only=True)
    venue.submit(maker, now + 1)
    venue.flush(now + 1)
    assert [type(e) for e in venue.poll()] == [OrderAccepted]


def test_cancel_only_halts_new_orders_but_cancels_pass(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    resting = order(token, Side.BUY, bid - 10_000)
    now = time.time_ns()
    venue.submit(resting, now)
    venue.flush(now)
    venue.poll()
    sim.control("cancel_only", on=True)
    venue.submit(order(token, Side.BUY, bid - 10_000), now)
    venue.flush(now)
    (event,) = venue.poll()
    assert event.reason_code == "SYS_POLY_CANCEL_ONLY"  # type: ignore[union-attr]
    assert venue.halt_reason == "SYS_POLY_CANCEL_ONLY"
    venue.cancel(resting.client_order_id, now)
    assert [type(e) for e in venue.poll()] == [OrderCanceled]


def test_429_blocks_the_endpoint_for_retry_after(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    token = first_token(sim)
    bid, _ = top(venue, token)
    sim.control("rate_limit", count=1, retry_after_s="2")
    now = time.time_ns()
    venue.submit(order(token, Side.BUY, bid - 10_000), now)
    venue.flush(now)
    (event,) = venue.poll()
    assert event.reason_code == "SYS_POLY_VENUE_RATE_LIMITED"  # type: ignore[union-attr]
    venue.submit(order(token, Side.BUY, bid - 10_000), now + 1_000_000_000)
    venue.flush(now + 1_000_000_000)
    (event,) = venue.poll()
    assert event.reason_code == "SYS_RATE_LIMITED"  # type: ignore[union-attr]  # held locally
    later = order(token, Side.BUY, bid - 10_000)
    venue.submit(later, now + 2_000_000_000)
    venue.flush(now + 2_000_000_000)
    assert [type(e) for e in venue.poll()] == [OrderAccepted]


def test_closed_only_is_reported(sim: SimClobServer, venue: PolymarketVenue) -> None:
    sim.control("closed_only", on=True)
    assert venue.refresh_closed_only()
    assert venue.halt_reason == "SYS_POLY_CLOSED_ONLY"


def test_balances_and_wrong_key_is_refused(
    sim: SimClobServer, venue: PolymarketVenue, sim_account: Account
) -> None:
    assert venue.balances()["pUSD"] == sim.exchange.collateral
    stranger = throwaway_key()
    other = PolymarketVenue.from_credentials(
        credentials_for(stranger, sim_account),
        PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0, require_reconciliation=False),
    )
    token = first_token(sim)
    other.load_token(token)
    bid, _ = top(venue, token)
    other.submit(order(token, Side.BUY, bid - 10_000), time.time_ns())
    other.flush(time.time_ns())
    (event,) = other.poll()
    assert isinstance(event, OrderRejected) and "signature" in event.message
    other.close()


@pytest.fixture
def short_heartbeat_sim() -> Iterator[tuple[SimClobServer, str, Account]]:
    key = throwaway_key()
    account = account_for_key(key)
    settings = SimSettings(limit_markets=1, heartbeat_timeout_ms=600, tick_interval_ms=20)
    with SimClobServer(settings, account) as server:
        yield server, key, account


def test_lapsed_heartbeat_cancels_everything_and_halts(
    short_heartbeat_sim: tuple[SimClobServer, str, Account],
) -> None:
    sim, key, account = short_heartbeat_sim
    config = PolymarketVenueConfig(
        clob_url=sim.url,
        heartbeat_interval_ms=200,
        heartbeat_timeout_ms=600,
        trades_poll_ms=0,
        require_reconciliation=False,
    )
    venue = PolymarketVenue.from_credentials(credentials_for(key, account), config)
    token = first_token(sim)
    venue.load_token(token)
    bid, _ = top(venue, token)
    now = time.time_ns()
    assert venue.heartbeat(now)
    quotes = [order(token, Side.BUY, bid - 10_000 * k) for k in (1, 2, 3)]
    for q in quotes:
        venue.submit(q, now)
    venue.advance(now)
    assert sum(isinstance(e, OrderAccepted) for e in venue.poll()) == 3
    # the desk stops heartbeating (e.g. a stalled loop): the simulator's dead-man fires
    wait_until(lambda: sim.sim_state()["dead_man_fired"] == 1, 10, "the dead-man switch")
    assert sim.sim_state()["orders_live"] == 0
    venue.advance(time.time_ns())  # next heartbeat: stale id → refused; lapse detected
    canceled = [e for e in venue.poll() if isinstance(e, OrderCanceled)]
    assert {e.client_order_id for e in canceled} == {q.client_order_id for q in quotes}
    assert {e.reason_code for e in canceled} == {"SYS_POLY_HEARTBEAT_LAPSED"}
    assert venue.halt_reason == "SYS_POLY_HEARTBEAT_LAPSED"
    venue.submit(order(token, Side.BUY, bid - 10_000), time.time_ns())
    (event,) = venue.poll()
    assert event.reason_code == "SYS_POLY_HEARTBEAT_LAPSED"  # type: ignore[union-attr]
    assert not venue.heartbeat(time.time_ns())  # accepted again, but the lapse is sticky
    venue.acknowledge_heartbeat_lapse()
    assert venue.halt_reason == ""
    venue.close()


def test_heartbeat_chain_follows_returned_ids(
    short_heartbeat_sim: tuple[SimClobServer, str, Account],
) -> None:
    sim, key, account = short_heartbeat_sim
    venue = PolymarketVenue.from_credentials(
        credentials_for(key, account),
        PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0, require_reconciliation=False),
    )
    now = time.time_ns()
    assert venue.heartbeat(now) and venue.heartbeat(now + 1) and venue.heartbeat(now + 2)
    assert sim.sim_state()["dead_man_fired"] == 0
    venue.close()


def test_unanswered_post_is_resolved_not_rejected_or_resent(
    sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    """A delayed ack (the order was placed but the answer timed out) must not be reported
    rejected, nor posted again: the venue asks for the order by its hash."""
    venue = PolymarketVenue.from_credentials(
        credentials_for(signer_key, sim_account),
        PolymarketVenueConfig(
            clob_url=sim.url,
            trades_poll_ms=0,
            require_reconciliation=False,
            request_timeout_s=0.2,
        ),
    )
    token = first_token(sim)
    venue.load_token(token)
    bid, _ = top(venue, token)
    sim.control("delay_acks", ms=600)
    quote = order(token, Side.BUY, bid - 10_000)
    now = time.time_ns()
    venue.submit(quote, now)
    venue.flush(now)
    assert venue.poll() == []  # outcome unknown: neither accepted nor rejected
    assert venue.halt_reason == "SYS_POLY_UNAVAILABLE"  # new orders wait meanwhile
    sent = venue.order(quote.client_order_id)
    assert sent is not None and sent.status is OrderStatus.PENDING_NEW
    sim.control("delay_acks", ms=0)
    wait_until(  # the delayed post has reached the book
        lambda: any(o.order_id == sent.venue_order_id for o in sim.exchange.orders.values()),
        10,
        "the delayed order",
    )
    venue.advance(now + 1)
    (event,) = venue.poll()
    assert isinstance(event, OrderAccepted) and event.venue_order_id == sent.venue_order_id
    assert venue.halt_reason == ""
    live = [o for o in sim.exchange.orders.values() if o.order_id == sent.venue_order_id]
    assert len(live) == 1 and live[0].status == "LIVE"
    venue.cancel_all(time.time_ns())
    venue.close()
