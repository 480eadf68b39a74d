"""The crypto desk on Binance spot through the full live composition (``build_ccxt_session``,
what ``polytraders live --venue ccxt --live`` runs for a node file whose ``[venue]
exchange_id = "binance"``) against the spot simulator, through the real ccxt client and the
live spot depth stream: it buys BTC (the commission kept in BTC), sells its whole position,
the exchange accepts the sell, and the desk's position and cash then equal the exchange's BTC
and USDT balances (docs/ccxt_venue.md "Spot": the desk never counts what lies below a
micro-unit). Then the same through the CLI.

``BuyThenSellAll`` below is a TEST FIXTURE, not a library bot: on its first book it buys
0.01 BTC with a marketable FAK order; once it holds a position and has nothing open, it sells
the whole position (the desk's size, i.e. net of the BTC commission) with a marketable FAK.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.commands.live_ccxt import build_ccxt_session
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.ids import intent_id
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.fees import E8_PER_MICRO
from polytraders.model.fills import Fill
from polytraders.model.money import MICROS
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.simexchange.spot import SpotExchange
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.commands.test_live_ccxt import FAST, keep_signal_handlers, live_ccxt_cli, pump_until
from tests.fixture_strategy import FixtureStrategy

__all__ = ["keep_signal_handlers"]  # the fixture, used by the CLI test

TOKEN = "binance-spot:BTCUSDT"
BUY_SIZE = 10_000
"""0.01 BTC (micro-BTC): its 0.1 % commission is 0.00001 BTC, one lot step."""
TICK = 10_000
"""0.01 USDT, the spot pair's tick (micro-USDT)."""


class BuyThenSellAll(FixtureStrategy[BotConfig]):
    """Test fixture (module docstring)."""

    bot_id = "strat.test_buy_then_sell_all"
    Config = BotConfig
    SEARCH_SPACE = SearchSpace(BotConfig)

    def __init__(self, config: BotConfig | None = None, rng: random.Random | None = None) -> None:
        super().__init__(config, rng)
        self._sent = 0

    def reset(self) -> None:
        self._sent = 0

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or self._sent >= 2:
            return Proposal()
        book = view.book(TOKEN)
        if book is None or view.open_orders(TOKEN):
            return Proposal()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return Proposal()
        held = view.position(TOKEN)
        if self._sent == 0:
            side, price, size = Side.BUY, ask * 1_005 // 1_000 // TICK * TICK, BUY_SIZE
        elif held is not None and held.size > 0:
            side, price, size = Side.SELL, bid * 995 // 1_000 // TICK * TICK, held.size
        else:
            return Proposal()
        self._sent += 1
        return Proposal(
            intents=(
                OrderIntent(
                    intent_id=intent_id(f"{self.bot_id}/s{view.now_ns}", self._sent),
                    bot_id=self.bot_id,
                    action=IntentAction.PLACE,
                    token_id=TOKEN,
                    side=side,
                    price=price,
                    size=size,
                    time_in_force=TimeInForce.FAK,
                ),
            )
        )


def _desk() -> DeskFile:
    return DeskFile(
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:BuyThenSellAll")],
        risk=[BotEntry(id="risk.killswitch")],
    )


def spot(sim: SimExchangeServer) -> SpotExchange:
    ex = sim.exchange
    assert isinstance(ex, SpotExchange)
    return ex


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(market="spot"), throwaway_key()) as server:
        yield server


def _assert_desk_equals_exchange(cash_micros: int, fills: list[Fill], ex: SpotExchange) -> None:
    """The desk's cash is the exchange's USDT to the micro-unit: the exchange keeps 10⁻⁸, and
    each trade's USDT beyond the sixth decimal (the desk floors proceeds, rounds a
    commission up) leaves less than one micro-USDT per trade at the exchange, never more."""
    usdt_e8 = ex.free("USDT") + ex.locked("USDT")
    dust_e8 = usdt_e8 - cash_micros * E8_PER_MICRO
    assert 0 <= dust_e8 < E8_PER_MICRO * len(fills), (usdt_e8, cash_micros)
    assert ex.free("BTC") == ex.locked("BTC") == 0  # 0.01 − 0.00001 commission − 0.00999 sold


def test_the_spot_desk_buys_sells_its_whole_position_and_matches_the_exchange(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    ex = spot(sim)
    store = str(tmp_path / "runs.sqlite")
    node = CcxtNodeConfig.model_validate(
        {"desk": _desk(), "venue": {"exchange_id": "binance", "api_url": sim.url,
                                    "poll_interval_ms": 0}}
    )  # fmt: skip
    assert node.venue.market_type == "spot" and node.protective_stop is None
    session, startup = build_ccxt_session(
        run_id="run-spot",
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )
    assert startup.comparison.level is DriftLevel.OK
    state = session.desk.state
    assert state.cash == 10_000 * MICROS
    try:
        pump_until(session, sim, lambda: state.book(TOKEN) is not None, "the spot book")

        def bought() -> bool:
            position = state.ledger.position(TOKEN)
            return position is not None and position.size > 0

        pump_until(session, sim, bought, "the buy")
        position = state.ledger.position(TOKEN)
        assert position is not None
        assert position.size == BUY_SIZE - 10  # 0.00999 BTC: the commission was 0.00001 BTC
        assert ex.free("BTC") == position.size * E8_PER_MICRO  # what the exchange credited

        def sold() -> bool:
            held = state.ledger.position(TOKEN)
            return held is not None and held.size == 0 and len(session.desk.result().fills) == 2

        pump_until(session, sim, sold, "the sell of the whole position")
        buy, sell = session.desk.result().fills
        assert (buy.side, buy.size, buy.fee_size) == (Side.BUY, BUY_SIZE, 10)
        assert (sell.side, sell.size, sell.fee_size) == (Side.SELL, BUY_SIZE - 10, 0)
        assert sell.fee > 0  # a sell's commission is in USDT
        assert not [o for o in ex.orders.values() if o.status != "FILLED"]  # both accepted
        _assert_desk_equals_exchange(state.cash, [buy, sell], ex)
        session.reconcile(state.now_ns)
        pump_until(session, sim, lambda: len(session.reconciliations) == 2, "a reconciliation")
        assert session.reconciliations[-1][1].level is DriftLevel.OK
    finally:
        session.close()
    with EventStore.open(store, create=False) as events:
        (run,) = [r for r in events.runs() if r.run_id == "run-spot"]
        stored = [f.fill_id for f in events.fills(run.ref)]
    assert stored == [buy.fill_id, sell.fill_id]


@pytest.mark.usefixtures("keep_signal_handlers")
def test_polytraders_live_venue_ccxt_runs_a_spot_node_file(tmp_path: Path) -> None:
    """``polytraders live --venue ccxt --live --node FILE`` with ``exchange_id = "binance"``
    (the simulator replays by itself, one depth event per 100 ms): the desk buys and sells
    all, and the exchange ends holding no BTC."""
    settings = SimExchangeSettings(market="spot", replay_interval_ms=100)
    with SimExchangeServer(settings, throwaway_key()) as sim:
        result, _, _, store = live_ccxt_cli(
            sim,
            tmp_path,
            f'[[strategies]]\nsource = "{Path(__file__).resolve()}:BuyThenSellAll"\n'
            '[[risk]]\nid = "risk.killswitch"\n',
            'exchange_id = "binance"\n',
            "cli-spot",
            4,
        )
        assert result.exit_code == 0, result.output
        ex = spot(sim)
        sides = sorted(o.side.value for o in ex.orders.values() if o.status == "FILLED")
        assert sides == ["BUY", "SELL"], result.output
    with EventStore.open(store, create=False) as events:
        (run,) = [r for r in events.runs() if r.run_id == "cli-spot"]
        fills = events.fills(run.ref)
    assert [(f.side, f.size, f.fee_size) for f in fills] == [
        (Side.BUY, BUY_SIZE, 10),
        (Side.SELL, BUY_SIZE - 10, 0),
    ]
    cash = 10_000 * MICROS - sum(
        f.notional + f.cash_fee if f.side is Side.BUY else f.cash_fee - f.notional for f in fills
    )
    _assert_desk_equals_exchange(cash, fills, ex)
