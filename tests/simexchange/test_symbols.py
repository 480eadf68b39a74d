"""Several USDⓈ-M symbols in one simulator (:class:`~polytraders.simexchange.engine.FuturesVenue`):
BTCUSDT and ETHUSDT replayed from their own recordings of 2024-08-08 on one clock, one
cross-margin account, served to the real ccxt ``binanceusdm`` client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import httpx
import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.usdm_client import run_usdm as run
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.model.money import MICROS
from polytraders.model.perp import initial_margin
from polytraders.simexchange.auth import sign
from polytraders.simexchange.engine import ExchangeSettings, FuturesVenue
from polytraders.simexchange.errors import BinanceError
from polytraders.simexchange.matching import NS_PER_MS
from polytraders.simexchange.replay import default_recording_path, load_recording
from polytraders.simexchange.server import (
    SimExchangeServer,
    SimExchangeSettings,
    throwaway_key,
)
from polytraders.simexchange.wire import usdt

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
ETH_PATH = default_recording_path().with_name("usdm_ethusdt_20240808.gz")


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    settings = SimExchangeSettings(more_data_paths=(ETH_PATH,))
    with SimExchangeServer(settings, throwaway_key()) as server:
        yield server


def _signed(sim: SimExchangeServer, method: str, path: str, params: str) -> httpx.Response:
    now_ms = int(httpx.get(f"{sim.url}/fapi/v1/time").json()["serverTime"])
    query = f"{params}&timestamp={now_ms}"
    query += f"&signature={sign(sim.api_key.secret, query)}"
    return httpx.request(
        method, f"{sim.url}{path}?{query}", headers={"X-MBX-APIKEY": sim.api_key.key}
    )


def test_venue_replays_the_markets_in_time_order_with_one_offset() -> None:
    btc, eth = load_recording(default_recording_path()), load_recording(ETH_PATH)
    venue = FuturesVenue([btc, eth], ExchangeSettings())
    assert venue.symbols == ("BTCUSDT", "ETHUSDT")
    assert venue.wallet == 10_000 * MICROS
    assert venue.markets["ETHUSDT"].account.wallet_micros == 0  # the wallet is held once
    applied: list[int] = []
    while len(applied) < 400:
        due = venue.next_step_ns()
        assert due is not None
        venue.step(1)
        applied.append(due)
    assert applied == sorted(applied)
    assert {m.cursor > 50 for m in venue.markets.values()} == {True}
    first_btc_ms = btc.steps[0].depth.ts_event_ns // NS_PER_MS
    venue.restart(ExchangeSettings(), start_ms=first_btc_ms + 1_000)
    assert {m.offset_ms for m in venue.markets.values()} == {1_000}
    with pytest.raises(ValueError, match="two recordings of BTCUSDT"):
        FuturesVenue([btc, btc], ExchangeSettings())


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["BTCUSDT", "ETHUSDT", "step"]),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=60),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(actions=ACTIONS)
def test_one_wallet_and_unique_ids_whatever_is_traded(
    actions: list[tuple[str, str, int]],
) -> None:
    """Orders on either symbol and replay steps in any mix: the one wallet is the initial one
    plus every symbol's realized PnL − fees + funding, exactly; order and trade ids are unique
    across the symbols; steps are applied in time order."""
    venue = FuturesVenue(
        [load_recording(default_recording_path()), load_recording(ETH_PATH)], ExchangeSettings()
    )
    applied: list[int] = []
    for what, side, count in actions:
        if what == "step":
            for _ in range(count):
                due = venue.next_step_ns()
                if due is not None and venue.step(1):
                    applied.append(due)
            continue
        quantity = "0.002" if what == "BTCUSDT" else "0.040"
        params = {"symbol": what, "side": side, "type": "MARKET", "quantity": quantity}
        with contextlib.suppress(BinanceError):  # a refusal changes nothing
            venue.market(what).place(params, venue.last_event_ms)
    markets = list(venue.markets.values())
    flows = sum(m.realized_pnl - m.fees_paid + m.account.funding_micros for m in markets)
    assert venue.wallet == 10_000 * MICROS + flows
    assert {m.wallet for m in markets} == {venue.wallet}
    order_ids = [i for m in markets for i in m.orders]
    trade_ids = [t.trade_id for m in markets for t in m.trades]
    assert len(set(order_ids)) == len(order_ids) == len(venue.orders)
    assert len(set(trade_ids)) == len(trade_ids)
    assert applied == sorted(applied)


def test_both_books_are_served_and_unknown_symbols_refused(sim: SimExchangeServer) -> None:
    async def body(ex: Any) -> Any:
        return ex.market(ETH), await ex.fetch_order_book(BTC, 5), await ex.fetch_order_book(ETH, 5)

    eth_market, btc_book, eth_book = run(sim, body)
    assert eth_market["id"] == "ETHUSDT" and eth_market["precision"]["price"] == 0.01
    for book, symbol in ((btc_book, "BTCUSDT"), (eth_book, "ETHUSDT")):
        held = sim.venue.markets[symbol].book
        assert [(round(p * MICROS), round(q * MICROS)) for p, q in book["bids"]] == held.bids(5)
        assert [(round(p * MICROS), round(q * MICROS)) for p, q in book["asks"]] == held.asks(5)
    assert btc_book["bids"][0][0] > 10 * eth_book["bids"][0][0]
    depth = httpx.get(f"{sim.url}/fapi/v1/depth", params={"symbol": "XRPUSDT"})
    assert (depth.status_code, depth.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})
    order = _signed(sim, "POST", "/fapi/v1/order", "symbol=XRPUSDT&side=BUY&type=MARKET&quantity=1")
    assert order.json()["code"] == -1121
    assert _signed(sim, "GET", "/fapi/v3/positionRisk", "symbol=XRPUSDT").json()["code"] == -1121
    assert sim.venue.orders == {}


def test_an_order_on_each_symbol_fills_on_its_own_book_into_one_account(
    sim: SimExchangeServer,
) -> None:
    btc_ask = sim.venue.markets["BTCUSDT"].book.best_ask()
    eth_ask = sim.venue.markets["ETHUSDT"].book.best_ask()

    async def body(ex: Any) -> Any:
        btc = await ex.create_order(BTC, "market", "buy", 0.002)
        eth = await ex.create_order(ETH, "market", "sell", 0.05)
        return btc, eth, await ex.fetch_positions(), await ex.fetch_balance()

    btc_order, eth_order, positions, balance = run(sim, body)
    btc, eth = sim.venue.markets["BTCUSDT"], sim.venue.markets["ETHUSDT"]
    assert btc_order["info"]["symbol"] == "BTCUSDT" and eth_order["info"]["symbol"] == "ETHUSDT"
    assert btc_order["status"] == eth_order["status"] == "closed"
    assert btc_ask is not None and eth_ask is not None
    assert round(btc_order["average"] * MICROS) >= btc_ask  # a BUY walks BTC's asks
    assert round(eth_order["average"] * MICROS) < eth_ask  # a SELL hits ETH's bids
    assert btc_order["id"] != eth_order["id"]
    assert (btc.position.size, eth.position.size) == (2_000, -50_000)
    assert {p["symbol"]: p["info"]["positionAmt"] for p in positions} == {
        BTC: "0.002",
        ETH: "-0.050",
    }
    fees = btc.fees_paid + eth.fees_paid
    assert btc.wallet == eth.wallet == 10_000 * MICROS - fees  # one wallet
    upnl = btc.unrealized_pnl() + eth.unrealized_pnl()
    margin = btc.initial_margin_held() + eth.initial_margin_held()
    assert balance["info"]["availableBalance"] == usdt(btc.wallet + upnl - margin)
    assert balance["info"]["totalPositionInitialMargin"] == usdt(margin)
    assert balance["info"]["totalWalletBalance"] == usdt(btc.wallet)
    trades = _signed(sim, "GET", "/fapi/v1/userTrades", "symbol=ETHUSDT").json()
    assert [t["symbol"] for t in trades] == ["ETHUSDT"] * len(trades) and trades


def test_the_margin_check_counts_every_symbol(sim: SimExchangeServer) -> None:
    """A BTC position takes margin an ETH order then lacks: -2019 short of one micro-USDT."""
    btc, eth = sim.venue.markets["BTCUSDT"], sim.venue.markets["ETHUSDT"]
    size = 300_000
    cost = btc.mark_price() * size // MICROS
    btc_im = initial_margin(cost, btc.leverage)
    bid = eth.book.best_bid()
    assert bid is not None
    eth_im = initial_margin(bid * 100_000 // MICROS, eth.leverage)

    async def order(ex: Any) -> Any:
        return await ex.create_order(ETH, "limit", "buy", 0.1, bid / MICROS, {"postOnly": True})

    sim.session(wallet_micros=btc_im + eth_im - 1, positions={"BTCUSDT": (size, cost)})
    assert btc.unrealized_pnl() == 0
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        run(sim, order)
    sim.session(wallet_micros=btc_im + eth_im, positions={"BTCUSDT": (size, cost)})
    assert run(sim, order)["info"]["status"] == "NEW"


def test_a_session_seeds_a_position_per_symbol(sim: SimExchangeServer) -> None:
    answer = sim.session(
        wallet_micros=1_000 * MICROS,
        positions={"BTCUSDT": (100_000, 6_180_025_000), "ETHUSDT": (1_000_000, 2_681_625_000)},
        funding_rates_ppm={"ETHUSDT": 250},
    )
    assert answer["wallet_micros"] == 1_000 * MICROS

    async def body(ex: Any) -> Any:
        return await ex.fetch_positions(), await ex.fetch_funding_rate(ETH)

    positions, funding = run(sim, body)
    held = {p["symbol"]: p["info"] for p in positions}
    assert {s: (p["positionAmt"], p["entryPrice"]) for s, p in held.items()} == {
        BTC: ("0.100", "61800.250000"),
        ETH: ("1.000", "2681.625000"),
    }
    assert funding["info"]["lastFundingRate"] == "0.00025000"
    state = sim.sim_state()
    assert {s: m["position_amount"] for s, m in state["markets"].items()} == {
        "BTCUSDT": 100_000,
        "ETHUSDT": 1_000_000,
    }
    refused = httpx.post(
        f"{sim.url}/sim/session",
        json={"wallet_micros": 1, "positions": {"XRPUSDT": {"size": 1, "cost_micros": 1}}},
        headers={"Authorization": f"Bearer {sim.state.control_token}"},
    )
    assert refused.status_code == 400 and "XRPUSDT" in refused.json()["error"]


def test_each_depth_stream_carries_its_own_symbol(sim: SimExchangeServer) -> None:
    async def scenario() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        streams = {s: f"{sim.ws_url}/ws/{s.lower()}@depth@100ms" for s in ("BTCUSDT", "ETHUSDT")}
        sockets = {s: await websockets.connect(url) for s, url in streams.items()}
        try:
            await asyncio.to_thread(sim.step, 300)
            for symbol, ws in sockets.items():
                seen[symbol] = set()
                for _ in range(20):
                    seen[symbol].add(json.loads(await asyncio.wait_for(ws.recv(), 5))["s"])
        finally:
            for ws in sockets.values():
                await ws.close()
        return seen

    assert asyncio.run(scenario()) == {"BTCUSDT": {"BTCUSDT"}, "ETHUSDT": {"ETHUSDT"}}


def test_the_default_is_one_symbol_and_spot_takes_one_recording() -> None:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as one:
        assert one.venue.symbols == ("BTCUSDT",) and one.exchange is one.venue.primary
    with pytest.raises(ValueError, match="one recording"):
        SimExchangeServer(
            SimExchangeSettings(market="spot", more_data_paths=(Path(ETH_PATH),)),
            throwaway_key(),
        )


def test_the_cli_serves_one_symbol_per_data_option(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[SimExchangeSettings] = []

    def serve(settings: SimExchangeSettings, *_: object) -> None:
        served.append(settings)

    monkeypatch.setattr("polytraders.simexchange.server.serve_forever", serve)
    btc = default_recording_path()
    args = ["sim-exchange", "--port", "0", "--data", str(btc), "--data", str(ETH_PATH)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["sim-exchange", "--port", "0"]).exit_code == 0
    assert [(s.data_path, s.more_data_paths) for s in served] == [
        (btc, (ETH_PATH,)),
        (btc, ()),
    ]
    spot = ["sim-exchange", "--market", "spot", "--data", str(btc), "--data", str(ETH_PATH)]
    refused = CliRunner().invoke(app, spot)
    assert refused.exit_code == 2 and "spot serves one recording" in refused.output
