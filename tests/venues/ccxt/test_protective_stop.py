"""Protective stops and the kill switch's cancel-all over ccxt, against the running Binance
USDⓈ-M simulator through the real ``binanceusdm`` client; the pure policy on its own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.contracts.reasons import load_registry
from polytraders.model.fills import Fill
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.venues.ccxt.account import PerpPosition
from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.protective_stop import (
    UNPROTECTED,
    ActionKind,
    ProtectiveStopKeeper,
    ProtectiveStopPolicy,
    desired_stop,
    plan,
)
from polytraders.venues.ccxt.stops import CancelAllUnconfirmedError, StopRequest, StopState
from polytraders.venues.ccxt.venue import CcxtVenue
from tests.venues.ccxt.loopback import loopback_venue

TOKEN = "binance-usdm:BTCUSDT"
RUN = "run-0123456789abcdef"
TICK = 100_000
POLICY = ProtectiveStopPolicy(stop_distance_bps=30)  # 30 bps ≈ 185 USDT: reached in the replay


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


@pytest.fixture
def venue(sim: SimExchangeServer) -> Iterator[CcxtVenue]:
    v = loopback_venue(sim)
    yield v
    v.close()


def now() -> int:
    return time.time_ns()


def market(venue: CcxtVenue, n: int, side: Side, size: int, *, reduce_only: bool = False) -> None:
    venue.submit(
        VenueOrder(
            client_order_id=f"{RUN}/i{n}/o0",
            intent_id=f"{RUN}/i{n}",
            token_id=TOKEN,
            side=side,
            price=0,
            size=size,
            time_in_force=TimeInForce.FAK,
            reduce_only=reduce_only,
        ),
        now(),
    )


# ---------------------------------------------------------------------- the pure policy
def test_desired_stop_is_on_the_losing_side_on_the_tick() -> None:
    policy = ProtectiveStopPolicy(stop_distance_bps=100)
    long = desired_stop(
        policy, PerpPosition(token_id=TOKEN, size=10_000, entry_price=61_800_000_000), TICK
    )
    short = desired_stop(
        policy, PerpPosition(token_id=TOKEN, size=-10_000, entry_price=61_800_000_000), TICK
    )
    assert long is not None and short is not None
    assert (long.side, long.stop_price) == (Side.SELL, 61_182_000_000)
    assert (short.side, short.stop_price) == (Side.BUY, 62_418_000_000)
    assert desired_stop(policy, PerpPosition(token_id=TOKEN), TICK) is None
    assert long.client_id.startswith("ps-") and len(long.client_id) <= 36


@given(
    size=st.integers(-(10**9), 10**9).filter(lambda s: s != 0),
    entry=st.integers(1_000 * TICK, 10**12),
    bps=st.integers(1, 5_000),
)
def test_stop_distance_is_never_less_than_configured(size: int, entry: int, bps: int) -> None:
    position = PerpPosition(token_id=TOKEN, size=size, entry_price=entry)
    stop = desired_stop(ProtectiveStopPolicy(stop_distance_bps=bps), position, TICK)
    assert stop is not None and stop.stop_price % TICK == 0 and stop.stop_price > 0
    distance = entry - stop.stop_price if size > 0 else stop.stop_price - entry
    assert distance * 10_000 >= entry * bps  # exact, in integers
    assert distance * 10_000 < entry * bps + TICK * 10_000  # at most one tick more


def test_plan_places_when_none_and_does_nothing_when_flat() -> None:
    request = StopRequest(
        token_id=TOKEN, position_size=10_000, stop_price=61_000_000_000, client_id="ps-a"
    )
    assert [a.kind for a in plan(request, [], "ps-")] == [ActionKind.PLACE]
    assert plan(None, [], "ps-") == []


# ---------------------------------------------------------------------- at the exchange
def test_stop_follows_the_position_and_closes_it_when_the_price_falls_through(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    keeper = ProtectiveStopKeeper(venue, POLICY)
    ex = sim.exchange
    market(venue, 1, Side.BUY, 10_000)
    first = keeper.sync(TOKEN, now())
    assert first.reason_code == "" and [a.kind for a, _ in first.actions] == [ActionKind.PLACE]
    (held,) = ex.open_algo_orders()
    assert first.desired is not None
    assert (held.side, held.quantity, held.reduce_only) == (Side.SELL, 10_000, True)
    assert held.trigger_price == first.desired.stop_price and held.working_type == "MARK_PRICE"
    assert keeper.sync(TOKEN, now()).actions == ()  # nothing to change

    market(venue, 2, Side.BUY, 5_000)  # the fill changes the size: the stop is replaced
    second = keeper.sync(TOKEN, now())
    assert [(a.kind, o.state) for a, o in second.actions] == [
        (ActionKind.REPLACE, StopState.NEW_STOP)
    ]
    assert held.status == "CANCELED"
    (held,) = ex.open_algo_orders()
    assert held.quantity == 15_000 == ex.position.size
    snapshot = venue.reconciliation_snapshot(now())
    (listed,) = snapshot.stops
    assert (listed.venue_order_id, listed.size) == (str(held.algo_id), 15_000)

    while ex.open_algo_orders():  # the desk is dead: only the replay moves
        assert sim.step(100)["applied"], "the recording ended first"
    assert held.status == "FINISHED" and ex.position.size == 0
    closing = [t for t in ex.trades if t.order_id == held.actual_order_id]
    assert sum(t.qty for t in closing) == 15_000 and held.trigger_ms > 0
    assert keeper.sync(TOKEN, now()).actions == ()  # flat, no stop left


def test_stop_is_cancelled_when_the_position_closes(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    keeper = ProtectiveStopKeeper(venue, POLICY.model_copy(update={"close_position": True}))
    market(venue, 1, Side.BUY, 10_000)
    placed = keeper.sync(TOKEN, now())
    (held,) = sim.exchange.open_algo_orders()
    assert held.close_position and held.quantity == 0 and placed.reason_code == ""
    market(venue, 2, Side.SELL, 10_000, reduce_only=True)
    closed = keeper.sync(TOKEN, now())
    assert [(a.kind, o.state) for a, o in closed.actions] == [
        (ActionKind.CANCEL, StopState.NO_STOP)
    ]
    assert closed.desired is None and sim.exchange.open_algo_orders() == []


def test_replace_fails_closed_and_says_what_the_exchange_holds(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    keeper = ProtectiveStopKeeper(venue, POLICY)
    market(venue, 1, Side.BUY, 10_000)
    keeper.sync(TOKEN, now())
    (old,) = sim.exchange.open_algo_orders()
    market(venue, 2, Side.BUY, 5_000)
    # the first request of the replace (its cancel) is refused: the old stop stays, no new one
    stops = venue.protective_stops(TOKEN, now())
    sim.fault("rate_limit", count=1)
    request = StopRequest(
        token_id=TOKEN, position_size=15_000, stop_price=stops[0].stop_price, client_id="ps-new"
    )
    kept = venue.replace_protective_stop(stops[0], request, now())
    assert kept.state is StopState.OLD_STOP and kept.reason_code == "SYS_CCXT_RATE_LIMITED"
    assert sim.exchange.open_algo_orders() == [old]
    # the cancel goes through but the place is refused: no stop, and the keeper says so
    sim.fault("reject_orders", code=-2019, msg="Margin is insufficient.")
    unprotected = keeper.sync(TOKEN, now() + 10**12)  # past the 429 back-off
    assert unprotected.reason_code == UNPROTECTED
    ((_, outcome),) = unprotected.actions
    assert outcome.state is StopState.NO_STOP and sim.exchange.open_algo_orders() == []
    assert keeper.sync(TOKEN, now() + 10**12).reason_code == ""  # the next pass places it
    assert len(sim.exchange.open_algo_orders()) == 1
    registry = load_registry()
    codes = {UNPROTECTED, "SYS_CCXT_STOP_WOULD_TRIGGER", CancelAllUnconfirmedError.reason_code}
    assert codes <= set(registry)


def test_a_stop_already_through_the_price_is_refused(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    market(venue, 1, Side.BUY, 10_000)
    above = sim.exchange.mark_price() + 10 * TICK
    request = StopRequest(token_id=TOKEN, position_size=10_000, stop_price=above, client_id="ps-x")
    outcome = venue.place_protective_stop(request, now())
    assert outcome.state is StopState.NO_STOP
    assert outcome.reason_code == "SYS_CCXT_STOP_WOULD_TRIGGER" and "-2021" in outcome.message


# ---------------------------------------------------------------------- kill switch
def resting_buy(sim: SimExchangeServer, venue: CcxtVenue, n: int) -> None:
    bid = sim.exchange.book.best_bid()
    assert bid is not None
    venue.submit(
        VenueOrder(
            client_order_id=f"{RUN}/i{n}/o0",
            intent_id=f"{RUN}/i{n}",
            token_id=TOKEN,
            side=Side.BUY,
            price=bid - 100 * TICK,
            size=10_000,
            post_only=True,
        ),
        now(),
    )


def test_cancel_all_cancels_regular_and_conditional_orders_and_confirms(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    market(venue, 1, Side.BUY, 10_000)
    ProtectiveStopKeeper(venue, POLICY).sync(TOKEN, now())
    resting_buy(sim, venue, 2)
    assert len(sim.exchange.open_orders()) == 1 and len(sim.exchange.open_algo_orders()) == 1
    report = venue.cancel_everything(now())
    assert report.confirmed and report.orders_left == () and report.stops_left == ()
    assert [(p.token_id, p.size) for p in report.positions] == [(TOKEN, 10_000)]  # to unwind
    assert sim.exchange.open_orders() == [] and sim.exchange.open_algo_orders() == []
    venue.cancel_all(now())  # nothing left: confirmed again, no error


def test_cancel_all_that_cannot_confirm_says_what_is_left(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    market(venue, 1, Side.BUY, 10_000)
    ProtectiveStopKeeper(venue, POLICY).sync(TOKEN, now())
    resting_buy(sim, venue, 2)
    sim.fault("rate_limit", count=1)  # the regular cancel-all is refused
    with pytest.raises(CancelAllUnconfirmedError) as caught:
        venue.cancel_all(now())
    report = caught.value.report
    assert not report.confirmed and len(report.failures) == 1 and "-1003" in report.failures[0]
    (left,) = report.orders_left
    assert left.client_order_id == f"{RUN}/i2/o0" and report.stops_left == ()
    assert len(sim.exchange.open_orders()) == 1 and sim.exchange.open_algo_orders() == []


# ---------------------------------------------------------------------- a triggered stop
def test_the_order_a_triggered_stop_became_is_adopted_and_its_fills_reported_once(
    sim: SimExchangeServer,
) -> None:
    config = CcxtVenueConfig.model_validate({"api_url": sim.url, "poll_interval_ms": 0})
    credentials = ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret)
    venue = CcxtVenue.from_credentials(
        credentials, config, stop_client_prefix=POLICY.client_id_prefix
    )
    try:
        venue.load_markets()
        ex = sim.exchange
        market(venue, 1, Side.BUY, 10_000)
        assert ProtectiveStopKeeper(venue, POLICY).sync(TOKEN, now()).reason_code == ""
        (held,) = ex.open_algo_orders()
        venue.advance(now())
        opening = [e for e in venue.poll() if isinstance(e, Fill)]
        while ex.open_algo_orders():  # no order of ours is open: only the stop is watched
            assert sim.step(100)["applied"], "the recording ended first"
        assert held.status == "FINISHED" and ex.position.size == 0
        venue.advance(now())
        closing = [e for e in venue.poll() if isinstance(e, Fill)]
        (triggered,) = venue.take_triggered()
        assert triggered.venue_order_id == str(held.actual_order_id)
        assert {f.client_order_id for f in closing} == {triggered.client_order_id}
        assert sum(f.size for f in closing) == 10_000 == triggered.filled_size
        assert all(f.side is Side.SELL for f in closing)
        assert not {f.fill_id for f in closing} & {f.fill_id for f in opening}
        venue.advance(now())
        assert not venue.poll() and not venue.take_triggered()  # once each
    finally:
        venue.close()
