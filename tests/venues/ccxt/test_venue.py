"""The ccxt venue against the running Binance USDⓈ-M simulator, through the real
``ccxt.async_support.binanceusdm`` client (no network: ``api_url`` is the loopback server).

Every figure is compared with the simulator's own exact state (``sim.exchange``: micro-units),
never with ccxt's floats. Times handed to the venue are a controllable clock (``now``), so
back-offs are tested without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from polytraders.contracts.reasons import load_registry
from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import MICROS, to_micros
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.simexchange.engine import FuturesExchange
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.wire import account
from polytraders.venues.base import ReportingVenue, VenueEvent
from polytraders.venues.ccxt.client import WIRE_LOGGER
from polytraders.venues.ccxt.errors import REASON_CODES, ErrorKind
from polytraders.venues.ccxt.venue import CcxtVenue
from polytraders.venues.drift import compare, records_of
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from tests.venues.ccxt.loopback import loopback_venue

TOKEN = "binance-usdm:BTCUSDT"
RUN = "run-0123456789abcdef"
SECOND_NS = 1_000_000_000


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


def order(
    n: int,
    side: Side,
    price: int,
    size: int,
    *,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    reduce_only: bool = False,
) -> VenueOrder:
    return VenueOrder(
        client_order_id=f"{RUN}/i{n}/o0",
        intent_id=f"{RUN}/i{n}",
        token_id=TOKEN,
        side=side,
        price=price,
        size=size,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )


def best(ex: FuturesExchange) -> tuple[int, int]:
    bid, ask = ex.book.best_bid(), ex.book.best_ask()
    assert bid is not None and ask is not None
    return bid, ask


def fills_of(events: list[VenueEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def test_venue_is_a_reporting_venue_and_its_codes_are_registered(venue: CcxtVenue) -> None:
    reporting: ReportingVenue = venue  # checked by mypy --strict
    assert reporting.name == "binance-usdm"
    registry = load_registry()
    assert set(REASON_CODES) == set(ErrorKind)
    assert all(code in registry for code in REASON_CODES.values())
    (market,) = venue.markets.values()
    assert market.instrument.price_increment == 100_000  # tickSize "0.10"
    assert market.instrument.size_increment == 1_000 and market.instrument.min_size == 1_000
    assert market.min_notional == 100 * MICROS and market.quote == "USDT"


def test_post_only_limit_rests_and_is_listed(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    bid, _ = best(sim.exchange)
    o = order(1, Side.BUY, bid - 1_000 * MICROS, 10_000, post_only=True)
    venue.submit(o, now())
    (accepted,) = venue.poll()
    assert isinstance(accepted, OrderAccepted)
    assert accepted.client_order_id == o.client_order_id
    (held,) = sim.exchange.open_orders()
    assert held.client_order_id == o.client_order_id and held.time_in_force == "GTX"
    assert (held.price, held.orig_qty) == (o.price, o.size)
    assert accepted.venue_order_id == str(held.order_id)
    (listed,) = venue.open_orders()
    assert listed.status is OrderStatus.ACCEPTED and listed.venue_order_id == str(held.order_id)
    assert o.status is OrderStatus.PENDING_NEW  # the caller's order is never changed
    venue.submit(o, now())  # idempotent by client order id
    assert venue.poll() == [] and len(sim.exchange.open_orders()) == 1


def test_crossing_limit_fills_at_the_simulators_prices_sizes_and_fees(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    (p1, s1), (p2, _) = sim.exchange.book.asks(2)
    size = s1 + 2_000
    venue.submit(order(1, Side.BUY, p2, size), now())
    events = venue.poll()
    assert isinstance(events[0], OrderAccepted)
    fills = fills_of(events)
    trades = sim.exchange.trades
    assert [(f.price, f.size, f.fee) for f in fills] == [
        (t.price, t.qty, t.commission) for t in trades
    ]
    assert [(f.price, f.size) for f in fills] == [(p1, s1), (p2, 2_000)]
    assert [f.fill_id for f in fills] == [f"{TOKEN}/t{t.trade_id}" for t in trades]
    assert all(f.liquidity is LiquiditySide.TAKER and f.side is Side.BUY for f in fills)
    assert venue.order(f"{RUN}/i1/o0").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert venue.open_orders() == []


def test_market_order_fills_and_closes(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    venue.submit(order(1, Side.SELL, 0, 20_000, tif=TimeInForce.FAK), now())
    events = venue.poll()
    fills = fills_of(events)
    assert sum(f.size for f in fills) == 20_000
    assert [(f.price, f.size, f.fee) for f in fills] == [
        (t.price, t.qty, t.commission) for t in sim.exchange.trades
    ]
    assert sim.exchange.position.size == -20_000
    assert venue.positions()[TOKEN].size == -20_000  # a short is a negative size


def test_cancel_and_cancel_all_report_canceled(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    bid, _ = best(sim.exchange)
    for n in (1, 2, 3):
        venue.submit(order(n, Side.BUY, bid - n * MICROS, 10_000, post_only=True), now())
    assert len(venue.poll()) == 3
    venue.cancel(f"{RUN}/i1/o0", now())
    (canceled,) = venue.poll()
    assert isinstance(canceled, OrderCanceled) and canceled.client_order_id == f"{RUN}/i1/o0"
    venue.cancel_all(now())
    events = venue.poll()
    assert sorted(e.client_order_id for e in events if isinstance(e, OrderCanceled)) == [
        f"{RUN}/i2/o0",
        f"{RUN}/i3/o0",
    ]
    assert venue.open_orders() == [] and sim.exchange.open_orders() == []
    venue.cancel(f"{RUN}/i1/o0", now())  # no longer open: nothing happens
    assert venue.poll() == []


def test_post_only_that_would_cross_is_rejected(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    _, ask = best(sim.exchange)
    venue.submit(order(1, Side.BUY, ask, 10_000, post_only=True), now())
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_POST_ONLY_WOULD_CROSS"
    assert "-5022" in rejected.message and sim.exchange.orders == {}


def test_insufficient_margin_is_rejected(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    assert venue.set_leverage(TOKEN, 1) == 1 and sim.exchange.leverage == 1
    venue.submit(order(1, Side.BUY, 0, 200_000, tif=TimeInForce.FAK), now())  # ~12 000 USDT
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
    assert sim.exchange.position.size == 0


def test_reduce_only_without_a_position_is_rejected(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    venue.submit(order(1, Side.SELL, 0, 10_000, tif=TimeInForce.FAK, reduce_only=True), now())
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_REDUCE_ONLY_REJECTED"


def test_off_grid_orders_are_refused_before_sending(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(sim.exchange)
    venue.submit(order(1, Side.BUY, bid - 1_050_000, 10_000), now())  # 0.05 off the 0.10 tick
    venue.submit(order(2, Side.BUY, bid - MICROS, 10_500), now())  # off the 0.001 step
    venue.submit(order(3, Side.BUY, bid - MICROS, 10_000, tif=TimeInForce.GTD), now())
    codes = [e.reason_code for e in venue.poll() if isinstance(e, OrderRejected)]
    assert codes == ["SYS_VENUE_INVALID_TICK", "SYS_VENUE_INVALID_ORDER", "SYS_VENUE_INVALID_ORDER"]
    assert sim.exchange.orders == {}


def test_rate_limit_withdraws_and_keeps_order_state(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(sim.exchange)
    t0 = now()
    venue.submit(order(1, Side.BUY, bid - MICROS, 10_000, post_only=True), t0)
    assert isinstance(venue.poll()[0], OrderAccepted)
    sim.fault("rate_limit", count=1, retry_after_s=3)
    venue.submit(order(2, Side.BUY, bid - 2 * MICROS, 10_000, post_only=True), t0)
    (withdrawn,) = venue.poll()
    assert isinstance(withdrawn, OrderCanceled)
    assert withdrawn.reason_code == "SYS_CCXT_RATE_LIMITED"
    venue.submit(order(3, Side.BUY, bid - 3 * MICROS, 10_000, post_only=True), t0 + SECOND_NS)
    (held_back,) = venue.poll()  # within Retry-After: not sent
    assert isinstance(held_back, OrderCanceled) and held_back.reason_code == "SYS_CCXT_RATE_LIMITED"
    assert len(sim.exchange.orders) == 1
    assert [o.client_order_id for o in venue.open_orders()] == [f"{RUN}/i1/o0"]
    venue.submit(order(4, Side.BUY, bid - 4 * MICROS, 10_000, post_only=True), t0 + 3 * SECOND_NS)
    assert isinstance(venue.poll()[0], OrderAccepted)
    venue.advance(t0 + 3 * SECOND_NS)
    assert venue.poll() == []
    assert sorted(o.client_order_id for o in venue.open_orders()) == [
        f"{RUN}/i1/o0",
        f"{RUN}/i4/o0",
    ]


def test_positions_balances_and_funding_are_exact(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    assert venue.positions()[TOKEN].size == 0
    venue.submit(order(1, Side.BUY, 0, 15_000, tif=TimeInForce.FAK), now())
    venue.poll()
    ex = sim.exchange
    position = venue.positions()[TOKEN]
    assert position.size == ex.position.size == 15_000
    assert position.entry_price == ex.position.avg_entry_price_micros()
    assert position.mark_price == ex.mark_price()
    assert position.unrealized_pnl == ex.unrealized_pnl()
    expected = account(ex, 0)["availableBalance"]
    assert venue.balances() == {"USDT": to_micros(expected)}
    funding = venue.funding_rate(TOKEN)
    assert funding.rate_ppb == ex.settings.funding_rate_ppm * 1_000 == 100_000
    assert funding.mark_price == ex.mark_price()


def test_maker_fill_from_the_replay_is_found_by_advance(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(sim.exchange)
    venue.submit(order(1, Side.BUY, bid, 10_000, post_only=True), now())
    venue.poll()
    sim.step(3_000)
    venue.advance(now())
    fills = fills_of(venue.poll())
    assert fills and all(f.liquidity is LiquiditySide.MAKER for f in fills)
    assert [(f.price, f.size, f.fee) for f in fills] == [
        (t.price, t.qty, t.commission) for t in sim.exchange.trades
    ]
    assert sum(f.size for f in fills) == 10_000
    assert venue.open_orders() == []


def test_reconciliation_snapshot_agrees_with_the_simulator_and_the_records(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(sim.exchange)
    resting = order(1, Side.BUY, bid - 50 * MICROS, 10_000, post_only=True)
    taker = order(2, Side.SELL, 0, 30_000, tif=TimeInForce.FAK)
    venue.submit(resting, now())
    venue.submit(taker, now())
    events = venue.poll()
    snapshot = venue.reconciliation_snapshot(now())
    (listed,) = snapshot.orders
    held = sim.exchange.open_orders()[0]
    assert (listed.client_order_id, listed.venue_order_id) == (
        resting.client_order_id,
        str(held.order_id),
    )
    assert (listed.price, listed.size, listed.filled_size) == (held.price, held.orig_qty, 0)
    assert [(f.fill_id, f.price, f.size, f.fee) for f in snapshot.fills] == [
        (f"{TOKEN}/t{t.trade_id}", t.price, t.qty, t.commission) for t in sim.exchange.trades
    ]
    assert [(p.token_id, p.size) for p in snapshot.positions] == [
        (TOKEN, sim.exchange.position.size)
    ]
    booked = fills_of(events)
    desk_orders = [venue.order(resting.client_order_id), venue.order(taker.client_order_id)]
    records = records_of(
        [o for o in desk_orders if o is not None],
        {f.fill_id for f in booked},
        {TOKEN: -sum(f.size for f in booked)},
    )
    result = compare(snapshot, records, ReconciliationConfig())
    assert result.level is DriftLevel.OK
    assert result.order_drift_micros == 0 and result.position_drift_micros == 0
    assert result.differences.unbooked_fills == ()


def test_later_reconciliation_snapshots_list_only_the_trades_since_the_previous_one(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """The first snapshot lists every trade; the next only those after the last it listed
    (its cost stays the interval's, not the session's), while the position is compared in
    full each time."""
    asked: list[int | None] = []
    real = venue._trades_since

    def trades_since(market: Any, from_id: int | None) -> list[dict[str, Any]]:
        asked.append(from_id)
        return real(market, from_id)

    venue._trades_since = trades_since  # type: ignore[method-assign]
    venue.submit(order(1, Side.SELL, 0, 30_000, tif=TimeInForce.FAK), now())
    venue.poll()
    first = venue.reconciliation_snapshot(now())
    first_ids = [f.fill_id for f in first.fills]
    assert first_ids == [f"{TOKEN}/t{t.trade_id}" for t in sim.exchange.trades]
    venue.submit(order(2, Side.SELL, 0, 20_000, tif=TimeInForce.FAK), now())
    venue.poll()
    asked.clear()
    later = venue.reconciliation_snapshot(now())
    last_listed = max(
        t.trade_id for t in sim.exchange.trades if f"{TOKEN}/t{t.trade_id}" in first_ids
    )
    assert asked == [last_listed + 1, last_listed + 1]  # the listings before and after
    new_ids = [f"{TOKEN}/t{t.trade_id}" for t in sim.exchange.trades][len(first_ids) :]
    assert new_ids and [f.fill_id for f in later.fills] == new_ids
    assert [(p.token_id, p.size) for p in later.positions] == [(TOKEN, -50_000)]


def test_a_new_venue_rebuilds_orders_and_fills_without_duplicates(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(sim.exchange)
    venue.submit(order(1, Side.BUY, bid - 50 * MICROS, 10_000, post_only=True), now())
    venue.submit(order(2, Side.BUY, 0, 30_000, tif=TimeInForce.FAK), now())
    first = fills_of(venue.poll())
    assert first

    restarted = loopback_venue(sim)
    try:
        restarted.rebuild(now())
        rebuilt = fills_of(restarted.poll())
        assert [f.fill_id for f in rebuilt] == [f.fill_id for f in first]
        assert [(f.client_order_id, f.price, f.size, f.fee) for f in rebuilt] == [
            (f.client_order_id, f.price, f.size, f.fee) for f in first
        ]
        assert [o.client_order_id for o in restarted.open_orders()] == [f"{RUN}/i1/o0"]
        restarted.advance(now())
        assert restarted.poll() == []  # the same trades are never reported twice
    finally:
        restarted.close()

    with_store = loopback_venue(sim)
    try:
        with_store.rebuild(now(), venue.open_orders(), {f.fill_id for f in first})
        assert fills_of(with_store.poll()) == []  # the store has them all
        assert [o.client_order_id for o in with_store.open_orders()] == [f"{RUN}/i1/o0"]
    finally:
        with_store.close()


def test_unanswered_post_is_asked_for_and_never_resent(sim: SimExchangeServer) -> None:
    venue = loopback_venue(sim, request_timeout_s=0.3, call_timeout_s=0.3)
    try:
        bid, _ = best(sim.exchange)
        sim.fault("delay_acks", ms=1_500)
        venue.submit(order(1, Side.BUY, bid - MICROS, 10_000, post_only=True), now())
        assert venue.poll() == []  # no answer: neither accepted nor rejected
        (pending,) = venue.open_orders()
        assert pending.status is OrderStatus.PENDING_NEW
        assert venue.halt_reason == "SYS_CCXT_UNAVAILABLE"
        venue.submit(order(2, Side.BUY, bid - 2 * MICROS, 10_000, post_only=True), now())
        (held_back,) = venue.poll()  # withdrawn until the first one's outcome is known
        assert isinstance(held_back, OrderCanceled)
        assert held_back.reason_code == "SYS_CCXT_UNAVAILABLE"
        sim.fault("clear")
        venue.advance(now())
        (accepted,) = venue.poll()
        assert isinstance(accepted, OrderAccepted)
        assert accepted.client_order_id == f"{RUN}/i1/o0"
        assert len(sim.exchange.orders) == 1 and venue.halt_reason == ""
    finally:
        venue.close()


def test_credentials_never_reach_logs_or_messages(
    sim: SimExchangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = sim.api_key.secret
    good = loopback_venue(sim)
    bad = loopback_venue(sim, secret="f" * 64)
    try:
        bid, _ = best(sim.exchange)
        good.submit(order(1, Side.BUY, bid - MICROS, 10_000, post_only=True), now())
        good.cancel(f"{RUN}/i1/o0", now())
        sim.fault("rate_limit", count=1, retry_after_s=1)
        good.submit(order(2, Side.BUY, bid - MICROS, 10_000, post_only=True), now())
        bad.submit(order(3, Side.BUY, bid - MICROS, 10_000, post_only=True), now())
        (refused,) = bad.poll()
        assert isinstance(refused, OrderRejected) and refused.reason_code == "SYS_CCXT_AUTH_FAILED"
        assert bad.halt_reason == "SYS_CCXT_AUTH_FAILED"
        assert good.client.exchange.logger is WIRE_LOGGER
        assert not WIRE_LOGGER.isEnabledFor(logging.INFO)  # ccxt's DEBUG lines carry the key
        texts = [caplog.text, refused.message, *(repr(e) for e in good.poll())]
        for text in texts:
            assert secret not in text and "f" * 64 not in text
            assert sim.api_key.key not in text
        assert "signature=" not in refused.message or "signature=***" in refused.message
    finally:
        good.close()
        bad.close()
