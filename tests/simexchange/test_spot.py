"""The spot simulator's engine (:mod:`polytraders.simexchange.spot`) and its spot-only wire
answers: balances per asset, commissions in the asset received, Binance spot's refusals."""

from __future__ import annotations

import httpx
import pytest

from polytraders.model.money import MICROS
from polytraders.simexchange import errors
from polytraders.simexchange.auth import sign
from polytraders.simexchange.engine import ExchangeSettings, FuturesExchange
from polytraders.simexchange.errors import BinanceError
from polytraders.simexchange.replay import default_recording_path, load_recording
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import E8, SpotExchange, SpotSettings
from polytraders.simexchange.spot_wire import e8_text

RECORDING = load_recording(default_recording_path("spot"))


def fresh(base_e8: int = 0, quote_e8: int = 10_000 * E8) -> SpotExchange:
    return SpotExchange(RECORDING, SpotSettings(base_e8=base_e8, quote_e8=quote_e8))


def limit(side: str, price: int, qty: int, tif: str = "GTC", **extra: str) -> dict[str, str]:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": tif,
        "price": f"{price / MICROS:.2f}",
        "quantity": f"{qty / MICROS:.5f}",
        **extra,
    }


def refused(ex: SpotExchange, params: dict[str, str]) -> tuple[int, str]:
    with pytest.raises(BinanceError) as caught:
        ex.place(params, 1)
    return caught.value.code, caught.value.msg


def test_each_simulator_refuses_the_other_markets_recording() -> None:
    with pytest.raises(ValueError, match="not Binance spot"):
        SpotExchange(load_recording(default_recording_path()), SpotSettings())
    with pytest.raises(ValueError, match="not USDⓈ-M"):
        FuturesExchange(RECORDING, ExchangeSettings())


def test_orders_lock_balances_and_fills_charge_the_asset_received() -> None:
    ex = fresh(base_e8=E8 // 100)  # 0.01 BTC
    bid, ask = ex.book.best_bid(), ex.book.best_ask()
    assert bid is not None and ask is not None
    buy = ex.place(limit("BUY", bid - 10 * MICROS, 1_000), 1)
    sell = ex.place(limit("SELL", ask + 10 * MICROS, 2_000), 1)
    assert (buy.status, sell.status) == ("NEW", "NEW")
    assert ex.locked("USDT") == (bid - 10 * MICROS) * 1_000 // 10_000
    assert ex.locked("BTC") == 2_000 * 100
    assert ex.free("BTC") == E8 // 100 - 2_000 * 100
    ex.cancel(buy.order_id, None, 2)
    assert ex.locked("USDT") == 0 and ex.free("USDT") == 10_000 * E8
    taken = ex.place({**limit("BUY", ask, 1_000, "IOC")}, 3)
    assert taken.status == "FILLED"
    (trade,) = ex.trades
    assert (trade.price, trade.qty, trade.maker) == (ask, 1_000, False)
    assert (trade.commission_asset, trade.commission_e8) == ("BTC", 100)  # 0.1 % of 0.001 BTC
    assert ex.totals == {
        "BTC": E8 // 100 + 1_000 * 100 - 100,
        "USDT": 10_000 * E8 - ask * 1_000 // 10_000,
    }
    assert e8_text(trade.quote_qty_e8) == f"{ask * 1_000 // 10_000 / E8:.8f}"


def test_spot_refusals_are_binances() -> None:
    ex = fresh()
    bid, ask = ex.book.best_bid(), ex.book.best_ask()
    assert bid is not None and ask is not None
    assert refused(ex, limit("SELL", ask, 1_000)) == (
        errors.NEW_ORDER_REJECTED,
        "Account has insufficient balance for requested action.",
    )
    maker = {**limit("BUY", ask, 1_000), "type": "LIMIT_MAKER"}
    del maker["timeInForce"]
    assert refused(ex, maker) == (
        errors.NEW_ORDER_REJECTED,
        "Order would immediately match and take.",
    )
    assert refused(ex, {**maker, "timeInForce": "GTC"}) == (
        errors.PARAM_NOT_REQUIRED,
        "Parameter 'timeInForce' sent when not required.",
    )
    assert refused(ex, limit("BUY", bid, 1_000, reduceOnly="true")) == (
        errors.PARAM_NOT_REQUIRED,
        "Parameter 'reduceOnly' sent when not required.",
    )
    assert refused(ex, limit("BUY", bid, 1_000, "GTX")) == (
        errors.INVALID_TIME_IN_FORCE,
        "Invalid timeInForce.",
    )
    assert refused(ex, {**limit("BUY", bid, 1_000), "price": "61000.005"}) == (
        errors.FILTER_FAILURE,
        "Filter failure: PRICE_FILTER",
    )
    assert refused(ex, {**limit("BUY", bid, 1_000), "quantity": "0.000015"}) == (
        errors.FILTER_FAILURE,
        "Filter failure: LOT_SIZE",
    )
    assert refused(ex, limit("BUY", bid, 10)) == (errors.FILTER_FAILURE, "Filter failure: NOTIONAL")
    assert ex.orders == {}
    fok = ex.place(limit("BUY", bid, 1_000, "FOK"), 1)  # nothing to take at the bid
    assert (fok.status, fok.executed_qty) == ("EXPIRED", 0)


def test_spot_routes_answer_in_binance_spot_shapes() -> None:
    key = throwaway_key()
    with (
        SimExchangeServer(SimExchangeSettings(market="spot"), key) as sim,
        httpx.Client(base_url=sim.url) as http,
    ):
        depth = http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()
        assert set(depth) == {"lastUpdateId", "bids", "asks"} and len(depth["bids"]) == 5
        assert len(depth["bids"][0][0].split(".")[1]) == 8  # Binance spot's 8 decimals
        assert http.get("/fapi/v1/time").status_code == 404  # one market per server
        query = "symbol=BTCUSDT&timestamp=" + str(
            httpx.get(f"{sim.url}/api/v3/time").json()["serverTime"]
        )
        answer = http.delete(
            f"/api/v3/openOrders?{query}&signature={sign(key.secret, query)}",
            headers={"X-MBX-APIKEY": key.key},
        )
        assert answer.status_code == 400
        assert answer.json() == {"code": -2011, "msg": "Unknown order sent."}
        sim.spot_session(base_e8=E8, quote_e8=0)
        balances = sim.sim_state()["balances"]
        assert balances == {
            "BTC": {"free_e8": E8, "locked_e8": 0},
            "USDT": {"free_e8": 0, "locked_e8": 0},
        }
