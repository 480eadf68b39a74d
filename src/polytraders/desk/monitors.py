"""``MonitorRunner``: runs risk bots' monitor steps on the desk's timer (DESIGN.md "The desk";
issue 11 "Time-driven risk monitoring").

A risk bot with a monitor step (:class:`~polytraders.contracts.bot.RiskMonitor`, its
``Config.monitor_interval_ms`` > 0) is asked ``monitor(view)`` every interval of desk time,
whether or not intents flow, so a condition that arises while the desk is quiet — feed silence,
a lapsed heartbeat, the day's loss, a drawdown — still reduces or halts it. The desk schedules
one timer per such bot (:class:`~polytraders.desk.desk.Desk`, step 0); this module
decides what a firing does.

Rules for one firing of a slot's monitor:

1. STUB and QUARANTINE slots are not called. SHADOW, ADVISORY and ENFORCED slots are.
2. **Failures quarantine, fail closed.** A monitor that raises (``SYS_BOT_EXCEPTION``), overruns
   the slot's budget (``SYS_BOT_TIMEOUT``: modelled latency under a simulated clock, the call's
   thread CPU time under a live one, judged by
   :meth:`~polytraders.desk.slots.BotSlot.over_budget`; a measured overrun that does not
   quarantine is recorded as ``SYS_BOT_OVER_BUDGET`` and the finding, which can only restrict
   the desk, is still applied), returns something other than None or a
   :class:`~polytraders.contracts.decisions.MonitorDecision` or a code it did not declare
   (``SYS_INVALID_OUTPUT``), or asks for REDUCE or HALT without the matching capability
   (:func:`~polytraders.contracts.authority.monitor_decision_problems`,
   ``SYS_AUTHORITY_VIOLATION``) is quarantined with an ERROR envelope, exactly like a failing
   ``decide``; nothing it asked for is applied. Quarantined from ENFORCED, the risk bot then
   rejects every intent with ``SYS_BOT_QUARANTINED`` (fail closed).
3. **What is recorded** (no "all is well" envelopes): a finding (REDUCE or HALT) becomes one
   envelope — decision REDUCE or HALT, the bot's codes, output the ``MonitorDecision``,
   ``correlation_id`` "" (no intent), ``causation_id`` ``<run>/<timer name>@<ts>``, the input
   digest of the timer event — when it differs (action or codes) from the slot's previous
   finding, or when the slot is ENFORCED and applying it would change the desk (an operator
   undid an earlier one). A None answer records nothing and clears the previous finding, so
   the condition's return is recorded again. A steady condition therefore costs one envelope,
   not one per tick.
4. **Applied only when ENFORCED** (SHADOW and ADVISORY findings are recorded, never applied):
   HALT trips the kill switch when the bot holds ``KILL_SWITCH``, else sets HALTED; REDUCE sets
   REDUCING only while the desk is ACTIVE (a HALTED desk is never loosened). The desk then
   cancels every open order if the kill switch tripped.

A firing does not run strategies, does not advance the venue, and does not mark equity: the
monitor reads the desk state as the last event left it, at the timer's time.
"""

from __future__ import annotations

from polytraders.contracts.authority import Capability, monitor_decision_problems
from polytraders.contracts.decisions import MonitorAction, MonitorDecision
from polytraders.contracts.envelope import BotFailure, Decision, input_digest
from polytraders.contracts.modes import Mode
from polytraders.desk.decision_cpu import decision_cpu_ns
from polytraders.desk.failures import exception_failure
from polytraders.desk.recorder import Cause, EnvelopeRecorder, record_over_budget, record_quarantine
from polytraders.desk.slots import SYS_BOT_OVER_BUDGET, BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import Timer, TradingState

SYS_INVALID_OUTPUT = "SYS_INVALID_OUTPUT"
SYS_AUTHORITY_VIOLATION = "SYS_AUTHORITY_VIOLATION"

_DECISION_OF = {MonitorAction.HALT: Decision.HALT, MonitorAction.REDUCE: Decision.REDUCE}


def _changes_desk(decision: MonitorDecision, slot: BotSlot, state: DeskState) -> bool:
    """True when applying ``decision`` from ``slot`` would change the desk: a HALT while the kill
    switch (for a ``KILL_SWITCH`` bot) is not tripped or the desk is not HALTED; a REDUCE while
    the desk is ACTIVE."""
    if decision.action is MonitorAction.HALT:
        if Capability.KILL_SWITCH in slot.capabilities:
            return not state.kill_switch_tripped
        return state.trading_state is not TradingState.HALTED
    return state.trading_state is TradingState.ACTIVE


class MonitorRunner:
    """Runs monitor steps of risk slots (rules in the module docstring).

    Args:
        recorder: envelope recorder of the run.
        measure_cpu: measure each call's thread CPU time (live clock) instead of using the
            slot's modelled latency; it goes to the envelope and the budget check.

    Attributes:
        findings: bot id → the slot's last recorded finding (absent or None when all is well).
    """

    def __init__(self, recorder: EnvelopeRecorder, *, measure_cpu: bool = False) -> None:
        self.recorder = recorder
        self.measure_cpu = measure_cpu
        self.findings: dict[str, MonitorDecision | None] = {}

    def run(self, slot: BotSlot, state: DeskState, timer: Timer) -> MonitorDecision | None:
        """One firing (``timer``) of ``slot``'s monitor at ``state.now_ns``; returns the finding
        recorded (None when nothing was recorded). Applies it to ``state`` when the slot is
        ENFORCED.

        Raises:
            ValueError: ``slot`` has no monitor step.
        """
        if slot.monitor_interval_ns == 0:
            raise ValueError(f"{slot.bot_id} has no monitor step")
        mode = slot.mode
        if not mode.runs:
            return None
        measure = self.measure_cpu
        started = decision_cpu_ns() if measure else 0
        try:
            decision = slot.bot.monitor(state)
        except Exception as exc:
            latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
            self._fail(slot, state, timer, exception_failure(exc, slot.bot), latency)
            return None
        latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
        if latency > slot.budget_ns:
            late = slot.over_budget(latency, measure, state.now_ns)
            if late.code != SYS_BOT_OVER_BUDGET:
                self._fail(slot, state, timer, late, latency)
                return None
            # A monitor's finding only restricts the desk (REDUCE or HALT), so a late one is
            # still applied below; the overrun is recorded on its own.
            late = BotFailure(code=late.code, message=late.message + "; finding still applied")
            cause = self._cause(timer)
            record_over_budget(self.recorder, slot, state, cause, late, latency_ns=latency)
        if decision is None:
            self.findings[slot.bot_id] = None
            return None
        problem = _problem(slot, decision)
        if problem is not None:
            self._fail(slot, state, timer, problem, latency)
            return None
        assert isinstance(decision, MonitorDecision)  # guaranteed by _problem
        enforced = mode is Mode.ENFORCED
        if self.findings.get(slot.bot_id) == decision and not (
            enforced and _changes_desk(decision, slot, state)
        ):
            return None
        self.findings[slot.bot_id] = decision
        cause = self._cause(timer)
        self.recorder.record(
            bot_id=slot.bot_id,
            bot_class=slot.bot_class,
            bot_version=slot.version,
            config_version=slot.config_version,
            mode=mode,
            decision=_DECISION_OF[decision.action],
            ts_event_ns=cause.ts_event_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=decision.reason_codes,
            causation_id=cause.causation_id,
            input_digest=cause.input_digest,
            output=decision,
            latency_ns=latency,
        )
        if enforced:
            _apply(decision, slot, state)
        return decision

    def _cause(self, timer: Timer) -> Cause:
        """The firing as the cause of an envelope (built only when one is recorded)."""
        ts = timer.ts_event_ns
        causation_id = f"{self.recorder.run_id}/{timer.name}@{ts}"
        return Cause(causation_id, ts, input_digest(timer))

    def _fail(
        self, slot: BotSlot, state: DeskState, timer: Timer, failure: BotFailure, latency_ns: int
    ) -> None:
        self.findings.pop(slot.bot_id, None)
        cause = self._cause(timer)
        record_quarantine(self.recorder, slot, state, cause, failure, latency_ns=latency_ns)


def _problem(slot: BotSlot, decision: object) -> BotFailure | None:
    """Why a monitor's non-None answer is refused (None when it may be recorded)."""
    if not isinstance(decision, MonitorDecision):
        return BotFailure(code=SYS_INVALID_OUTPUT, message=f"returned {type(decision).__name__}")
    undeclared = sorted(set(decision.reason_codes) - slot.bot.reason_codes)
    if undeclared:
        return BotFailure(code=SYS_INVALID_OUTPUT, message=f"undeclared reason codes {undeclared}")
    violations = monitor_decision_problems(slot.bot_class, slot.capabilities, decision)
    if violations:
        return BotFailure(code=SYS_AUTHORITY_VIOLATION, message="; ".join(violations))
    return None


def _apply(decision: MonitorDecision, slot: BotSlot, state: DeskState) -> None:
    code = decision.reason_codes[0]
    if decision.action is MonitorAction.HALT:
        if Capability.KILL_SWITCH in slot.capabilities:
            state.trip_kill_switch(
                code, slot.bot_id, "monitor: " + ", ".join(decision.reason_codes)
            )
        else:
            state.set_trading_state(TradingState.HALTED, code, slot.bot_id)
    elif state.trading_state is TradingState.ACTIVE:
        state.set_trading_state(TradingState.REDUCING, code, slot.bot_id)
