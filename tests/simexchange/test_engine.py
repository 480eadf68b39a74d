"""The exchange simulator's account rules, driven directly (no server) on the recorded book."""

from __future__ import annotations

import pytest

from polytraders.model.money import MICROS
from polytraders.simexchange import errors
from polytraders.simexchange.engine import ExchangeSettings, FuturesExchange
from polytraders.simexchange.errors import BinanceError
from polytraders.simexchange.replay import default_recording_path, load_recording


@pytest.fixture
def ex() -> FuturesExchange:
    return FuturesExchange(load_recording(default_recording_path()), ExchangeSettings())


def order(side: str, qty: str, **extra: str) -> dict[str, str]:
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty}
    return params | extra


def refused(ex: FuturesExchange, params: dict[str, str]) -> int:
    with pytest.raises(BinanceError) as caught:
        ex.place(params, 0)
    return caught.value.code


def test_replay_starts_at_the_recorded_snapshot(ex: FuturesExchange) -> None:
    first = ex.recording.steps[0].depth
    assert ex.cursor == 1 and ex.last_update_id == first.sequence
    assert ex.book.bids(5) == first.bids[:5]
    assert ex.book.best_bid() == 61_800_200_000  # "61800.20" exactly


def test_round_trip_realizes_exact_pnl(ex: FuturesExchange) -> None:
    ask = ex.book.best_ask()
    bid = ex.book.best_bid()
    assert ask is not None and bid is not None
    ex.place(order("BUY", "0.010"), 0)
    assert ex.position.size == 10_000 and ex.position.avg_entry_price_micros() == ask
    ex.place(order("SELL", "0.004", reduceOnly="true"), 0)
    assert ex.position.size == 6_000
    assert ex.realized_pnl == (bid - ask) * 4_000 // MICROS
    ex.place(order("SELL", "0.010"), 0)  # closes 0.006 and opens a 0.004 short at the bid
    assert ex.position.size == -4_000 and ex.position.avg_entry_price_micros() == bid
    assert ex.realized_pnl == (bid - ask) * 10_000 // MICROS
    fees = sum(t.commission for t in ex.trades)
    assert fees == sum(t.price * t.qty * 5 // (10_000 * MICROS) for t in ex.trades)
    assert ex.wallet == 10_000 * MICROS + ex.realized_pnl - fees


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (order("BUY", "0.0015"), errors.BAD_PRECISION),
        (order("BUY", "0"), errors.QUANTITY_NOT_POSITIVE),
        (order("BUY", "0.001"), errors.NOTIONAL_TOO_SMALL),
        (order("SELL", "0.010", reduceOnly="true"), errors.REDUCE_ONLY_REJECTED),
        (order("BUY", "0.010", symbol="ETHUSDT"), errors.INVALID_SYMBOL),
        (order("BUY", "0.010", type="LIMIT_MAKER"), errors.INVALID_ORDER_TYPE),
        (order("BUY", "0.010", type="STOP"), errors.USE_ALGO_ENDPOINT),
        (
            order("BUY", "0.010", type="LIMIT", timeInForce="GTC", price="61800.35"),
            errors.PRICE_NOT_ON_TICK,
        ),
        (
            order("BUY", "0.010", type="LIMIT", timeInForce="GTD", price="61800.30"),
            errors.INVALID_TIME_IN_FORCE,
        ),
        (
            order("BUY", "900", type="LIMIT", timeInForce="FOK", price="61800.30"),
            errors.FOK_REJECTED,
        ),
        (order("BUY", "10"), errors.MARGIN_INSUFFICIENT),
    ],
)
def test_refusals_carry_binance_codes(
    ex: FuturesExchange, params: dict[str, str], code: int
) -> None:
    assert refused(ex, params) == code
    assert ex.orders == {} and ex.position.size == 0


def test_ioc_remainder_expires_and_leverage_is_bounded(ex: FuturesExchange) -> None:
    ask = ex.book.best_ask()
    assert ask is not None
    size = ex.book.asks(1)[0][1]
    placed = ex.place(
        order(
            "BUY",
            ex.qty_text(size + 5_000),
            type="LIMIT",
            timeInForce="IOC",
            price=ex.price_text(ask),
        ),
        0,
    )
    assert (placed.status, placed.executed_qty) == ("EXPIRED", size)
    assert ex.open_orders() == []
    with pytest.raises(BinanceError) as caught:
        ex.set_leverage(126)
    assert caught.value.code == errors.INVALID_LEVERAGE


def test_taken_liquidity_is_not_offered_twice(ex: FuturesExchange) -> None:
    (p1, s1), (p2, _) = ex.book.asks(2)
    ex.place(order("BUY", ex.qty_text(s1)), 0)
    second = ex.place(order("BUY", "0.002"), 0)
    assert [(t.price, t.qty) for t in ex.trades if t.order_id == second.order_id] == [(p2, 2_000)]
    assert ex.book.asks(1) == [(p1, s1)]  # the public book is the recording's


def test_dropped_depth_events_are_not_published(ex: FuturesExchange) -> None:
    ex.faults.drop_depth_events = 1
    ex.step(3)
    events = ex.drain()
    assert len(events) == 2 and ex.depth_events_dropped == 1
    assert events[1]["pu"] == events[0]["u"]
    assert events[0]["u"] == ex.recording.steps[2].depth.sequence  # step 1 was the lost one


def test_a_seeded_session_holds_the_position_and_closing_orders_need_no_margin(
    ex: FuturesExchange,
) -> None:
    """A fresh session with a 0.45 BTC short and a 200 USDT wallet (initial margin at 20x
    about 1,390 USDT): a 0.05 BTC buy-back rests (closing orders need no margin); a buy
    larger than the short opens a long and is refused with -2019."""
    ex.place(order("BUY", "0.010"), 0)
    ex.restart(ExchangeSettings(wallet_micros=200 * MICROS))
    assert (ex.cursor, ex.orders, ex.trades, ex.position.size) == (1, {}, [], 0)
    ex.seed_position(-450_000, -27_810_112_500)
    assert (ex.position.size, ex.position.cost_basis, ex.wallet) == (
        -450_000, -27_810_112_500, 200 * MICROS,
    )  # fmt: skip
    limit = {"type": "LIMIT", "timeInForce": "GTX", "price": "61800.20"}
    placed = ex.place(order("BUY", "0.050") | limit, 0)
    assert placed.status == "NEW"
    assert refused(ex, order("BUY", "0.500") | limit) == errors.MARGIN_INSUFFICIENT
    with pytest.raises(ValueError, match="fresh session"):
        ex.seed_position(-1_000, -61_800_000)


def test_replay_until_stops_at_the_time(ex: FuturesExchange) -> None:
    target = ex.recording.steps[10].depth.ts_event_ns
    ex.replay_until(target)
    assert ex.recording.steps[ex.cursor - 1].depth.ts_event_ns <= target
    assert ex.recording.steps[ex.cursor].depth.ts_event_ns > target


@pytest.mark.parametrize(
    "client_id",
    ["x" * 37, "desk/u1723161555579000000/i999999/o99", "has space", "no#hash", "ünï"],
)
def test_client_ids_outside_binances_rule_are_refused_with_1100(
    ex: FuturesExchange, client_id: str
) -> None:
    """Binance's ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$`` for ``newClientOrderId`` and
    ``clientAlgoId``: a longer id or another character is refused, nothing is placed."""
    with pytest.raises(BinanceError) as caught:
        ex.place(order("BUY", "0.010", newClientOrderId=client_id), 0)
    assert caught.value.code == errors.ILLEGAL_CHARS
    assert "parameter 'newClientOrderId'; legal range is" in caught.value.msg
    bid = ex.book.best_bid()
    assert bid is not None
    stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
            "algoType": "CONDITIONAL", "triggerPrice": f"{(bid - 1_000 * MICROS) / MICROS:.2f}",
            "quantity": "0.010", "clientAlgoId": client_id}  # fmt: skip
    with pytest.raises(BinanceError) as caught:
        ex.place_algo(stop, 0)
    assert caught.value.code == errors.ILLEGAL_CHARS
    assert not ex.orders and not ex.algo_orders


def test_client_ids_within_binances_rule_are_kept(ex: FuturesExchange) -> None:
    longest = "desk/u1723161555579000000/i1/o0.:_-" + "A"
    assert len(longest) == 36
    placed = ex.place(order("BUY", "0.010", newClientOrderId=longest), 0)
    assert placed.client_order_id == longest
    assert ex.place(order("BUY", "0.010"), 0).client_order_id.startswith("sim-")  # none sent
