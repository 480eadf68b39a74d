"""Hand-computed cases pinning the fill rules of :mod:`polytraders.venues.paper`.

Numbers: default config (entry and cancel latency 250 ms, probabilistic queue with the log
function, crypto taker rate 0.07, 1,000 pUSD), except the response latency: 0 unless a test
sets it (``support.make_venue``). Taker fee per level = shares × 0.07 × p × (1 − p), to 5
decimals.
"""

from __future__ import annotations

from typing import Any

import pytest

from polytraders.model.events import (
    MarketStatus,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    TickSizeChange,
    Trade,
)
from polytraders.model.fills import LiquiditySide
from polytraders.model.market import MarketState
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.paper import (
    ConstantLatency,
    OrderLatency,
    PaperVenue,
    PaperVenueConfig,
    RecordedLatency,
    reasons,
)
from tests.venues.paper.support import (
    MARKET,
    MS,
    NO,
    SH,
    YES,
    binary_market,
    delta,
    fills_of,
    make_venue,
    order,
    snapshot,
    submit_and_arrive,
)

START = 1_000_000_000  # 1,000 pUSD


def test_two_level_walk_pays_taker_fee_per_level() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(450_000, 10), (460_000, 20)]))
    events = submit_and_arrive(venue, order(Side.BUY, 460_000, 15 * SH), 0)
    assert isinstance(events[0], OrderAccepted)
    fills = fills_of(events)
    # 10 × 0.07 × 0.45 × 0.55 = 0.17325 ; 5 × 0.07 × 0.46 × 0.54 = 0.08694
    assert [(f.price, f.size, f.fee, f.liquidity) for f in fills] == [
        (450_000, 10 * SH, 173_250, LiquiditySide.TAKER),
        (460_000, 5 * SH, 86_940, LiquiditySide.TAKER),
    ]
    assert all(f.ts_event_ns == 250 * MS for f in fills)
    assert venue.balances() == {
        "pUSD": START - 4_500_000 - 173_250 - 2_300_000 - 86_940,
        YES: 15 * SH,
    }
    assert venue.open_orders() == []


def test_partial_fak_cancels_the_remainder() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(450_000, 10), (470_000, 50)]))
    cid = "fak-1"
    events = submit_and_arrive(
        venue, order(Side.BUY, 460_000, 15 * SH, tif=TimeInForce.FAK, cid=cid), 0
    )
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "Fill", "OrderCanceled"]
    fill = fills_of(events)[0]
    assert (fill.price, fill.size, fill.fee) == (450_000, 10 * SH, 173_250)
    cancel = events[-1]
    assert isinstance(cancel, OrderCanceled)
    assert cancel.reason_code == reasons.FAK_REMAINDER_CANCELED
    assert venue.balances() == {"pUSD": START - 4_500_000 - 173_250, YES: 10 * SH}
    assert venue.ledger.reserved_cash == 0


def test_post_only_that_would_cross_is_rejected_and_one_that_rests_is_queued() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(450_000, 10)]))
    events = submit_and_arrive(venue, order(Side.BUY, 450_000, 10 * SH, post_only=True), 0)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].reason_code == reasons.POST_ONLY_WOULD_CROSS
    resting = order(Side.BUY, 440_000, 10 * SH, post_only=True)
    events = submit_and_arrive(venue, resting, 0)
    assert [type(e).__name__ for e in events] == ["OrderAccepted"]
    assert venue.queue_ahead(resting.client_order_id) == 100 * SH
    assert venue.balances()["pUSD"] == START - 4_400_000  # reserved 10 × 0.44


def _resting_bid(**config: Any) -> tuple[PaperVenue, str]:
    venue = make_venue(**config)
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    resting = order(Side.BUY, 440_000, 10 * SH, cid="bid-1")
    events = submit_and_arrive(venue, resting, 0)
    assert isinstance(events[0], OrderAccepted)
    assert venue.queue_ahead("bid-1") == 100 * SH
    return venue, "bid-1"


def test_maker_fill_through_the_queue_on_trades() -> None:
    venue, cid = _resting_bid()
    venue.on_market_event(
        Trade(ts_event_ns=300 * MS, token_id=YES, price=440_000, size=60 * SH, aggressor=Side.SELL)
    )
    assert venue.poll() == []
    assert venue.queue_ahead(cid) == 40 * SH
    venue.on_market_event(
        Trade(ts_event_ns=400 * MS, token_id=YES, price=440_000, size=50 * SH, aggressor=Side.SELL)
    )
    fills = fills_of(venue.poll())
    # 50 traded: 40 ahead of us, the other 10 fill us, as a maker at our price, no fee.
    assert [(f.price, f.size, f.fee, f.liquidity) for f in fills] == [
        (440_000, 10 * SH, 0, LiquiditySide.MAKER)
    ]
    assert venue.balances() == {"pUSD": START - 4_400_000, YES: 10 * SH}
    assert venue.ledger.reserved_cash == 0


def test_trade_on_the_other_side_does_not_fill_a_bid() -> None:
    venue, cid = _resting_bid()
    venue.on_market_event(
        Trade(ts_event_ns=300 * MS, token_id=YES, price=440_000, size=500 * SH, aggressor=Side.BUY)
    )
    assert venue.poll() == []
    assert venue.queue_ahead(cid) == 100 * SH


def test_l2_inference_takes_every_unexplained_decrease_off_the_front() -> None:
    venue, cid = _resting_bid(queue_model="l2_inference")
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 150)]))  # joins behind us
    assert venue.queue_ahead(cid) == 100 * SH
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 120)]))  # U=30 off the front
    assert venue.queue_ahead(cid) == 70 * SH
    venue.on_market_event(delta(500 * MS, bids=[(440_000, 60)]))  # U=60
    assert venue.queue_ahead(cid) == 10 * SH
    assert venue.poll() == []
    venue.on_market_event(delta(600 * MS, bids=[(440_000, 45)]))  # U=15 > Q=10: 5 through us
    fills = fills_of(venue.poll())
    assert [(f.size, f.liquidity, f.price, f.fee) for f in fills] == [
        (5 * SH, LiquiditySide.MAKER, 440_000, 0)
    ]
    assert venue.queue_ahead(cid) == 0
    state = venue.order(cid)
    assert state is not None and state.status is OrderStatus.PARTIALLY_FILLED
    venue.on_market_event(delta(700 * MS, bids=[(440_000, 9)]))  # U=36 > 0: the last 5
    assert [f.size for f in fills_of(venue.poll())] == [5 * SH]
    assert venue.order(cid) is None
    assert venue.balances() == {"pUSD": START - 4_400_000, YES: 10 * SH}


def test_pessimistic_keeps_the_queue_on_decreases_and_never_fills_from_them() -> None:
    venue, cid = _resting_bid(queue_model="pessimistic")
    for ts, size, ahead in ((300, 150, 100), (400, 120, 100), (500, 50, 50), (600, 10, 10)):
        venue.on_market_event(delta(ts * MS, bids=[(440_000, size)]))
        assert venue.queue_ahead(cid) == ahead * SH
    venue.on_market_event(delta(700 * MS, bids=[(440_000, 0)]))  # U=10: behind us
    assert venue.poll() == []
    assert venue.queue_ahead(cid) == 0


def _bid_behind(ahead: int, **config: Any) -> tuple[PaperVenue, str]:
    """A resting bid of 10 at 0.44 with ``ahead`` shares ahead of it (the level alone)."""
    venue = make_venue(**config)
    venue.on_market_event(snapshot(0, [(440_000, ahead)], [(460_000, 100)]))
    events = submit_and_arrive(venue, order(Side.BUY, 440_000, 10 * SH, cid="bid-p"), 0)
    assert isinstance(events[0], OrderAccepted)
    assert venue.queue_ahead("bid-p") == ahead * SH
    return venue, "bid-p"


def test_probabilistic_power_splits_a_decrease_between_front_and_back() -> None:
    venue, cid = _bid_behind(30, queue_function="power")  # probabilistic, n = 2 by default
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 90)]))  # 60 join behind: F=30, B=60
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 70)]))  # U=20
    # behind = ⌊20 × 60² / (60² + 30²)⌋ = ⌊20 × 3600 / 4500⌋ = 16, ahead = 4: Q = 30 − 4 = 26
    assert venue.queue_ahead(cid) == 26 * SH
    assert venue.poll() == []


def test_probabilistic_fills_what_the_front_share_carries_past_us_without_trades() -> None:
    venue, cid = _bid_behind(60, queue_function="power")
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 80)]))  # F=60, B=20
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 10)]))  # U=70
    # behind = ⌊70 × 20² / (20² + 60²)⌋ = ⌊70 × 400 / 4000⌋ = 7, ahead = 63 = 60 + 3 past us
    assert [(f.size, f.liquidity) for f in fills_of(venue.poll())] == [
        (3 * SH, LiquiditySide.MAKER)
    ]
    assert venue.queue_ahead(cid) == 0


def test_probabilistic_on_a_trade_fed_token_only_moves_the_queue() -> None:
    venue, cid = _bid_behind(60, queue_function="power")
    venue.on_market_event(  # a trade elsewhere: the token's feed reports trades
        Trade(ts_event_ns=200 * MS, token_id=YES, price=460_000, size=1 * SH, aggressor=Side.BUY)
    )
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 80)]))
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 10)]))  # the same U=70: cancellations
    assert venue.poll() == []
    assert venue.queue_ahead(cid) == 0


def test_probabilistic_log_and_fractional_power() -> None:
    venue, cid = _bid_behind(30)  # the default function: log
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 90)]))
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 70)]))  # F=30, B=60, U=20
    # w = ln 61 / (ln 61 + ln 31) = 4.1108739 / 7.5448611 = 0.54485746…; behind = ⌊w × 20 000 000⌋
    # = 10_897_149 micro-shares; ahead = 9_102_851
    assert venue.queue_ahead(cid) == 30 * SH - 9_102_851
    venue, cid = _bid_behind(30, queue_function="power", queue_power_n=1.5)
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 60)]))  # F = B = 30: w = 1/2
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 40)]))  # U=20: 10 ahead, 10 behind
    assert venue.queue_ahead(cid) == 20 * SH


def test_a_decrease_already_explained_by_a_trade_is_not_counted_twice() -> None:
    venue, cid = _resting_bid(queue_model="l2_inference")
    venue.on_market_event(
        Trade(ts_event_ns=300 * MS, token_id=YES, price=440_000, size=100 * SH, aggressor=Side.SELL)
    )
    assert venue.queue_ahead(cid) == 0
    venue.on_market_event(delta(400 * MS, bids=[(440_000, 0)]))  # the same 100 leaving the book
    assert venue.poll() == []
    venue.on_market_event(delta(500 * MS, bids=[(440_000, 30)]))
    venue.on_market_event(delta(600 * MS, bids=[(440_000, 27)]))  # unexplained 3 > Q=0
    assert [f.size for f in fills_of(venue.poll())] == [3 * SH]


def test_a_trade_on_the_complementary_token_reaches_our_order_at_the_mirrored_price() -> None:
    for complement_fills, expected in ((True, [10 * SH]), (False, [])):
        venue, cid = _resting_bid(complement_fills=complement_fills)
        # a NO buyer taking 110 at 0.56 is matched against YES bids at 0.44 (buy YES at p =
        # sell NO at 1 − p): 100 ahead of us, the other 10 fill our YES bid
        venue.on_market_event(
            Trade(
                ts_event_ns=300 * MS, token_id=NO, price=560_000, size=110 * SH, aggressor=Side.BUY
            )
        )
        fills = fills_of(venue.poll())
        assert [f.size for f in fills] == expected
        assert all((f.token_id, f.side, f.price) == (YES, Side.BUY, 440_000) for f in fills)
        assert venue.queue_ahead(cid) == (None if complement_fills else 100 * SH)


def test_a_fill_reaches_the_desk_after_the_response_latency() -> None:
    venue = make_venue(response_latency_ms=100)
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    venue.submit(order(Side.BUY, 440_000, 10 * SH, cid="bid-r"), 0)
    venue.advance(250 * MS)  # arrived and accepted at 250 ms …
    assert venue.poll() == []
    assert venue.balances()["pUSD"] == START - 4_400_000  # … the venue reserved at once
    venue.advance(349 * MS)
    assert venue.poll() == []
    venue.advance(350 * MS)  # … the ack reaches the desk at 250 + 100
    (ack,) = venue.poll()
    assert isinstance(ack, OrderAccepted)
    assert (ack.ts_event_ns, ack.ts_recv_ns) == (250 * MS, 350 * MS)
    venue.on_market_event(
        Trade(ts_event_ns=400 * MS, token_id=YES, price=440_000, size=110 * SH, aggressor=Side.SELL)
    )
    assert venue.poll() == []  # filled at 400 ms, in flight
    assert venue.answers_in_flight == 1
    assert venue.balances() == {"pUSD": START - 4_400_000, YES: 10 * SH}
    venue.advance(499 * MS)
    assert venue.poll() == []
    venue.advance(500 * MS)
    (fill,) = fills_of(venue.poll())
    assert (fill.size, fill.ts_event_ns, fill.ts_recv_ns) == (10 * SH, 400 * MS, 500 * MS)


def test_recorded_latencies_apply_per_order() -> None:
    config = PaperVenueConfig(response_latency_ms=0)
    latency = RecordedLatency(
        {"slow": OrderLatency(entry_ns=900 * MS, cancel_ns=50 * MS)}, ConstantLatency(config)
    )
    venue = PaperVenue(config, [binary_market()], "run-rec", latency=latency)
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    venue.submit(order(Side.BUY, 440_000, 10 * SH, cid="slow"), 0)
    venue.submit(order(Side.BUY, 430_000, 10 * SH, cid="fast"), 0)
    venue.advance(250 * MS)
    assert [e.client_order_id for e in venue.poll()] == ["fast"]  # the constant 250 ms
    venue.advance(900 * MS)
    assert [e.client_order_id for e in venue.poll()] == ["slow"]  # its recorded 900 ms
    venue.cancel("slow", 1_000 * MS)
    venue.cancel("fast", 1_000 * MS)
    venue.advance(1_050 * MS)
    assert [e.client_order_id for e in venue.poll()] == ["slow"]  # 50 ms recorded …
    venue.advance(1_250 * MS)
    assert [e.client_order_id for e in venue.poll()] == ["fast"]  # … 250 ms constant
    with pytest.raises(ValueError, match="negative"):
        RecordedLatency({"x": OrderLatency(entry_ns=-1)}, ConstantLatency(config))


def test_latency_rule_matches_the_book_standing_at_arrival() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(450_000, 10)]))
    venue.submit(order(Side.BUY, 480_000, 10 * SH, tif=TimeInForce.FAK), 0)
    venue.on_market_event(delta(100 * MS, asks=[(450_000, 0), (470_000, 10)]))
    assert venue.poll() == []  # still travelling
    # an event at exactly the arrival time is applied after the order arrived (rule 1.2)
    venue.on_market_event(delta(250 * MS, asks=[(470_000, 0), (460_000, 10)]))
    fills = fills_of(venue.poll())
    assert [(f.price, f.size, f.ts_event_ns) for f in fills] == [(470_000, 10 * SH, 250 * MS)]


def test_zero_latency_matches_the_current_book() -> None:
    venue = make_venue(order_latency_ms=0)
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(450_000, 10)]))
    venue.submit(order(Side.BUY, 480_000, 10 * SH, tif=TimeInForce.FAK), 5)
    venue.advance(5)
    assert [f.price for f in fills_of(venue.poll())] == [450_000]


def test_fok_not_filled_trades_nothing_and_fok_filled_walks() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(450_000, 10), (470_000, 10)]))
    events = submit_and_arrive(venue, order(Side.BUY, 460_000, 15 * SH, tif=TimeInForce.FOK), 0)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].reason_code == reasons.FOK_NOT_FILLED
    assert venue.balances() == {"pUSD": START}
    assert venue.consumed(YES) == []
    events = submit_and_arrive(venue, order(Side.BUY, 470_000, 15 * SH, tif=TimeInForce.FOK), 0)
    assert [(f.price, f.size) for f in fills_of(events)] == [(450_000, 10 * SH), (470_000, 5 * SH)]
    assert not any(isinstance(e, OrderCanceled) for e in events)


def test_gtd_expires_before_an_event_at_its_expiry_less_the_security_margin() -> None:
    venue = make_venue()  # gtd_security_margin_s = 60
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    # wire expiry 61 s = intended expiry 1 s + the 60 s margin
    gtd = order(Side.BUY, 440_000, 10 * SH, tif=TimeInForce.GTD, expire_at_ns=61_000 * MS)
    assert isinstance(submit_and_arrive(venue, gtd, 0)[0], OrderAccepted)
    assert venue.balances()["pUSD"] == START - 4_400_000
    # a trade at exactly the expiry would have filled it: the expiry comes first.
    venue.on_market_event(
        Trade(
            ts_event_ns=1_000 * MS, token_id=YES, price=430_000, size=500 * SH, aggressor=Side.SELL
        )
    )
    events = venue.poll()
    assert len(events) == 1 and isinstance(events[0], OrderExpired)
    assert events[0].ts_event_ns == 1_000 * MS
    assert venue.balances() == {"pUSD": START}
    # arrives at 1,250 ms but would stop trading at 61.2 s − 60 s = 1,200 ms: refused
    late = order(Side.BUY, 440_000, 10 * SH, tif=TimeInForce.GTD, expire_at_ns=61_200 * MS)
    events = submit_and_arrive(venue, late, 1_000 * MS)
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason_code == reasons.INVALID_EXPIRATION


def test_gtd_without_margin_reads_the_expiry_as_effective() -> None:
    venue = make_venue(gtd_security_margin_s=0)
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    gtd = order(Side.BUY, 440_000, 10 * SH, tif=TimeInForce.GTD, expire_at_ns=1_000 * MS)
    assert isinstance(submit_and_arrive(venue, gtd, 0)[0], OrderAccepted)
    venue.advance(999 * MS)
    assert venue.poll() == []
    venue.advance(1_000 * MS)
    assert [type(e).__name__ for e in venue.poll()] == ["OrderExpired"]


def test_buy_market_order_sized_by_notional() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(450_000, 10), (500_000, 100)]))
    events = submit_and_arrive(
        venue, order(Side.BUY, 500_000, notional=10_000_000, tif=TimeInForce.FAK), 0
    )
    fills = fills_of(events)
    # 10 @ 0.45 costs 4.5; the other 5.5 buys ⌊5.5 / 0.5⌋ = 11 @ 0.50.
    # fees 10 × 0.07 × 0.2475 = 0.17325 ; 11 × 0.07 × 0.25 = 0.1925
    assert [(f.price, f.size, f.fee) for f in fills] == [
        (450_000, 10 * SH, 173_250),
        (500_000, 11 * SH, 192_500),
    ]
    assert not any(isinstance(e, OrderCanceled) for e in events)
    assert venue.balances() == {"pUSD": START - 10_000_000 - 365_750, YES: 21 * SH}
    events = submit_and_arrive(
        venue, order(Side.BUY, 500_000, notional=100_000_000, tif=TimeInForce.FOK), 0
    )
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason_code == reasons.FOK_NOT_FILLED


def test_balance_rejections_count_reservations_fees_and_holdings() -> None:
    venue = make_venue(starting_cash_micros=5_000_000)
    venue.on_market_event(snapshot(0, [(300_000, 100)], [(600_000, 100)]))

    def code(o: VenueOrder) -> str:
        event = submit_and_arrive(venue, o, 0)[0]
        return event.reason_code if isinstance(event, OrderRejected) else "accepted"

    assert code(order(Side.BUY, 300_000, 20 * SH)) == reasons.INSUFFICIENT_BALANCE  # 6 > 5
    assert code(order(Side.BUY, 400_000, 10 * SH)) == "accepted"  # reserves 4
    assert code(order(Side.BUY, 400_000, 5 * SH)) == reasons.INSUFFICIENT_BALANCE  # 2 > 1 free
    assert code(order(Side.SELL, 700_000, 5 * SH)) == reasons.INSUFFICIENT_BALANCE  # no tokens
    # a taker buy needs its fee too: 10 @ 0.45 costs 4.5 + 0.17325
    venue = make_venue(starting_cash_micros=4_673_249)
    venue.on_market_event(snapshot(0, [(300_000, 100)], [(450_000, 100)]))
    assert code(order(Side.BUY, 450_000, 10 * SH)) == reasons.INSUFFICIENT_BALANCE
    venue = make_venue(starting_cash_micros=4_673_250)
    venue.on_market_event(snapshot(0, [(300_000, 100)], [(450_000, 100)]))
    assert code(order(Side.BUY, 450_000, 10 * SH)) == "accepted"
    assert venue.balances() == {"pUSD": 0, YES: 10 * SH}
    # held tokens: a resting sell reserves them
    venue = make_venue(holdings={YES: 10 * SH})
    venue.on_market_event(snapshot(0, [(300_000, 100)], [(600_000, 100)]))
    assert code(order(Side.SELL, 700_000, 10 * SH)) == "accepted"
    assert code(order(Side.SELL, 700_000, 5 * SH)) == reasons.INSUFFICIENT_BALANCE
    assert venue.balances()[YES] == 0


def test_price_size_and_tick_size_change_rules() -> None:
    venue = make_venue(binary_market(tick_size=1_000))
    venue.on_market_event(snapshot(0, [(300_000, 100)], [(600_000, 100)]))

    def first(o: VenueOrder, at: int = 0) -> object:
        return submit_and_arrive(venue, o, at)[0]

    resting = order(Side.BUY, 445_000, 10 * SH)
    assert isinstance(first(resting), OrderAccepted)
    venue.on_market_event(
        TickSizeChange(
            ts_event_ns=MS * 1_000, token_id=YES, old_tick_size=1_000, new_tick_size=10_000
        )
    )
    events = venue.poll()
    assert isinstance(events[0], OrderCanceled)
    assert events[0].reason_code == reasons.TICK_SIZE_CHANGED
    assert venue.balances() == {"pUSD": START}
    for o, expected in (
        (order(Side.BUY, 445_000, 10 * SH), reasons.INVALID_TICK),
        (order(Side.BUY, 1_000_000, 10 * SH), reasons.PRICE_OUT_OF_RANGE),
        (order(Side.BUY, 440_000, 4 * SH), reasons.BELOW_MIN_SIZE),
        (order(Side.BUY, 440_000, 10 * SH, token="tok-unknown"), reasons.UNKNOWN_TOKEN),
        (
            order(Side.BUY, 440_000, 10 * SH, tif=TimeInForce.FAK, post_only=True),
            reasons.INVALID_ORDER,
        ),
    ):
        event = first(o, 2_000 * MS)
        assert isinstance(event, OrderRejected) and event.reason_code == expected
    assert isinstance(first(order(Side.BUY, 440_000, 10 * SH), 2_000 * MS), OrderAccepted)


def test_market_status_halts_matching_and_closing_cancels() -> None:
    venue, _cid = _resting_bid()
    venue.on_market_event(
        MarketStatus(
            ts_event_ns=300 * MS, market_id=MARKET, state=MarketState.HALTED, accepting_orders=False
        )
    )
    event = submit_and_arrive(venue, order(Side.BUY, 440_000, 10 * SH), 300 * MS)[0]
    assert isinstance(event, OrderRejected) and event.reason_code == reasons.MARKET_NOT_ACCEPTING
    venue.on_market_event(
        Trade(ts_event_ns=600 * MS, token_id=YES, price=430_000, size=50 * SH, aggressor=Side.SELL)
    )
    assert venue.poll() == []  # no fills while halted
    venue.on_market_event(
        MarketStatus(
            ts_event_ns=700 * MS, market_id=MARKET, state=MarketState.ACTIVE, accepting_orders=True
        )
    )
    venue.on_market_event(
        Trade(ts_event_ns=800 * MS, token_id=YES, price=430_000, size=4 * SH, aggressor=Side.SELL)
    )
    assert [f.size for f in fills_of(venue.poll())] == [4 * SH]  # traded through our price
    venue.on_market_event(
        MarketStatus(
            ts_event_ns=900 * MS,
            market_id=MARKET,
            state=MarketState.RESOLVED,
            accepting_orders=False,
            winning_token_id=YES,
        )
    )
    events = venue.poll()
    assert isinstance(events[0], OrderCanceled) and events[0].reason_code == reasons.MARKET_CLOSED
    assert venue.open_orders() == []
    assert venue.ledger.reserved_cash == 0


def _resolved(ts_ns: int, winner: str = "") -> MarketStatus:
    return MarketStatus(
        ts_event_ns=ts_ns,
        market_id=MARKET,
        state=MarketState.RESOLVED,
        accepting_orders=False,
        winning_token_id=winner,
    )


def test_resolution_cancels_then_redeems_the_winner_at_one_pusd_and_the_loser_at_zero() -> None:
    """Rule 11: 10 YES and 20 NO bought as a taker; YES wins → +10 pUSD, NO → 0."""
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    venue.on_market_event(snapshot(0, [(540_000, 100)], [(560_000, 100)], token=NO))
    buy_yes = order(Side.BUY, 460_000, 10 * SH, tif=TimeInForce.FAK)
    buy_no = order(Side.BUY, 560_000, 20 * SH, tif=TimeInForce.FAK, token=NO)
    submit_and_arrive(venue, buy_yes, 0)
    submit_and_arrive(venue, buy_no, 0)
    # 10 × 0.46 + fee 0.17388, 20 × 0.56 + fee 0.34496
    cash = START - 4_600_000 - 173_880 - 11_200_000 - 344_960
    assert venue.ledger.cash == cash
    ask = order(Side.SELL, 500_000, 5 * SH, cid="ask-yes")  # reserves 5 YES
    bid = order(Side.BUY, 500_000, 10 * SH, cid="bid-no", token=NO)  # reserves 5 pUSD
    submit_and_arrive(venue, ask, 300 * MS)
    submit_and_arrive(venue, bid, 300 * MS)
    assert venue.balances() == {"pUSD": cash - 5_000_000, YES: 5 * SH, NO: 20 * SH}
    venue.submit(order(Side.BUY, 460_000, 10 * SH, cid="late"), 900 * MS)  # arrives at 1,150 ms
    venue.on_market_event(_resolved(1_000 * MS, winner=YES))
    events = venue.poll()
    assert all(isinstance(e, OrderCanceled) for e in events)
    assert [(e.client_order_id, e.reason_code) for e in events if isinstance(e, OrderCanceled)] == [
        ("ask-yes", reasons.MARKET_CLOSED),
        ("bid-no", reasons.MARKET_CLOSED),
    ]
    assert venue.balances() == {"pUSD": cash + 10_000_000, YES: 0, NO: 0}
    assert (venue.ledger.cash, venue.ledger.payouts) == (cash + 10_000_000, 10_000_000)
    assert venue.ledger.conservation_problems() == []
    venue.advance(1_150 * MS)
    late = venue.poll()
    assert isinstance(late[0], OrderRejected)
    assert late[0].reason_code == reasons.MARKET_NOT_ACCEPTING
    # final: a later status does not reopen the market, a second resolution redeems nothing
    venue.on_market_event(
        MarketStatus(
            ts_event_ns=2_000 * MS,
            market_id=MARKET,
            state=MarketState.ACTIVE,
            accepting_orders=True,
        )
    )
    assert not venue.accepting_orders(MARKET)
    venue.on_market_event(_resolved(3_000 * MS, winner=NO))
    assert venue.balances() == {"pUSD": cash + 10_000_000, YES: 0, NO: 0}


def test_resolution_without_a_winner_redeems_nothing_and_a_foreign_winner_is_refused() -> None:
    """Rule 11.5: no winning token → closed, nothing redeemed; a winner of another market →
    ValueError, nothing changes; the later resolution with a winner redeems."""
    venue = make_venue(holdings={YES: 7 * SH, NO: 3 * SH})
    with pytest.raises(ValueError, match="not one of its tokens"):
        venue.on_market_event(_resolved(1_000, winner="tok-other"))
    assert venue.accepting_orders(MARKET)
    assert venue.balances() == {"pUSD": START, NO: 3 * SH, YES: 7 * SH}
    venue.on_market_event(_resolved(2_000))
    assert not venue.accepting_orders(MARKET)
    assert venue.balances() == {"pUSD": START, NO: 3 * SH, YES: 7 * SH}
    venue.on_market_event(_resolved(3_000, winner=NO))
    assert venue.balances() == {"pUSD": START + 3_000_000, NO: 0, YES: 0}


def test_our_fills_consume_liquidity_until_the_level_shows_again() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(450_000, 10)]))
    fak = TimeInForce.FAK
    assert [
        f.size
        for f in fills_of(submit_and_arrive(venue, order(Side.BUY, 450_000, 6 * SH, tif=fak), 0))
    ] == [6 * SH]
    assert [
        f.size
        for f in fills_of(submit_and_arrive(venue, order(Side.BUY, 450_000, 6 * SH, tif=fak), 0))
    ] == [4 * SH]
    # the feed repeats the same stale level: still consumed
    venue.on_market_event(snapshot(1_000 * MS, [(400_000, 100)], [(450_000, 10)]))
    assert (
        fills_of(submit_and_arrive(venue, order(Side.BUY, 450_000, 6 * SH, tif=fak), 1_000 * MS))
        == []
    )
    assert venue.consumed(YES) == [(Side.SELL, 450_000, 10 * SH)]
    # the level leaves the book and comes back: new liquidity
    venue.on_market_event(delta(2_000 * MS, asks=[(450_000, 0)]))
    venue.on_market_event(delta(2_100 * MS, asks=[(450_000, 10)]))
    assert venue.consumed(YES) == []
    assert [
        f.size
        for f in fills_of(
            submit_and_arrive(venue, order(Side.BUY, 450_000, 6 * SH, tif=fak), 2_100 * MS)
        )
    ] == [6 * SH]


def test_resting_order_fills_when_the_opposite_side_crosses_it() -> None:
    venue, _cid = _resting_bid()
    venue.on_market_event(delta(300 * MS, asks=[(430_000, 5)]))
    fills = fills_of(venue.poll())
    assert [(f.price, f.size, f.fee, f.liquidity) for f in fills] == [
        (440_000, 5 * SH, 0, LiquiditySide.MAKER)
    ]
    assert venue.consumed(YES) == [(Side.SELL, 430_000, 5 * SH)]
    venue.on_market_event(delta(400 * MS, asks=[(460_000, 90)]))
    assert venue.poll() == []  # the crossing 5 were already ours


def test_cancel_latency_idempotent_submit_and_unknown_cancel() -> None:
    venue, cid = _resting_bid()
    venue.cancel(cid, 300 * MS)  # effective at 550 ms
    venue.on_market_event(
        Trade(ts_event_ns=400 * MS, token_id=YES, price=430_000, size=3 * SH, aggressor=Side.SELL)
    )
    venue.advance(600 * MS)
    events = venue.poll()
    assert [type(e).__name__ for e in events] == ["Fill", "OrderCanceled"]
    assert events[1].ts_event_ns == 550 * MS
    assert venue.balances() == {"pUSD": START - 1_320_000, YES: 3 * SH}
    venue.cancel(cid, 700 * MS)  # already closed: nothing more
    venue.submit(order(Side.BUY, 440_000, 10 * SH, cid=cid), 700 * MS)  # used id: no-op
    venue.cancel("never-sent", 700 * MS)
    venue.advance(2_000 * MS)
    events = venue.poll()
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].reason_code == reasons.UNKNOWN_ORDER
    assert venue.stats.cancels_of_closed_orders == 1


def test_cancel_all_releases_every_reservation() -> None:
    venue = make_venue(holdings={YES: 20 * SH})
    venue.on_market_event(snapshot(0, [(400_000, 100)], [(600_000, 100)]))
    venue.submit(order(Side.BUY, 400_000, 10 * SH), 0)
    venue.submit(order(Side.SELL, 600_000, 20 * SH), 0)
    venue.advance(250 * MS)
    venue.poll()
    assert len(venue.open_orders()) == 2
    venue.cancel_all(300 * MS)
    venue.advance(550 * MS)
    assert [type(e).__name__ for e in venue.poll()] == ["OrderCanceled", "OrderCanceled"]
    assert venue.balances() == {"pUSD": START, YES: 20 * SH}


def test_market_events_must_come_in_time_order() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(1_000, [(400_000, 1)], [(600_000, 1)]))
    with pytest.raises(ValueError, match="older"):
        venue.on_market_event(snapshot(999, [(400_000, 1)], [(600_000, 1)]))


def test_unknown_fee_category_is_refused() -> None:
    with pytest.raises(ValueError, match="no fee rate"):
        make_venue(binary_market(category="astrology"))


def test_a_price_listed_twice_in_one_delta_counts_once() -> None:
    venue, cid = _resting_bid()
    # the level ends at 30: one decrease of 70 ≤ Q=100 (cancellations), not two
    venue.on_market_event(delta(300 * MS, bids=[(440_000, 50), (440_000, 30)]))
    assert venue.poll() == []
    assert venue.queue_ahead(cid) == 30 * SH  # 100 − ⌊70 × 100 / 100⌋


def test_our_taker_flow_moves_our_own_queue_but_never_fills_it() -> None:
    venue = make_venue(holdings={YES: 10 * SH})
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)]))
    ask = order(Side.SELL, 460_000, 10 * SH, cid="ask-1")
    assert isinstance(submit_and_arrive(venue, ask, 0)[0], OrderAccepted)
    assert venue.queue_ahead("ask-1") == 100 * SH
    events = submit_and_arrive(venue, order(Side.BUY, 460_000, 50 * SH, tif=TimeInForce.FAK), 0)
    fills = fills_of(events)
    assert [(f.client_order_id != "ask-1", f.size) for f in fills] == [(True, 50 * SH)]
    assert venue.queue_ahead("ask-1") == 50 * SH


def test_events_for_unknown_tokens_and_non_market_events_are_ignored_and_counted() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(0, [(440_000, 100)], [(460_000, 100)], token="tok-other"))
    venue.on_market_event(OrderExpired(ts_event_ns=1, client_order_id="x"))
    assert venue.stats.ignored_events == 2
    assert venue.poll() == []
