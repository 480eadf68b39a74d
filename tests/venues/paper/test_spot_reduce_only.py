"""Reduce-only on a spot instrument (rule 12.4 of the paper venue) agrees with the ccxt venue
(:func:`polytraders.venues.ccxt.wire.order_request`): a reduce-only SELL is a plain SELL
(capped by the holding), a reduce-only BUY is refused with the same code and message."""

from __future__ import annotations

from polytraders.model.events import BookSnapshot, OrderRejected
from polytraders.model.fills import Fill
from polytraders.model.market import BINANCE_SPOT, Instrument
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenue, PaperVenueConfig

SPOT = Instrument(
    venue=BINANCE_SPOT, symbol="BTCUSDT", price_increment=10_000, size_increment=10, min_size=10,
)  # fmt: skip
TOKEN = SPOT.token_id
T0 = 1_723_161_256_000_000_000
BID, ASK = 61_000_000_000, 61_000_010_000  # 61,000.00 / 61,000.01 USDT


def _venue() -> PaperVenue:
    venue = PaperVenue(PaperVenueConfig(), [], "run-s", instruments=[SPOT])
    venue.on_market_event(
        BookSnapshot(
            ts_event_ns=T0,
            ts_recv_ns=T0,
            token_id=TOKEN,
            bids=[(BID, 5_000_000)],
            asks=[(ASK, 5_000_000)],
        )
    )
    return venue


def _send(venue: PaperVenue, n: int, side: Side, size: int, *, reduce_only: bool) -> list[object]:
    order = VenueOrder(
        client_order_id=f"c{n}", intent_id=f"i{n}", bot_id="desk", token_id=TOKEN, side=side,
        price=ASK if side is Side.BUY else BID, size=size, time_in_force=TimeInForce.FAK,
        reduce_only=reduce_only, status=OrderStatus.PENDING_NEW,
    )  # fmt: skip
    now = T0 + n * 10**9
    venue.submit(order, now)
    venue.advance(now + 10**9 // 2)
    return list(venue.poll())


def test_a_reduce_only_buy_on_spot_is_refused_as_the_ccxt_venue_refuses_it() -> None:
    venue = _venue()
    (rejected,) = _send(venue, 1, Side.BUY, 1_000, reduce_only=True)
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason_code == "SYS_VENUE_INVALID_ORDER"
    assert rejected.message == "reduce-only BUY on spot: there is no short to reduce"


def test_a_reduce_only_sell_on_spot_sells_the_holding_and_no_more() -> None:
    venue = _venue()
    (buy,) = [
        e for e in _send(venue, 1, Side.BUY, 10_000, reduce_only=False) if isinstance(e, Fill)
    ]
    held = buy.position_change  # 10,000 less the BTC commission
    assert held == 10_000 - buy.fee_size and buy.fee_size > 0
    (beyond,) = _send(venue, 2, Side.SELL, held + 10, reduce_only=True)
    assert isinstance(beyond, OrderRejected)
    assert beyond.reason_code == "SYS_VENUE_INSUFFICIENT_BALANCE"
    sold = [e for e in _send(venue, 3, Side.SELL, held, reduce_only=True) if isinstance(e, Fill)]
    assert sum(f.size for f in sold) == held
    assert venue.ledger.holdings(TOKEN) == 0
