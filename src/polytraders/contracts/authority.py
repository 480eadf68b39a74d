"""Authority checks the desk applies to every bot output (DESIGN.md "Authority is enforced by
the desk, not trusted").

Each function returns the list of violations (empty when the output is within authority). The
desk refuses a violating output with ``SYS_AUTHORITY_VIOLATION`` and quarantines the bot.

Rules:
- A strategy's intents carry its own bot id, and its CANCEL/REPLACE intents target only its own
  intents (ids ``<bot_id>/…``, as :func:`polytraders.contracts.ids.intent_id` makes them). The
  types, ranges and structure of intents are checked before this, where they enter the desk
  (:func:`polytraders.model.orders.intent_field_problems`).
- A risk RESHAPE is never riskier than the original (:func:`reshape_problems`).
- Changing the desk's trading state is a declared :class:`Capability` (a bot's
  ``capabilities``, limited by its class in :data:`CLASS_CAPABILITIES`): REDUCING needs
  ``REDUCE``, HALT (or HALTED) needs ``HALT``, and only a bot holding ``KILL_SWITCH`` trips the
  kill switch with its HALT. No bot may ask for ACTIVE: only an operator resumes trading. The
  same rules hold for a risk bot's intent decisions (:func:`risk_decision_problems`) and its
  monitor findings (:func:`monitor_decision_problems`).
- An execution plan never sends more than the intent, never another token or side, except the
  economically identical complement (buy YES at p ≡ sell NO at 1 − p), and never a more
  aggressive price.
- **Client order ids derive from the intent.** The order at position ``k`` of a plan for intent
  ``I`` has client order id ``contracts.ids.client_order_id(I, k)`` = ``<I>/o<k>``, exactly:
  an id that does not derive from the intent, or two orders of the plan with the same id, is a
  violation. That id is the order's only id from then on (order manager, venue, store, fills,
  strategies). It is unique in the run because intent ids are: the desk refuses a reused intent
  id where it enters (``desk.intake``), and the order manager never sends an id already used in
  the run, also one used before a restart (``SYS_DUPLICATE_ORDER``).
- **Children** (a plan's scheduled slices, :func:`children_problems`) belong to a PLACE intent
  sized in shares; each is positive, they add up to no more than the intent's size less the
  plan's own orders, and their release times are strictly increasing from the decision's time.
  The plan a bot makes when a child is released is checked by :func:`route_plan_problems`
  against the child (the intent with the child's size) with ``first_leg`` = the child's leg
  (the parent plan's order count + the child's index), so every order of the parent keeps a
  distinct ``<intent>/o<k>`` id.
"""

from __future__ import annotations

from collections.abc import Set
from enum import StrEnum
from itertools import pairwise

from polytraders.contracts.decisions import (
    MonitorAction,
    MonitorDecision,
    Proposal,
    RiskDecision,
    RoutePlan,
    Verdict,
)
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass
from polytraders.model.events import TradingState
from polytraders.model.money import complement_price
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce, intent_problems


class Capability(StrEnum):
    """A right over the desk's trading state that a bot must declare to use.

    REDUCE: ask the desk to enter REDUCING (only exposure-reducing intents pass).
    HALT: HALT an intent and set the desk HALTED (nothing but cancels).
    KILL_SWITCH: a HALT from this bot trips the kill switch (every open order cancelled,
    HALTED until an operator resets it); needs HALT too.
    """

    REDUCE = "REDUCE"
    HALT = "HALT"
    KILL_SWITCH = "KILL_SWITCH"


CLASS_CAPABILITIES: dict[BotClass, frozenset[Capability]] = {
    BotClass.STRATEGY: frozenset(),
    BotClass.RISK: frozenset(Capability),
    BotClass.EXECUTION: frozenset(),
}
"""The capabilities a bot of each class may declare: only risk bots touch the trading state."""


def capability_problems(bot_class: BotClass, capabilities: Set[Capability]) -> list[str]:
    """Violations in a bot's declared ``capabilities``: one its class cannot hold, or
    KILL_SWITCH without HALT."""
    problems = [
        f"a {bot_class} bot cannot hold {c}"
        for c in sorted(set(capabilities) - CLASS_CAPABILITIES[bot_class])
    ]
    if Capability.KILL_SWITCH in capabilities and Capability.HALT not in capabilities:
        problems.append("KILL_SWITCH needs HALT")
    return problems


def _state_problems(capabilities: Set[Capability], state: TradingState | None) -> list[str]:
    """Violations in a request to enter ``state`` (None: no request)."""
    if state is None:
        return []
    if state is TradingState.ACTIVE:
        return ["no bot may ask for ACTIVE (only an operator resumes trading)"]
    needed = Capability.HALT if state is TradingState.HALTED else Capability.REDUCE
    return [] if needed in capabilities else [f"entering {state} needs the {needed} capability"]


def proposal_problems(bot_id: str, proposal: Proposal) -> list[str]:
    """Violations of a strategy's authority in its (well-typed) proposal: an intent in another
    bot's name, or a CANCEL/REPLACE of an intent that is not the bot's own."""
    problems: list[str] = []
    own = f"{bot_id}/"
    for intent in proposal.intents:
        if intent.bot_id != bot_id:
            problems.append(f"intent {intent.intent_id} claims bot {intent.bot_id}, not {bot_id}")
        if intent.action is not IntentAction.PLACE and not intent.target_intent_id.startswith(own):
            problems.append(
                f"intent {intent.intent_id} targets {intent.target_intent_id!r}, "
                f"not an intent of {bot_id}"
            )
    return problems


def _more_aggressive(side: Side, new_price: int, old_price: int) -> bool:
    return new_price > old_price if side is Side.BUY else new_price < old_price


def reshape_problems(original: OrderIntent, reshaped: OrderIntent) -> list[str]:
    """Why ``reshaped`` would be riskier than ``original`` (empty when it is not).

    Same intent id, bot, action, token and side; size and notional not larger; price not more
    aggressive; post-only and reduce-only never dropped; time in force unchanged unless the
    reshaped order is a resting post-only order; a GTD expiry never later. Cancels cannot be
    reshaped.
    """
    problems: list[str] = []
    if original.action is IntentAction.CANCEL:
        return ["a cancel cannot be reshaped"]
    for field in ("intent_id", "bot_id", "action", "token_id", "market_id", "side"):
        if getattr(original, field) != getattr(reshaped, field):
            problems.append(f"reshape changed {field}")
    if reshaped.size > original.size:
        problems.append("reshape increased size")
    if reshaped.notional > original.notional:
        problems.append("reshape increased notional")
    if _more_aggressive(original.side, reshaped.price, original.price):
        problems.append("reshape made the price more aggressive")
    if original.post_only and not reshaped.post_only:
        problems.append("reshape dropped post-only")
    if original.reduce_only and not reshaped.reduce_only:
        problems.append("reshape dropped reduce-only")
    if reshaped.time_in_force is not original.time_in_force and not (
        reshaped.post_only and reshaped.time_in_force.rests
    ):
        problems.append("reshape changed time in force to a non-post-only kind")
    if original.time_in_force is TimeInForce.GTD and (
        reshaped.time_in_force is TimeInForce.GTC or reshaped.expire_at_ns > original.expire_at_ns
    ):
        problems.append("reshape extended the order's life")
    problems += intent_problems(reshaped)
    return problems


def risk_decision_problems(
    bot_class: BotClass,
    capabilities: Set[Capability],
    intent: OrderIntent,
    decision: RiskDecision,
) -> list[str]:
    """Violations in a risk decision on ``intent`` by a bot of ``bot_class`` holding
    ``capabilities``: a non-risk bot; a malformed or riskier RESHAPE; a HALT without HALT; a
    ``set_state`` the bot may not ask for (see the module docstring); a REJECT or HALT without a
    reason code."""
    problems: list[str] = []
    if bot_class is not BotClass.RISK:
        problems.append(f"a {bot_class} bot cannot make risk decisions")
    if decision.verdict is Verdict.RESHAPE:
        if decision.reshaped is None:
            problems.append("RESHAPE without a reshaped intent")
        else:
            problems += reshape_problems(intent, decision.reshaped)
    elif decision.reshaped is not None:
        problems.append(f"{decision.verdict} must not carry a reshaped intent")
    if decision.verdict is Verdict.HALT and Capability.HALT not in capabilities:
        problems.append("HALT needs the HALT capability")
    problems += _state_problems(capabilities, decision.set_state)
    if decision.verdict in (Verdict.REJECT, Verdict.HALT) and not decision.reason_codes:
        problems.append(f"{decision.verdict} needs a reason code")
    return problems


def monitor_decision_problems(
    bot_class: BotClass, capabilities: Set[Capability], decision: MonitorDecision
) -> list[str]:
    """Violations in a monitor finding by a bot of ``bot_class`` holding ``capabilities``: a
    non-risk bot, REDUCE without REDUCE, HALT without HALT, no reason code."""
    problems: list[str] = []
    if bot_class is not BotClass.RISK:
        problems.append(f"a {bot_class} bot cannot monitor the desk")
    needed = Capability.HALT if decision.action is MonitorAction.HALT else Capability.REDUCE
    if needed not in capabilities:
        problems.append(f"{decision.action} needs the {needed} capability")
    if not decision.reason_codes:
        problems.append(f"{decision.action} needs a reason code")
    return problems


def route_plan_problems(
    intent: OrderIntent,
    plan: RoutePlan,
    complement_token_id: str | None,
    *,
    first_leg: int = 0,
) -> list[str]:
    """Violations in an execution plan for ``intent``.

    Every order carries the intent's id, and the order at position ``k`` has client order id
    ``client_order_id(intent.intent_id, first_leg + k)`` (so the plan's ids are distinct;
    ``first_leg`` is non-zero only for a released child, see the module docstring); it is on the
    intent's token and side at a price no more aggressive, or on the complement token and
    opposite side at a price no more aggressive than ``1 − price`` (not for reduce-only
    intents); post-only is kept; the orders' total size and notional do not exceed the intent's.
    A CANCEL intent yields no new orders.
    """
    problems: list[str] = []
    if intent.action is IntentAction.CANCEL and plan.orders:
        problems.append("a cancel intent produced new orders")
    total_size = total_notional = 0
    for k, order in enumerate(plan.orders):
        if order.intent_id != intent.intent_id:
            problems.append(f"order {order.client_order_id} is for another intent")
        expected = client_order_id(intent.intent_id, first_leg + k)
        if order.client_order_id != expected:
            problems.append(
                f"order #{k} has client order id {order.client_order_id!r}, not {expected!r} "
                "(ids derive from the intent and the order's position)"
            )
        direct = order.token_id == intent.token_id and order.side is intent.side
        mirrored = (
            complement_token_id is not None
            and order.token_id == complement_token_id
            and order.side is intent.side.opposite
            and not intent.reduce_only
        )
        if direct:
            if _more_aggressive(intent.side, order.price, intent.price):
                problems.append(f"order {order.client_order_id} price more aggressive")
        elif mirrored:
            if _more_aggressive(order.side, order.price, complement_price(intent.price)):
                problems.append(f"order {order.client_order_id} complement price too aggressive")
        else:
            problems.append(f"order {order.client_order_id} is on another token or side")
        if intent.post_only and not order.post_only:
            problems.append(f"order {order.client_order_id} dropped post-only")
        total_size += order.size
        total_notional += order.notional
    if total_size > intent.size:
        problems.append("orders exceed the intent's size")
    if total_notional > intent.notional:
        problems.append("orders exceed the intent's notional")
    return problems


def children_problems(intent: OrderIntent, plan: RoutePlan, now_ns: int) -> list[str]:
    """Violations in the children a plan for ``intent`` schedules at desk time ``now_ns`` (empty
    when it has none): children only for a PLACE intent sized in shares (not by notional); each
    child's size positive; their total plus the plan's orders not above the intent's size;
    release times strictly increasing, the first not before ``now_ns``."""
    children = plan.child_slices
    if not children:
        return []
    problems: list[str] = []
    if intent.action is not IntentAction.PLACE or intent.notional:
        problems.append("children need a PLACE intent sized in shares")
    if any(c.size <= 0 for c in children):
        problems.append("a child has no size")
    if sum(c.size for c in children) + sum(o.size for o in plan.orders) > intent.size:
        problems.append("children and orders exceed the intent's size")
    releases = [c.release_ns for c in children]
    if releases[0] < now_ns or any(b <= a for a, b in pairwise(releases)):
        problems.append("child release times are not strictly increasing from now")
    return problems
