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
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import Field
from typer.testing import CliRunner, Result

from polytraders.backtest.desk_file import BotEntry, DeskFile
from polytraders.cli import app
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import (
    CcxtStartup,
    FundingRates,
    ProtectiveStops,
    build_ccxt_session,
)
from polytraders.contracts.config import BotConfig
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.ids import intent_id
from polytraders.contracts.protective_stop import ProtectiveStopAction
from polytraders.contracts.search_space import SearchSpace
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import SessionMemory
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import (
    AnyEvent,
    BookDelta,
    BookSnapshot,
    TradingState,
    TradingStateChanged,
)
from polytraders.model.orders import (
    IntentAction,
    OrderIntent,
    OrderStatus,
    Side,
    TimeInForce,
    VenueOrder,
)
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.engine import ExchangeSettings
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.config import CcxtVenueConfig
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.ccxt.stops import StopRequest
from polytraders.venues.ccxt.venue import CLOSED_ORDER_REPORT_S, CcxtVenue
from polytraders.venues.reconciliation import DriftLevel
from tests.fixture_strategy import FixtureStrategy
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


class ScriptedTaker(FixtureStrategy[ScriptedTakerConfig]):
    """Test fixture (module docstring)."""

    bot_id = "strat.test_scripted_taker"
    Config = ScriptedTakerConfig
    SEARCH_SPACE = SearchSpace(ScriptedTakerConfig)

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


def _desk(close_after_events: int, *risk: str) -> DeskFile:
    return DeskFile(
        strategies=[
            BotEntry(
                source=f"{Path(__file__).resolve()}:ScriptedTaker",
                config={"close_after_events": close_after_events},
            )
        ],
        risk=[BotEntry(id="risk.killswitch"), *(BotEntry(id=r) for r in risk)],
    )


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(), throwaway_key()) as server:
        yield server


def _start(
    sim: SimExchangeServer,
    store: str,
    close_after_events: int = 0,
    *,
    risk: tuple[str, ...] = (),
    orphan_policy: str = "cancel",
    funding_poll_interval_ms: int = 60_000,
) -> tuple[LiveSession, CcxtStartup]:
    node = CcxtNodeConfig.model_validate(
        {
            "desk": _desk(close_after_events, *risk),
            "venue": {"api_url": sim.url, "poll_interval_ms": 0},
            "protective_stop": {"stop_distance_bps": 30},
            "reconciliation": {"orphan_policy": orphan_policy},
            "funding_poll_interval_ms": funding_poll_interval_ms,
        }
    )
    session, startup = build_ccxt_session(
        run_id="run-ccxt-live",
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
    )
    assert startup.comparison.level is DriftLevel.OK
    return session, startup


def _session(sim: SimExchangeServer, store: str, close_after_events: int = 0) -> LiveSession:
    return _start(sim, store, close_after_events)[0]


def pump_until(
    session: LiveSession,
    sim: SimExchangeServer,
    done: Callable[[], bool],
    what: str = "the desk",
    *,
    replay: bool = True,
) -> None:
    """Step the desk (and the simulator's replay by one depth event each time, unless
    ``replay`` is False) until ``done()`` (30 s deadline)."""

    def stepped() -> bool:
        if replay:
            sim.step(1)
        session.step()
        return done()

    wait_until(stepped, 30, what)


def protective_stops(session: LiveSession) -> ProtectiveStops:
    """The session's protective-stop hook."""
    (hook,) = [h for h in session.after_step if isinstance(h, ProtectiveStops)]
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
    live = SessionMemory.live(CLOSED_ORDER_REPORT_S)  # a bounded past, as a Polymarket node
    assert session.desk.orders.retention == live.orders
    assert session.desk.state.ledger.equity_interval_ns == live.equity_interval_ns
    try:
        pump_until(session, sim, lambda: session.desk.state.ledger.position(TOKEN) is not None)
        position = session.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == SIZE == ex.position.size
        pump_until(session, sim, lambda: len(ex.open_algo_orders()) == 1)
        (stop,) = ex.open_algo_orders()
        assert (stop.side, stop.quantity, stop.reduce_only) == (Side.SELL, SIZE, True)
        assert len(ex.open_orders()) == 1  # the resting post-only bid
        pump_until(session, sim, lambda: protective_stops(session).synced.get(TOKEN) == SIZE)
        assert ex.position.size == SIZE  # still long: the sell comes after 150 book events
        pump_until(session, sim, lambda: ex.position.size == 0 and not ex.open_algo_orders())
        pump_until(session, sim, lambda: protective_stops(session).synced.get(TOKEN) == 0)
        position = session.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == 0
        assert len(session.desk.result().fills) == 2
    finally:
        session.close()
    assert not ex.open_orders()  # the clean shutdown cancelled the resting bid
    envelopes = _envelopes(store, "run-ccxt-live")
    codes = [c for e in envelopes for c in e.reason_codes]
    assert codes.count("SYS_CCXT_STOP_PLACED") == 1
    assert codes.count("SYS_CCXT_STOP_CANCELED") == 1
    # the evidence shows the protection itself: the stop the exchange held, then its cancel
    (placed,) = [e for e in envelopes if "SYS_CCXT_STOP_PLACED" in e.reason_codes]
    (canceled,) = [e for e in envelopes if "SYS_CCXT_STOP_CANCELED" in e.reason_codes]
    assert placed.output == ProtectiveStopAction(
        action="place",
        token_id=TOKEN,
        client_id=stop.client_algo_id,
        side="SELL",
        position_size=SIZE,
        stop_price=stop.trigger_price,
        size=SIZE,
        close_position=False,
        working_type=stop.working_type,
        outcome="new_stop",
    )
    assert placed.correlation_id == ""  # a stop is no intent (the output names it)
    with EventStore.open(store) as events:  # sound evidence: every correlation id resolves
        assert all(events.check_integrity(r.ref) == [] for r in events.runs())
    assert isinstance(canceled.output, ProtectiveStopAction)
    assert (canceled.output.action, canceled.output.client_id) == ("cancel", stop.client_algo_id)
    assert (canceled.output.stop_price, canceled.output.size) == (stop.trigger_price, SIZE)
    assert (canceled.output.position_size, canceled.output.outcome) == (0, "no_stop")


def test_kill_switch_cancels_orders_and_stops_at_the_exchange(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    session = _session(sim, str(tmp_path / "runs.sqlite"))
    ex = sim.exchange
    try:
        pump_until(session, sim, lambda: bool(ex.open_algo_orders()) and bool(ex.open_orders()))
        session.kill()
        pump_until(session, sim, lambda: not ex.open_orders() and not ex.open_algo_orders())
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
        pump_until(first, sim, lambda: protective_stops(first).synced.get(TOKEN) == SIZE)
    finally:
        first.close()
    (stop,) = ex.open_algo_orders()  # a clean stop keeps the long's protection
    assert not ex.open_orders() and ex.position.size == SIZE

    second = _session(sim, store)
    try:
        position = second.desk.state.ledger.position(TOKEN)
        assert position is not None and position.size == SIZE  # from the exchange
        pump_until(second, sim, lambda: protective_stops(second).synced.get(TOKEN) == SIZE)
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


def test_a_wall_clock_desk_sees_fresh_books_from_a_present_time_simulator(
    tmp_path: Path,
) -> None:
    """The simulator replays in present time; the session is on the wall clock (the default
    ``LiveClock``, as ``polytraders live`` runs): the books the desk holds are fresh, and
    ``risk.stalebookguard`` (the guarded desk file's settings) approves the taker's orders,
    which trade."""
    desk = DeskFile(
        strategies=[BotEntry(source=f"{Path(__file__).resolve()}:ScriptedTaker")],
        risk=[
            BotEntry(id="risk.killswitch"),
            BotEntry(
                id="risk.stalebookguard",
                config={
                    "max_book_age_ms": 2_000,
                    "warn_book_age_ms": 1_000,
                    "check_complement_book": False,
                },
            ),
        ],
    )
    store = str(tmp_path / "runs.sqlite")
    with SimExchangeServer(SimExchangeSettings(present_time=True), throwaway_key()) as sim:
        node = CcxtNodeConfig.model_validate(
            {"desk": desk, "venue": {"api_url": sim.url, "poll_interval_ms": 0}}
        )
        session, _ = build_ccxt_session(
            run_id="run-present-time",
            credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
            node=node,
            ws_url=sim.ws_url,
            keepalive=FAST,
            store_url=store,
        )
        ex = sim.exchange
        try:

            def bought() -> bool:
                session.step()
                return ex.position.size == SIZE

            wait_until(bought, 20, "the taker's buy to fill")
            book = session.desk.state.book(TOKEN)
            assert book is not None
            assert 0 <= time.time_ns() - book.last_update_ns < 2_000 * 1_000_000
        finally:
            session.close()
    envelopes = _envelopes(store, "run-present-time")
    guard = {e.correlation_id: e for e in envelopes if e.bot_id == "risk.stalebookguard"}
    routed = {e.correlation_id for e in envelopes if e.bot_id == "exec.smartrouter"}
    assert routed == set(guard) == {intent_id(ScriptedTaker.bot_id, n) for n in (1, 2)}
    assert all(e.decision is Decision.APPROVE for e in guard.values())
    codes = {c for e in envelopes for c in e.reason_codes}
    assert not codes & {"RISK_STALEBOOK_TOO_OLD", "RISK_KILLSWITCH_INPUT_INVALID"}


def live_ccxt_cli(
    sim: SimExchangeServer,
    tmp_path: Path,
    desk_toml: str,
    node_toml: str,
    run_id: str,
    duration_s: int,
    *more_args: str,
) -> tuple[Result, list[str], dict[str, str], str]:
    """``polytraders live --venue ccxt --live --node FILE`` against ``sim``: the desk file
    ``desk_toml`` (governed), the node file ``desk = "desk.toml"``, ``[venue]`` with the
    simulator's ``api_url`` and no poll interval, then ``node_toml`` (lines of the
    ``[venue]`` table, then other tables). Returns the CLI result, its arguments, its
    environment and the store."""
    desk_file = tmp_path / "desk.toml"
    desk_file.write_text(desk_toml)
    node_file = tmp_path / "node.toml"
    node_file.write_text(
        f'desk = "desk.toml"\n[venue]\napi_url = "{sim.url}"\npoll_interval_ms = 0\n{node_toml}'
    )
    store = str(tmp_path / "runs.sqlite")
    gov_dir = tmp_path / "governance"
    govern(store, gov_dir, DeskFile.load(desk_file))
    env = {"BINANCE_API_KEY": sim.api_key.key, "BINANCE_API_SECRET": sim.api_key.secret}
    args = [
        "live", "--venue", "ccxt", "--live", "--i-understand-this-trades-real-money",
        "--node", str(node_file), "--ws-url", sim.ws_url, "--duration-s", str(duration_s),
        "--out", str(tmp_path / "out"), "--run-id", run_id, "--store", store,
        "--gov-dir", str(gov_dir), "--log-format", "console", *more_args,
    ]  # fmt: skip
    return CliRunner().invoke(app, args, env=env), args, env, store


def _cli_run(sim: SimExchangeServer, tmp_path: Path) -> None:
    result, args, env, _ = live_ccxt_cli(
        sim,
        tmp_path,
        f'[[strategies]]\nsource = "{Path(__file__).resolve()}:ScriptedTaker"\n'
        '[[risk]]\nid = "risk.killswitch"\n'
        "[venue]\norder_latency_ms = 50\ncancel_latency_ms = 50\n",  # the paper venue's
        "[protective_stop]\nstop_distance_bps = 30\n",
        "cli-ccxt",
        3,
    )
    assert result.exit_code == 0, result.output
    assert "reconciled: 0 open" in result.output
    assert (
        "desk file: [venue] cancel_latency_ms, [venue] order_latency_ms configure the paper "
        "venue only (backtests, --paper): not used with --live"
    ) in result.output
    assert sim.exchange.position.size == SIZE  # bought; the resting bid cancelled at the end
    assert not sim.exchange.open_orders() and len(sim.exchange.open_algo_orders()) == 1
    refused = CliRunner().invoke(app, [*args, "--markets", "x"], env=env)
    assert refused.exit_code == 2 and "--markets: not with --venue ccxt" in refused.output


# ---------------------------------------------------------------------- orphan policy
def _operator_orders(sim: SimExchangeServer) -> tuple[str, str]:
    """Orders placed at the exchange behind the desk's back (another process, a person): a
    post-only bid far below the touch and a stop under the desk's long with a client id that
    is not the keeper's. Returns (the bid's order id, the stop's algo id)."""
    config = CcxtVenueConfig.model_validate({"api_url": sim.url, "poll_interval_ms": 0})
    credentials = ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret)
    operator = CcxtVenue.from_credentials(credentials, config)
    try:
        operator.load_markets()
        bid = sim.exchange.book.best_bid()
        assert bid is not None
        by_hand = VenueOrder(
            client_order_id="by-hand-bid",
            intent_id="by-hand",
            token_id=TOKEN,
            side=Side.BUY,
            price=bid * 850 // 1_000 // 100_000 * 100_000,
            size=SIZE,
            post_only=True,
        )
        operator.submit(by_hand, time.time_ns())
        placed = operator.order("by-hand-bid")
        assert placed is not None and placed.status is OrderStatus.ACCEPTED
        request = StopRequest(
            token_id=TOKEN,
            position_size=SIZE,
            stop_price=bid * 700 // 1_000 // 100_000 * 100_000,
            client_id="by-hand-stop",
        )
        outcome = operator.place_protective_stop(request, time.time_ns())
        assert outcome.stop is not None
        return placed.venue_order_id, outcome.stop.venue_order_id
    finally:
        operator.close()


def _long_with_its_stop(sim: SimExchangeServer, store: str) -> str:
    """A first session buys and leaves its long and protective stop (clean shutdown);
    returns the stop's client id."""
    first = _session(sim, store)
    try:
        pump_until(first, sim, lambda: protective_stops(first).synced.get(TOKEN) == SIZE)
    finally:
        first.close()
    (stop,) = sim.exchange.open_algo_orders()
    return stop.client_algo_id


def test_orphan_policy_cancel_cancels_unknown_orders_and_foreign_stops_keeps_the_desks(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    desks_stop = _long_with_its_stop(sim, store)
    bid_id, stop_id = _operator_orders(sim)
    assert len(ex.open_orders()) == 1 and len(ex.open_algo_orders()) == 2

    second, startup = _start(sim, store, orphan_policy="cancel")
    try:
        orphans = startup.orphans
        assert orphans.orders_canceled == [bid_id] and orphans.stops_canceled == [stop_id]
        assert orphans.adopted == []
        assert orphans.reason_codes == ["SYS_CCXT_ORPHAN_CANCELED"] * 2
        assert not ex.open_orders()
        assert [a.client_algo_id for a in ex.open_algo_orders()] == [desks_stop]
        assert not second.desk.state.open_orders()
        tracked = second.desk.state.orders["by-hand-bid"]
        assert tracked.status is OrderStatus.CANCELED  # known, so never sent again
    finally:
        second.close()
    with EventStore.open(store) as events:
        runs = [r for r in events.runs() if r.run_id == "run-ccxt-live"]
        rows = [o for o in events.orders(runs[-1].ref) if o.client_order_id == "by-hand-bid"]
    assert [o.status for o in rows] == [OrderStatus.CANCELED]


def test_orphan_policy_adopt_tracks_unknown_orders_and_leaves_stops(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    _long_with_its_stop(sim, store)
    bid_id, _stop_id = _operator_orders(sim)

    second, startup = _start(sim, store, orphan_policy="adopt")
    try:
        orphans = startup.orphans
        assert [o.venue_order_id for o in orphans.adopted] == [bid_id]
        assert orphans.orders_canceled == [] and orphans.stops_canceled == []
        assert orphans.reason_codes == ["SYS_CCXT_ORPHAN_ADOPTED"]
        assert [o.client_order_id for o in second.desk.state.open_orders()] == ["by-hand-bid"]
        assert len(ex.open_orders()) == 1 and len(ex.open_algo_orders()) == 2
    finally:
        second.close()
    assert not ex.open_orders()  # adopted: the desk's own, cancelled at its clean shutdown


# ---------------------------------------------------------------------- funding rates
@pytest.fixture
def high_funding_sim() -> Iterator[SimExchangeServer]:
    """The simulator serving a funding rate of 0.1 % per 8 h (1_000 ppm = 1_000_000 ppb),
    above risk.fundingguard's default threshold (750_000 ppb)."""
    settings = SimExchangeSettings(exchange=ExchangeSettings(funding_rate_ppm=1_000))
    with SimExchangeServer(settings, throwaway_key()) as server:
        yield server


def test_a_funding_rate_above_the_threshold_puts_the_desk_in_reducing(
    high_funding_sim: SimExchangeServer, tmp_path: Path
) -> None:
    sim = high_funding_sim
    store = str(tmp_path / "runs.sqlite")
    _long_with_its_stop(sim, store)  # a long: the paying side of a positive rate
    session, _ = _start(sim, store, risk=("risk.fundingguard",), funding_poll_interval_ms=200)
    (funding,) = [h for h in session.after_step if isinstance(h, FundingRates)]
    try:
        state = session.desk.state
        assert state.trading_state is TradingState.ACTIVE
        assert state.funding_rate_ppb(TOKEN) == 1_000_000  # read at start-up
        pump_until(session, sim, lambda: state.trading_state is TradingState.REDUCING)
        (change,) = [e for e in session.desk.desk_events if isinstance(e, TradingStateChanged)]
        assert (change.new_state, change.reason_code, change.source) == (
            TradingState.REDUCING,
            "RISK_FUNDING_REDUCING",
            "risk.fundingguard",
        )
        pump_until(session, sim, lambda: funding.received >= 2)  # polled on the worker
        assert state.funding_rate_ppb(TOKEN) == 1_000_000
    finally:
        session.close()
    guard = [e for e in _envelopes(store, "run-ccxt-live") if e.bot_id == "risk.fundingguard"]
    reducing = [e for e in guard if "RISK_FUNDING_REDUCING" in e.reason_codes]
    assert reducing and all(e.decision is Decision.REDUCE for e in reducing)


# ---------------------------------------------------------------------- a triggered stop
def test_a_stop_triggered_at_the_exchange_is_booked_once_and_survives_a_restart(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    store = str(tmp_path / "runs.sqlite")
    ex = sim.exchange
    session = _session(sim, store)
    try:
        pump_until(session, sim, lambda: protective_stops(session).synced.get(TOKEN) == SIZE)
        (stop,) = ex.open_algo_orders()

        def through_the_stop() -> bool:
            assert sim.step(20)["applied"], "the recording ended first"
            session.step()
            position = session.desk.state.ledger.position(TOKEN)
            return position is not None and position.size == 0

        wait_until(through_the_stop, 60, "the stop to trigger and the desk to learn it")
        assert stop.status == "FINISHED" and ex.position.size == 0
        pump_until(session, sim, lambda: len(protective_stops(session).triggered) == 1)
        (triggered,) = protective_stops(session).triggered
        assert triggered.venue_order_id == str(stop.actual_order_id)
        assert (triggered.side, triggered.filled_size) == (Side.SELL, SIZE)
        pump_until(session, sim, lambda: protective_stops(session).synced.get(TOKEN) == 0)
        session.reconcile(session.desk.clock.now_ns())
        pump_until(session, sim, lambda: len(session.reconciliations) == 2)
        (_, periodic) = session.reconciliations[-1]
        assert periodic.level is DriftLevel.OK
        assert session.desk.state.trading_state is TradingState.ACTIVE
        assert not ex.open_algo_orders()
    finally:
        session.close()
    codes = [c for e in _envelopes(store, "run-ccxt-live") for c in e.reason_codes]
    assert codes.count("SYS_CCXT_STOP_PLACED") == 1  # nothing placed after the trigger
    assert codes.count("SYS_CCXT_STOP_TRIGGERED") == 1
    assert "SYS_CCXT_POSITION_UNPROTECTED" not in codes

    restarted = _session(sim, store)
    try:
        position = restarted.desk.state.ledger.position(TOKEN)
        assert position is None or position.size == 0
        for _ in range(10):
            sim.step(1)
            restarted.step()
    finally:
        restarted.close()
    with EventStore.open(store) as events:
        runs = [r for r in events.runs() if r.run_id == "run-ccxt-live"]
        fills = [f for r in runs for f in events.fills(r.ref)]
        orders = {o.client_order_id for r in runs for o in events.orders(r.ref)}
        # sound evidence: the trigger's envelope names the adopted order's intent
        assert [p for r in runs for p in events.check_integrity(r.ref)] == []
    ids = [f.fill_id for f in fills]
    assert len(ids) == len(set(ids))  # each fill once, across the restart
    closing = [f for f in fills if f.client_order_id == triggered.client_order_id]
    assert sum(f.size for f in closing) == SIZE and triggered.client_order_id in orders
