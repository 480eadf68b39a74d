"""``ExecutionRunner``: the execution bot turns an approved intent into a :class:`RoutePlan`.

Rules (DESIGN.md "The desk" step 4, "Contracts"):

- Exactly one ENFORCED execution slot routes; SHADOW/ADVISORY slots run on the same intent
  and view and are only recorded.
- The plan is checked before anything is sent: it must be a :class:`RoutePlan`, carry only
  codes the bot declared (``SYS_INVALID_OUTPUT``), cancel only orders the desk knows
  (``SYS_INVALID_OUTPUT``), and stay within authority
  (:func:`~polytraders.contracts.authority.route_plan_problems`: never larger, never another
  token or side except the complement, never more aggressive, post-only kept, the order at
  position ``k`` identified by ``contracts.ids.client_order_id(intent id, k)``;
  ``SYS_AUTHORITY_VIOLATION``). That id is then the order's only one (order manager, venue,
  store, fills). A bot that fails any check, raises or overruns its budget (modelled latency
  under a simulated clock, the call's thread CPU time under a live one) is
  quarantined and the intent is refused (nothing is sent). A quarantined execution bot refuses
  every intent with ``SYS_BOT_QUARANTINED`` (fail closed).
- A plan that schedules children (a TWAP) needs a bot with a release step
  (:class:`~polytraders.contracts.bot.ChildRouter`, else ``SYS_INVALID_OUTPUT``) and children
  within :func:`~polytraders.contracts.authority.children_problems`
  (``SYS_AUTHORITY_VIOLATION``). :meth:`ExecutionRunner.release` asks the bot to route one due
  child; its plan must not cancel or schedule (``SYS_INVALID_OUTPUT``) and is checked like any
  plan against the child with the child's leg. The desk's own child envelopes
  (:meth:`ExecutionRunner.record_desk`) are REFUSE records of the execution class.
- Envelope decision: ROUTE when the plan sends, cancels or schedules something, else REFUSE.
  ``correlation_id`` is the intent id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from polytraders.contracts.authority import children_problems, route_plan_problems
from polytraders.contracts.bot import ChildRouter
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.envelope import BotFailure, Decision, input_digest
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.decision_cpu import decision_cpu_ns
from polytraders.desk.failures import exception_failure
from polytraders.desk.recorder import (
    Cause,
    DeskActor,
    EnvelopeRecorder,
    record_over_budget,
    record_quarantine,
)
from polytraders.desk.slots import SYS_BOT_OVER_BUDGET, BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.orders import OrderIntent

SYS_BOT_QUARANTINED = "SYS_BOT_QUARANTINED"


class RouteOutcome(NamedTuple):
    """The applied routing decision for one intent.

    Fields:
        intent: the approved intent.
        plan: the checked plan of the enforced bot, or None when refused or failed.
        reason_codes: the plan's codes, or the failure's codes.
        routed_by: the enforced bot's id ("" when there is none).
    """

    intent: OrderIntent
    plan: RoutePlan | None
    reason_codes: tuple[str, ...]
    routed_by: str


class ExecutionRunner:
    """Runs execution ``slots`` on approved intents.

    Args:
        slots: execution-bot slots; at most one ENFORCED.
        recorder: envelope recorder of the run.
        desk_config_version: written in the desk's own envelopes.
        measure_cpu: measure each call's thread CPU time (live clock) instead of using the
            slot's modelled latency; it goes to the envelope and the budget check.

    Raises:
        ValueError: a non-execution bot, or more than one ENFORCED slot.
    """

    def __init__(
        self,
        slots: Sequence[BotSlot],
        recorder: EnvelopeRecorder,
        *,
        desk_config_version: str = "",
        measure_cpu: bool = False,
    ) -> None:
        for slot in slots:
            if slot.bot_class is not BotClass.EXECUTION:
                raise ValueError(f"{slot.bot_id} is not an execution bot")
        if sum(1 for s in slots if s.mode is Mode.ENFORCED) > 1:
            raise ValueError("at most one execution bot may be ENFORCED")
        self.slots = list(slots)
        self.recorder = recorder
        self.desk = DeskActor(BotClass.EXECUTION, desk_config_version)
        self.measure_cpu = measure_cpu

    def route(
        self,
        intent: OrderIntent,
        state: DeskState,
        *,
        causation_id: str = "",
        ts_event_ns: int | None = None,
    ) -> RouteOutcome:
        """Route one approved intent; return the enforced bot's checked plan, or a refusal
        (plan None) when it failed, is quarantined, or no slot is ENFORCED (shadow-only runs:
        reason codes empty, ``routed_by`` "")."""
        ts_event = state.now_ns if ts_event_ns is None else ts_event_ns
        cause = Cause(causation_id, ts_event, input_digest(intent))
        outcome = RouteOutcome(intent, None, (), "")
        for slot in self.slots:
            mode = slot.mode
            if mode is Mode.STUB:
                continue
            if mode is Mode.QUARANTINE:
                if slot.fails_closed:
                    self._record(
                        slot,
                        intent,
                        state,
                        cause,
                        decision=Decision.QUARANTINE,
                        codes=(SYS_BOT_QUARANTINED,),
                        plan=None,
                        mode=Mode.QUARANTINE,
                    )
                    outcome = RouteOutcome(intent, None, (SYS_BOT_QUARANTINED,), slot.bot_id)
                continue
            plan, codes = self._decide(slot, intent, state, cause)
            if mode is Mode.ENFORCED:
                outcome = RouteOutcome(intent, plan, codes, slot.bot_id)
        return outcome

    def release(
        self, slot: BotSlot, child: OrderIntent, leg: int, state: DeskState, *, causation_id: str
    ) -> RouteOutcome:
        """Ask ``slot``'s bot to route one due ``child`` (leg ``leg``) now; record the plan (an
        envelope per release or skip) and return it checked, or plan None when the bot failed
        (quarantined: the caller drops the remaining children) or this one release was refused
        over budget (``SYS_BOT_OVER_BUDGET``: the next child catches up)."""
        cause = Cause(causation_id, state.now_ns, input_digest(child))
        plan, codes = self._decide(slot, child, state, cause, leg=leg)
        return RouteOutcome(child, plan, codes, slot.bot_id)

    def route_with(
        self, slot: BotSlot, intent: OrderIntent, state: DeskState, *, causation_id: str
    ) -> RouteOutcome:
        """Route ``intent`` with ``slot``'s bot, a slot outside the routing slots (the desk's
        unwind bot), checked and recorded like any plan; plan None when the bot failed or
        this call was refused over budget."""
        cause = Cause(causation_id, state.now_ns, input_digest(intent))
        plan, codes = self._decide(slot, intent, state, cause)
        return RouteOutcome(intent, plan, codes, slot.bot_id)

    def record_desk(
        self,
        intent_id: str,
        state: DeskState,
        code: str,
        plan: RoutePlan | OrderIntent | None,
        *,
        causation_id: str,
        decision: Decision = Decision.REFUSE,
    ) -> None:
        """Record a desk envelope (``decision``, default REFUSE, with ``code``) about
        ``intent_id``: ``plan`` lists the children or orders concerned, or is the intent
        itself (an unwind the desk starts or ends)."""
        desk = self.desk
        self.recorder.record(
            bot_id=desk.bot_id,
            bot_class=desk.bot_class,
            bot_version=desk.version,
            config_version=desk.config_version,
            mode=Mode.ENFORCED,
            decision=decision,
            ts_event_ns=state.now_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=(code,),
            correlation_id=intent_id,
            causation_id=causation_id,
            output=plan,
        )

    def _decide(
        self,
        slot: BotSlot,
        intent: OrderIntent,
        state: DeskState,
        cause: Cause,
        *,
        leg: int | None = None,
    ) -> tuple[RoutePlan | None, tuple[str, ...]]:
        mode = slot.mode
        measure = self.measure_cpu
        started = decision_cpu_ns() if measure else 0
        bot = slot.bot
        try:
            if leg is None:
                plan = slot.decide(intent, state)
            elif isinstance(bot, ChildRouter):
                plan = bot.release(intent, leg, state)
            else:
                raise TypeError(f"{slot.bot_id} has no release step for a child")
        except Exception as exc:
            latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
            failure = exception_failure(exc, slot.bot)
            return self._fail(slot, intent, state, cause, failure, latency_ns=latency)
        latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
        if latency > slot.budget_ns:
            late = slot.over_budget(latency, measure, state.now_ns)
            if late.code == SYS_BOT_OVER_BUDGET:  # refused: the intent is not routed
                codes = record_over_budget(
                    self.recorder,
                    slot,
                    state,
                    cause,
                    late,
                    correlation_id=intent.intent_id,
                    latency_ns=latency,
                )
                return None, codes
            return self._fail(slot, intent, state, cause, late, latency_ns=latency)
        problem = detail = ""
        if not isinstance(plan, RoutePlan):
            problem, detail = "SYS_INVALID_OUTPUT", f"returned {type(plan).__name__}"
        else:
            undeclared = set(plan.reason_codes) - slot.bot.reason_codes
            unknown = [c for c in plan.cancel_client_order_ids if not state.knows_order(c)]
            children = plan.child_slices
            if undeclared or unknown:
                problem = "SYS_INVALID_OUTPUT"
                detail = f"undeclared codes {sorted(undeclared)}, unknown orders {unknown}"
            elif leg is not None and (children or plan.cancel_client_order_ids):
                problem, detail = "SYS_INVALID_OUTPUT", "a child's plan cancels or schedules"
            elif children and not isinstance(bot, ChildRouter):
                problem, detail = "SYS_INVALID_OUTPUT", "children from a bot without release"
            else:
                violations = route_plan_problems(
                    intent, plan, state.complement(intent.token_id), first_leg=leg or 0
                )
                violations += children_problems(intent, plan, state.now_ns)
                if violations:
                    problem, detail = "SYS_AUTHORITY_VIOLATION", "; ".join(violations)
        if problem:
            failure = BotFailure(code=problem, message=detail)
            return self._fail(slot, intent, state, cause, failure, latency_ns=latency)
        assert isinstance(plan, RoutePlan)
        acts = bool(plan.orders or plan.cancel_client_order_ids or plan.child_slices)
        self._record(
            slot,
            intent,
            state,
            cause,
            decision=Decision.ROUTE if acts else Decision.REFUSE,
            codes=plan.reason_codes,
            plan=plan,
            mode=mode,
            latency_ns=latency,
        )
        return plan, plan.reason_codes

    def _record(
        self,
        slot: BotSlot,
        intent: OrderIntent,
        state: DeskState,
        cause: Cause,
        *,
        decision: Decision,
        codes: tuple[str, ...],
        plan: RoutePlan | None,
        mode: Mode,
        latency_ns: int = 0,
    ) -> None:
        self.recorder.record(
            bot_id=slot.bot_id,
            bot_class=slot.bot_class,
            bot_version=slot.version,
            config_version=slot.config_version,
            mode=mode,
            decision=decision,
            ts_event_ns=cause.ts_event_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=codes,
            correlation_id=intent.intent_id,
            causation_id=cause.causation_id,
            input_digest=cause.input_digest,
            output=plan if plan is not None else intent,
            latency_ns=latency_ns,
        )

    def _fail(
        self,
        slot: BotSlot,
        intent: OrderIntent,
        state: DeskState,
        cause: Cause,
        failure: BotFailure,
        *,
        latency_ns: int,
    ) -> tuple[None, tuple[str, ...]]:
        codes = record_quarantine(
            self.recorder,
            slot,
            state,
            cause,
            failure,
            correlation_id=intent.intent_id,
            latency_ns=latency_ns,
        )
        return None, codes
