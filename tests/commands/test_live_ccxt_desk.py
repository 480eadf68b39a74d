"""The guarded crypto desk file itself, ``examples/desk_binance_guarded.toml`` — the file the
Binance backtests run, unchanged — as a live desk against the Binance USDⓈ-M simulator
through the real ccxt client (issue 21): ``strat.ema_cross`` warms up and enters through
``exec.smartrouter``, the four crypto guards decide on its intents, the fill makes a position
at the exchange with its protective stop, then the kill switch cancels everything at the
exchange and ``exec.twap`` (the file's ``kill_switch_unwind = "twap"``) unwinds the position in
reduce-only children until the exchange is flat; the switch stays tripped until reset.

**Clock.** The strategy's bars are cut from the book events' times (``E`` of the depth
stream), which the simulator replays from the recording (2024-08-08), while the guards compare
those times with the desk's clock (``risk.stalebookguard``: book age at most 2 s;
``risk.killswitch``: feed receive times not in the future). On the wall clock every order would
be refused as a stale book, and the simulator's present-time replay (the CLI's way,
docs/ccxt_venue.md) takes the recording's own 345 s (the warm-up alone is 16 bars of 5 s). So
the session runs on :class:`ReplayClock`, a test clock
that follows the simulator's replay (``build_ccxt_session(clock=...)``: the desk, the venue
worker and the feed's receive times), and the simulator keeps the replay's time too
(``SimExchangeSettings(replay_clock=True)``: orders and trades stamped in the recording's
time). Each round replays the next 20 depth events (about 1 s of the recording), the clock
following them event by event, and steps the desk until it has the last one's book and the
venue worker has run everything asked of it (orders, cancels, protective stop syncs); past
the recording's end the clock moves 1 s a round. Every wait is a polled deadline
(:func:`tests.waiting.wait_until`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.commands.live import LiveSession
from polytraders.commands.live_ccxt import ProtectiveStops, build_ccxt_session
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.model.events import OperatorCommand, TradingState
from polytraders.model.orders import Side
from polytraders.node.config import CcxtNodeConfig
from polytraders.simexchange.matching import CLIENT_ID_RANGE
from polytraders.simexchange.server import SimExchangeServer, SimExchangeSettings, throwaway_key
from polytraders.store.event_store import EventStore
from polytraders.venues.ccxt.credentials import ApiKeyCredentials
from polytraders.venues.reconciliation import DriftLevel
from tests.commands.test_live_ccxt import FAST
from tests.waiting import wait_until

DESK_FILE = Path(__file__).resolve().parents[2] / "examples/desk_binance_guarded.toml"
TOKEN = "binance-usdm:BTCUSDT"
RUN_ID = "run-guarded-desk"
CRYPTO_GUARDS = ("risk.leverageguard", "risk.marginguard", "risk.fundingguard",
                 "risk.netexposureguard")  # fmt: skip
STEP_EVENTS = 20
"""Depth events replayed per round (about a second of the recording)."""
MS = 1_000_000
S = 1_000 * MS


class ReplayClock:
    """A live (unsimulated) desk clock following the replay: the test moves it to the start
    of each replayed batch, and each market event the desk takes moves it to that event's
    time (every time the desk reads is the replay's: depth ``E``, the exchange's stamps, the
    receive stamps); it never goes back."""

    simulated = False

    def __init__(self, start_ns: int) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        """The time last set (read by the desk, the venue worker and the feed threads)."""
        return self._now_ns

    def observe(self, ts_event_ns: int) -> int:
        """The desk acts at the event's time (or now, for an older event)."""
        self.advance_to(ts_event_ns)
        return self._now_ns

    def advance_to(self, ts_ns: int) -> None:
        """Move to ``ts_ns`` (an earlier time leaves the clock where it is)."""
        self._now_ns = max(self._now_ns, ts_ns)


class Driver:
    """The session, the simulator and the clock, stepped together (module docstring)."""

    def __init__(self, session: LiveSession, sim: SimExchangeServer, clock: ReplayClock) -> None:
        self.session = session
        self.sim = sim
        self.clock = clock
        (self.stops,) = [h for h in session.after_step if isinstance(h, ProtectiveStops)]

    def _settle(self, book_ns: int) -> None:
        """Step the desk until it has the book of ``book_ns`` and the venue worker has run
        everything asked of it so far (orders, cancels, protective stop syncs: a no-op call
        queued behind them came back)."""
        session = self.session
        worker = session.worker
        assert worker is not None
        barrier: list[object] = []

        def caught_up() -> bool:
            session.step()
            book = session.desk.state.book(TOKEN)
            return book is not None and book.last_update_ns >= book_ns

        wait_until(caught_up, 10, "the desk to receive the replayed book")
        worker.call(lambda venue: None, barrier.append)

        def worker_done() -> bool:
            session.step()
            return bool(barrier)

        wait_until(worker_done, 10, "the venue worker to finish its work")

    def round(self) -> None:
        """Replay the next depth events and settle the desk on them (past the recording's
        end: move the clock 1 s and settle)."""
        ex = self.sim.exchange
        steps = ex.recording.steps
        count = min(STEP_EVENTS, len(steps) - ex.cursor)
        if not count:
            self.clock.advance_to(self.clock.now_ns() + S)
            self._settle(0)
            return
        self.clock.advance_to(steps[ex.cursor].depth.ts_event_ns)
        last_ns = steps[ex.cursor + count - 1].depth.ts_event_ns
        self.sim.step(count)
        self._settle(last_ns)

    def until(self, done: Callable[[], bool], what: str, *, rounds: int) -> None:
        """Rounds until ``done()`` (at most ``rounds``)."""
        for _ in range(rounds):
            if done():
                return
            self.round()
        assert done(), f"{what}: not after {rounds} rounds"


@pytest.fixture
def sim() -> Iterator[SimExchangeServer]:
    with SimExchangeServer(SimExchangeSettings(replay_clock=True), throwaway_key()) as server:
        yield server


def _envelopes(store: str) -> list[ReportEnvelope]:
    with EventStore.open(store) as events:
        runs = [r for r in events.runs() if r.run_id == RUN_ID]
        return [e for r in runs for e in events.envelopes(r.ref)]


def test_the_guarded_desk_file_trades_is_killed_and_unwinds_by_twap_at_the_exchange(
    sim: SimExchangeServer, tmp_path: Path
) -> None:
    ex = sim.exchange
    desk_file = DeskFile.load(DESK_FILE)  # the backtests' file, as it is
    node = CcxtNodeConfig.model_validate(
        {"desk": desk_file, "venue": {"api_url": sim.url, "poll_interval_ms": 0}}
    )
    assert node.desk.config_version == desk_file.config_version
    clock = ReplayClock(ex.last_event_ms * MS)
    store = str(tmp_path / "runs.sqlite")
    session, startup = build_ccxt_session(
        run_id=RUN_ID,
        credentials=ApiKeyCredentials(api_key=sim.api_key.key, api_secret=sim.api_key.secret),
        node=node,
        ws_url=sim.ws_url,
        keepalive=FAST,
        store_url=store,
        clock=clock,
    )
    assert startup.comparison.level is DriftLevel.OK
    drive = Driver(session, sim, clock)
    state = session.desk.state
    try:
        # warm-up (16 bars of 5 s), the entry, its fill and the stop at the exchange
        drive.until(
            lambda: ex.position.size != 0 and drive.stops.synced.get(TOKEN) == ex.position.size,
            "a position protected at the exchange",
            rounds=700,
        )
        held = ex.position.size
        position = state.ledger.position(TOKEN)
        assert position is not None and position.size == held
        (stop,) = ex.open_algo_orders()
        assert stop.quantity == abs(held) and stop.reduce_only
        assert stop.side is (Side.SELL if held > 0 else Side.BUY)

        session.kill()
        assert state.kill_switch_tripped and state.trading_state is TradingState.HALTED
        drive.until(
            lambda: not ex.open_algo_orders() and not ex.open_orders(),
            "everything cancelled at the exchange",
            rounds=3,
        )
        drive.until(lambda: ex.position.size == 0, "the unwind to flatten the exchange",
                    rounds=200)  # fmt: skip
        assert state.kill_switch_tripped and state.trading_state is TradingState.HALTED
        assert not ex.open_algo_orders()  # the keeper leaves a tripped desk alone
        for _ in range(5):
            drive.round()
        assert state.kill_switch_tripped  # stays tripped: only an operator resets it
        session.desk.operator(
            OperatorCommand(
                ts_event_ns=state.now_ns,
                ts_recv_ns=state.now_ns,
                command="reset_kill_switch",
                operator="test",
            )
        )
        assert not state.kill_switch_tripped
    finally:
        session.close()

    wire_ids = [o.client_order_id for o in ex.orders.values()]
    wire_ids += [a.client_algo_id for a in ex.algo_orders.values()]
    assert all(re.fullmatch(CLIENT_ID_RANGE[1:-1], cid) for cid in wire_ids), wire_ids
    unwind = [o for o in ex.orders.values() if o.client_order_id.startswith("desk/u")]
    slices = desk_file.desk.unwind_slice_count
    lot = ex.instrument.size_increment
    assert 1 < len(unwind) <= min(slices, abs(held) // lot)
    assert all(o.reduce_only and o.time_in_force == "IOC" for o in unwind)
    assert sum(o.executed_qty for o in unwind) == abs(held)

    envelopes = _envelopes(store)
    (start,) = [e for e in envelopes if "SYS_UNWIND_STARTED" in e.reason_codes]
    assert any("SYS_UNWIND_DONE" in e.reason_codes for e in envelopes)
    released = [e.ts_event_ns for e in envelopes if "EXEC_TWAP_CHILD_ROUTED" in e.reason_codes]
    spacing_ns = desk_file.desk.unwind_duration_s * S // len(unwind)
    for k, ts_ns in enumerate(released):  # child k is due k spacings after the trip
        assert 0 <= ts_ns - (start.ts_event_ns + k * spacing_ns) < S, (k, released)
    strategy = [e for e in envelopes if e.bot_id == "strat.ema_cross"]
    assert any("STRAT_EMA_WARMING_UP" in e.reason_codes for e in strategy)
    entries = {e.correlation_id for e in envelopes if e.bot_id == "exec.smartrouter"}
    assert entries and all(i.startswith("strat.ema_cross/") for i in entries)
    for guard in CRYPTO_GUARDS:
        decided = {e.correlation_id for e in envelopes if e.bot_id == guard}
        assert entries <= decided, guard  # every routed intent passed each crypto guard
    routed = [e for e in envelopes if e.bot_id == "exec.smartrouter"]
    assert all(e.decision is Decision.ROUTE for e in routed)
    codes = [c for e in envelopes for c in e.reason_codes]
    assert codes.count("SYS_CCXT_STOP_PLACED") >= 1
    assert "SYS_CCXT_POSITION_UNPROTECTED" not in codes
    assert len(released) == len(unwind)
