"""``Desk``: the single-threaded, deterministic event loop (DESIGN.md "The desk").

For each input event, in this order:

0. Timers due at or before the event's time fire first, in time order (simulated clock; under
   a live clock, those due now). A timer added with :meth:`Desk.add_timer` is a ``Timer``
   event processed like any other. A **monitor timer** (one per risk bot with a monitor step,
   every ``Config.monitor_interval_ms`` of desk time from the first event or tick, named
   ``monitor:<bot id>``) instead asks that bot's ``monitor(view)`` at the timer's time and
   records and applies its finding (:mod:`polytraders.desk.monitors`): no strategy sees it,
   the venue is not advanced, equity is not marked, and it is not counted in
   ``events_processed``. **Children** of routed intents (TWAP slices) due by then are released
   in the same time order (a timer first on a tie; rules: :mod:`polytraders.desk.children`).
1. **Update state.** The clock moves to the event (simulated: its ``ts_event_ns``; live: now).
   First the venue is advanced to now and its events (acks, rejections, cancels, expiries,
   fills, perpetuals' funding payments: things that happened before this event) plus the
   order manager's local refusals update orders and the ledger; each funding payment booked
   (once per venue payment id) is recorded as a desk envelope (decision BOOK,
   ``SYS_FUNDING_SETTLED``, output the payment). Then a market event updates books, tick
   sizes, stale flags and market status (a RESOLVED market settles our positions in the
   ledger) and is handed to the venue (a simulated venue matches on it); an
   ``OperatorCommand`` is applied (see :meth:`Desk.operator`); a venue event given as input is
   applied to orders. The venue events this caused are collected the same way.
2. **Strategies propose.** Every running strategy bot sees, in time order, the venue events from
   before the event, the event, then the venue events it caused; ENFORCED bots' intents go on.
3. **Risk chain** (:class:`~polytraders.desk.risk_chain.RiskChain`) for each intent in order;
   a desk with a shadow (:class:`~polytraders.desk.shadow_chain.ShadowChain`) first has the
   candidate's chain decide on the same intent, recorded in its own sink, never applied.
4. **Execution** routes each approved intent (:class:`~polytraders.desk.execution.ExecutionRunner`);
   the **order manager** (:class:`~polytraders.desk.orders.OrderManager`) applies
   cancel-before-place, the rate limit and deterministic client order ids, and sends to the
   venue.
5. Ack time-outs are checked; a tripped kill switch cancels every open order at the venue
   (once per trip); a strategy quarantined from ENFORCED has its quotes stopped (its open
   orders cancelled at the venue through the order manager, once, kept in
   :attr:`Desk.quarantines` with every other quarantine); equity is marked to mid.
6. Every decision became an envelope in the sink (with a running SHA-256 of the timeline).

**Determinism.** Under a :class:`~polytraders.desk.clock.SimClock`, the same events, bots,
configs and seeds give byte-identical envelope timelines and results: ids derive from
(run id, sequence), latencies in envelopes are modelled, and nothing reads the wall clock.
Under a :class:`~polytraders.desk.clock.LiveClock` every bot call is timed in thread CPU time
(envelope ``latency_ns`` and the slot's budget: the bot, not the machine, is measured).

**Kill switch.** Tripped by a HALT (from an intent decision or a monitor finding) of a risk bot
holding the ``KILL_SWITCH`` capability (``risk.killswitch``), an operator ``kill`` command, or
:meth:`Desk.trip_kill_switch` (a fatal desk condition): every open order is cancelled at the
venue, a ``KillSwitchTripped`` event is recorded, the state is HALTED, and it stays so until an
operator ``reset_kill_switch`` followed by ``set_trading_state``. With
``DeskConfig.kill_switch_unwind = "twap"`` the desk then unwinds every position through its
unwind bot (``exec.twap``), the only orders allowed while tripped (:mod:`polytraders.desk.unwind`).

**MetaAllocator** (``DeskConfig.allocator``, :mod:`polytraders.desk.allocator`): at the first
event or tick the initial allocation is recorded (a desk envelope, decision ``ALLOCATE``); its
budget check runs in the risk chain after the desk's gate; every fill booked or reverted is
attributed to its strategy; an ``allocator`` timer every ``check_interval_s`` (no strategy
sees it) samples PnL and may reallocate; operator commands freeze, unfreeze or reset it. Each
allocation is written to the checkpoint rows at once. A restarted desk is given its
:class:`~polytraders.desk.allocator.AllocatorRestore` (``allocator_restore``: the allocation in
force from the checkpoint, the run's recorded fills): at its first event or tick it records the
restored allocation (``SYS_ALLOCATOR_RESTORED``, with ``SYS_ALLOCATOR_UNATTRIBUTED`` when the
strategies' attributed positions differ from the desk's; each difference is logged with its
token and size). Without one, an allocator refuses a state that holds orders or positions.

**Shutdown** (:meth:`Desk.shutdown`, also on SIGTERM/SIGINT when
:meth:`Desk.install_signal_handlers` was called): cancel all open orders, let the venue confirm
for ``shutdown_grace_ms``, book the resulting events, enter HALTED with ``SYS_SHUTDOWN``, flush
the sink.
"""

from __future__ import annotations

import hashlib
import logging
import signal
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from structlog.contextvars import bind_contextvars, reset_contextvars

from polytraders.accounting.ledger import EquityPoint, Ledger, LedgerSnapshot, Settlement
from polytraders.contracts.allocation import Allocation
from polytraders.contracts.canonical import config_version
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.contracts.ids import intent_id
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk import decision_cpu
from polytraders.desk.allocator import (
    SYS_ALLOCATOR_UNATTRIBUTED,
    AllocatorConfig,
    AllocatorRestore,
    MetaAllocator,
)
from polytraders.desk.checkpoints import (
    CheckpointError,
    CheckpointWriter,
    KillSwitchReset,
    OperatorBody,
    RestoredCheckpoint,
)
from polytraders.desk.children import ChildSchedule, PendingChildren
from polytraders.desk.clock import Clock, SimClock
from polytraders.desk.execution import ExecutionRunner
from polytraders.desk.monitors import MonitorRunner
from polytraders.desk.orders import OrderJournal, OrderManager, OrderManagerConfig, OrderRetention
from polytraders.desk.outcomes import DEFAULT_FINISHED_PER_BOT
from polytraders.desk.recorder import DESK_BOT_ID, EnvelopeRecorder
from polytraders.desk.risk_chain import DecisionObserver, RiskChain
from polytraders.desk.shadow_chain import ShadowChain
from polytraders.desk.sinks import DigestingSink, EnvelopeSink, MemorySink
from polytraders.desk.slots import BotSlot, Quarantine
from polytraders.desk.state import DeskControls, DeskEvent, DeskState
from polytraders.desk.strategies import StrategyRunner
from polytraders.desk.timers import TimerSchedule
from polytraders.desk.unwind import (
    SYS_UNWIND_DONE,
    SYS_UNWIND_INCOMPLETE,
    SYS_UNWIND_NO_PRICE,
    SYS_UNWIND_NOT_REDUCING,
    SYS_UNWIND_STARTED,
    Unwind,
    check_unwind_slot,
    left_to_reduce,
    unwind_limit_price,
    unwind_plan_problem,
)
from polytraders.model.events import (
    AnyEvent,
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    BotModeChanged,
    FeedStatus,
    FundingPayment,
    FundingRate,
    MarketStatus,
    OperatorCommand,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    TickSizeChange,
    Timer,
    Trade,
    TradingState,
)
from polytraders.model.fills import Fill
from polytraders.model.market import Instrument, Market
from polytraders.model.orders import IntentAction, OrderIntent, Side, VenueOrder, unwind_intent
from polytraders.store.checkpoints import CheckpointRow
from polytraders.store.errors import StoreError
from polytraders.venues.base import Venue, VenueEvent

_LOG = logging.getLogger(__name__)

SYS_KILL_SWITCH_TRIPPED = "SYS_KILL_SWITCH_TRIPPED"
SYS_OPERATOR_COMMAND = "SYS_OPERATOR_COMMAND"
SYS_SHUTDOWN = "SYS_SHUTDOWN"
SYS_CHECKPOINT_FAILED = "SYS_CHECKPOINT_FAILED"
SYS_KILL_SWITCH_RESET = "SYS_KILL_SWITCH_RESET"
SYS_CHILDREN_CANCELLED = "SYS_CHILDREN_CANCELLED"
SYS_CHILD_NOTHING_LEFT = "SYS_CHILD_NOTHING_LEFT"
SYS_FUNDING_SETTLED = "SYS_FUNDING_SETTLED"

_MARKET_EVENTS = (
    BookSnapshot,
    BookDelta,
    Trade,
    BestBidAsk,
    TickSizeChange,
    MarketStatus,
    FeedStatus,
    FundingRate,
)
_VENUE_EVENTS = (OrderAccepted, OrderRejected, OrderCanceled, OrderExpired, Fill, FundingPayment)


_ALLOCATOR_TIMER = "allocator"
"""Name of the allocator's check timer (no strategy sees it)."""

_OMITTED_AT_DEFAULT = (
    "outcomes_kept_per_bot",
    "kill_switch_unwind",
    "unwind_duration_s",
    "unwind_slice_count",
    "unwind_max_slippage_bps",
    "allocator",
)
"""DeskConfig settings left out of its canonical form while they have their defaults."""


class DeskConfig(BaseModel):
    """Settings of the desk loop itself (bots have their own configs).

    ``config_version`` (16 hex digits of SHA-256 over the canonical JSON) is written in the
    desk's own envelopes. The canonical JSON (``model_dump``) leaves out
    ``outcomes_kept_per_bot`` and the unwind policy (``kill_switch_unwind``,
    ``unwind_duration_s``, ``unwind_slice_count``, ``unwind_max_slippage_bps``) while they have
    their defaults, and ``allocator`` while it is absent, so desks that predate these settings
    keep their config version and run ids; any other value is included.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    orders: OrderManagerConfig = Field(default_factory=OrderManagerConfig)
    """Order-manager limits (ack time-out, rate limit)."""

    shutdown_grace_ms: int = Field(default=2_000, ge=0, le=600_000)
    """How long (desk time) shutdown lets the venue confirm cancels before the final flush."""

    require_known_tokens: bool = True
    """Refuse intents for tokens without market metadata (``SYS_UNKNOWN_TOKEN``)."""

    heartbeat_interval_ms: int = Field(default=0, ge=0, le=60_000)
    """Send the venue's dead-man-switch heartbeat this often (desk time), checked on every
    event and :meth:`Desk.tick`; 0 disables it (the paper venue has none, and a desk that never
    heartbeats reports ``last_venue_heartbeat_ns = 0``). Polymarket live: 5_000 (the server
    cancels every order 10 s after the last accepted heartbeat)."""

    flush_every_events: int = Field(default=10_000, ge=1, le=10_000_000)
    """Flush the envelope sink after this many input events (and at shutdown)."""

    outcomes_kept_per_bot: int = Field(default=DEFAULT_FINISHED_PER_BOT, ge=1, le=1_000_000)
    """How many finished intent outcomes (filled, cancelled, refused, …) each strategy can
    still read from the view (``intent_outcome``, ``intent_outcomes``); older ones are
    forgotten. Outcomes of working intents are always kept."""

    kill_switch_unwind: Literal["none", "twap"] = "none"
    """What a kill-switch trip does after cancelling every open order: ``"none"`` leaves the
    positions as they are; ``"twap"`` unwinds each non-zero position through the desk's unwind
    bot (``exec.twap`` declared with ``role = "unwind"``; rules: :mod:`polytraders.desk.unwind`).
    The operator command ``unwind`` uses the same bot and settings whatever this says."""

    unwind_duration_s: int = Field(default=120, ge=1, le=86_400)
    """Seconds over which an unwind's children are released (the unwind bot's
    ``unwind_duration_s``)."""

    unwind_slice_count: int = Field(default=12, ge=1, le=1_000)
    """Children of an unwind (the unwind bot's ``unwind_slice_count``; fewer when the position
    cannot give each the minimum order size)."""

    unwind_max_slippage_bps: int = Field(default=100, ge=0, le=5_000)
    """An unwind's limit price: at most this far (basis points) from the touch when it starts
    (a long sells no lower than bid × (1 − bps/10 000), a short buys back no higher than
    ask × (1 + bps/10 000)), rounded toward the touch onto the tick; each child also stays
    within the bot's ``max_cross_ticks`` of the touch of its own time."""

    allocator: AllocatorConfig | None = None
    """The MetaAllocator (``[desk.allocator]``): a capital budget per strategy enforced in the
    risk chain, reallocated on drawdown tiers (:mod:`polytraders.desk.allocator`). None: no
    budgets."""

    @model_serializer(mode="wrap")
    def _canonical(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _OMITTED_AT_DEFAULT:
            if getattr(self, name) == type(self).model_fields[name].default:
                data.pop(name, None)
        return data

    @property
    def config_version(self) -> str:
        """Deterministic version of this config
        (:func:`~polytraders.contracts.canonical.config_version` of ``model_dump``)."""
        return config_version(self.model_dump(mode="json"))


LIVE_EQUITY_INTERVAL_NS = 10 * 1_000_000_000
"""A live session's equity curve keeps at most one point per this interval (10 s: 360
points an hour, about 32 KiB)."""


class SessionMemory(msgspec.Struct, frozen=True, kw_only=True):
    """How much of its past a desk keeps in memory: a setting of the mode, not of the desk
    file (the same bots decide the same way; the config versions do not change).

    Fields:
        orders: which closed orders retire, and when (:class:`OrderRetention`).
        equity_interval_ns: the ledger's ``equity_interval_ns`` (0: every change is a point).

    The default is a backtest's: closed orders without fills retire after an hour of desk
    time, every fill and every equity change is kept (its results list them).
    :meth:`live` bounds what a session that may run for days keeps.
    """

    orders: OrderRetention = OrderRetention()
    equity_interval_ns: int = 0

    @classmethod
    def live(cls, venue_closed_order_retention_s: int) -> SessionMemory:
        """A live session's: orders retire with their fills once the venue can no longer
        report on them (:meth:`OrderRetention.for_venue`), the equity curve holds a point per
        :data:`LIVE_EQUITY_INTERVAL_NS` (the ledger's ``max_drawdown`` stays exact)."""
        return cls(
            orders=OrderRetention.for_venue(venue_closed_order_retention_s),
            equity_interval_ns=LIVE_EQUITY_INTERVAL_NS,
        )


class OperatorAction(msgspec.Struct, frozen=True, kw_only=True):
    """An operator command and what the desk did with it (the audit trail).

    ``applied`` False means refused; ``detail`` says why or what changed.
    """

    ts_ns: int
    command: str
    operator: str
    args: dict[str, str]
    applied: bool
    detail: str


class DeskResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a run produced (deterministic under a simulated clock; encode with msgspec JSON).

    Fields:
        run_id: the run.
        events_processed: input events plus timers (venue events not counted).
        envelope_count / timeline_sha256: the envelope timeline and its SHA-256 (equal iff the
            JSON-lines timelines are byte-identical).
        reason_codes: histogram of reason codes over all envelopes (sorted by code).
        fills: the fills booked that the desk still holds: every one under the default
            :class:`SessionMemory` (a backtest's); a live session's retire with their orders
            (its ``--out`` files read them back from its archive; ``orders.stats.fills_booked``
            counts them all).
        settlements: every settlement booked.
        desk_events: trading-state changes, kill-switch trips and bot-mode changes.
        operator_actions: applied and refused operator commands.
        equity_curve: mark-to-mid equity points.
        ledger: the final ledger snapshot (cash, positions, fees, realized PnL).
        final_equity, peak_equity: micro-units.
        trading_state, kill_switch_tripped: final desk state.
        orders_submitted, orders_rejected_locally: order-manager counts.
        quarantined: bot id → :class:`~polytraders.desk.slots.Quarantine` of every bot that
            ended quarantined (sorted by bot id): the mode it failed in, when, and the
            ``failure`` (code, message, exception type, ``file:line`` location, field).
        first_event_ns, last_event_ns: the time span processed.
    """

    run_id: str
    events_processed: int
    envelope_count: int
    timeline_sha256: str
    reason_codes: dict[str, int]
    fills: tuple[Fill, ...]
    settlements: tuple[Settlement, ...]
    desk_events: tuple[DeskEvent, ...]
    operator_actions: tuple[OperatorAction, ...]
    equity_curve: tuple[EquityPoint, ...]
    ledger: LedgerSnapshot
    final_equity: int
    peak_equity: int
    trading_state: TradingState
    kill_switch_tripped: bool
    orders_submitted: int
    orders_rejected_locally: int
    quarantined: dict[str, Quarantine]
    first_event_ns: int
    last_event_ns: int

    def result_sha256(self) -> str:
        """SHA-256 of this result's msgspec JSON encoding (replays compare it)."""
        return hashlib.sha256(msgspec.json.encode(self)).hexdigest()


class SlotState(msgspec.Struct, frozen=True, kw_only=True):
    """A bot slot's run-time state in a checkpoint: its mode and quarantine (None when not
    quarantined)."""

    bot_id: str
    mode: Mode
    quarantined: Quarantine | None


class DeskCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """What a desk needs to resume after a restart (JSON via msgspec; deterministic).

    Fields: ``run_id``; ``now_ns``; the next ``envelope_sequence`` and ``cause_sequence`` (so no
    id is ever reused); ``ledger``; ``controls`` (trading state and kill switch with their
    reasons, day-start and peak equity: a tripped switch stays tripped across a restart);
    ``intents_seen`` (sorted: a reused intent id is refused after the restart too); ``orders``
    (every tracked order, open ones first to reconcile with the venue; their client order ids
    are never sent again); ``markets``; ``slots`` (modes and quarantines). Books are not saved:
    they come back with the feed's snapshots.

    This is the whole desk, for an in-process restart; a live desk persists the smaller,
    incremental :mod:`polytraders.desk.checkpoints` rows in the event store instead.
    """

    run_id: str
    now_ns: int
    envelope_sequence: int
    cause_sequence: int
    ledger: LedgerSnapshot
    controls: DeskControls
    intents_seen: tuple[str, ...]
    orders: tuple[VenueOrder, ...]
    markets: tuple[Market, ...]
    slots: tuple[SlotState, ...]


class Desk:
    """The desk loop over one venue.

    Args:
        run_id: the run's id (``contracts.ids.run_id(...)``); every id derives from it.
        venue: where orders go (paper or live).
        strategies, risk, execution: bot slots; risk slots run in the given order; exactly one
            execution slot must be ENFORCED.
        markets: markets known at the start (more may arrive as events update them).
        instruments: crypto instruments the desk trades (by their ``token_id``; the venue must
            know them too, e.g. ``PaperVenue(..., instruments=...)``).
        sink: envelope destination (default: in memory, see :attr:`envelopes`).
        config: desk settings.
        clock: simulated (default) or live.
        state: a prepared state (restart, fixtures); default a fresh one whose ledger starts
            with the venue's free ``pUSD``. A resumed run's state holds every order the run
            sent before (closed ones too): their client order ids are never sent again.
        start_sequence: envelope sequence number to resume from.
        observer: metrics hook for risk decisions (thread CPU time of each call; never in
            envelopes under a simulated clock).
        account: the signing identity (public addresses, builder code) bots see, when the
            desk builds its own state.
        journal: where every order state and every booked or reverted fill is recorded as it
            happens (:class:`~polytraders.desk.orders.OrderJournal`; the run's event store).
        shadow: a candidate risk chain deciding on every intent beside this desk's own, on the
            same view and clock, recorded in its own sink and never applied
            (:class:`~polytraders.desk.shadow_chain.ShadowChain`).
        memory: how much of its past the desk keeps (default: a backtest's, all of it but
            the closed orders without fills of more than an hour ago;
            :meth:`SessionMemory.live` for a long live session). It sets the state's ledger's
            ``equity_interval_ns``.
        unwind: the unwind bot (an ENFORCED ``exec.twap`` outside the routing slots, with the
            config's unwind schedule; :mod:`polytraders.desk.unwind`); required when
            ``config.kill_switch_unwind`` is ``"twap"``, and by the operator's ``unwind``.
        allocator_restore: a restart's allocator state and the run's fills
            (:func:`~polytraders.desk.checkpoints.allocator_restore`); ignored without
            ``config.allocator``.

    Raises:
        ValueError: no ENFORCED execution slot, slots of the wrong class, or an unwind bot
            missing or not matching the config (:func:`~polytraders.desk.unwind.check_unwind_slot`),
            an allocator whose budgets do not match the strategies
            (:class:`~polytraders.desk.allocator.MetaAllocator`), or given a ``state`` that
            already holds orders or positions without ``allocator_restore``;
            :class:`~polytraders.desk.allocator.AllocatorRestoreError` a restore whose
            strategies are not the budgets'.
    """

    def __init__(
        self,
        *,
        run_id: str,
        venue: Venue,
        strategies: Sequence[BotSlot] = (),
        risk: Sequence[BotSlot] = (),
        execution: Sequence[BotSlot],
        markets: Iterable[Market] = (),
        instruments: Iterable[Instrument] = (),
        sink: EnvelopeSink | None = None,
        config: DeskConfig | None = None,
        clock: Clock | None = None,
        state: DeskState | None = None,
        start_sequence: int = 0,
        observer: DecisionObserver | None = None,
        account: AccountIdentity | None = None,
        journal: OrderJournal | None = None,
        shadow: ShadowChain | None = None,
        memory: SessionMemory | None = None,
        unwind: BotSlot | None = None,
        allocator_restore: AllocatorRestore | None = None,
    ) -> None:
        if not any(s.mode is Mode.ENFORCED for s in execution):
            raise ValueError("the desk needs one ENFORCED execution bot")
        self.run_id = run_id
        self.venue = venue
        self.config = config if config is not None else DeskConfig()
        self.unwind_slot = check_unwind_slot(
            unwind,
            self.config.kill_switch_unwind,
            self.config.unwind_duration_s,
            self.config.unwind_slice_count,
        )
        self.clock: Clock = clock if clock is not None else SimClock()
        if state is None:
            state = DeskState(ledger=Ledger(venue.balances().get("pUSD", 0)), account=account)
        state.outcomes.finished_per_bot = self.config.outcomes_kept_per_bot
        memory = memory if memory is not None else SessionMemory()
        state.ledger.equity_interval_ns = memory.equity_interval_ns
        self.state = state
        for market in markets:
            state.add_market(market)
        for instrument in instruments:
            state.add_instrument(instrument)
        self._memory: MemorySink | None = None
        if sink is None:
            self._memory = sink = MemorySink()
        self._sink = DigestingSink(sink)
        self.recorder = EnvelopeRecorder(run_id, self._sink, start_sequence)
        live = not self.clock.simulated
        if live:
            decision_cpu.install()  # collections are the runtime's, not a bot's decision
        version = self.config.config_version
        self.strategies = StrategyRunner(
            strategies,
            self.recorder,
            measure_cpu=live,
            require_known_tokens=self.config.require_known_tokens,
        )
        self.children = ChildSchedule()
        """Children (TWAP slices) of routed intents waiting for release."""
        self.allocator: MetaAllocator | None = None
        """The MetaAllocator (``config.allocator``), or None."""
        if self.config.allocator is not None:
            self.allocator = MetaAllocator(
                self.config.allocator,
                [s.bot_id for s in strategies],
                [s.bot_id for s in strategies if s.mode is Mode.ENFORCED],
                lambda: self.children.unsent(self.state.orders),
            )
        self._allocator_started = self.allocator is None
        self._restored_allocation: Allocation | None = None
        """A restart's allocation, recorded at the first event or tick."""
        self.unattributed: dict[str, int] = {}
        """Token → the desk's position minus the strategies' attributed ones after a restore
        (micro-shares; only tokens that differ): belongs to no strategy."""
        if self.allocator is not None and allocator_restore is not None:
            self._restored_allocation = self.allocator.restore(allocator_restore, state)
            self.unattributed = self._unattributed(self.allocator)
        elif self.allocator is not None and (
            state.orders or any(p.size for p in state.positions())
        ):
            raise ValueError(
                "the allocator cannot start on a state with orders or positions without the "
                "run's checkpointed allocator state to attribute them to strategies"
            )
        self.risk = RiskChain(
            risk,
            self.recorder,
            desk_config_version=version,
            require_known_tokens=self.config.require_known_tokens,
            measure_cpu=live,
            observer=observer,
            allocator=self.allocator,
        )
        self.execution = ExecutionRunner(
            execution, self.recorder, desk_config_version=version, measure_cpu=live
        )
        self.monitors = MonitorRunner(self.recorder, measure_cpu=live)
        self.shadow = shadow
        self._monitor_timers = {
            f"monitor:{s.bot_id}": s for s in self.risk.slots if s.monitor_interval_ns
        }
        self._monitors_scheduled = not self._monitor_timers
        self.orders = OrderManager(
            venue, state, self.config.orders, journal=journal, retention=memory.orders
        )
        self.orders.listener = self.allocator
        self.timers = TimerSchedule()
        self.unwinds: dict[str, Unwind] = {}
        """Working unwinds by intent id, in the order they started."""
        self._unwind_count = 0
        self._unwound_trip_ns: int | None = (
            state.controls().kill_switch.tripped_ns if state.kill_switch_tripped else None
        )
        self.quarantines: list[Quarantine] = []
        """Every bot quarantined during this desk's life, in order (alerts read it)."""
        self.operator_actions: list[OperatorAction] = []
        self.demoted: dict[str, str] = {}
        """Bot id → why, of every bot demoted in this desk (:meth:`demote`): none of them can
        be made ENFORCED again here."""
        self.reverted_fills: list[Fill] = []
        """Fills taken back after the venue reported their trade failed."""
        self.desk_events: list[DeskEvent] = []
        self.settlements: list[Settlement] = []
        self.events_processed = 0
        self._causes = 0
        self._kill_handled = state.kill_switch_tripped
        self._checkpoints: CheckpointWriter | None = None
        self._stop_requested = False
        self._shut_down = False
        self._first_event_ns: int | None = None
        self._last_event_ns = 0
        self._last_heartbeat_sent_ns = -(2**62)

    # ------------------------------------------------------------------ public API
    @property
    def envelopes(self) -> list[ReportEnvelope]:
        """Envelopes recorded so far (only with the default in-memory sink).

        Raises:
            RuntimeError: the desk was given its own sink.
        """
        if self._memory is None:
            raise RuntimeError("envelopes live in the sink given to the desk")
        return self._memory.envelopes

    def add_timer(self, name: str, interval_ns: int, first_ns: int | None = None) -> None:
        """Fire a ``Timer`` named ``name`` every ``interval_ns`` from ``first_ns`` (default:
        one interval after the current desk time)."""
        start = self.state.now_ns + interval_ns if first_ns is None else first_ns
        self.timers.add(name, interval_ns, start)

    def run(self, events: Iterable[AnyEvent]) -> DeskResult:
        """Process ``events`` (time-ordered) to the end (or until a stop request), then shut
        down gracefully; return the result."""
        for event in events:
            self.process(event)
            if self._stop_requested:
                break
        self.shutdown()
        return self.result()

    def process(self, event: AnyEvent) -> None:
        """Run one input event through the loop (steps 0–6 of the module docstring).

        Raises:
            ValueError: a malformed market event (the feed must guard its input) or a market
                event older than the previous one.
        """
        if self._shut_down:
            raise RuntimeError("the desk is shut down")
        target = self.clock.observe(event.ts_event_ns)
        if self.shadow is not None:
            self.shadow.fire_due(target, self.state)
        self._schedule_monitors(target)
        self._start_allocator(target)
        self._fire_due(target, live=False)
        self._step(event, target)
        if self.events_processed % self.config.flush_every_events == 0:
            self._sink.flush()
            if self.shadow is not None:
                self.shadow.flush()

    def tick(self) -> None:
        """Live loop helper: send the heartbeat when due and fire timers due at the clock's
        current time."""
        now = self.clock.now_ns()
        if self.shadow is not None:
            self.shadow.fire_due(max(now, self.state.now_ns), self.state)
        self._schedule_monitors(max(now, self.state.now_ns))
        self._start_allocator(max(now, self.state.now_ns))
        self._heartbeat(max(now, self.state.now_ns))
        self._fire_due(now, live=True)

    def _fire_due(self, until_ns: int, *, live: bool) -> None:
        """Fire timers and release children due at or before ``until_ns``, in time order (a
        timer first on a tie); under a live clock none goes back before the desk's time."""
        while True:
            timer_ns = self.timers.next_due_ns()
            child_ns = self.children.next_due_ns()
            if (
                child_ns is not None
                and child_ns <= until_ns
                and (timer_ns is None or child_ns < timer_ns)
            ):
                pending = self.children.pop_due(until_ns)
                assert pending is not None
                self._release_child(pending, max(child_ns, self.state.now_ns))
                continue
            timer = self.timers.pop_due(until_ns)
            if timer is None:
                return
            self._fire(
                timer, max(timer.ts_event_ns, self.state.now_ns) if live else timer.ts_event_ns
            )

    def trip_kill_switch(self, reason_code: str, source: str, detail: str = "") -> None:
        """Trip the kill switch now (fatal desk condition or operator): cancel every open order
        at the venue (then unwind, by policy); HALTED until an operator reset."""
        self.state.trip_kill_switch(reason_code, source, detail)
        self._after_decisions(self.state.now_ns)

    def revert_fill(self, fill: Fill, reason_code: str) -> bool:
        """Take back a fill the venue counted and then reported failed (``reason_code``, e.g.
        ``SYS_POLY_TRADE_FAILED``): the ledger reverses it exactly, it leaves the run's fills,
        its order's filled size drops and the journal records the reversal.

        When the ledger cannot reverse it exactly (later fills on the token, a settled market,
        an unknown fill), the desk no longer knows its true position: the kill switch trips
        (cancel all, HALTED until an operator reconciles). Returns True when reversed.
        """
        try:
            self.state.ledger.revert_fill(fill.fill_id)
        except (KeyError, ValueError) as exc:
            self.trip_kill_switch(reason_code, "desk", f"failed fill not reversible: {exc}")
            return False
        self.orders.revert(fill, reason_code, self.state.now_ns)
        self.reverted_fills.append(fill)
        return True

    def demote(
        self, bot_id: str, *, reason_code: str, source: str, detail: str = ""
    ) -> BotModeChanged | None:
        """Take a demoted bot out of ENFORCED for the rest of this desk's life (seed 001's
        automatic demotion: "stops affecting users"), recording a
        :class:`~polytraders.model.events.BotModeChanged` desk event with ``reason_code`` at the
        desk clock's time (between events the state's time is brought up to it).

        An ENFORCED bot moves to SHADOW (STUB when it does not support SHADOW): it still runs
        on the same inputs and is recorded, never applied. Then, by class: a **strategy**'s
        open orders are cancelled (nothing it placed keeps working); an **execution** bot
        routes nothing (the desk then sends no new order: fail closed); a **risk** guard's
        protection would be lost silently, which is failing open, so an ACTIVE desk enters
        REDUCING (only exposure-reducing intents pass) until an operator sets the trading
        state. A bot quarantined from ENFORCED stays quarantined (it already fails closed).
        From now on ``set_mode`` to ENFORCED (and a release from quarantine into ENFORCED) is
        refused for it (:attr:`demoted`). Idempotent: a second call changes nothing.

        Returns:
            The desk event recorded, or None when the bot was not ENFORCED (or already
            demoted).

        Raises:
            ValueError: no such bot in this desk.
        """
        slot = self._slot(bot_id)
        if slot is None:
            raise ValueError(f"no bot {bot_id!r} in this desk")
        if bot_id in self.demoted:
            return None
        self.demoted[bot_id] = f"{reason_code} by {source}" + (f": {detail}" if detail else "")
        if slot.mode is not Mode.ENFORCED:
            return None
        now = max(self.state.now_ns, self.clock.now_ns())  # between events: the clock's time
        self.state.set_time(now)
        slot.mode = Mode.SHADOW if Mode.SHADOW in slot.bot.mode_support else Mode.STUB
        event = BotModeChanged(
            ts_event_ns=now,
            ts_recv_ns=now,
            bot_id=bot_id,
            old_mode=Mode.ENFORCED.value,
            new_mode=slot.mode.value,
            reason_code=reason_code,
            source=source,
            detail=detail,
        )
        self.state.desk_events.append(event)
        _LOG.error("%s demoted (%s by %s): ENFORCED -> %s", bot_id, reason_code, source, slot.mode)
        if slot.bot_class is BotClass.STRATEGY:
            self._cancel_quotes(bot_id, now, "demoted")
        elif slot.bot_class is BotClass.RISK and self.state.trading_state is TradingState.ACTIVE:
            self.state.set_trading_state(TradingState.REDUCING, reason_code, source)
        self._after_decisions(now)
        return event

    def operator(self, command: OperatorCommand) -> OperatorAction:
        """Apply an operator command; return the audit record (also kept in the result).

        Commands: ``kill`` (trip the kill switch; with ``kill_switch_unwind = "twap"`` the
        positions are then unwound), ``unwind`` (unwind every position now, or only
        ``args["token_id"]``'s, in any trading state: :mod:`polytraders.desk.unwind`; refused
        without an unwind bot or a position to unwind), ``reset_kill_switch`` (a finished
        unwind is not resumed),
        ``set_trading_state`` (``args["state"]`` ACTIVE/REDUCING/HALTED; refused while the kill
        switch is tripped), ``set_mode`` (``args["bot_id"]``, ``args["mode"]``: releases a
        quarantined bot or changes a bot's mode), ``shutdown``, ``allocator-freeze`` /
        ``allocator-unfreeze`` (stop / restart the MetaAllocator's drawdown reallocation;
        refused when already so) and ``allocator-reset`` (back to the static split), each
        recorded as an ALLOCATE desk envelope and refused without ``[desk.allocator]``.
        Anything else is refused.
        """
        now = self.state.now_ns
        args = dict(command.args)
        applied, detail = self._apply_operator(command.command, command.operator, args, now)
        action = OperatorAction(
            ts_ns=now,
            command=command.command,
            operator=command.operator,
            args=args,
            applied=applied,
            detail=detail,
        )
        self.operator_actions.append(action)
        if not applied:
            _LOG.warning("operator command %s refused: %s", command.command, detail)
        return action

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop after the current event and shut down (signal-safe)."""
        self._stop_requested = True

    def install_signal_handlers(self) -> None:
        """On SIGTERM/SIGINT, stop after the current event and shut down gracefully (main
        thread only)."""

        def handler(signum: int, frame: Any) -> None:
            _LOG.warning("signal %d: shutting down after the current event", signum)
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def shutdown(self, reason_code: str = SYS_SHUTDOWN) -> None:
        """Graceful shutdown: cancel all, let the venue confirm for ``shutdown_grace_ms``, book
        the events, enter HALTED, flush the sink. Idempotent."""
        if self._shut_down:
            return
        now = self.state.now_ns
        self._drop_all_children("shutdown")
        self.orders.cancel_all(now)
        if self.clock.simulated:
            end = now + self.config.shutdown_grace_ms * 1_000_000
            self.clock.observe(end)
            self.state.set_time(end)
            self._drain_venue(end)
        else:
            self._drain_venue(self.clock.now_ns())
        if self.unwinds:
            self._end_unwinds()
        self._checkpoint(poll=False)  # before the shutdown's HALT: a restart trades on
        self.state.set_trading_state(TradingState.HALTED, reason_code, "desk")
        self._collect_desk_events()
        self.state.mark()
        self._shut_down = True
        self._sink.flush()
        if self.shadow is not None:
            self.shadow.flush()

    def result(self) -> DeskResult:
        """The run's result so far (call after :meth:`run` or :meth:`shutdown`)."""
        self._collect_desk_events()
        ledger = self.state.ledger
        slots = self._all_slots()
        if self.unwind_slot is not None:
            slots.append(self.unwind_slot)
        return DeskResult(
            run_id=self.run_id,
            events_processed=self.events_processed,
            envelope_count=self._sink.count,
            timeline_sha256=self._sink.hexdigest(),
            reason_codes=dict(sorted(self._sink.reason_codes.items())),
            fills=tuple(self.orders.fills),
            settlements=tuple(self.settlements),
            desk_events=tuple(self.desk_events),
            operator_actions=tuple(self.operator_actions),
            equity_curve=tuple(ledger.equity_curve),
            ledger=ledger.snapshot(),
            final_equity=self.state.equity,
            peak_equity=ledger.peak_equity,
            trading_state=self.state.trading_state,
            kill_switch_tripped=self.state.kill_switch_tripped,
            orders_submitted=self.orders.stats.submitted,
            orders_rejected_locally=self.orders.stats.rate_limited
            + self.orders.stats.duplicates
            + self.orders.stats.held_dropped,
            quarantined={
                s.bot_id: s.quarantined
                for s in sorted(slots, key=lambda s: s.bot_id)
                if s.mode is Mode.QUARANTINE and s.quarantined is not None
            },
            first_event_ns=self._first_event_ns or 0,
            last_event_ns=self._last_event_ns,
        )

    # ------------------------------------------------------------------ restart
    def _all_slots(self) -> list[BotSlot]:
        return [*self.strategies.slots, *self.risk.slots, *self.execution.slots]

    def checkpoint(self) -> DeskCheckpoint:
        """The desk's durable state now (see :class:`DeskCheckpoint`)."""
        self._collect_desk_events()
        return DeskCheckpoint(
            run_id=self.run_id,
            now_ns=self.state.now_ns,
            envelope_sequence=self.recorder.sequence,
            cause_sequence=self._causes,
            ledger=self.state.ledger.snapshot(),
            controls=self.state.controls(),
            intents_seen=tuple(self.risk.seen_intent_ids()),
            orders=tuple(self.state.orders.values()),
            markets=tuple(self.state.markets()),
            slots=tuple(
                SlotState(bot_id=s.bot_id, mode=s.mode, quarantined=s.quarantined)
                for s in self._all_slots()
            ),
        )

    @classmethod
    def resume(
        cls,
        checkpoint: DeskCheckpoint,
        *,
        venue: Venue,
        strategies: Sequence[BotSlot] = (),
        risk: Sequence[BotSlot] = (),
        execution: Sequence[BotSlot],
        sink: EnvelopeSink | None = None,
        config: DeskConfig | None = None,
        clock: Clock | None = None,
        account: AccountIdentity | None = None,
        journal: OrderJournal | None = None,
        unwind: BotSlot | None = None,
    ) -> Desk:
        """A desk continuing from ``checkpoint``: same run id, sequences continuing, ledger,
        orders, controls (trading state, kill switch, day-start and peak equity), seen intent
        ids and bot quarantines restored (``journal`` and ``unwind`` as in the constructor; a
        restored tripped kill switch starts no unwind). Slots are matched
        by bot id; a checkpointed bot missing from the new slots is an error.

        Raises:
            ValueError: the ledger does not reconcile, or a checkpointed bot has no slot.
        """
        state = DeskState(
            ledger=Ledger.restore(checkpoint.ledger), now_ns=checkpoint.now_ns, account=account
        )
        for market in checkpoint.markets:
            state.add_market(market)
        for order in checkpoint.orders:
            state.add_order(msgspec.structs.replace(order))
        state.restore_controls(checkpoint.controls)
        desk = cls(
            run_id=checkpoint.run_id,
            venue=venue,
            strategies=strategies,
            risk=risk,
            execution=execution,
            sink=sink,
            config=config,
            clock=clock if clock is not None else SimClock(checkpoint.now_ns),
            state=state,
            start_sequence=checkpoint.envelope_sequence,
            journal=journal,
            unwind=unwind,
        )
        desk._causes = checkpoint.cause_sequence
        desk.strategies.intake.remember(checkpoint.intents_seen)
        desk.risk.remember_intents(checkpoint.intents_seen)
        slots = {s.bot_id: s for s in desk._all_slots()}
        for saved in checkpoint.slots:
            slot = slots.get(saved.bot_id)
            if slot is None:
                raise ValueError(f"checkpointed bot {saved.bot_id} has no slot")
            slot.mode = saved.mode
            slot.quarantined = saved.quarantined
        return desk

    def persist_checkpoints(
        self, writer: CheckpointWriter, restored: RestoredCheckpoint | None = None
    ) -> None:
        """Keep the run's checkpoint in the event store from now on (rules:
        :mod:`polytraders.desk.checkpoints`), after putting back ``restored`` (a restart): its
        controls (trading state and kill switch with their reasons, day-start and peak equity)
        and its seen intent ids (client order ids derive from them). A restored tripped kill
        switch cancels every order open now (what reconciliation found at the venue is
        withdrawn).

        A failed checkpoint write or read trips the kill switch (``SYS_CHECKPOINT_FAILED``)
        and stops checkpointing: trading never continues without a restart record.
        """
        if restored is not None:
            self.state.restore_controls(restored.controls)
            self.strategies.intake.remember(restored.intents_seen)
            self.risk.remember_intents(restored.intents_seen)
            switch = restored.controls.kill_switch
            if switch.tripped:
                _LOG.warning(
                    "restored with the kill switch tripped (%s by %s): cancelling every open "
                    "order; an operator reset is needed to trade",
                    switch.reason_code,
                    switch.source,
                )
                self._kill_handled = False
                self._unwound_trip_ns = switch.tripped_ns  # its unwind (if any) is not resumed
        self._checkpoints = writer
        self._after_decisions(self.state.now_ns)
        self._checkpoint(poll=False)

    def _checkpoint(self, *, poll: bool) -> None:
        """Apply operators' rows (``poll``), then write a checkpoint row if anything changed."""
        writer = self._checkpoints
        if writer is None:
            return
        try:
            if poll:
                for row, body in writer.operator_rows(self.state.now_ns):
                    writer.acknowledge(row.sequence)
                    self._apply_operator_row(row, body)
            allocator = self.allocator.checkpoint() if self.allocator is not None else None
            writer.write_if_changed(self.state, allocator)
        except (StoreError, CheckpointError) as exc:
            self._checkpoints = None
            _LOG.error("checkpoint failed, tripping the kill switch: %s", exc)
            self.trip_kill_switch(SYS_CHECKPOINT_FAILED, "desk", str(exc))

    def _apply_operator_row(self, row: CheckpointRow, body: OperatorBody) -> None:
        """An operator's ``kill_switch.trip`` or ``kill_switch.reset`` row, read from the
        store: applied as the operator command (recorded in :attr:`operator_actions`); a reset
        applies only to the trip it names, then sets its trading state; a reset naming no
        trip sets the trading state of an untripped desk."""
        now = self.state.now_ns
        if not isinstance(body, KillSwitchReset):
            command = OperatorCommand(
                ts_event_ns=now,
                command="kill",
                operator=body.operator,
                args={"detail": body.reason, "checkpoint": str(row.sequence)},
            )
            self.operator(command)
            return
        switch = self.state.controls().kill_switch
        if body.trip_ns is None and not switch.tripped:  # lift a restored HALTED/REDUCING
            self.operator(
                OperatorCommand(
                    ts_event_ns=now,
                    command="set_trading_state",
                    operator=body.operator,
                    args={"state": body.trading_state.value, "reason": body.reason},
                )
            )
            return
        if not switch.tripped or switch.tripped_ns != body.trip_ns:
            _LOG.warning(
                "kill-switch reset by %s (row %d) names the trip at %d; ignored",
                body.operator,
                row.sequence,
                body.trip_ns,
            )
            return
        command = OperatorCommand(
            ts_event_ns=now,
            command="reset_kill_switch",
            operator=body.operator,
            args={"reason": body.reason, "checkpoint": str(row.sequence)},
        )
        if self.operator(command).applied:
            self.state.set_trading_state(
                body.trading_state, SYS_KILL_SWITCH_RESET, f"operator:{body.operator}"
            )
            self._after_decisions(now)

    # ------------------------------------------------------------------ the loop
    def _schedule_monitors(self, now: int) -> None:
        """Start the monitor timers at the desk's first event or tick: each first fires one
        interval after ``now`` (risk-chain order breaks ties)."""
        if self._monitors_scheduled:
            return
        self._monitors_scheduled = True
        for name, slot in self._monitor_timers.items():
            self.timers.add(name, slot.monitor_interval_ns, now + slot.monitor_interval_ns)

    def _start_allocator(self, now: int) -> None:
        """At the desk's first event or tick: record the allocator's initial allocation (equity
        of now) and start its check timer (every ``check_interval_s``)."""
        if self._allocator_started:
            return
        self._allocator_started = True
        assert self.allocator is not None
        assert self.config.allocator is not None
        if now > self.state.now_ns:
            self.state.set_time(now)
        restored = self._restored_allocation
        if restored is None:
            self._record_allocation(self.allocator.start(self.state))
        else:
            extra = (SYS_ALLOCATOR_UNATTRIBUTED,) if self.unattributed else ()
            self._record_allocation(restored, extra)
        interval = self.config.allocator.check_interval_s * 1_000_000_000
        self.timers.add(_ALLOCATOR_TIMER, interval, now + interval)

    def _unattributed(self, allocator: MetaAllocator) -> dict[str, int]:
        """The desk's positions minus the strategies' attributed ones, per token (logged)."""
        attributed = allocator.attributed_sizes()
        held = {p.token_id: p.size for p in self.state.positions()}
        differences: dict[str, int] = {}
        for token in sorted(held.keys() | attributed.keys()):
            difference = held.get(token, 0) - attributed.get(token, 0)
            if difference:
                differences[token] = difference
                _LOG.warning(
                    "allocator restored: %s holds %d micro-shares but its strategies' fills "
                    "account for %d: %d belong to no strategy (the desk's own orders or an "
                    "external trade)",
                    token,
                    held.get(token, 0),
                    attributed.get(token, 0),
                    difference,
                )
        return differences

    def _record_allocation(
        self, allocation: Allocation | None, extra_codes: tuple[str, ...] = ()
    ) -> None:
        """One desk envelope (decision ALLOCATE) for an allocation change (its reason, then
        ``extra_codes``), then a checkpoint row with it (when checkpointing)."""
        if allocation is None:
            return
        _LOG.warning("allocator %s: weights %s", allocation.reason, allocation.weights_ppm)
        desk = self.risk.desk
        self.recorder.record(
            bot_id=desk.bot_id,
            bot_class=desk.bot_class,
            bot_version=desk.version,
            config_version=desk.config_version,
            mode=Mode.ENFORCED,
            decision=Decision.ALLOCATE,
            ts_event_ns=self.state.now_ns,
            ts_decided_ns=self.state.now_ns,
            reason_codes=(allocation.reason, *extra_codes),
            causation_id=self._cause(),
            output=allocation,
        )
        self._checkpoint(poll=False)

    def _fire(self, timer: Timer, now: int) -> None:
        """A due timer: a monitor firing (see :mod:`polytraders.desk.monitors`), the
        allocator's check, or a ``Timer`` event through the loop."""
        if timer.name == _ALLOCATOR_TIMER and self.allocator is not None:
            if now > self.state.now_ns:
                self.state.set_time(now)
            self._record_allocation(self.allocator.on_timer(self.state))
            return
        slot = self._monitor_timers.get(timer.name)
        if slot is None:
            self._step(timer, now)
            return
        if now > self.state.now_ns:
            self.state.set_time(now)
        self.monitors.run(slot, self.state, timer)
        self._after_decisions(now)

    def _cause(self) -> str:
        self._causes += 1
        return f"{self.run_id}/ev{self._causes}"

    def _step(self, event: AnyEvent, now: int) -> None:
        state = self.state
        if now > state.now_ns:
            state.set_time(now)
        self.events_processed += 1
        if self._first_event_ns is None:
            self._first_event_ns = event.ts_event_ns
        self._last_event_ns = max(self._last_event_ns, event.ts_event_ns)
        cause = self._cause()
        earlier = self._drain_venue(now)  # venue actions due before this event come first
        if isinstance(event, _MARKET_EVENTS):
            self.settlements.extend(state.apply_event(event))
            self.venue.on_market_event(event)
        elif isinstance(event, OperatorCommand):
            self.operator(event)
        elif isinstance(event, _VENUE_EVENTS):
            self.orders.apply(event, now)
        later = self._drain_venue(now)
        for venue_event in earlier:
            self._decide(venue_event, self._cause())
        self._decide(event, cause)
        for venue_event in later:
            self._decide(venue_event, self._cause())
        self.orders.check_timeouts(now)
        self._heartbeat(now)
        self._after_decisions(now)
        state.mark()
        self._checkpoint(poll=True)

    def _heartbeat(self, now: int) -> None:
        """Send the venue heartbeat when due; an accepted one is recorded, a refused one
        counts as an error (``risk.killswitch`` halts on heartbeat loss)."""
        interval = self.config.heartbeat_interval_ms * 1_000_000
        if interval == 0 or now - self._last_heartbeat_sent_ns < interval:
            return
        self._last_heartbeat_sent_ns = now
        if self.venue.heartbeat(now):
            self.state.record_heartbeat(now)
        else:
            self.state.record_error()
            _LOG.warning("venue refused the heartbeat at %d", now)

    def _drain_venue(self, now: int) -> list[VenueEvent]:
        """Advance the venue to ``now``; apply its events and the local refusals to orders and
        the ledger; return them (orders released by confirmed cancels are answered next
        round)."""
        events, local = self.orders.sync(now)
        for event in local:
            if isinstance(event, OrderRejected):
                self._record_refusal(event)
        for payment in self.orders.take_funding_booked():
            self._record_funding(payment)
        return events

    def _record_funding(self, payment: FundingPayment) -> None:
        """A funding payment was booked in the ledger: a desk envelope (BOOK,
        ``SYS_FUNDING_SETTLED``) with the payment (and its ``funding_id``) as its output; no
        correlation id, since a payment concerns no intent (DESIGN.md: the correlation id is
        the intent, and the store's integrity check holds every one to it)."""
        desk = self.execution.desk
        self.recorder.record(
            bot_id=desk.bot_id,
            bot_class=desk.bot_class,
            bot_version=desk.version,
            config_version=desk.config_version,
            mode=Mode.ENFORCED,
            decision=Decision.BOOK,
            ts_event_ns=payment.ts_event_ns,
            ts_decided_ns=self.state.now_ns,
            reason_codes=(SYS_FUNDING_SETTLED,),
            causation_id=f"{self.run_id}/ev{self._causes}",
            output=payment,
        )

    def _record_refusal(self, event: OrderRejected) -> None:
        """The order manager refused to send an order (rate limit, duplicate id, cancels not
        confirmed): a desk envelope (REFUSE) records it against the order's intent."""
        order = self.state.orders.get(event.client_order_id)
        desk = self.execution.desk
        self.recorder.record(
            bot_id=desk.bot_id,
            bot_class=desk.bot_class,
            bot_version=desk.version,
            config_version=desk.config_version,
            mode=Mode.ENFORCED,
            decision=Decision.REFUSE,
            ts_event_ns=event.ts_event_ns,
            ts_decided_ns=self.state.now_ns,
            reason_codes=(event.reason_code,),
            correlation_id=order.intent_id if order is not None else "",
            causation_id=f"{self.run_id}/ev{self._causes}",
            output=RoutePlan(orders=(order,)) if order is not None else None,
        )

    def _decide(self, event: AnyEvent, cause: str) -> None:
        intents = self.strategies.propose(event, self.state, causation_id=cause)
        for intent in intents:
            self._pipeline(intent, event.ts_event_ns, cause)

    def _pipeline(self, intent: OrderIntent, ts_event_ns: int, cause: str) -> None:
        # every line logged while the intent is decided and routed carries its id
        tokens = bind_contextvars(correlation_id=intent.intent_id)
        try:
            self._intent(intent, ts_event_ns, cause)
        finally:
            reset_contextvars(**tokens)

    def _intent(self, intent: OrderIntent, ts_event_ns: int, cause: str) -> None:
        state = self.state
        outcomes = state.outcomes
        if self._checkpoints is not None and not self.risk.has_seen(intent.intent_id):
            self._checkpoints.note_intent(intent.intent_id)
        if self.shadow is not None:  # first: it sees the state this chain is about to see
            self.shadow.evaluate(intent, state, causation_id=cause, ts_event_ns=ts_event_ns)
        outcome = self.risk.evaluate(intent, state, causation_id=cause, ts_event_ns=ts_event_ns)
        if state.kill_switch_tripped and not self._kill_handled:
            self._after_decisions(state.now_ns)
        if not outcome.approved:
            outcomes.refused(intent, outcome.decided_by, outcome.reason_codes, state.now_ns)
            return
        approved = outcome.intent
        outcomes.approved(approved, outcome.reason_codes, outcome.reshaped, state.now_ns)
        if approved.action is not IntentAction.PLACE and approved.target_intent_id:
            self._drop_children(approved.target_intent_id, cause)
        routed = self.execution.route(approved, state, causation_id=cause, ts_event_ns=ts_event_ns)
        sent = self.orders.execute(approved, routed.plan, state.now_ns)
        plan = routed.plan
        if plan is None or not plan.child_slices or self._executing_slot() is None:
            outcomes.executed(
                approved.intent_id, routed.routed_by, routed.reason_codes, state.now_ns
            )
            return
        slot = self._executing_slot()
        assert slot is not None
        self._schedule_children(approved, slot, plan, sent, routed.reason_codes, unwind=False)

    def _schedule_children(
        self,
        parent: OrderIntent,
        slot: BotSlot,
        plan: RoutePlan,
        sent: list[str],
        codes: tuple[str, ...],
        *,
        unwind: bool,
    ) -> None:
        """Keep ``plan``'s children for release by ``slot`` (a child due now goes now)."""
        sizes = {o.client_order_id: o.size for o in plan.orders}
        pending = PendingChildren(
            parent=parent,
            slot=slot,
            first_leg=len(plan.orders),
            base_size=sum(sizes.values()),
            children=plan.child_slices,
            sent=[(cid, sizes[cid]) for cid in sent],
            codes=dict.fromkeys(codes),
            unwind=unwind,
        )
        self.children.add(pending)
        now = self.state.now_ns
        while (due := self.children.pop_due(now)) is not None:
            self._release_child(due, now)

    def _executing_slot(self) -> BotSlot | None:
        """The ENFORCED execution slot (the one whose plans are applied), or None."""
        for slot in self.execution.slots:
            if slot.mode is Mode.ENFORCED:
                return slot
        return None

    def _release_child(self, pending: PendingChildren, now: int) -> None:
        """Release ``pending``'s next child at ``now`` (rules: :mod:`polytraders.desk.children`)."""
        state = self.state
        if now > state.now_ns:
            state.set_time(now)
        parent = pending.parent
        cause = self._cause()
        why = self._children_stop_reason(pending)
        if why:
            self._finish_children(pending, cause, why)
            return
        size = pending.target_size() - pending.committed(state.orders)
        leg = pending.first_leg + pending.next_index
        child = pending.children[pending.next_index]
        pending.next_index += 1
        if size <= 0:
            self.execution.record_desk(
                parent.intent_id,
                state,
                SYS_CHILD_NOTHING_LEFT,
                RoutePlan(children=(child,)),
                causation_id=cause,
            )
            pending.codes[SYS_CHILD_NOTHING_LEFT] = None
        else:
            released = msgspec.structs.replace(parent, size=size)
            routed = self.execution.release(pending.slot, released, leg, state, causation_id=cause)
            pending.codes.update(dict.fromkeys(routed.reason_codes))
            if routed.plan is None and pending.slot.mode is Mode.QUARANTINE:
                self._finish_children(pending, cause, "quarantined")
                return
            problem = (
                unwind_plan_problem(routed.plan, parent, state)
                if pending.unwind and routed.plan is not None
                else ""
            )
            if problem:  # the exemption never lets an order add to a position
                _LOG.error("%s: child not sent: %s", parent.intent_id, problem)
                self.execution.record_desk(
                    parent.intent_id,
                    state,
                    SYS_UNWIND_NOT_REDUCING,
                    routed.plan,
                    causation_id=cause,
                )
                pending.codes[SYS_UNWIND_NOT_REDUCING] = None
            elif routed.plan is not None:  # None: this release alone was refused (over budget)
                sent = self.orders.execute(released, routed.plan, now)
                sizes = {o.client_order_id: o.size for o in routed.plan.orders}
                pending.sent.extend((cid, sizes[cid]) for cid in sent)
        if pending.remaining:
            self.children.add(pending)
        else:
            self._finish_children(pending, cause, "")
        self._after_decisions(now)

    def _children_stop_reason(self, pending: PendingChildren) -> str:
        """Why ``pending``'s remaining children must not go out now ("" when they may). An
        unwind's go out whatever the trading state, until the position is flat."""
        state = self.state
        if pending.unwind:
            if pending.slot.mode is not Mode.ENFORCED:
                return f"{pending.slot.bot_id} is {pending.slot.mode}"
            return "" if left_to_reduce(state, pending.parent) else "position flat"
        if state.kill_switch_tripped:
            return "kill switch tripped"
        if state.trading_state is TradingState.HALTED:
            return "desk HALTED"
        if state.trading_state is TradingState.REDUCING and not pending.parent.reduce_only:
            return "desk REDUCING and the intent is not reduce-only"
        if pending.slot.mode is not Mode.ENFORCED:
            return f"{pending.slot.bot_id} is {pending.slot.mode}"
        return ""

    def _finish_children(self, pending: PendingChildren, cause: str, why: str) -> None:
        """End ``pending``'s schedule: record the children dropped (when ``why`` says why) and
        let the parent's orders decide its outcome from now on."""
        parent_id = pending.parent.intent_id
        dropped = pending.remaining
        if why and dropped:
            _LOG.warning("%s: %d children dropped (%s)", parent_id, len(dropped), why)
            self.execution.record_desk(
                parent_id,
                self.state,
                SYS_CHILDREN_CANCELLED,
                RoutePlan(children=dropped),
                causation_id=cause,
            )
            pending.codes[SYS_CHILDREN_CANCELLED] = None
        self.state.outcomes.executed(
            parent_id, pending.slot.bot_id, tuple(pending.codes), self.state.now_ns
        )

    def _drop_children(
        self, intent_id: str, cause: str, why: str = "the intent was cancelled or replaced"
    ) -> None:
        """Drop the children of ``intent_id`` (a CANCEL or REPLACE targets it, or an unwind's
        position is flat)."""
        pending = self.children.drop(intent_id)
        if pending is not None:
            self._finish_children(pending, cause, why)

    def _drop_all_children(self, why: str, *, keep_unwinds: bool = False) -> None:
        """Drop every scheduled child (kill switch, HALTED: but the unwinds'; shutdown)."""
        for pending in self.children.drop_all(keep_unwinds=keep_unwinds):
            self._finish_children(pending, self._cause(), why)

    def _after_decisions(self, now: int) -> None:
        state = self.state
        if state.new_quarantines:
            self._quarantined(now)
        if self.children.has_other_than_unwinds() and (
            state.kill_switch_tripped or state.trading_state is TradingState.HALTED
        ):
            self._drop_all_children(
                "kill switch tripped" if state.kill_switch_tripped else "desk HALTED",
                keep_unwinds=True,
            )
        if state.kill_switch_tripped and not self._kill_handled:
            self._kill_handled = True
            _LOG.warning("kill switch tripped: cancelling every open order")
            try:
                self._checkpoint(poll=False)  # write-ahead: the trip is durable first
            finally:
                self.orders.cancel_all(now)
            trip_ns = state.controls().kill_switch.tripped_ns
            if self.config.kill_switch_unwind == "twap" and trip_ns != self._unwound_trip_ns:
                self._unwound_trip_ns = trip_ns
                self._start_unwinds("kill switch")
        elif not state.kill_switch_tripped:
            self._kill_handled = False
        if self.unwinds:
            self._end_unwinds()
        self._collect_desk_events()

    # ------------------------------------------------------------------ unwind
    def _start_unwinds(self, source: str, token_id: str = "") -> list[str]:
        """Start an unwind of every non-zero position (only ``token_id``'s when given) not
        already unwinding; return the intent ids started (rules:
        :mod:`polytraders.desk.unwind`)."""
        state = self.state
        slot = self.unwind_slot
        assert slot is not None
        working = {u.intent.token_id for u in self.unwinds.values()}
        started: list[str] = []
        for position in sorted(state.positions(), key=lambda p: p.token_id):
            token = position.token_id
            if not position.size or token in working or (token_id and token != token_id):
                continue
            cause = self._cause()
            self._unwind_count += 1
            unwind_id = intent_id(f"{DESK_BOT_ID}/u{state.now_ns}", self._unwind_count)
            intent = self._unwind_intent(unwind_id, token, position.size)
            if intent is None:
                _LOG.error("%s: no usable price to unwind %s", unwind_id, token)
                self.execution.record_desk(
                    unwind_id, state, SYS_UNWIND_NO_PRICE, None, causation_id=cause
                )
                continue
            _LOG.warning("%s: unwinding %d of %s (%s)", unwind_id, position.size, token, source)
            self.execution.record_desk(
                unwind_id,
                state,
                SYS_UNWIND_STARTED,
                intent,
                causation_id=cause,
                decision=Decision.PROPOSE,
            )
            self.unwinds[unwind_id] = Unwind(intent=intent, source=source)
            started.append(unwind_id)
            routed = self.execution.route_with(slot, intent, state, causation_id=cause)
            plan = routed.plan
            if plan is not None and plan.child_slices and not plan.orders:
                self._schedule_children(intent, slot, plan, [], routed.reason_codes, unwind=True)
        self._end_unwinds()
        return started

    def _unwind_intent(self, unwind_id: str, token_id: str, size: int) -> OrderIntent | None:
        """The unwind intent of a position of ``size`` in ``token_id``, or None without a
        usable price (unknown rules, no or stale book, no touch on the side it trades)."""
        state = self.state
        rules = state.order_rules(token_id)
        book = state.book(token_id)
        market = state.token(token_id) or state.instrument(token_id)
        if rules is None or market is None or book is None or state.is_stale(token_id):
            return None
        side = Side.SELL if size > 0 else Side.BUY
        touch = book.best_bid() if side is Side.SELL else book.best_ask()
        if touch is None or book.is_crossed():
            return None
        limit = unwind_limit_price(side, touch, self.config.unwind_max_slippage_bps, rules)
        return unwind_intent(
            market,
            size,
            limit,
            intent_id=unwind_id,
            bot_id=DESK_BOT_ID,
            now_ns=state.now_ns,
            builder_code=state.account.builder_code if state.token(token_id) else "",
        )

    def _end_unwinds(self) -> None:
        """Stop the children of unwinds whose position is flat; record the end of each unwind
        with no child left and no order open (``SYS_UNWIND_DONE``, or
        ``SYS_UNWIND_INCOMPLETE`` with the size still held)."""
        state = self.state
        for unwind_id, unwind in list(self.unwinds.items()):
            intent = unwind.intent
            left = left_to_reduce(state, intent)
            if not left and unwind_id in self.children:
                self._drop_children(unwind_id, self._cause(), "position flat")
            if unwind_id in self.children or any(
                o.intent_id == unwind_id for o in state.open_orders(intent.token_id)
            ):
                continue
            del self.unwinds[unwind_id]
            code = SYS_UNWIND_INCOMPLETE if left else SYS_UNWIND_DONE
            if left:
                _LOG.error("%s: unwind ended with %d of %s held", unwind_id, left, intent.token_id)
            self.execution.record_desk(
                unwind_id,
                state,
                code,
                msgspec.structs.replace(intent, size=left),
                causation_id=self._cause(),
                decision=Decision.REFUSE if left else Decision.ROUTE,
            )

    def _quarantined(self, now: int) -> None:
        """Keep the new quarantines; stop the quotes of a strategy quarantined from ENFORCED
        (cancel its open orders: nothing watches them any more)."""
        for quarantine in self.state.new_quarantines:
            self.quarantines.append(quarantine)
            if quarantine.bot_class is BotClass.STRATEGY and quarantine.from_mode is Mode.ENFORCED:
                self._cancel_quotes(quarantine.bot_id, now, "quarantined")
        self.state.new_quarantines.clear()

    def _cancel_quotes(self, bot_id: str, now: int, why: str) -> None:
        """Cancel every open order a strategy's intents placed (its intent ids start with
        ``<bot id>/``): nothing watches them any more."""
        own = f"{bot_id}/"
        quotes = [
            o.client_order_id for o in self.state.open_orders() if o.intent_id.startswith(own)
        ]
        if quotes:
            _LOG.warning("%s %s: cancelling its %d open orders", bot_id, why, len(quotes))
            self.orders.cancel_orders(quotes, now)

    def _collect_desk_events(self) -> None:
        if self.state.desk_events:
            self.desk_events.extend(self.state.desk_events)
            self.state.desk_events.clear()

    # ------------------------------------------------------------------ operator
    def _slot(self, bot_id: str) -> BotSlot | None:
        for slot in (*self.strategies.slots, *self.risk.slots, *self.execution.slots):
            if slot.bot_id == bot_id:
                return slot
        return None

    def _allocator_command(self, command: str) -> tuple[bool, str]:
        """``allocator-freeze`` / ``allocator-unfreeze`` / ``allocator-reset``."""
        allocator = self.allocator
        if allocator is None:
            return False, "no allocator ([desk.allocator])"
        self._start_allocator(self.state.now_ns)
        if command == "allocator-reset":
            self._record_allocation(allocator.reset(self.state))
            return True, "static split restored"
        if command in ("allocator-freeze", "allocator-unfreeze"):
            frozen = command == "allocator-freeze"
            allocation = allocator.set_frozen(self.state, frozen)
            self._record_allocation(allocation)
            if allocation is None:
                return False, "already frozen" if frozen else "not frozen"
            return True, "frozen" if frozen else "unfrozen"
        return False, f"unknown command {command!r}"

    def _apply_operator(
        self, command: str, operator: str, args: dict[str, str], now: int
    ) -> tuple[bool, str]:
        source = f"operator:{operator}"
        if command == "kill":
            tripped = self.state.trip_kill_switch(
                SYS_KILL_SWITCH_TRIPPED, source, args.get("detail", "")
            )
            self._after_decisions(now)
            return tripped, "tripped" if tripped else "already tripped"
        if command == "unwind":
            if self.unwind_slot is None:
                return False, 'no unwind bot (exec.twap with role = "unwind")'
            started = self._start_unwinds(source, args.get("token_id", ""))
            self._after_decisions(now)
            if not started:
                return False, "no position to unwind (flat, already unwinding, or no price)"
            return True, f"unwinding {len(started)} position(s): {', '.join(started)}"
        if command == "reset_kill_switch":
            reset = self.state.reset_kill_switch()
            return reset, "reset; trading stays HALTED until set_trading_state" if reset else (
                "not tripped"
            )
        if command == "set_trading_state":
            try:
                wanted = TradingState(args.get("state", ""))
            except ValueError:
                return False, f"unknown state {args.get('state')!r}"
            if self.state.kill_switch_tripped and wanted is not TradingState.HALTED:
                return False, "kill switch tripped: reset it first"
            self.state.set_trading_state(wanted, SYS_OPERATOR_COMMAND, source)
            return True, f"trading state {wanted}"
        if command == "set_mode":
            slot = self._slot(args.get("bot_id", ""))
            if slot is None:
                return False, f"unknown bot {args.get('bot_id')!r}"
            try:
                mode = Mode(args.get("mode", ""))
                if mode is Mode.ENFORCED and slot.bot_id in self.demoted:
                    raise ValueError(
                        f"{slot.bot_id} was demoted ({self.demoted[slot.bot_id]}): it cannot be "
                        "ENFORCED again in this desk"
                    )
                if slot.mode is Mode.QUARANTINE:
                    slot.release(mode)
                else:
                    if mode not in slot.bot.mode_support or mode is Mode.QUARANTINE:
                        raise ValueError(f"mode {mode} not allowed")
                    if (
                        slot.bot_class is BotClass.EXECUTION
                        and mode is Mode.ENFORCED
                        and any(
                            s.mode is Mode.ENFORCED and s is not slot for s in self.execution.slots
                        )
                    ):
                        raise ValueError("another execution bot is ENFORCED")
                    slot.mode = mode
            except ValueError as exc:
                return False, str(exc)
            return True, f"{slot.bot_id} → {slot.mode}"
        if command.startswith("allocator-"):
            return self._allocator_command(command)
        if command == "shutdown":
            self.request_stop()
            return True, "stopping after the current event"
        return False, f"unknown command {command!r}"
