"""Promotion: move a bot along seed 001's lifecycle only when every critical gate of each
transition is Successful, recording each step in the store.

A promotion to a state several steps ahead walks the transitions one at a time and stops at
the first refusal (each step's evaluation is recorded, passed or not). Every attempt is
audited: ``GOV_PROMOTION_ATTEMPTED``, then ``GOV_PROMOTED`` (or ``GOV_DEPRECATED``) with the
evaluation's evidence digest, or ``GOV_PROMOTION_REFUSED`` naming the blocking gates.
"""

from __future__ import annotations

import msgspec

from polytraders.bots.registry import bot_class
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evaluate import Evaluation, evaluate, record_evaluation
from polytraders.readiness.gates import transition_gates
from polytraders.readiness.lifecycle import State, TargetError, path_between
from polytraders.readiness.signature_gates import gate_waivers
from polytraders.store import EventStore
from polytraders.store.promotions import (
    PromotionOutcome,
    PromotionRow,
    append_promotion,
    promotions,
)


class PromotionStep(msgspec.Struct, frozen=True, kw_only=True):
    """One transition attempted: its evaluation and the row recorded."""

    from_state: State
    to_state: State
    evaluation: Evaluation
    row: PromotionRow

    @property
    def promoted(self) -> bool:
        """True when the transition was recorded as done."""
        return self.row.outcome is PromotionOutcome.PROMOTED


def current_state(store: EventStore, bot_id: str) -> State:
    """The bot's lifecycle state: the target of its latest promoted or demoted row, Idea only
    when it has none.

    Raises:
        StoreError: the read failed.
    """
    for row in reversed(promotions(store, bot_id=bot_id)):
        if row.outcome is not PromotionOutcome.REFUSED:
            return State(row.to_state)
    return State.IDEA_ONLY


def promote(
    bot_id: str, target: State, ctx: ReadinessContext, *, actor: str
) -> list[PromotionStep]:
    """Promote ``bot_id`` towards ``target`` one transition at a time, stopping at the first
    refused step.

    Args:
        bot_id: a library bot.
        target: the lifecycle state wanted.
        ctx: the evaluation context; its store records everything.
        actor: who asks (recorded).

    Returns:
        The steps attempted (empty when the bot is already in ``target``); the last one's
        ``promoted`` says whether ``target`` was reached.

    Raises:
        ValueError: no store in ``ctx``, or an empty actor.
        TargetError: ``target`` lies behind the current state or the bot is deprecated (the
            refusal is audited).
        KeyError: an unknown bot.
        StoreWriteError: a write failed (what was recorded before stays).
    """
    store = ctx.store
    if store is None:
        raise ValueError("a promotion needs an event store to record it")
    if not actor:
        raise ValueError("a promotion needs an actor")
    cls = bot_class(bot_id)
    current = current_state(store, bot_id)
    try:
        path = path_between(current, target)
    except TargetError as exc:
        store.audit(
            actor=actor,
            action="GOV_PROMOTION_REFUSED",
            ts_ns=ctx.now_ns,
            detail={
                "bot_id": bot_id,
                "from_state": current.value,
                "to_state": target.value,
                "reason": str(exc),
            },
        )
        raise
    steps: list[PromotionStep] = []
    for from_state, to_state in path:
        store.audit(
            actor=actor,
            action="GOV_PROMOTION_ATTEMPTED",
            ts_ns=ctx.now_ns,
            detail={"bot_id": bot_id, "from_state": from_state.value, "to_state": to_state.value},
        )
        gates = transition_gates(from_state, to_state, cls.bot_class)
        evaluation = evaluate(
            bot_id,
            gates,
            ctx,
            from_state=from_state.value,
            target=to_state.value,
            waivers=gate_waivers(bot_id, to_state, ctx),
        )
        record_evaluation(store, evaluation, actor=actor)
        blocking = [r.gate.gate_id for r in evaluation.results if r.blocks]
        if evaluation.passed:
            outcome = PromotionOutcome.PROMOTED
            code = "GOV_DEPRECATED" if to_state is State.DEPRECATED else "GOV_PROMOTED"
            waived = [r.gate.gate_id for r in evaluation.results if r.waived_by]
            detail = f"{len(evaluation.results)} gate(s), every critical one Successful" + (
                f" or waived ({', '.join(waived)})" if waived else ""
            )
        else:
            outcome = PromotionOutcome.REFUSED
            code = "GOV_PROMOTION_REFUSED"
            detail = "blocked by " + ", ".join(
                f"{r.gate.gate_id} ({r.measurement.phase.value})"
                for r in evaluation.results
                if r.blocks
            )
        row = append_promotion(
            store,
            bot_id=bot_id,
            from_state=from_state.value,
            to_state=to_state.value,
            outcome=outcome,
            reason_code=code,
            evaluation_id=evaluation.evaluation_id,
            evidence_digest=evaluation.digest,
            actor=actor,
            detail=detail,
            ts_ns=ctx.now_ns,
        )
        store.audit(
            actor=actor,
            action=code,
            ts_ns=ctx.now_ns,
            detail={
                "bot_id": bot_id,
                "from_state": from_state.value,
                "to_state": to_state.value,
                "evaluation_id": evaluation.evaluation_id,
                "evidence_digest": evaluation.digest,
                "blocking": blocking,
            },
        )
        steps.append(
            PromotionStep(from_state=from_state, to_state=to_state, evaluation=evaluation, row=row)
        )
        if not evaluation.passed:
            break
    return steps
