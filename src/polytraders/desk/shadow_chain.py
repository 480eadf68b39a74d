"""``ShadowChain``: a candidate risk chain deciding beside a desk's own, never applied
(DESIGN.md "Modes": SHADOW runs on the real inputs, its decision is recorded and compared with
the live decision, never applied; GitHub Scientist's control/candidate pattern,
``../shared/research/governance.md`` §3).

A desk given a shadow (``Desk(shadow=…)``) hands every intent its strategies propose to the
shadow's chain first, then to its own: both chains decide on the same intent, the same view of
the desk and the same clock. The shadow's chain is a complete
:class:`~polytraders.desk.risk_chain.RiskChain` of the candidate's risk slots, with the
candidate's order and modes: its desk checks, its enforced REJECT stopping its chain, its
RESHAPE feeding its later bots. Its envelopes go to its own sink under its own run id (the
engine's: the candidate desk's own run id plus :data:`SHADOW_SUFFIX`); they are correlated
with the desk's by the intent id.

**Never applied.** The shadow reads the desk's state through :class:`DryState`, which passes
every read through and keeps every change the shadow's chain or monitors ask for to itself: a
candidate's HALT, REDUCE, kill-switch trip, error count or quarantine never reaches the desk.
The candidate's later decisions are therefore made on the desk's state as the desk ran it
(the candidate's own halt does not stop it deciding), exactly like a SHADOW bot's.

**Monitors.** The candidate's risk bots with a monitor step are asked on their own schedule
(every ``monitor_interval_ms`` of desk time from the desk's first event or tick), with the same
rules as the desk's monitors (:mod:`polytraders.desk.monitors`), dry. A due shadow monitor
fires when the desk next processes an event or ticks, before the desk's own due timers.

The desk's own envelopes, orders and results are unchanged by a shadow (the same timeline
SHA-256 with or without one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from polytraders.contracts.modes import BotClass
from polytraders.desk.monitors import MonitorRunner
from polytraders.desk.recorder import EnvelopeRecorder
from polytraders.desk.risk_chain import RiskChain, RiskOutcome
from polytraders.desk.sinks import DigestingSink, EnvelopeSink
from polytraders.desk.slots import BotSlot, Quarantine
from polytraders.desk.state import DeskState
from polytraders.desk.timers import TimerSchedule
from polytraders.model.events import TradingState
from polytraders.model.orders import OrderIntent

SHADOW_SUFFIX = "-shadow"
"""The end of a shadow chain's run id (its envelopes are never a run of their own)."""


class DryState:
    """A desk state seen by a shadow: reads pass through to ``state``; changes stay here.

    Attributes:
        requests: every trading-state change, kill-switch trip or error the shadow asked for,
            as (what, detail) pairs in order (``("trading_state", "HALTED RISK_…")``).
        new_quarantines: quarantines of the shadow's slots (the desk never sees them).
    """

    def __init__(self, state: DeskState, now_ns: int | None = None) -> None:
        self._state = state
        self._now_ns = now_ns
        self.requests: list[tuple[str, str]] = []
        self.new_quarantines: list[Quarantine] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)

    @property
    def now_ns(self) -> int:
        """The desk's time, or the shadow monitor's firing time."""
        return self._state.now_ns if self._now_ns is None else self._now_ns

    def set_trading_state(self, new_state: TradingState, reason_code: str, source: str) -> None:
        """Kept, not applied."""
        self.requests.append(("trading_state", f"{new_state.value} {reason_code} {source}"))

    def trip_kill_switch(self, reason_code: str, source: str, detail: str = "") -> bool:
        """Kept, not applied."""
        self.requests.append(("kill_switch", f"{reason_code} {source} {detail}".strip()))
        return False

    def record_error(self) -> int:
        """Kept, not counted in the desk's consecutive errors."""
        self.requests.append(("error", ""))
        return self._state.consecutive_errors

    def as_state(self) -> DeskState:
        """This object typed as the state the chain and monitors take (they only call what
        :class:`DeskState` offers, which this passes through or keeps)."""
        return cast(DeskState, self)


class ShadowChain:
    """The candidate's risk chain and monitors, deciding beside a desk (module docstring).

    Args:
        slots: the candidate's risk slots in its declared order.
        run_id: the run its envelopes belong to (ending in :data:`SHADOW_SUFFIX` by convention).
        sink: where its envelopes go.
        desk_config_version: the config version in its own ``desk`` envelopes.
        require_known_tokens: its desk check refuses intents for unknown tokens.
        measure_cpu: time each call in thread CPU time (live clock).

    Raises:
        ValueError: a slot that is not a risk bot.
    """

    def __init__(
        self,
        slots: Sequence[BotSlot],
        *,
        run_id: str,
        sink: EnvelopeSink,
        desk_config_version: str = "",
        require_known_tokens: bool = True,
        measure_cpu: bool = False,
    ) -> None:
        for slot in slots:
            if slot.bot_class is not BotClass.RISK:
                raise ValueError(f"{slot.bot_id} is not a risk bot")
        self.sink = DigestingSink(sink)
        self.recorder = EnvelopeRecorder(run_id, self.sink)
        self.chain = RiskChain(
            slots,
            self.recorder,
            desk_config_version=desk_config_version,
            require_known_tokens=require_known_tokens,
            measure_cpu=measure_cpu,
        )
        self.monitors = MonitorRunner(self.recorder, measure_cpu=measure_cpu)
        self._monitor_slots = {
            f"shadow-monitor:{s.bot_id}": s for s in self.chain.slots if s.monitor_interval_ns
        }
        self._timers = TimerSchedule()
        self._scheduled = False
        self.requests: list[tuple[str, str]] = []
        """Every change of the desk the shadow asked for (never applied), in order."""
        self.quarantines: list[Quarantine] = []
        """The shadow's slots quarantined so far, in order."""

    @property
    def run_id(self) -> str:
        """The run its envelopes belong to."""
        return self.recorder.run_id

    @property
    def envelope_count(self) -> int:
        """Envelopes recorded so far."""
        return self.sink.count

    def timeline_sha256(self) -> str:
        """SHA-256 of its envelope timeline so far."""
        return self.sink.hexdigest()

    def _keep(self, dry: DryState) -> None:
        self.requests.extend(dry.requests)
        self.quarantines.extend(dry.new_quarantines)

    def evaluate(
        self, intent: OrderIntent, state: DeskState, *, causation_id: str, ts_event_ns: int
    ) -> RiskOutcome:
        """Decide on ``intent`` with the candidate's chain on the desk's ``state``, dry;
        returns what the candidate would have done (recorded, never applied)."""
        dry = DryState(state)
        outcome = self.chain.evaluate(
            intent, dry.as_state(), causation_id=causation_id, ts_event_ns=ts_event_ns
        )
        self._keep(dry)
        return outcome

    def fire_due(self, now_ns: int, state: DeskState) -> None:
        """Ask every candidate monitor due at or before ``now_ns`` (scheduling them all at the
        first call), dry, at its own firing time."""
        if not self._scheduled:
            self._scheduled = True
            for name, slot in self._monitor_slots.items():
                self._timers.add(name, slot.monitor_interval_ns, now_ns + slot.monitor_interval_ns)
        while True:
            timer = self._timers.pop_due(now_ns)
            if timer is None:
                return
            dry = DryState(state, max(timer.ts_event_ns, state.now_ns))
            self.monitors.run(self._monitor_slots[timer.name], dry.as_state(), timer)
            self._keep(dry)

    def flush(self) -> None:
        """Flush its sink."""
        self.sink.flush()
