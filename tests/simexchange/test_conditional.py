"""Conditional orders (Binance's Algo Service) in the exchange simulator: placed, listed,
cancelled and triggered by the replayed price, driven directly and through the real ccxt
``binanceusdm`` client (which sends ``STOP_MARKET`` to ``/fapi/v1/algoOrder``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt.async_support as ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.usdm_client import run_usdm as run

from polytraders.feeds.decimal_text import micros
from polytraders.model.money import MICROS
from polytraders.model.orders import Side
from polytraders.simexchange import errors
from polytraders.simexchange.engine import ExchangeSettings, FuturesExchange
from polytraders.simexchange.errors import BinanceError
from polytraders.simexchange.replay import default_recording_path, load_recording
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key

SYMBOL = "BTC/USDT:USDT"
TICK = 100_000
RECORDING = load_recording(default_recording_path())


@pytest.fixture
def ex() -> FuturesExchange:
    return FuturesExchange(RECORDING, ExchangeSettings())


def stop(side: str, trigger: int, **extra: str) -> dict[str, str]:
    params = {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "STOP_MARKET",
        "algoType": "CONDITIONAL",
        "triggerPrice": f"{trigger / MICROS:.2f}",
    }
    return params | extra


def buy(ex: FuturesExchange, qty: str) -> None:
    ex.place({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty}, 0)


def below(ex: FuturesExchange, ticks: int) -> int:
    return ex.mark_price() - ticks * TICK


def step_until(ex: FuturesExchange, done: Any) -> None:
    while not done():
        assert ex.step(1), "the recording ended first"


def test_close_position_stop_closes_the_long_when_the_mark_falls_through(
    ex: FuturesExchange,
) -> None:
    buy(ex, "0.010")
    trigger = below(ex, 300)  # 30 USDT under the mark: reached near step 2,000
    algo = ex.place_algo(stop("SELL", trigger, closePosition="true", workingType="MARK_PRICE"), 1)
    assert algo.status == "NEW" and algo.quantity == 0 and ex.open_algo_orders() == [algo]
    assert ex.open_orders() == []  # the book's orders and the conditional ones are apart
    step_until(ex, lambda: algo.status != "NEW")
    assert algo.status == "FINISHED" and ex.mark_price() <= trigger
    assert algo.trigger_ms == ex.last_event_ms
    assert ex.position.size == 0
    actual = ex.orders[algo.actual_order_id]
    assert (actual.order_type, actual.reduce_only, actual.status) == ("MARKET", True, "FILLED")
    assert actual.client_order_id == algo.client_algo_id
    closing = [t for t in ex.trades if t.order_id == actual.order_id]
    assert sum(t.qty for t in closing) == 10_000 and all(t.side is Side.SELL for t in closing)
    assert all(not t.maker for t in closing)  # a market order pays the taker fee
    assert ex.open_algo_orders() == []


def test_contract_price_is_the_last_trade(ex: FuturesExchange) -> None:
    buy(ex, "0.010")
    assert ex.reference_price("CONTRACT_PRICE") == ex.last_price == ex.trades[-1].price
    assert ex.reference_price("MARK_PRICE") == ex.mark_price()


def test_a_stop_through_the_price_would_trigger_at_once(ex: FuturesExchange) -> None:
    buy(ex, "0.010")
    with pytest.raises(BinanceError) as caught:
        ex.place_algo(stop("SELL", ex.mark_price() + TICK, quantity="0.010"), 1)
    assert (caught.value.code, caught.value.msg) == (
        errors.WOULD_TRIGGER,
        "Order would immediately trigger.",
    )
    assert ex.algo_orders == {}


@given(
    offset_ticks=st.integers(-50, 50),
    side=st.sampled_from(["BUY", "SELL"]),
    kind=st.sampled_from(["STOP_MARKET", "TAKE_PROFIT_MARKET"]),
    working=st.sampled_from(["MARK_PRICE", "CONTRACT_PRICE"]),
)
@settings(max_examples=60, deadline=None)
def test_refused_as_immediate_exactly_when_the_condition_already_holds(
    offset_ticks: int, side: str, kind: str, working: str
) -> None:
    ex = FuturesExchange(RECORDING, ExchangeSettings())
    buy(ex, "0.002")  # a contract price different from the mark
    price = ex.reference_price(working)
    trigger = price + offset_ticks * TICK
    rises = (kind == "STOP_MARKET") == (side == "BUY")
    holds = price >= trigger if rises else price <= trigger
    params = stop(side, trigger, quantity="0.002", workingType=working) | {"type": kind}
    if holds:
        with pytest.raises(BinanceError) as caught:
            ex.place_algo(params, 1)
        assert caught.value.code == errors.WOULD_TRIGGER
    else:
        assert ex.place_algo(params, 1).status == "NEW"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (stop("SELL", 61_000 * MICROS, closePosition="true", quantity="0.010"), -1106),
        (stop("SELL", 61_000 * MICROS, closePosition="true", reduceOnly="true"), -1106),
        (stop("SELL", 61_000 * MICROS), errors.BAD_PARAMETER),  # no quantity
        (
            stop("SELL", 61_000 * MICROS, quantity="0.010") | {"triggerPrice": "61000.05"},
            errors.PRICE_NOT_ON_TICK,
        ),
        (stop("SELL", 61_000 * MICROS, quantity="0.010", workingType="INDEX"), -1102),
        (stop("SELL", 61_000 * MICROS, quantity="0.010") | {"type": "STOP"}, -1116),
        (stop("SELL", 61_000 * MICROS, quantity="0.010") | {"algoType": "VP"}, -1102),
    ],
)
def test_algo_refusals_carry_binance_codes(
    ex: FuturesExchange, params: dict[str, str], code: int
) -> None:
    with pytest.raises(BinanceError) as caught:
        ex.place_algo(params, 1)
    assert caught.value.code == code


def test_order_endpoint_refuses_conditional_types(ex: FuturesExchange) -> None:
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010"}
    with pytest.raises(BinanceError) as caught:
        ex.place(params | {"stopPrice": "61000.00"}, 0)
    assert caught.value.code == errors.USE_ALGO_ENDPOINT == -4120


def test_reduce_only_stop_without_a_position_is_rejected_when_triggered(
    ex: FuturesExchange,
) -> None:
    algo = ex.place_algo(stop("SELL", below(ex, 300), quantity="0.010", reduceOnly="true"), 1)
    step_until(ex, lambda: algo.status != "NEW")
    assert algo.status == "REJECTED" and algo.actual_order_id == 0
    assert ex.position.size == 0 and ex.trades == []


def test_cancel_all_open_orders_leaves_conditional_orders(ex: FuturesExchange) -> None:
    buy(ex, "0.010")
    bid = ex.book.best_bid()
    assert bid is not None
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTX"}
    ex.place(resting | {"quantity": "0.010", "price": f"{(bid - 50 * TICK) / MICROS:.2f}"}, 0)
    ex.place_algo(stop("SELL", below(ex, 300), closePosition="true"), 1)
    assert ex.cancel_all(2) == 1
    assert ex.open_orders() == [] and len(ex.open_algo_orders()) == 1
    assert ex.cancel_all_algo(3) == 1 and ex.open_algo_orders() == []
    with pytest.raises(BinanceError) as caught:
        ex.cancel_algo(next(iter(ex.algo_orders)), None, 4)
    assert caught.value.code == errors.UNKNOWN_ALGO


# ---------------------------------------------------------------------- through ccxt
@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


def test_ccxt_stop_market_reaches_the_algo_endpoint_and_lists_apart(
    sim: SimExchangeServer,
) -> None:
    trigger = (sim.exchange.mark_price() - 300 * TICK) / MICROS

    async def body(ex: Any) -> Any:
        await ex.create_order(SYMBOL, "market", "buy", 0.01)
        close = await ex.create_order(
            SYMBOL, "STOP_MARKET", "sell", None, None,
            {"stopPrice": trigger, "closePosition": True, "workingType": "MARK_PRICE"},
        )  # fmt: skip
        reduce = await ex.create_order(
            SYMBOL, "STOP_MARKET", "sell", 0.004, None, {"stopPrice": trigger, "reduceOnly": True}
        )
        listed = await ex.fetch_open_orders(SYMBOL, params={"trigger": True})
        regular = await ex.fetch_open_orders(SYMBOL)
        cancelled = await ex.cancel_order(reduce["id"], SYMBOL, {"trigger": True})
        left = await ex.fetch_open_orders(SYMBOL, params={"trigger": True})
        return close, reduce, listed, regular, cancelled, left

    close, reduce, listed, regular, cancelled, left = run(sim, body)
    assert close["info"]["algoStatus"] == "NEW" and close["info"]["closePosition"] is True
    assert close["info"]["triggerPrice"] == f"{trigger:.2f}"
    assert close["info"]["workingType"] == "MARK_PRICE"
    assert reduce["info"]["workingType"] == "CONTRACT_PRICE"  # Binance's default
    assert reduce["info"]["reduceOnly"] is True and reduce["info"]["quantity"] == "0.004"
    assert close["status"] == "open" and close["triggerPrice"] == trigger
    assert [o["id"] for o in listed] == [close["id"], reduce["id"]]
    assert regular == []
    assert cancelled["info"]["code"] == "200"
    assert [o["id"] for o in left] == [close["id"]]
    (held,) = sim.exchange.open_algo_orders()
    assert held.trigger_price == round(trigger * MICROS) and held.close_position


def test_ccxt_immediate_trigger_and_cancel_all_conditional(sim: SimExchangeServer) -> None:
    above = (sim.exchange.mark_price() + 10 * TICK) / MICROS
    below_mark = (sim.exchange.mark_price() - 300 * TICK) / MICROS

    async def body(ex: Any) -> Any:
        await ex.create_order(SYMBOL, "market", "buy", 0.01)
        with pytest.raises(ccxt.OrderImmediatelyFillable, match="-2021"):
            await ex.create_order(
                SYMBOL, "STOP_MARKET", "sell", None, None,
                {"stopPrice": above, "closePosition": True, "workingType": "MARK_PRICE"},
            )  # fmt: skip
        with pytest.raises(ccxt.InvalidOrder, match="-4120"):
            await ex.fapiPrivatePostOrder(
                {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                 "stopPrice": f"{below_mark:.2f}", "closePosition": "true"}
            )  # fmt: skip
        await ex.create_order(
            SYMBOL, "STOP_MARKET", "sell", None, None,
            {"stopPrice": below_mark, "closePosition": True},
        )  # fmt: skip
        await ex.cancel_all_orders(SYMBOL)
        kept = await ex.fetch_open_orders(SYMBOL, params={"trigger": True})
        await ex.cancel_all_orders(SYMBOL, {"trigger": True})
        return kept, await ex.fetch_open_orders(SYMBOL, params={"trigger": True})

    kept, after = run(sim, body)
    assert len(kept) == 1 and after == []


def test_ccxt_sees_a_triggered_stop_finished_with_its_market_order(
    sim: SimExchangeServer,
) -> None:
    trigger = (sim.exchange.mark_price() - 300 * TICK) / MICROS

    async def place(ex: Any) -> Any:
        await ex.create_order(SYMBOL, "market", "buy", 0.01)
        return await ex.create_order(
            SYMBOL, "STOP_MARKET", "sell", None, None,
            {"stopPrice": trigger, "closePosition": True, "workingType": "MARK_PRICE"},
        )  # fmt: skip

    placed = run(sim, place)
    while sim.exchange.open_algo_orders():
        assert sim.step(50)["applied"], "the recording ended first"

    async def look(ex: Any) -> Any:
        algo = await ex.fetch_order(placed["id"], SYMBOL, {"trigger": True})
        actual = await ex.fetch_order(algo["info"]["actualOrderId"], SYMBOL)
        trades = await ex.fetch_my_trades(SYMBOL)
        positions = await ex.fetch_positions([SYMBOL])
        return algo, actual, trades, positions

    algo, actual, trades, positions = run(sim, look)
    assert algo["info"]["algoStatus"] == "FINISHED" and algo["status"] == "closed"
    assert algo["info"]["triggerTime"] > 0
    assert actual["info"]["status"] == "FILLED" and actual["info"]["reduceOnly"] is True
    assert actual["info"]["executedQty"] == "0.010"
    closing = [t for t in trades if t["info"]["orderId"] == int(algo["info"]["actualOrderId"])]
    assert sum(micros(t["info"]["qty"]) for t in closing) == 10_000
    assert positions == [] and sim.exchange.position.size == 0
