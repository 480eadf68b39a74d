"""The ccxt venue in spot mode (``exchange_id = "binance"``) against the running Binance spot
simulator, through the real ``ccxt.async_support.binance`` client (no network: ``api_url`` is
the loopback server, :class:`SimExchangeSettings` ``market="spot"``).

Every figure is compared with exact values: the simulator's own state (``sim.exchange``,
micro-units and 10⁻⁸ balances) and figures worked out by hand, never ccxt's floats. The replay
only moves by ``POST /sim/step``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.accounting.ledger import Ledger
from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import E8, SpotExchange
from polytraders.venues.base import VenueEvent
from polytraders.venues.ccxt.venue import CcxtVenue
from tests.venues.ccxt.loopback import loopback_venue

TOKEN = "binance-spot:BTCUSDT"
RUN = "run-0123456789abcdef"
QUOTE_E8 = 10_000 * E8
"""The session's starting USDT (10⁻⁸ units): 10,000 USDT and no BTC."""


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


def best(ex: SpotExchange) -> tuple[int, int]:
    bid, ask = ex.book.best_bid(), ex.book.best_ask()
    assert bid is not None and ask is not None
    return bid, ask


def fills_of(events: list[VenueEvent]) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def cost_micros(price: int, size: int) -> int:
    """price × size in micro-USDT (exact on the spot grid for sizes in whole micro-units of
    USDT: tested values are)."""
    assert price * size % MICROS == 0
    return price * size // MICROS


def test_load_markets_reads_the_spot_instrument_exactly(venue: CcxtVenue) -> None:
    assert venue.name == "binance-spot"
    (market,) = venue.markets.values()
    assert market.token_id == TOKEN and market.ccxt_symbol == "BTC/USDT"
    inst = market.instrument
    assert (inst.price_increment, inst.size_increment, inst.min_size) == (10_000, 10, 10)
    assert market.min_notional == 5 * MICROS
    assert (market.base, market.quote) == ("BTC", "USDT")
    assert venue.balances() == {"BTC": 0, "USDT": 10_000 * MICROS}


def test_limit_gtc_rests_locks_the_quote_and_is_listed(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(spot(sim))
    price = bid - 100 * MICROS
    o = order(1, Side.BUY, price, 1_000)
    venue.submit(o, now())
    (accepted,) = venue.poll()
    assert isinstance(accepted, OrderAccepted)
    (held,) = spot(sim).open_orders()
    assert (held.order_type, held.time_in_force) == ("LIMIT", "GTC")
    assert (held.price, held.orig_qty, held.client_order_id) == (price, 1_000, o.client_order_id)
    assert accepted.venue_order_id == str(held.order_id)
    (listed,) = venue.open_orders()
    assert listed.status is OrderStatus.ACCEPTED
    locked = cost_micros(price, 1_000)
    assert spot(sim).locked("USDT") == locked * 100
    assert venue.balances() == {"BTC": 0, "USDT": 10_000 * MICROS - locked}


def test_post_only_rests_as_limit_maker_and_is_refused_when_it_would_take(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, ask = best(spot(sim))
    venue.submit(order(1, Side.BUY, bid, 1_000, post_only=True), now())
    assert isinstance(venue.poll()[0], OrderAccepted)
    (held,) = spot(sim).open_orders()
    assert held.order_type == "LIMIT_MAKER"
    crossing = order(2, Side.BUY, ask, 1_000, post_only=True)
    venue.submit(crossing, now())
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_POST_ONLY_WOULD_CROSS"
    assert "Order would immediately match and take." in rejected.message
    assert len(spot(sim).orders) == 1 and spot(sim).trades == []


def test_marketable_limit_fills_with_the_commission_in_the_base_asset(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    _, ask = best(spot(sim))
    ask_size = spot(sim).book.asks(1)[0][1]
    size = min(ask_size, 1_000)
    venue.submit(order(1, Side.BUY, ask, size), now())
    events = venue.poll()
    assert isinstance(events[0], OrderAccepted)
    (fill,) = fills_of(events)
    (trade,) = spot(sim).trades
    assert (fill.price, fill.size, fill.liquidity) == (ask, size, LiquiditySide.TAKER)
    assert fill.fill_id == f"{TOKEN}/t{trade.trade_id}"
    # 0.1 % of the BTC received, charged in BTC (10⁻⁸), valued at the price, rounded up
    assert (trade.commission_asset, trade.commission_e8) == ("BTC", size * 100 // 1000)
    assert fill.fee == -(-trade.commission_e8 * ask // E8)
    assert venue.order(f"{RUN}/i1/o0").status is OrderStatus.FILLED  # type: ignore[union-attr]
    cost = cost_micros(ask, size)
    assert venue.balances() == {
        "BTC": (size * 100 - trade.commission_e8) // 100,
        "USDT": 10_000 * MICROS - cost,
    }
    assert spot(sim).totals == {
        "BTC": size * 100 - trade.commission_e8,
        "USDT": QUOTE_E8 - cost * 100,
    }


def test_market_order_fills_and_a_sell_pays_its_commission_in_usdt(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    venue.submit(order(1, Side.BUY, 0, 2_000, tif=TimeInForce.FAK), now())
    buy = fills_of(venue.poll())
    assert sum(f.size for f in buy) == 2_000
    held_e8 = spot(sim).totals["BTC"]
    assert held_e8 == 2_000 * 100 - 2_000 * 100 // 1000
    bid, _ = best(spot(sim))
    venue.submit(order(2, Side.SELL, 0, 1_000, tif=TimeInForce.FAK), now())
    (sell,) = fills_of(venue.poll())
    assert (sell.side, sell.price, sell.size) == (Side.SELL, bid, 1_000)
    trade = spot(sim).trades[-1]
    proceeds_e8 = bid * 1_000 // 10_000
    assert (trade.commission_asset, trade.commission_e8) == ("USDT", proceeds_e8 // 1000)
    assert sell.fee == -(-trade.commission_e8 // 100)
    assert spot(sim).totals["BTC"] == held_e8 - 1_000 * 100
    assert venue.order(f"{RUN}/i2/o0").status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_resting_order_fills_as_the_replay_moves_and_fills_since_are_exact(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    bid, _ = best(spot(sim))
    venue.submit(order(1, Side.BUY, bid, 1_000), now())
    assert isinstance(venue.poll()[0], OrderAccepted)
    while not spot(sim).trades:
        assert sim.step(20)["applied"], "the recording ended before the bid traded"
    venue.advance(now())
    fills = fills_of(venue.poll())
    trades = spot(sim).trades
    assert [(f.price, f.size, f.liquidity) for f in fills] == [
        (t.price, t.qty, LiquiditySide.MAKER) for t in trades
    ]
    assert [f.fee for f in fills] == [-(-t.commission_e8 * t.price // E8) for t in trades]
    assert [f.ts_event_ns for f in fills] == [t.time_ms * 1_000_000 for t in trades]
    venue.advance(now())
    assert fills_of(venue.poll()) == []  # each trade once


def test_cancel_and_cancel_all_are_confirmed(sim: SimExchangeServer, venue: CcxtVenue) -> None:
    bid, _ = best(spot(sim))
    for n in range(3):
        venue.submit(order(n, Side.BUY, bid - (n + 1) * 10 * MICROS, 1_000), now())
    venue.poll()
    venue.cancel(f"{RUN}/i0/o0", now())
    (canceled,) = venue.poll()
    assert isinstance(canceled, OrderCanceled) and canceled.reason_code == ""
    assert len(spot(sim).open_orders()) == 2
    report = venue.cancel_everything(now())
    assert report.confirmed and report.orders_left == () and report.stops_left == ()
    assert spot(sim).open_orders() == [] and venue.open_orders() == []
    assert {e.client_order_id for e in venue.poll() if isinstance(e, OrderCanceled)} == {
        f"{RUN}/i1/o0",
        f"{RUN}/i2/o0",
    }
    assert spot(sim).locked("USDT") == 0
    assert venue.balances()["USDT"] == 10_000 * MICROS
    venue.cancel_all(now())  # nothing open: Binance answers -2011, the listing confirms


def test_sell_beyond_holdings_is_refused_with_the_registered_reason(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    _, ask = best(spot(sim))
    venue.submit(order(1, Side.SELL, ask, 1_000), now())
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
    assert "Account has insufficient balance for requested action." in rejected.message
    assert spot(sim).orders == {}


def test_a_reduce_only_buy_is_refused_on_spot_before_anything_is_sent(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """There is no short to reduce on spot: refused with the registered code, nothing sent."""
    before = sim.sim_state()["requests_total"]
    _, ask = best(spot(sim))
    venue.submit(order(1, Side.BUY, ask, 1_000, reduce_only=True), now())
    (rejected,) = venue.poll()
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_INVALID_ORDER"
    assert rejected.message == "reduce-only BUY on spot: there is no short to reduce"
    assert sim.sim_state()["requests_total"] == before and spot(sim).orders == {}


def test_a_reduce_only_sell_goes_out_as_a_plain_sell_on_spot(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """A reduce-only SELL is sent without ``reduceOnly`` (the simulator, like Binance spot,
    refuses that parameter with -1106): beyond the holding the exchange refuses it for the
    balance; within it, it fills, and the account ends with no BTC."""
    _, ask = best(spot(sim))
    venue.submit(order(1, Side.SELL, ask, 1_000, reduce_only=True), now())
    (refused,) = venue.poll()
    assert isinstance(refused, OrderRejected)
    assert refused.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
    venue.submit(order(2, Side.BUY, ask, 10_000), now())
    (buy,) = fills_of(venue.poll())
    assert buy.position_change == 9_990
    bid, _ = best(spot(sim))
    venue.submit(order(3, Side.SELL, bid, 9_990, tif=TimeInForce.FAK, reduce_only=True), now())
    events = venue.poll()
    assert not [e for e in events if isinstance(e, OrderRejected)]
    (sell,) = fills_of(events)
    assert (sell.side, sell.size) == (Side.SELL, 9_990)
    assert venue.order(f"{RUN}/i3/o0").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert spot(sim).totals["BTC"] == 0 and venue.balances()["BTC"] == 0


def test_the_desk_sells_its_whole_position_after_a_buy_and_its_books_are_the_exchanges(
    sim: SimExchangeServer, venue: CcxtVenue
) -> None:
    """A BUY of 0.01 BTC pays 0.1 % in BTC (0.00001 BTC, a whole micro-unit: ``fee_size``
    10); the desk's ledger, booking the venue's fills as the desk does, holds 0.00999 BTC —
    the exchange's balance — and SELLs all of it: the exchange accepts, its BTC balance ends
    at exactly 0, and the desk's cash is its USDT balance less only the sell's sub-micro-unit
    parts (its proceeds' 10⁻⁸ digits, which the notional floors, and its commission's, which
    the fee rounds up), worked out below from the exchange's own trades."""
    book = Ledger(10_000 * MICROS)
    _, ask = best(spot(sim))
    venue.submit(order(1, Side.BUY, ask, 10_000), now())
    (buy,) = fills_of(venue.poll())
    assert book.apply_fill(buy)
    (bought,) = spot(sim).trades
    assert (bought.commission_asset, bought.commission_e8) == ("BTC", 1_000)
    assert (buy.size, buy.fee_size, buy.position_change) == (10_000, 10, 9_990)
    assert buy.fee == -(-bought.commission_e8 * ask // E8) == buy.booked_fee
    assert venue.order(f"{RUN}/i1/o0").filled_size == 10_000  # type: ignore[union-attr]
    # the books are the exchange's balances, exactly
    assert spot(sim).totals == {"BTC": book.size(TOKEN) * 100, "USDT": book.cash * 100}
    assert venue.balances() == {"BTC": 9_990, "USDT": book.cash}
    assert book.reconciliation_error() == 0

    bid, _ = best(spot(sim))
    venue.submit(order(2, Side.SELL, bid, book.size(TOKEN), tif=TimeInForce.FAK), now())
    events = venue.poll()
    assert not [e for e in events if isinstance(e, OrderRejected)]  # accepted: held in full
    (sell,) = fills_of(events)
    assert book.apply_fill(sell)
    sold = spot(sim).trades[-1]
    assert (sold.side, sold.qty, sold.commission_asset) == (Side.SELL, 9_990, "USDT")
    assert venue.order(f"{RUN}/i2/o0").status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert book.size(TOKEN) == 0 and spot(sim).totals["BTC"] == 0  # flat at both, no dust
    assert book.reconciliation_error() == 0
    # cash: the exchange's USDT (10⁻⁸) less the sell's sub-micro-unit parts
    sub_micro_e8 = sold.quote_qty_e8 % 100 + (-sold.commission_e8) % 100
    assert spot(sim).totals["USDT"] == book.cash * 100 + sub_micro_e8
    assert 0 <= sub_micro_e8 < 200
    assert venue.balances() == {"BTC": 0, "USDT": book.cash + sub_micro_e8 // 100}
    position = book.position(TOKEN)
    assert position is not None and position.cost_basis == 0
    assert position.realized_pnl == sell.notional - notional_micros(ask, 9_990)
    assert book.fees == buy.fee + sell.fee
