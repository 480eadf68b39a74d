"""The spot position in the ccxt venue's reconciliation snapshot: the base asset's balance
(free + locked) less the commission dust of our buys, compared with the desk's ledger by
:func:`polytraders.venues.drift.compare`, against the running Binance spot simulator through
the real ``ccxt.async_support.binance`` client (loopback only).

Figures are exact: the simulator's own 10⁻⁸ balances and trades (``sim.exchange``) and values
worked out by hand, never ccxt's floats. The replay only moves by ``POST /sim/step``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.model.fills import Fill
from polytraders.model.money import MICROS
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import E8, SpotExchange
from polytraders.venues.base import VenueEvent
from polytraders.venues.ccxt.convert import commission_dust, fee_micros, holding_micros
from polytraders.venues.ccxt.venue import CcxtVenue
from polytraders.venues.drift import ReconciliationResult, compare, records_of
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import PositionReport
from tests.venues.ccxt.loopback import loopback_venue

TOKEN = "binance-spot:BTCUSDT"
RUN = "run-0123456789abcdef"
SIZE = 12_340
"""0.01234 BTC: its 0.1 % taker commission, 0.00001234 BTC, is finer than a micro-BTC
(``fee_size`` 13, dust 0.00000066 BTC)."""


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(market="spot"), throwaway_key()) as server:
        yield server


@pytest.fixture
def venue(sim: SimExchangeServer) -> Iterator[CcxtVenue]:
    v = loopback_venue(sim, exchange_id="binance")
    yield v
    v.close()


def spot(sim: SimExchangeServer) -> SpotExchange:
    ex = sim.exchange
    assert isinstance(ex, SpotExchange)
    return ex


def now() -> int:
    return time.time_ns()


def order(n: int, side: Side, price: int, size: int, tif: TimeInForce) -> VenueOrder:
    return VenueOrder(
        client_order_id=f"{RUN}/i{n}/o0",
        intent_id=f"{RUN}/i{n}",
        token_id=TOKEN,
        side=side,
        price=price,
        size=size,
        time_in_force=tif,
    )


def fills_of(events: list[VenueEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def take(venue: CcxtVenue, sim: SimExchangeServer, n: int, side: Side, size: int) -> Fill:
    """A marketable FAK at the touch, filled at once in one trade."""
    bid, ask = spot(sim).book.best_bid(), spot(sim).book.best_ask()
    assert bid is not None and ask is not None
    venue.submit(order(n, side, ask if side is Side.BUY else bid, size, TimeInForce.FAK), now())
    (fill,) = fills_of(venue.poll())
    return fill


def judged(venue: CcxtVenue, book: Ledger, booked: list[Fill]) -> ReconciliationResult:
    """The venue's snapshot compared with the desk's records: its orders, the fills it
    booked, its ledger's position."""
    records = records_of(venue.orders(), [f.fill_id for f in booked], {TOKEN: book.size(TOKEN)})
    return compare(venue.reconciliation_snapshot(now()), records, ReconciliationConfig())


def test_buys_with_sub_micro_commissions_and_a_partial_sell_leave_no_drift(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """Two buys of 0.01234 BTC each pay 0.00001234 BTC; the desk books 13 micro-BTC each, so
    the exchange keeps 0.00000132 BTC the desk does not count: rounded down alone, the
    balance would be one micro-BTC above the ledger. The snapshot takes that dust off
    exactly: after the buys (one not yet booked: explained by the snapshot's fills) and a
    partial sell, its position is the ledger's and nothing drifts."""
    book = Ledger(10_000 * MICROS)
    first = take(venue, sim, 1, Side.BUY, SIZE)
    second = take(venue, sim, 2, Side.BUY, SIZE)
    assert [(t.commission_asset, t.commission_e8) for t in spot(sim).trades] == [("BTC", 1_234)] * 2
    assert (first.fee_size, second.fee_size) == (13, 13)
    assert book.apply_fill(first)
    # the second buy not booked yet: the snapshot lists it, which explains the difference
    early = judged(venue, book, [first])
    assert [f.fill_id for f in early.differences.unbooked_fills] == [second.fill_id]
    assert early.level is DriftLevel.OK and early.position_drift_micros == 0
    assert book.apply_fill(second)
    held_e8 = spot(sim).totals["BTC"]
    assert held_e8 == 2 * (SIZE * 100 - 1_234) == 2_465_532
    assert book.size(TOKEN) == 2 * (SIZE - 13) == 24_654
    assert held_e8 // 100 == book.size(TOKEN) + 1  # the dust, a whole micro-BTC by now

    sell = take(venue, sim, 3, Side.SELL, 10_000)
    assert book.apply_fill(sell) and book.size(TOKEN) == 14_654
    snapshot = venue.reconciliation_snapshot(now())
    assert snapshot.positions == (PositionReport(token_id=TOKEN, size=14_654),)
    assert spot(sim).totals["BTC"] == 1_465_532  # 14,654 micro-BTC and 132 × 10⁻⁸ of dust
    result = judged(venue, book, [first, second, sell])
    assert result.level is DriftLevel.OK
    assert (result.position_drift_micros, result.differences.positions) == (0, ())


def test_a_resting_sell_locks_base_that_still_counts(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """A GTC sell above the market locks its 0.01 BTC: ``balances()`` (free) drops by it, the
    snapshot's position (free + locked) does not, and nothing drifts."""
    book = Ledger(10_000 * MICROS)
    buy = take(venue, sim, 1, Side.BUY, SIZE)
    assert book.apply_fill(buy) and book.size(TOKEN) == SIZE - 13
    ask = spot(sim).book.best_ask()
    assert ask is not None
    venue.submit(order(2, Side.SELL, ask + 1_000 * MICROS, 10_000, TimeInForce.GTC), now())
    venue.poll()
    assert spot(sim).locked("BTC") == 10_000 * 100
    # free: (1,234,000 − 1,234 − 1,000,000) × 10⁻⁸ = 0.00232766 BTC → 2,327 micro-BTC
    assert venue.balances()["BTC"] == 2_327
    snapshot = venue.reconciliation_snapshot(now())
    assert [o.client_order_id for o in snapshot.orders] == [f"{RUN}/i2/o0"]
    assert snapshot.positions == (PositionReport(token_id=TOKEN, size=12_327),)
    result = judged(venue, book, [buy])
    assert result.level is DriftLevel.OK and result.position_drift_micros == 0


def test_a_resting_buy_locks_quote_that_is_still_the_desks_cash(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """A GTC buy below the market locks ``price × size`` USDT: the free balance drops by it,
    ``wallet_balances()`` (free + locked: the cash a spot desk starts from) does not."""
    before = venue.wallet_balances()["USDT"]
    assert before == venue.balances()["USDT"]  # nothing locked yet
    bid = spot(sim).book.best_bid()
    assert bid is not None
    price = bid - 1_000 * MICROS
    venue.submit(order(1, Side.BUY, price, SIZE, TimeInForce.GTC), now())
    venue.poll()
    locked = -(-price * SIZE // MICROS)  # free is rounded down: the lock, rounded up
    assert venue.balances()["USDT"] == before - locked
    assert venue.wallet_balances()["USDT"] == before


@pytest.mark.parametrize(
    ("change_e8", "drift_micros"),
    [(12_345_678, 123_456), (-12_345_678, -123_457)],
    ids=["deposit", "withdrawal"],
)
def test_an_external_balance_change_is_drift_of_its_exact_size(
    sim: SimExchangeServer, venue: CcxtVenue, change_e8: int, drift_micros: int
) -> None:
    """0.12345678 BTC arriving at (or leaving) an account holding 0.5 BTC and a buy the desk
    booked: the position drift is the change in micro-BTC, rounded toward −∞ (the snapshot
    rounds the holding down), and above the default critical threshold (10,000)."""
    spot(sim).totals["BTC"] = 50_000_000
    buy = take(venue, sim, 1, Side.BUY, SIZE)
    desk_size = 500_000 + buy.position_change
    records = records_of(venue.orders(), [buy.fill_id], {TOKEN: desk_size})
    before = compare(venue.reconciliation_snapshot(now()), records, ReconciliationConfig())
    assert before.level is DriftLevel.OK and before.position_drift_micros == 0
    spot(sim).totals["BTC"] += change_e8
    result = compare(venue.reconciliation_snapshot(now()), records, ReconciliationConfig())
    (difference,) = result.differences.positions
    assert (difference.desk_size, difference.unbooked_size) == (desk_size, 0)
    assert difference.venue_size == desk_size + drift_micros
    assert difference.unexplained == drift_micros
    assert result.position_drift_micros == abs(drift_micros)
    assert result.level is DriftLevel.CRITICAL


def test_a_trade_the_desk_did_not_place_is_drift_of_what_it_moved(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """Another client on the same account buys 0.01 BTC (commission 0.00001 BTC): the venue
    does not list a trade of an order it does not know, so the 9,990 micro-BTC credited are
    unexplained."""
    book = Ledger(10_000 * MICROS)
    outsider = loopback_venue(sim, exchange_id="binance")
    try:
        ask = spot(sim).book.best_ask()
        assert ask is not None
        outsider.submit(
            VenueOrder(
                client_order_id="other-1",
                intent_id="other",
                token_id=TOKEN,
                side=Side.BUY,
                price=ask,
                size=10_000,
                time_in_force=TimeInForce.FAK,
            ),
            now(),
        )
        (theirs,) = fills_of(outsider.poll())
    finally:
        outsider.close()
    assert theirs.position_change == 9_990
    result = judged(venue, book, [])
    assert result.differences.unbooked_fills == ()
    (difference,) = result.differences.positions
    assert (difference.desk_size, difference.venue_size, difference.unexplained) == (
        0,
        9_990,
        9_990,
    )
    assert result.level is DriftLevel.WARNING  # ≥ 1 (warn), < 10,000 (critical)


def test_a_seeded_balance_is_the_position_a_new_run_adopts(sim: SimExchangeServer) -> None:
    """A session seeded with 0.50000012 BTC: a new venue's snapshot reports 500,000 micro-BTC
    (rounded down); records claiming nothing (``positions=None``: a new run) adopt it with
    no drift, and records of 0 BTC see it all as drift."""
    spot(sim).totals["BTC"] = 50_000_012
    v = loopback_venue(sim, exchange_id="binance")
    try:
        v.rebuild(now())
        snapshot = v.reconciliation_snapshot(now())
    finally:
        v.close()
    assert snapshot.positions == (PositionReport(token_id=TOKEN, size=500_000),)
    assert spot(sim).totals["USDT"] == 10_000 * E8  # nothing traded
    adopted = compare(snapshot, records_of([], [], None), ReconciliationConfig())
    assert adopted.level is DriftLevel.OK
    (difference,) = adopted.differences.positions  # listed, not counted
    assert (difference.venue_size, difference.unexplained) == (500_000, 0)
    claimed = compare(snapshot, records_of([], [], {TOKEN: 0}), ReconciliationConfig())
    assert claimed.position_drift_micros == 500_000
    assert claimed.level is DriftLevel.CRITICAL


def text_e8(value_e8: int) -> str:
    """Binance's 8-decimal text of a non-negative amount in 10⁻⁸ units."""
    return f"{value_e8 // E8}.{value_e8 % E8:08d}"


@given(
    start_e8=st.integers(0, 10**12),
    trades=st.lists(
        st.tuples(st.booleans(), st.integers(1, 10**6), st.integers(0, 10**4)), max_size=30
    ),
)
def test_the_holding_less_the_dust_is_the_booked_position_exactly(
    start_e8: int, trades: list[tuple[bool, int, int]]
) -> None:
    """Starting from any balance (adopted rounded down), after any buys (commission in the
    base, any 10⁻⁸ amount up to the quantity: booked rounded up) and sells (their whole
    quantity, commission in the quote), ``holding_micros(balance, dust)`` is the booked
    position exactly, and the dust stays under one micro-unit per buy."""
    balance_e8 = start_e8
    booked = start_e8 // 100
    dust = Decimal(0)
    buys = 0
    for is_buy, qty_micros, asked_e8 in trades:
        commission_e8 = min(asked_e8, qty_micros * 100)
        if is_buy:
            info = {"commission": text_e8(commission_e8)}
            buys += 1
            balance_e8 += qty_micros * 100 - commission_e8
            booked += qty_micros - fee_micros(info)
            dust += commission_dust(info)
        elif booked >= qty_micros:
            balance_e8 -= qty_micros * 100
            booked -= qty_micros
        row = {"free": text_e8(balance_e8), "locked": "0.00000000"}
        assert holding_micros(row, dust) == booked
    assert 0 <= dust * 10**6 < max(buys, 1)
    # the same holding split between free and locked counts the same
    locked = balance_e8 // 3
    split = {"free": text_e8(balance_e8 - locked), "locked": text_e8(locked)}
    assert holding_micros(split, dust) == booked
