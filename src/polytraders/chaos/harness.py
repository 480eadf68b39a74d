"""What every chaos scenario shares: the simulator with a throwaway account, the desk under test
as a live session against it through the real :class:`~polytraders.venues.polymarket.venue.
PolymarketVenue`, the written checks (:class:`Judge`), and the readings the checks take from
the simulator and the desk.

A scenario never sleeps against a window: every wait is a condition polled with a deadline
(:meth:`LiveDesk.pump`, :meth:`LiveDesk.wait`), replaying the simulator's recorded market and
stepping the desk between polls, as the end-to-end tests do. The poll interval
(:data:`POLL_S`) only lets the websockets deliver; no outcome depends on it.

The session is built by :func:`polytraders.commands.live.build_live_session` (the live desk of
``polytraders live --live``; the only upward import of this engine package: the live node
loop lives in the command module), recording to the given event store under the scenario's
run id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polytraders.backtest.desk_file import DeskFile
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.sinks import MemorySink
from polytraders.model.events import TradingState
from polytraders.model.orders import IntentAction, OrderStatus, VenueOrder
from polytraders.store.chaos_runs import ChaosBot, ChaosCheck

if TYPE_CHECKING:
    from polytraders.commands.live import LiveSession
    from polytraders.simclob.engine import Account
    from polytraders.simclob.server import SimClobServer
    from polytraders.venues.polymarket.reconcile import ReconcileReport

POLL_S = 0.02
"""Pause between polls of a condition (lets the websockets deliver; never a window)."""

DEFAULT_TIMEOUT_S = 30.0
"""Deadline of each wait of a scenario (s): generous for a shared 2-core machine; a desk that
does what the check asks meets it in well under a second to a few seconds."""


ORDERS_RESTING = (
    "precondition: the desk has orders resting at the venue, acknowledged (the desk knows them)"
)
"""The criterion every scenario starts from (``orders_open_before_fault``)."""


class ScenarioStoppedError(Exception):
    """A scenario could not go on: a precondition check failed (it is recorded) or the
    desk could not be started; the checks not measured yet are recorded as failed."""


@dataclass
class Judge:
    """The written pass criteria of one scenario and what the run measured.

    ``criteria`` maps each check's name to its criterion in words, in the order they are
    reported. A check not measured by the end (the scenario stopped) is failed with the
    reason; a check is never passed by default.
    """

    criteria: Mapping[str, str]
    measured: dict[str, ChaosCheck] = field(default_factory=dict)

    def record(self, name: str, passed: bool, value: str) -> bool:
        """Record check ``name`` (one of :attr:`criteria`) as measured; returns ``passed``.

        Raises:
            KeyError: ``name`` is not a criterion of the scenario (a programming error).
        """
        criterion = self.criteria[name]
        self.measured[name] = ChaosCheck(
            name=name, passed=bool(passed), value=value, criterion=criterion
        )
        return bool(passed)

    def require(self, name: str, passed: bool, value: str) -> None:
        """Record a precondition; stop the scenario when it failed.

        Raises:
            ScenarioStoppedError: ``passed`` is False.
        """
        if not self.record(name, passed, value):
            raise ScenarioStoppedError(f"{name}: {value}")

    def checks(self, stopped: str = "") -> list[ChaosCheck]:
        """Every check in criterion order; one not measured is failed, its value saying
        why (``stopped``: where the scenario stopped)."""
        why = f"not measured: the scenario stopped ({stopped})" if stopped else "not measured"
        return [
            self.measured.get(name)
            or ChaosCheck(name=name, passed=False, value=why, criterion=criterion)
            for name, criterion in self.criteria.items()
        ]


def desk_bots(desk: DeskFile) -> list[ChaosBot]:
    """Every bot of ``desk`` (STUB entries included) with its mode and config version."""
    bots: list[ChaosBot] = []
    for entry in (*desk.strategies, *desk.risk, *desk.execution):
        cls = desk.bot_class(entry)
        bots.append(
            ChaosBot(
                bot_id=cls.bot_id,
                mode=entry.mode.value,
                config_version=cls.Config(**entry.config).config_version,
            )
        )
    return bots


@dataclass(frozen=True)
class SimWindows:
    """The venue's timing in a scenario (ms): the simulator's dead-man window, and the venue
    adapter's heartbeat interval and lapse window (its window must not exceed the
    simulator's, or the desk would learn the lapse after the venue acted)."""

    dead_man_ms: int = 10_000
    heartbeat_interval_ms: int = 300
    heartbeat_timeout_ms: int = 10_000
    post_only_after_restart_ms: int = 120_000
    reconciliation_interval_s: int = 5


@dataclass
class LiveDesk:
    """The desk under test trading live against a simulator it owns.

    Use as a context manager: the simulator (one recorded market, books stamped with the
    wall clock, trades confirmed after 100 ms) starts with a fresh throwaway signer key; the
    desk session is started with :meth:`start` (again after :meth:`crash`, resuming the run
    from the store as a restarted process would); leaving closes the session gracefully
    (cancel all, run ended) and stops the simulator.

    Attributes:
        desk: the desk file under test.
        store_url: the event store the desk records into.
        run_id: the desk's run id there.
        windows: the venue's timing.
        timeout_s: deadline of each wait.
    """

    desk: DeskFile
    store_url: str
    run_id: str
    windows: SimWindows = field(default_factory=SimWindows)
    timeout_s: float = DEFAULT_TIMEOUT_S
    sim: SimClobServer = field(init=False)
    envelopes: list[ReportEnvelope] = field(init=False, default_factory=list)
    """Every envelope the desk recorded, across restarts, in order."""
    run_refs: list[str] = field(init=False, default_factory=list)
    """The store attempts the desk recorded into (``RUN_ID@N``), each once."""
    _key: str = field(init=False, default="")
    _account: Account | None = field(init=False, default=None)
    _session: LiveSession | None = field(init=False, default=None)
    _sink: MemorySink | None = field(init=False, default=None)

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> LiveDesk:
        from polytraders.commands.live import DESK_BUILDER
        from polytraders.simclob.server import (
            SimClobServer,
            SimSettings,
            account_for_key,
            throwaway_key,
        )

        self._key = throwaway_key()
        self._account = account_for_key(self._key, builder_code=DESK_BUILDER)
        settings = SimSettings(
            limit_markets=1,
            restamp=True,
            heartbeat_timeout_ms=self.windows.dead_man_ms,
            confirm_ms=100,
        )
        self.sim = SimClobServer(settings, self._account).start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.close()
        finally:
            self.sim.stop()

    def start(self) -> ReconcileReport:
        """Start (or, after :meth:`crash`, restart) the desk session: markets, compliance
        checks, the start-up reconciliation with the venue and the store, the feeds.

        Raises:
            ScenarioStoppedError: the session could not be started (the error's text).
        """
        from polytraders.commands.live import build_live_session
        from polytraders.feeds.live.connection import KeepaliveConfig
        from polytraders.node.config import LiveNodeConfig
        from polytraders.simclob.server import credentials_for
        from polytraders.venues.polymarket.config import PolymarketVenueConfig
        from polytraders.venues.reconciliation import ReconciliationConfig

        if self._session is not None:
            raise RuntimeError("the desk session is already running")
        assert self._account is not None, "use LiveDesk as a context manager"
        w = self.windows
        node = LiveNodeConfig(
            desk=self.desk,
            venue=PolymarketVenueConfig(
                clob_url=self.sim.url,
                heartbeat_interval_ms=w.heartbeat_interval_ms,
                heartbeat_timeout_ms=w.heartbeat_timeout_ms,
                post_only_after_restart_ms=w.post_only_after_restart_ms,
                trades_poll_ms=300,
            ),
            reconciliation=ReconciliationConfig(interval_s=w.reconciliation_interval_s),
        )
        market_id = next(iter(self.sim.exchange.tokens.values())).market_id
        sink = MemorySink()
        try:
            session, report = build_live_session(
                run_id=self.run_id,
                credentials=credentials_for(self._key, self._account),
                markets_ids=[market_id],
                node=node,
                ws_url=self.sim.ws_url + "/ws/market",
                user_ws_url=self.sim.ws_url + "/ws/user",
                keepalive=KeepaliveConfig(
                    ping_interval_ms=200,
                    pong_timeout_ms=1_000,
                    reconnect_initial_ms=50,
                    reconnect_max_ms=500,
                ),
                store_url=self.store_url,
                sinks=(sink,),
            )
        except Exception as exc:  # the desk under test did not start: a failed scenario
            raise ScenarioStoppedError(f"the desk session did not start: {exc}") from exc
        self._session, self._sink = session, sink
        recording = session.recording
        if recording is not None and recording.run is not None:
            ref = str(recording.run)
            if ref not in self.run_refs:
                self.run_refs.append(ref)
        return report

    @property
    def session(self) -> LiveSession:
        """The running desk session.

        Raises:
            RuntimeError: none is running.
        """
        if self._session is None:
            raise RuntimeError("no desk session is running")
        return self._session

    def _collect(self) -> None:
        if self._sink is not None:
            self.envelopes.extend(self._sink.envelopes)
            self._sink.clear()

    def crash(self) -> None:
        """End the session as a killed process would: nothing cancelled, nothing more sent
        (what the venue worker still had queued is dropped), the store attempt left RUNNING
        for the restart to resume."""
        session = self.session
        self._collect()
        self._session = self._sink = None
        session.close(cancel_open_orders=False)

    def close(self) -> None:
        """Stop the session gracefully (cancel all, trades synced, the run ended); no-op when
        none runs."""
        if self._session is None:
            return
        session = self._session
        self._session = None
        try:
            session.close()
        finally:
            self._collect()
            self._sink = None

    # ------------------------------------------------------------------ driving
    def pump(
        self, done: Callable[[], bool], timeout_s: float | None = None, *, replay: int = 1
    ) -> bool:
        """Replay ``replay`` recorded snapshots and step the desk until ``done()``; True when
        it held before the deadline (``timeout_s``, default :attr:`timeout_s`)."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while not done():
            if time.monotonic() >= deadline:
                return False
            if replay:
                self.sim.step(replay)
            time.sleep(POLL_S)
            self.step()
        return True

    def wait(self, done: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Step the desk without replaying the market until ``done()``; True when it held
        before the deadline."""
        return self.pump(done, timeout_s, replay=0)

    def step(self) -> None:
        """One step of the desk session; its envelopes are collected."""
        self.session.step()
        self._collect()

    # ------------------------------------------------------------------ readings
    def sim_counter(self, name: str) -> int:
        """A counter of ``GET /sim/state`` (or of its ``stats``), 0 when absent."""
        state = self.sim.sim_state()
        value = state.get(name, state["stats"].get(name, 0))
        return int(value)

    def venue_live(self) -> dict[str, dict[str, Any]]:
        """The account's orders LIVE at the simulator, by lower-case order hash."""
        return {o["id"].lower(): o for o in self.sim.sim_orders() if o["status"] == "LIVE"}

    def venue_order_ids(self) -> set[str]:
        """Every order hash the simulator ever accepted for the account (lower case)."""
        return {o["id"].lower() for o in self.sim.sim_orders()}

    def desk_open(self) -> dict[str, VenueOrder]:
        """The orders the desk believes open, by lower-case order hash (a pending order the
        venue has not acknowledged yet by its client id)."""
        return {
            (o.venue_order_id or o.client_order_id).lower(): o
            for o in self.session.desk.state.orders.values()
            if o.status.is_open
        }

    def require_orders_open(self, judge: Judge) -> None:
        """The precondition every scenario starts from: run the desk until it has an order
        resting at the venue (``orders_open_before_fault``).

        Raises:
            ScenarioStoppedError: none by the deadline.
        """
        quoting = self.pump(lambda: self.resting_order() is not None)
        judge.require(
            "orders_open_before_fault",
            quoting,
            f"{len(self.venue_live())} live at the venue, "
            f"{self.sim_counter('orders_total')} posted",
        )

    def record_trading_resumed(self, judge: Judge) -> None:
        """``trading_resumed``: the desk places a new order the venue accepts and is neither
        halted nor reporting a halt."""
        before = self.sim_counter("orders_total")
        resumed = self.pump(
            lambda: self.sim_counter("orders_total") > before and bool(self.venue_live())
        )
        judge.record(
            "trading_resumed",
            resumed and not self.halted() and not self.session.halts,
            f"{self.sim_counter('orders_total') - before} new order(s); {self.trading_summary()}",
        )

    def resting_order(self) -> dict[str, Any] | None:
        """One of the desk's own resting orders: live at the simulator (a row of
        :meth:`venue_live`) and believed open by the desk; None when there is none."""
        believed = self.desk_open()
        return next((o for key, o in self.venue_live().items() if key in believed), None)

    def pending(self) -> int:
        """Orders the desk handed on and the venue has not answered yet (PENDING_NEW)."""
        return sum(
            1
            for o in self.session.desk.state.orders.values()
            if o.status is OrderStatus.PENDING_NEW
        )

    def orders_agree(self) -> bool:
        """The desk's open orders are exactly the simulator's live ones."""
        return set(self.desk_open()) == set(self.venue_live())

    def agreement(self) -> str:
        """The measured difference between the desk's open orders and the venue's live ones."""
        desk, venue = set(self.desk_open()), set(self.venue_live())
        return (
            f"desk believes {len(desk)} open, venue holds {len(venue)} live; "
            f"{len(desk - venue)} believed but not live, {len(venue - desk)} live but untracked"
        )

    def desk_fill_ids(self) -> list[str]:
        """Every fill id the desk booked (and kept), in order."""
        return [f.fill_id for f in self.session.desk.orders.fills]

    def tokens(self) -> list[str]:
        """The simulator's token ids (sorted)."""
        return sorted(self.sim.exchange.tokens)

    def halted(self) -> bool:
        """The desk is HALTED or its kill switch tripped."""
        state = self.session.desk.state
        return state.kill_switch_tripped or state.trading_state is TradingState.HALTED

    def trading_summary(self) -> str:
        """Trading state, kill switch and venue halts of the desk, as text."""
        state = self.session.desk.state
        return (
            f"trading state {state.trading_state.value}, kill switch "
            f"{'TRIPPED' if state.kill_switch_tripped else 'armed'}, venue halts "
            f"{self.session.halts or 'none'}"
        )

    def cross(self, order: Mapping[str, Any]) -> str:
        """Make another participant trade through our resting ``order`` (a row of
        :meth:`venue_live`): the simulator's ``trade_through`` sweeps the external levels
        priced better than it and fills it as a maker at its price. Returns the trade id."""
        answer = self.sim.control("trade_through", order_id=order["id"])
        return str(answer["trade_id"])

    # ------------------------------------------------------------------ envelopes
    def envelopes_since(self, ts_ns: int) -> list[ReportEnvelope]:
        """Envelopes decided at or after ``ts_ns`` (desk clock, ns), collected so far."""
        if self._sink is not None:
            self._collect()
        return [e for e in self.envelopes if e.ts_decided_ns >= ts_ns]


def exposure_attempts(envelopes: Iterable[ReportEnvelope]) -> int:
    """How many PLACE/REPLACE intents ENFORCED strategies proposed in ``envelopes``."""
    return sum(
        1
        for e in envelopes
        if e.bot_class is BotClass.STRATEGY
        and e.mode is Mode.ENFORCED
        and e.decision is Decision.PROPOSE
        and isinstance(e.output, Proposal)
        for intent in e.output.intents
        if intent.action in (IntentAction.PLACE, IntentAction.REPLACE)
    )


def codes_seen(envelopes: Iterable[ReportEnvelope], wanted: Iterable[str]) -> dict[str, int]:
    """How often each code of ``wanted`` appears in ``envelopes``' reason codes."""
    want = set(wanted)
    counts: dict[str, int] = {}
    for envelope in envelopes:
        for code in envelope.reason_codes:
            if code in want:
                counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))
