"""``RiskChain``: every intent through the desk's gate and the risk bots, in declared order.

Exact rules (DESIGN.md "The desk" step 3 and "Contracts"):

1. **Desk checks first** (envelope ``bot_id="desk"``): a structurally invalid intent, or one
   reusing an intent id this chain has already seen, is rejected with ``SYS_INVALID_INTENT``;
   an unknown token with ``SYS_UNKNOWN_TOKEN`` (when the chain requires known tokens); then
   the trading-state gate of :mod:`polytraders.desk.gate` (kill switch, HALTED, reduce-only,
   REDUCING). A CANCEL intent is approved by the desk without running the
   risk bots: withdrawing an order never adds risk and must never be blocked by a failing bot.
   With a MetaAllocator (:mod:`polytraders.desk.allocator`), its budget check comes next: a
   REJECT or RESHAPE by it is a desk envelope, and a reshaped intent goes on to the bots.
2. **Bots in order.** STUB bots do not run. ENFORCED bots decide: APPROVE passes the intent on
   unchanged; RESHAPE replaces it with ``decision.reshaped`` for every later bot; REJECT stops
   it; HALT stops it and sets the trading state HALTED (a HALT from a bot holding the
   ``KILL_SWITCH`` capability trips the kill switch). ``set_state`` on any verdict asks for
   REDUCING or HALTED (each needs its capability, :mod:`polytraders.contracts.authority`).
   SHADOW and ADVISORY bots run on the same inputs (the intent as it reaches their place in
   the chain and the same view) and are only recorded. After an enforced stop, the remaining
   SHADOW/ADVISORY bots still run on the intent as it stood, so shadow evidence covers every
   intent; remaining ENFORCED bots do not run.
3. **Quarantine.** A bot that raises (``SYS_BOT_EXCEPTION``), overruns its decision budget
   (``SYS_BOT_TIMEOUT``; a measured overrun that
   :meth:`~polytraders.desk.slots.BotSlot.over_budget` does not count as one is recorded as
   ``SYS_BOT_OVER_BUDGET`` and rejects that intent only, when the bot is ENFORCED), returns
   something other than a :class:`RiskDecision` or a code it did not declare
   (``SYS_INVALID_OUTPUT``), or breaks its authority
   (:func:`~polytraders.contracts.authority.risk_decision_problems`,
   ``SYS_AUTHORITY_VIOLATION``: among others a HALT or state change without the capability) has
   its output refused, is quarantined, and — when it was
   ENFORCED — the intent is rejected (codes: the cause, then ``SYS_BOT_QUARANTINED``). From
   then on it rejects every intent with ``SYS_BOT_QUARANTINED`` without being called (fail
   closed). A SHADOW/ADVISORY bot that fails is quarantined (recorded) but blocks nothing.
4. **Re-gate.** If the trading state changed during the chain, the final intent passes the
   gate again before approval.

Every path records exactly one envelope per bot consulted (and one per desk decision), with
deterministic ids. ``latency_ns`` (and the budget check) is the slot's modelled latency under a
simulated clock and the call's measured thread CPU time only when ``measure_cpu=True`` (live);
the input digest is computed once per distinct intent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from msgspec.structs import replace

from polytraders.contracts.authority import Capability, risk_decision_problems
from polytraders.contracts.decisions import APPROVE, RiskDecision, Verdict
from polytraders.contracts.envelope import BotFailure, Decision, ReportEnvelope, input_digest
from polytraders.contracts.id_set import IdSet
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.allocator import MetaAllocator
from polytraders.desk.decision_cpu import decision_cpu_ns
from polytraders.desk.failures import exception_failure
from polytraders.desk.gate import gate_reason
from polytraders.desk.recorder import (
    Cause,
    DeskActor,
    EnvelopeRecorder,
    record_over_budget,
    record_quarantine,
)
from polytraders.desk.slots import SYS_BOT_OVER_BUDGET, BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import TradingState
from polytraders.model.orders import IntentAction, OrderIntent, intent_problems

SYS_INVALID_OUTPUT = "SYS_INVALID_OUTPUT"
SYS_AUTHORITY_VIOLATION = "SYS_AUTHORITY_VIOLATION"
SYS_BOT_QUARANTINED = "SYS_BOT_QUARANTINED"
SYS_INVALID_INTENT = "SYS_INVALID_INTENT"
SYS_UNKNOWN_TOKEN = "SYS_UNKNOWN_TOKEN"

_DECISION_OF = {
    Verdict.APPROVE: Decision.APPROVE,
    Verdict.REJECT: Decision.REJECT,
    Verdict.RESHAPE: Decision.RESHAPE,
    Verdict.HALT: Decision.HALT,
}

# enum members as module globals: attribute access on an Enum class is slow on the hot path
_STUB = Mode.STUB
_QUARANTINE = Mode.QUARANTINE
_ENFORCED = Mode.ENFORCED
_V_APPROVE = Verdict.APPROVE
_V_RESHAPE = Verdict.RESHAPE
_V_REJECT = Verdict.REJECT
_V_HALT = Verdict.HALT
_CANCEL = IntentAction.CANCEL
_KILL_SWITCH = Capability.KILL_SWITCH

DecisionObserver = Callable[[BotSlot, Decision, int], None]
"""Metrics hook: ``(slot, decision, cpu_ns)`` after each bot call (the call's thread CPU time,
measured whenever an observer is set; it never reaches an envelope under a simulated clock)."""


class RiskOutcome(NamedTuple):
    """What the chain decided for one intent.

    Fields:
        approved: True when the intent may go to execution.
        intent: the intent as approved (possibly reshaped), or as it stood when stopped.
        verdict: APPROVE (also after reshapes), REJECT or HALT.
        reason_codes: codes of the deciding step (empty for a plain approval; a reshape's and
            an approval's warning codes accumulate).
        decided_by: bot id that stopped the intent, ``"desk"`` for the desk's checks, "" when
            approved.
        reshaped: True when at least one enforced RESHAPE applied.
    """

    approved: bool
    intent: OrderIntent
    verdict: Verdict
    reason_codes: tuple[str, ...]
    decided_by: str
    reshaped: bool


class RiskChain:
    """Runs intents through the desk gate and the risk ``slots`` in order.

    Args:
        slots: risk-bot slots in declared order.
        recorder: envelope recorder of the run.
        desk_config_version: config version written in the desk's own envelopes.
        require_known_tokens: reject intents for tokens the state has no metadata for.
        measure_cpu: record the measured thread CPU time of each call in envelopes and check
            it against the budget (live clock only).
        observer: optional metrics hook (see :data:`DecisionObserver`).
        allocator: the desk's MetaAllocator, whose budget check follows the desk's gate.

    Raises:
        ValueError: a slot whose bot is not a risk bot.
    """

    def __init__(
        self,
        slots: Sequence[BotSlot],
        recorder: EnvelopeRecorder,
        *,
        desk_config_version: str = "",
        require_known_tokens: bool = True,
        measure_cpu: bool = False,
        observer: DecisionObserver | None = None,
        allocator: MetaAllocator | None = None,
    ) -> None:
        for slot in slots:
            if slot.bot_class is not BotClass.RISK:
                raise ValueError(f"{slot.bot_id} is not a risk bot")
        self.slots = list(slots)
        self.recorder = recorder
        self.desk = DeskActor(BotClass.RISK, desk_config_version)
        self.require_known_tokens = require_known_tokens
        self.measure_cpu = measure_cpu
        self.observer = observer
        self.allocator = allocator
        self._allowed = {s.bot_id: frozenset(s.bot.reason_codes) for s in self.slots}
        self._seen = IdSet()
        """Every intent id that entered the chain (exact; ranges for numbered ids)."""

    def has_seen(self, intent_id: str) -> bool:
        """True when an intent with this id already entered the chain in this run."""
        return intent_id in self._seen

    def seen_intent_ids(self) -> list[str]:
        """Every intent id that entered the chain (sorted; checkpoints)."""
        return sorted(self._seen)

    def remember_intents(self, intent_ids: Iterable[str]) -> None:
        """Intent ids seen before a restart: reusing one is refused (``SYS_INVALID_INTENT``)."""
        self._seen.update(intent_ids)

    # ------------------------------------------------------------------ desk decisions
    def _desk(
        self,
        intent: OrderIntent,
        state: DeskState,
        decision: Decision,
        codes: tuple[str, ...],
        cause: Cause,
    ) -> None:
        desk = self.desk
        self.recorder.record(
            bot_id=desk.bot_id,
            bot_class=desk.bot_class,
            bot_version=desk.version,
            config_version=desk.config_version,
            mode=Mode.ENFORCED,
            decision=decision,
            ts_event_ns=cause.ts_event_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=codes,
            correlation_id=intent.intent_id,
            causation_id=cause.causation_id,
            input_digest=cause.input_digest,
            output=intent,
        )

    def _precheck(self, intent: OrderIntent, state: DeskState) -> str | None:
        if intent_problems(intent) or intent.intent_id in self._seen:
            return SYS_INVALID_INTENT
        self._seen.add(intent.intent_id)
        if (
            self.require_known_tokens
            and state.token(intent.token_id) is None
            and state.instrument(intent.token_id) is None
        ):
            return SYS_UNKNOWN_TOKEN
        return gate_reason(intent, state)

    # ------------------------------------------------------------------ the chain
    def evaluate(
        self,
        intent: OrderIntent,
        state: DeskState,
        *,
        causation_id: str = "",
        ts_event_ns: int | None = None,
    ) -> RiskOutcome:
        """Decide on one intent (rules in the module docstring); records the envelopes and
        applies trading-state requests to ``state``.

        Args:
            intent: the proposed intent.
            state: the desk state (bots see it as a ``DeskView``).
            causation_id: id of the event that caused the intent.
            ts_event_ns: time of that event (defaults to ``state.now_ns``).
        """
        ts_event = state.now_ns if ts_event_ns is None else ts_event_ns
        digest = input_digest(intent)
        refusal = self._precheck(intent, state)
        if refusal is not None:
            self._desk(
                intent, state, Decision.REJECT, (refusal,), Cause(causation_id, ts_event, digest)
            )
            return RiskOutcome(False, intent, Verdict.REJECT, (refusal,), "desk", False)
        if intent.action is _CANCEL:
            self._desk(intent, state, Decision.APPROVE, (), Cause(causation_id, ts_event, digest))
            return RiskOutcome(True, intent, Verdict.APPROVE, (), "", False)
        codes: tuple[str, ...] = ()
        reshaped = False
        if self.allocator is not None:
            budget = self.allocator.check(intent, state)
            if budget.code:
                cause = Cause(causation_id, ts_event, digest)
                if budget.intent is None:
                    self._desk(intent, state, Decision.REJECT, (budget.code,), cause)
                    return RiskOutcome(False, intent, Verdict.REJECT, (budget.code,), "desk", False)
                intent = budget.intent
                self._desk(intent, state, Decision.RESHAPE, (budget.code,), cause)
                digest = input_digest(intent)
                codes, reshaped = (budget.code,), True

        start_state = state.trading_state
        start_kill = state.kill_switch_tripped
        recorder = self.recorder
        record = recorder.record
        sink_record = recorder.sink.record
        prefix = recorder.prefix
        run_id = recorder.run_id
        intent_id = intent.intent_id
        observer = self.observer
        measure_cpu = self.measure_cpu
        measure = measure_cpu or observer is not None
        now = state.now_ns
        stopped: RiskOutcome | None = None
        previous: ReportEnvelope | None = None
        for slot in self.slots:
            mode = slot.mode
            if mode is _STUB:
                continue
            if mode is _QUARANTINE:
                if stopped is None and slot.fails_closed:
                    record(
                        bot_id=slot.bot_id,
                        bot_class=slot.bot_class,
                        bot_version=slot.version,
                        config_version=slot.config_version,
                        mode=_QUARANTINE,
                        decision=Decision.QUARANTINE,
                        ts_event_ns=ts_event,
                        ts_decided_ns=now,
                        reason_codes=(SYS_BOT_QUARANTINED,),
                        correlation_id=intent.intent_id,
                        causation_id=causation_id,
                        input_digest=digest,
                        output=intent,
                    )
                    stopped = RiskOutcome(
                        False, intent, _V_REJECT, (SYS_BOT_QUARANTINED,), slot.bot_id, reshaped
                    )
                continue
            enforced = mode is _ENFORCED
            if enforced and stopped is not None:
                continue
            # ---- call the bot
            cpu_start = decision_cpu_ns() if measure else 0
            try:
                decision = slot.decide(intent, state)
            except Exception as exc:
                cpu = decision_cpu_ns() - cpu_start if measure else 0
                failure = self._fail(
                    slot,
                    intent,
                    state,
                    Cause(causation_id, ts_event, digest),
                    exception_failure(exc, slot.bot),
                    latency_ns=cpu,
                )
                if enforced:
                    stopped = failure
                continue
            cpu = decision_cpu_ns() - cpu_start if measure else 0
            latency = cpu if measure_cpu else slot.modelled_latency_ns
            if latency > slot.budget_ns:
                late = slot.over_budget(latency, measure_cpu, state.now_ns)
                cause = Cause(causation_id, ts_event, digest)
                if late.code == SYS_BOT_OVER_BUDGET:  # refused: the intent is rejected
                    failure = self._over_budget(
                        slot, intent, state, cause, late, latency_ns=latency
                    )
                else:
                    failure = self._fail(slot, intent, state, cause, late, latency_ns=latency)
                if enforced:
                    stopped = failure
                continue
            # ---- validate: type, declared codes, authority
            problem = detail = ""
            if decision is APPROVE:
                verdict = _V_APPROVE
            elif type(decision) is not RiskDecision and not isinstance(decision, RiskDecision):
                problem, detail = SYS_INVALID_OUTPUT, f"returned {type(decision).__name__}"
            else:
                verdict = decision.verdict
                if decision.reason_codes and not self._allowed[slot.bot_id].issuperset(
                    decision.reason_codes
                ):
                    problem = SYS_INVALID_OUTPUT
                    detail = f"undeclared reason codes {decision.reason_codes}"
                elif (
                    verdict is not _V_APPROVE
                    or decision.reshaped is not None
                    or decision.set_state is not None
                ):
                    violations = risk_decision_problems(
                        slot.bot_class, slot.capabilities, intent, decision
                    )
                    if violations:
                        problem, detail = SYS_AUTHORITY_VIOLATION, "; ".join(violations)
            if problem:
                failure = self._fail(
                    slot,
                    intent,
                    state,
                    Cause(causation_id, ts_event, digest),
                    BotFailure(code=problem, message=detail),
                    latency_ns=latency,
                )
                if enforced:
                    stopped = failure
                continue
            # ---- record (inlined: this is the per-bot hot path). When this envelope differs
            # from the previous one of this intent only in identity fields (the common case:
            # the shared APPROVE), copy it with those replaced: about half the cost.
            sequence = recorder.sequence
            recorder.sequence = sequence + 1
            if (
                previous is not None
                and previous.output is decision
                and previous.mode is mode
                and previous.latency_ns == latency
                and previous.input_digest is digest
            ):
                envelope = replace(
                    previous,
                    envelope_id=prefix + str(sequence),
                    sequence=sequence,
                    bot_id=slot.bot_id,
                    bot_version=slot.version,
                    config_version=slot.config_version,
                )
            else:
                envelope = ReportEnvelope(
                    envelope_id=prefix + str(sequence),
                    run_id=run_id,
                    sequence=sequence,
                    ts_event_ns=ts_event,
                    ts_decided_ns=now,
                    bot_id=slot.bot_id,
                    bot_class=slot.bot_class,
                    bot_version=slot.version,
                    config_version=slot.config_version,
                    mode=mode,
                    decision=_DECISION_OF[verdict],
                    reason_codes=decision.reason_codes,
                    correlation_id=intent_id,
                    causation_id=causation_id,
                    input_digest=digest,
                    output=decision,
                    latency_ns=latency,
                )
            previous = envelope
            sink_record(envelope)
            if observer is not None:
                observer(slot, _DECISION_OF[verdict], cpu)
            if not enforced:
                continue
            # ---- apply (enforced only)
            if decision.set_state is not None:
                state.set_trading_state(
                    decision.set_state,
                    decision.reason_codes[0] if decision.reason_codes else "",
                    slot.bot_id,
                )
            if verdict is _V_APPROVE:
                codes += decision.reason_codes
            elif verdict is _V_RESHAPE:
                assert decision.reshaped is not None  # guaranteed by risk_decision_problems
                intent = decision.reshaped
                intent_id = intent.intent_id
                digest = input_digest(intent)
                codes += decision.reason_codes
                reshaped = True
            elif verdict is _V_REJECT:
                stopped = RiskOutcome(
                    False, intent, _V_REJECT, decision.reason_codes, slot.bot_id, reshaped
                )
            else:  # HALT
                code = decision.reason_codes[0]
                if _KILL_SWITCH in slot.capabilities:
                    state.trip_kill_switch(code, slot.bot_id)
                else:
                    state.set_trading_state(TradingState.HALTED, code, slot.bot_id)
                stopped = RiskOutcome(
                    False, intent, _V_HALT, decision.reason_codes, slot.bot_id, reshaped
                )
        if stopped is not None:
            return stopped
        if state.trading_state is not start_state or state.kill_switch_tripped is not start_kill:
            refusal = gate_reason(intent, state)
            if refusal is not None:
                self._desk(
                    intent,
                    state,
                    Decision.REJECT,
                    (refusal,),
                    Cause(causation_id, ts_event, digest),
                )
                return RiskOutcome(False, intent, Verdict.REJECT, (refusal,), "desk", reshaped)
        return RiskOutcome(True, intent, _V_APPROVE, codes, "", reshaped)

    def _over_budget(
        self,
        slot: BotSlot,
        intent: OrderIntent,
        state: DeskState,
        cause: Cause,
        failure: BotFailure,
        *,
        latency_ns: int,
    ) -> RiskOutcome:
        """Record one refused over-budget decision (the bot stays in its mode); return the
        fail-closed rejection of the intent (applied only when the slot is ENFORCED)."""
        codes = record_over_budget(
            self.recorder,
            slot,
            state,
            cause,
            failure,
            correlation_id=intent.intent_id,
            latency_ns=latency_ns,
        )
        if self.observer is not None:
            self.observer(slot, Decision.ERROR, latency_ns)
        return RiskOutcome(False, intent, Verdict.REJECT, codes, slot.bot_id, False)

    def _fail(
        self,
        slot: BotSlot,
        intent: OrderIntent,
        state: DeskState,
        cause: Cause,
        failure: BotFailure,
        *,
        latency_ns: int,
    ) -> RiskOutcome:
        """Record an ERROR envelope, quarantine the slot, count the error; return the
        fail-closed rejection (applied only when the slot was ENFORCED)."""
        codes = record_quarantine(
            self.recorder,
            slot,
            state,
            cause,
            failure,
            correlation_id=intent.intent_id,
            latency_ns=latency_ns if self.measure_cpu else slot.modelled_latency_ns,
        )
        if self.observer is not None:
            self.observer(slot, Decision.ERROR, latency_ns)
        return RiskOutcome(False, intent, Verdict.REJECT, codes, slot.bot_id, False)
