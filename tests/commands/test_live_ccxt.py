"""The crypto desk on a live clock against the Binance USDⓈ-M simulator through the real ccxt
client and the live depth stream (issue 21): it trades (orders, fills, a signed position), the
protective stop is at the exchange while a position is open and gone once it closes, the kill
switch cancels everything at the exchange (regular and conditional orders), a clean shutdown
keeps the stop of a position left open, and a restart on the same store reconciles with no
duplicate order or fill.

``ScriptedTaker`` below is a TEST FIXTURE, not a library bot: on its first book it buys
0.002 BTC with a marketable FAK order and rests a post-only bid far below the touch; after
``close_after_events`` book events (0: never) it sells 0.002 BTC reduce-only.

Every wait polls with a deadline (:func:`tests.waiting.wait_until`); the replay moves only when
the test steps it (``POST /sim/step``).
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field
from typer.testing import CliRunner

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.cli import app
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import ProtectiveStops, build_ccxt_session
from polytraders.contracts.bot import BotBase
from polytraders.contracts.budget import RuntimeBudget
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import ReportEnvelope
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, TradingState
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.governed import govern
from tests.waiting import wait_until

TOKEN = "binance-usdm:BTCUSDT"
SIZE = 2_000
"""0.002 BTC (micro-BTC): above the 100 USDT minimum notional at the sample's prices."""
FAST = KeepaliveConfig(
    ping_interval_ms=200,
    pong_timeout_ms=1_000,
    reconnect_initial_ms=50,
    reconnect_max_ms=500,
    protocol_ping=True,
)


class ScriptedTakerConfig(BotConfig):
    """When to sell the long back."""

    close_after_events: int = Field(
        default=0, ge=0, le=100_000, description="Book events before the sell (0: never)."
    )


class ScriptedTaker(BotBase[ScriptedTakerConfig]):
    """Test fixture (module docstring)."""

    bot_id = "strat.test_scripted_taker"
    bot_class = BotClass.STRATEGY
    version = "0.0.1"
    Config = ScriptedTakerConfig
    SEARCH_SPACE = SearchSpace(ScriptedTakerConfig)
    RUNTIME_BUDGET = RuntimeBudget(
        decision_p95_us=1_000,
        decision_p99_us=2_500,
        reject_rate_max_bps=10_000,
        calibration="a test fixture",
    )
    reason_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, config: ScriptedTakerConfig | None = None, rng: random.Random | None = None
    ) -> None:
        super().__init__(config, rng)
        self._sent = 0
        self._books = 0

    def reset(self) -> None:
        self._sent = 0
        self._books = 0

    def _intent(self, side: Side, price: int, size: int, **kw: object) -> OrderIntent:
        self._sent += 1
        return OrderIntent(
            intent_id=intent_id(self.bot_id, self._sent),
            bot_id=self.bot_id,
            action=IntentAction.PLACE,
            token_id=TOKEN,
            side=side,
            price=price,
            size=size,
            **kw,  # type: ignore[arg-type]
        )

    def decide(self, event: AnyEvent, view: DeskView) -> Proposal:
        if not isinstance(event, BookSnapshot | BookDelta) or event.token_id != TOKEN:
            return Proposal()
        book = view.book(TOKEN)
        if book is None:
            return Proposal()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return Proposal()
        tick = 100_000
        self._books += 1
        if self._sent == 0:
            buy = self._intent(Side.BUY, ask * 1_005 // 1_000 // tick * tick, SIZE,
                               time_in_force=TimeInForce.FAK)  # fmt: skip
            rest = self._intent(Side.BUY, bid * 900 // 1_000 // tick * tick, SIZE,
                                post_only=True)  # fmt: skip
            return Proposal(intents=(buy, rest))
        close_after = self.config.close_after_events
        if self._sent == 2 and close_after and self._books > close_after:
            sell = self._intent(Side.SELL, bid * 995 // 1_000 // tick * tick, SIZE,
                                time_in_force=TimeInForce.FAK, reduce_only=True)  # fmt: skip
            return Proposal(intents=(sell,))
        return Proposal()


def _desk(close_after_events: int) -> DeskFile:
    return DeskFile(
        strategies=[
            BotEntry(
                source=f"{Path(__file__).resolve()}:ScriptedTaker",
                config={"close_after_events": close_after_events},
            )
        ],
        risk=[BotEntry(id="risk.killswitch")],
    )


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


def _session(sim: SimExchangeServer, store: str, close_after_events: int = 0) -> LiveSession:
    node = CcxtNodeConfig.model_validate(
        {
            "desk": _desk(close_after_events),
            "venue": {"api_url": sim.url, "poll_interval_ms": 0},
            "protective_stop": {"stop_distance_bps": 30},
        }
    )
    session, comparison = build_ccxt_session(
        run_id="run-ccxt-live",
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )
    assert comparison.level is DriftLevel.OK
    return session


def _pump_until(session: LiveSession, sim: SimExchangeServer, done: Callable[[], bool]) -> None:
    def stepped() -> bool:
        sim.step(1)
        session.step()
        return done()

    wait_until(stepped, 30, "the desk")


def _stops(session: LiveSession) -> ProtectiveStops:
    (hook,) = session.after_step
    assert isinstance(hook, ProtectiveStops)
    return hook


def _envelopes(store: str, run_id: str) -> list[ReportEnvelope]:
    with EventStore.open(store) as events:
        runs = [r for r in events.runs() if r.run_id == run_id]
        return [e for r in runs for e in events.envelopes(r.ref)]


def test_trades_keeps_the_stop_while_long_and_removes_it_when_flat(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    session = _session(sim, store, close_after_events=150)
    ex = sim.exchange
    try:
        _pump_until(session, sim, lambda: session.desk.state.ledger.position(TOKEN) is not None)
        position = session.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == SIZE == ex.position.size
        _pump_until(session, sim, lambda: len(ex.open_algo_orders()) == 1)
        (stop,) = ex.open_algo_orders()
        assert (stop.side, stop.quantity, stop.reduce_only) == (Side.SELL, SIZE, True)
        assert len(ex.open_orders()) == 1  # the resting post-only bid
        _pump_until(session, sim, lambda: _stops(session).synced.get(TOKEN) == SIZE)
        assert ex.position.size == SIZE  # still long: the sell comes after 150 book events
        _pump_until(session, sim, lambda: ex.position.size == 0 and not ex.open_algo_orders())
        _pump_until(session, sim, lambda: _stops(session).synced.get(TOKEN) == 0)
        position = session.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == 0
        assert len(session.desk.result().fills) == 2
    finally:
        session.close()
    assert not ex.open_orders()  # the clean shutdown cancelled the resting bid
    codes = [c for e in _envelopes(store, "run-ccxt-live") for c in e.reason_codes]
    assert codes.count("SYS_CCXT_STOP_PLACED") == 1
    assert codes.count("SYS_CCXT_STOP_CANCELED") == 1


def test_kill_switch_cancels_orders_and_stops_at_the_exchange(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    session = _session(sim, str(tmp_path / "runs.sqlite"))
    ex = sim.exchange
    try:
        _pump_until(session, sim, lambda: bool(ex.open_algo_orders()) and bool(ex.open_orders()))
        session.kill()
        _pump_until(session, sim, lambda: not ex.open_orders() and not ex.open_algo_orders())
        assert session.desk.state.kill_switch_tripped
        assert session.desk.state.trading_state is TradingState.HALTED
        for _ in range(5):  # the keeper leaves the position alone while tripped
            session.step()
        assert not ex.open_algo_orders() and ex.position.size == SIZE
    finally:
        session.close()


def test_clean_shutdown_keeps_the_stop_and_a_restart_duplicates_nothing(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    first = _session(sim, store)
    try:
        _pump_until(first, sim, lambda: _stops(first).synced.get(TOKEN) == SIZE)
    finally:
        first.close()
    (stop,) = ex.open_algo_orders()  # a clean stop keeps the long's protection
    assert not ex.open_orders() and ex.position.size == SIZE

    second = _session(sim, store)
    try:
        position = second.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == SIZE  # from the exchange
        _pump_until(second, sim, lambda: _stops(second).synced.get(TOKEN) == SIZE)
        assert [s.algo_id for s in ex.open_algo_orders()] == [stop.algo_id]  # kept, not doubled
        for _ in range(20):
            sim.step(1)
            second.step()
        assert not second.desk.result().fills  # nothing re-sent
    finally:
        second.close()
    with EventStore.open(store) as events:
        runs = [r for r in events.runs() if r.run_id == "run-ccxt-live"]
        fills = [f.fill_id for r in runs for f in events.fills(r.ref)]
        orders = {o.client_order_id for r in runs for o in events.orders(r.ref)}
    assert len(fills) == len(set(fills)) == 1
    assert len(ex.orders) == len(orders) == 2  # the buy and the resting bid, once each


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("keep_signal_handlers")
def test_polytraders_live_venue_ccxt_runs_the_node_file(tmp_path: Path) -> None:
    """The entry point: ``polytraders live --venue ccxt --live --node FILE`` with the
    simulator's address in the node file and its key in the environment (the simulator
    replays by itself here, one depth event per 100 ms)."""
    with SimExchangeServer(SimExchangeSettings(replay_interval_ms=100), throwaway_key()) as sim:
        _cli_run(sim, tmp_path)


def _cli_run(sim: SimExchangeServer, tmp_path: Path) -> None:
    desk_file = tmp_path / "desk.toml"
    desk_file.write_text(
        f'[[strategies]]\nsource = "{Path(__file__).resolve()}:ScriptedTaker"\n'
        '[[risk]]\nid = "risk.killswitch"\n'
    )
    node_file = tmp_path / "node.toml"
    node_file.write_text(
        f'desk = "desk.toml"\n[venue]\napi_url = "{sim.url}"\npoll_interval_ms = 0\n'
        "[protective_stop]\nstop_distance_bps = 30\n"
    )
    store = str(tmp_path / "runs.sqlite")
    gov_dir = tmp_path / "governance"
    govern(store, gov_dir, DeskFile.load(desk_file))
    env = {"BINANCE_API_KEY": sim.api_key.key, "BINANCE_API_SECRET": sim.api_key.secret}
    args = [
        "live", "--venue", "ccxt", "--live", "--i-understand-this-trades-real-money",
        "--node", str(node_file), "--ws-url", sim.ws_url, "--duration-s", "3",
        "--out", str(tmp_path / "out"), "--run-id", "cli-ccxt", "--store", store,
        "--gov-dir", str(gov_dir), "--log-format", "console",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "reconciled: 0 open" in result.output
    assert sim.exchange.position.size == SIZE  # bought; the resting bid cancelled at the end
    assert not sim.exchange.open_orders() and len(sim.exchange.open_algo_orders()) == 1
    refused = CliRunner().invoke(app, [*args, "--markets", "x"], env=env)
    assert refused.exit_code == 2 and "--markets: not with --venue ccxt" in refused.output
