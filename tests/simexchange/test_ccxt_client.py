"""The real ccxt ``binanceusdm`` async client against the running simulator, no network: every
address of the client points at the loopback server (:func:`loopback_urls`).

ccxt's unified fields are floats (price, amount, cost, filled, average, fee cost, contracts,
entryPrice, balances, fundingRate); the tests check the exact values in ``info`` (Binance's
decimal strings) and compare the floats only where a float is exact enough to say which
level filled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest
from tests.usdm_client import run_usdm as run

from polytraders.model.money import MICROS
from polytraders.simexchange.auth import sign
from polytraders.simexchange.engine import ExchangeSettings
from polytraders.simexchange.server import (
    SimExchangeServer,
    SimExchangeSettings,
    throwaway_key,
)
from polytraders.simexchange.wire import usdt

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


def test_load_markets_gives_the_recorded_symbols_filters(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        return ex.market(SYMBOL)

    market = run(sim, body)
    assert market["id"] == "BTCUSDT"
    assert market["precision"]["price"] == 0.1 and market["precision"]["amount"] == 0.001
    assert market["limits"]["amount"]["min"] == 0.001
    assert market["limits"]["cost"]["min"] == 100
    filters = {f["filterType"]: f for f in market["info"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"


def test_order_book_is_the_replayed_book_with_its_update_id(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        return await ex.fetch_order_book(SYMBOL, 5)

    book = run(sim, body)
    ex = sim.exchange
    assert book["nonce"] == ex.last_update_id
    assert [(round(p * MICROS), round(q * MICROS)) for p, q in book["bids"]] == ex.book.bids(5)


def test_post_only_rests_and_is_listed_then_cancelled(sim: SimExchangeServer) -> None:
    bid = sim.exchange.book.best_bid()
    assert bid is not None
    price = (bid - 1_000 * MICROS) / MICROS

    async def body(ex: Any) -> Any:
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"timeInForce": "GTX"})
        listed = await ex.fetch_open_orders(SYMBOL)
        canceled = await ex.cancel_order(order["id"], SYMBOL)
        after = await ex.fetch_open_orders(SYMBOL)
        return order, listed, canceled, after

    order, listed, canceled, after = run(sim, body)
    assert order["status"] == "open" and order["info"]["timeInForce"] == "GTX"
    assert [o["id"] for o in listed] == [order["id"]]
    assert listed[0]["info"]["price"] == f"{price:.2f}" and listed[0]["info"]["origQty"] == "0.010"
    assert canceled["info"]["status"] == "CANCELED"
    assert after == []


def test_post_only_that_would_take_is_refused_with_5022(sim: SimExchangeServer) -> None:
    ask = sim.exchange.book.best_ask()
    assert ask is not None

    async def body(ex: Any) -> Any:
        return await ex.create_order(
            SYMBOL, "limit", "buy", 0.01, ask / MICROS, {"timeInForce": "GTX"}
        )

    with pytest.raises(ccxt.InvalidOrder, match="-5022"):
        run(sim, body)
    assert sim.exchange.orders == {}


def test_crossing_order_walks_the_book_at_its_prices(sim: SimExchangeServer) -> None:
    asks = sim.exchange.book.asks(3)
    (p1, s1), (p2, _), _ = asks
    qty = s1 + 2_000  # the whole best level and 0.002 of the next
    limit = p2

    async def body(ex: Any) -> Any:
        order = await ex.create_order(SYMBOL, "limit", "buy", qty / MICROS, limit / MICROS)
        trades = await ex.fetch_my_trades(SYMBOL)
        positions = await ex.fetch_positions([SYMBOL])
        return order, trades, positions

    order, trades, positions = run(sim, body)
    assert order["info"]["status"] == "FILLED"
    assert [(t["info"]["price"], t["info"]["qty"]) for t in trades] == [
        (sim.exchange.price_text(p1), sim.exchange.qty_text(s1)),
        (sim.exchange.price_text(p2), "0.002"),
    ]
    quote = p1 * s1 // MICROS + p2 * 2_000 // MICROS
    assert order["info"]["cumQuote"] == usdt(quote)
    fees = [p1 * s1 * 5 // (10_000 * MICROS), p2 * 2_000 * 5 // (10_000 * MICROS)]
    assert [t["info"]["commission"] for t in trades] == [usdt(f) for f in fees]
    assert all(t["takerOrMaker"] == "taker" for t in trades)
    (position,) = positions
    assert position["info"]["positionAmt"] == sim.exchange.qty_text(qty)
    assert position["info"]["entryPrice"] == usdt((p1 * s1 + p2 * 2_000) // qty)[:-2]
    state = sim.sim_state()
    assert state["wallet_micros"] == 10_000 * MICROS - sum(fees)
    assert state["fees_micros"] == sum(fees)


def test_closing_realizes_pnl_and_trades_agree_with_the_position(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        await ex.create_order(SYMBOL, "market", "buy", 0.02)
        await ex.create_order(SYMBOL, "market", "sell", 0.015, None, {"reduceOnly": True})
        trades = await ex.fetch_my_trades(SYMBOL)
        positions = await ex.fetch_positions([SYMBOL])
        balance = await ex.fetch_balance()
        return trades, positions, balance

    trades, positions, balance = run(sim, body)
    signed = sum(
        (1 if t["info"]["side"] == "BUY" else -1) * round(float(t["info"]["qty"]) * 1000)
        for t in trades
    )
    assert positions[0]["info"]["positionAmt"] == f"{signed / 1000:.3f}" == "0.005"
    realized = sum(round(float(t["info"]["realizedPnl"]) * MICROS) for t in trades)
    fees = sum(round(float(t["info"]["commission"]) * MICROS) for t in trades)
    state = sim.sim_state()
    assert state["realized_pnl_micros"] == realized
    assert state["wallet_micros"] == 10_000 * MICROS + realized - fees
    assert balance["info"]["totalWalletBalance"] == usdt(state["wallet_micros"])


def test_reduce_only_without_a_position_is_refused(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        return await ex.create_order(SYMBOL, "market", "sell", 0.01, None, {"reduceOnly": True})

    with pytest.raises(ccxt.ExchangeError, match="-2022"):
        run(sim, body)


def test_cancel_all_cancels_every_open_order(sim: SimExchangeServer) -> None:
    bid = sim.exchange.book.best_bid()
    assert bid is not None

    async def body(ex: Any) -> Any:
        for ticks in (10, 20, 30):
            price = (bid - ticks * 100_000) / MICROS
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"timeInForce": "GTX"})
        before = await ex.fetch_open_orders(SYMBOL)
        await ex.cancel_all_orders(SYMBOL)
        return before, await ex.fetch_open_orders(SYMBOL)

    before, after = run(sim, body)
    assert len(before) == 3 and after == []
    assert {o.status for o in sim.exchange.orders.values()} == {"CANCELED"}


def test_leverage_and_funding_rate(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        answer = await ex.set_leverage(10, SYMBOL)
        funding = await ex.fetch_funding_rate(SYMBOL)
        with pytest.raises(ccxt.BadRequest, match="between 1 and 125"):  # checked by ccxt
            await ex.set_leverage(500, SYMBOL)
        return answer, funding

    answer, funding = run(sim, body)
    assert answer["leverage"] == 10 and sim.exchange.leverage == 10
    assert funding["info"]["lastFundingRate"] == "0.00010000"
    assert funding["info"]["markPrice"] == usdt(sim.exchange.mark_price())


def test_margin_follows_leverage(sim: SimExchangeServer) -> None:
    """10 000 USDT at 1×: an order of about 12 000 USDT notional is refused with -2019."""

    async def body(ex: Any) -> Any:
        await ex.set_leverage(1, SYMBOL)
        await ex.create_order(SYMBOL, "market", "buy", 0.2)

    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        run(sim, body)
    assert sim.exchange.position.size == 0


def test_wrong_secret_is_refused_with_1022_and_changes_nothing(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        return await ex.create_order(SYMBOL, "market", "buy", 0.01)

    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        run(sim, body, secret="0" * 64)
    assert sim.exchange.orders == {} and sim.exchange.position.size == 0


def _raw_order(sim: SimExchangeServer, query: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{sim.url}/fapi/v1/order",
        content=query,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def test_unsigned_stale_and_keyless_posts_are_refused(sim: SimExchangeServer) -> None:
    key = sim.api_key
    now_ms = int(httpx.get(f"{sim.url}/fapi/v1/time").json()["serverTime"])
    params = f"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&timestamp={now_ms}"
    unsigned = _raw_order(sim, params, **{"X-MBX-APIKEY": key.key})
    assert (unsigned.status_code, unsigned.json()["code"]) == (400, -1022)
    keyless = _raw_order(sim, f"{params}&signature={sign(key.secret, params)}")
    assert (keyless.status_code, keyless.json()["code"]) == (401, -2015)
    stale = params.replace(str(now_ms), str(now_ms - 6_000))
    old = _raw_order(
        sim, f"{stale}&signature={sign(key.secret, stale)}", **{"X-MBX-APIKEY": key.key}
    )
    assert (old.status_code, old.json()["code"]) == (400, -1021)
    assert sim.exchange.orders == {}
    good = _raw_order(
        sim, f"{params}&signature={sign(key.secret, params)}", **{"X-MBX-APIKEY": key.key}
    )
    assert good.status_code == 200 and good.json()["status"] == "FILLED"


def test_rate_limit_fault_surfaces_as_ccxt_rate_limit(sim: SimExchangeServer) -> None:
    sim.fault("rate_limit", count=1, retry_after_s=3)

    async def body(ex: Any) -> Any:
        return ex.markets

    with pytest.raises(
        ccxt.DDoSProtection, match="-1003"
    ):  # what ccxt 4.5.90 raises for -1003 (RateLimitExceeded is its sibling)
        run(sim, body)
    sim.fault("rate_limit", count=1, retry_after_s=3)
    raw = httpx.get(f"{sim.url}/fapi/v1/time")
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "3"
    assert raw.json()["code"] == -1003
    assert run(sim, body)  # the fault is spent: markets load


def test_reject_fault_answers_the_given_code(sim: SimExchangeServer) -> None:
    sim.fault("reject_orders", code=-2019, msg="Margin is insufficient.", count=1)

    async def body(ex: Any) -> Any:
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order(SYMBOL, "market", "buy", 0.01)
        return await ex.create_order(SYMBOL, "market", "buy", 0.01)

    assert run(sim, body)["info"]["status"] == "FILLED"


def test_delayed_ack_places_the_order_before_answering(sim: SimExchangeServer) -> None:
    sim.fault("delay_acks", ms=1_500)
    bid = sim.exchange.book.best_bid()
    assert bid is not None

    async def body(ex: Any) -> Any:
        task = asyncio.ensure_future(
            ex.create_order(SYMBOL, "limit", "buy", 0.01, (bid - MICROS) / MICROS)
        )
        deadline = asyncio.get_running_loop().time() + 5
        while (await asyncio.to_thread(sim.sim_state))["open_orders"] == 0:
            assert asyncio.get_running_loop().time() < deadline
        seen_before_ack = not task.done()
        return seen_before_ack, await task

    seen_before_ack, order = run(sim, body)
    assert seen_before_ack and order["status"] == "open"


def test_resting_bid_fills_as_a_maker_from_the_replay(sim: SimExchangeServer) -> None:
    bid = sim.exchange.book.best_bid()
    assert bid is not None

    async def body(ex: Any) -> Any:
        await ex.create_order(SYMBOL, "limit", "buy", 0.01, bid / MICROS, {"timeInForce": "GTX"})
        await asyncio.to_thread(sim.step, 3_000)
        return await ex.fetch_my_trades(SYMBOL)

    trades = run(sim, body)
    assert trades, "the recording trades through the best bid within 3000 steps"
    assert all(
        t["info"]["maker"] and t["info"]["price"] == sim.exchange.price_text(bid) for t in trades
    )
    assert sum(round(float(t["info"]["qty"]) * 1000) for t in trades) == 10
    assert [t["info"]["commission"] for t in trades] == [
        usdt(bid * round(float(t["info"]["qty"]) * MICROS) * 2 // (10_000 * MICROS)) for t in trades
    ]


def test_settings_fees_and_funding_are_configurable() -> None:
    settings = SimExchangeSettings(
        exchange=ExchangeSettings(taker_fee_bps=4, funding_rate_ppm=-250)
    )
    with SimExchangeServer(settings, throwaway_key()) as sim:

        async def body(ex: Any) -> Any:
            order = await ex.create_order(SYMBOL, "market", "buy", 0.01)
            return order, await ex.fetch_funding_rate(SYMBOL)

        order, funding = run(sim, body)
    assert funding["info"]["lastFundingRate"] == "-0.00025000"
    price = round(float(order["info"]["avgPrice"]) * MICROS)
    assert sim.exchange.fees_paid == price * 10_000 * 4 // (10_000 * MICROS)


def test_funding_is_charged_at_the_funding_time_and_shows_through_ccxt(
    sim: SimExchangeServer,
) -> None:
    """The recording crosses 2024-08-09 00:00 UTC: a long pays 0.01 % of its notional at the
    mark standing then, as a FUNDING_FEE income, in the wallet balance."""
    ex = sim.exchange
    midnight_ms = 1_723_161_600_000  # 2024-08-09T00:00:00Z
    crossing = next(
        i
        for i, step in enumerate(ex.recording.steps)
        if step.depth.ts_event_ns // 1_000_000 >= midnight_ms
    )

    async def body(client: Any) -> Any:
        await client.create_order(SYMBOL, "market", "buy", 0.01)
        while ex.cursor < crossing:  # in chunks: a control request answers within 5 s
            await asyncio.to_thread(sim.step, min(2_000, crossing - ex.cursor))
        before = await client.fetch_funding_history(SYMBOL)
        mark, wallet = ex.mark_price(), ex.wallet
        await asyncio.to_thread(sim.step, 1)
        history = await client.fetch_funding_history(SYMBOL)
        balance = await client.fetch_balance()
        positions = await client.fetch_positions([SYMBOL])
        return before, mark, wallet, history, balance, positions

    before, mark, wallet, history, balance, positions = run(sim, body)
    assert before == []
    paid = -(10_000 * mark * 100_000) // (MICROS * 1_000_000_000)  # −size × mark × 0.0001
    assert paid < 0
    assert [(h["timestamp"], h["info"]["income"]) for h in history] == [(midnight_ms, usdt(paid))]
    assert history[0]["info"]["incomeType"] == "FUNDING_FEE"
    assert (
        ex.wallet
        == wallet + paid
        == (10_000 * MICROS + ex.realized_pnl - ex.fees_paid + ex.account.funding_micros)
    )
    assert balance["info"]["totalWalletBalance"] == usdt(ex.wallet)
    (position,) = positions
    assert position["info"]["maintMargin"] == usdt(ex.maintenance_margin())
    notional = 10_000 * ex.mark_price() // MICROS
    assert ex.maintenance_margin() == -(-notional * 4_000 // 1_000_000)  # 0.40 % bracket
    assert balance["info"]["totalMaintMargin"] == usdt(ex.maintenance_margin())
