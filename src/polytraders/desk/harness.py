"""Run ONE bot through the real desk machinery — for fixture packs and bot tests.

Each function wraps the bot in a :class:`BotSlot` with the given mode, runs it through the same
component the :class:`~polytraders.desk.desk.Desk` uses (:class:`RiskChain`,
:class:`StrategyRunner`, :class:`ExecutionRunner`), records envelopes in memory under run id
``run_id``, and returns the applied outcome, the envelopes and the slot (to inspect quarantine).
Given a ``sink`` (e.g. :class:`~polytraders.ops.metrics.DeskMetrics`), every envelope also goes
there as it is recorded, as the desk hands its envelopes to its sinks.

Nothing is faked: authority checks, quarantine, fail-closed behaviour, the trading-state gate
and the envelope ids are the desk's own. Build the state with
:meth:`~polytraders.desk.state.DeskState.build`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from polytraders.contracts.envelope import ReportEnvelope
from polytraders.contracts.modes import Mode
from polytraders.desk.execution import ExecutionRunner, RouteOutcome
from polytraders.desk.recorder import EnvelopeRecorder
from polytraders.desk.risk_chain import RiskChain, RiskOutcome
from polytraders.desk.sinks import EnvelopeSink, FanoutSink, MemorySink
from polytraders.desk.slots import DEFAULT_BUDGET_NS, BotSlot
from polytraders.desk.state import DeskState
from polytraders.desk.strategies import StrategyRunner
from polytraders.model.events import AnyEvent
from polytraders.model.orders import OrderIntent

FIXTURE_RUN_ID = "run-fixture"
"""Run id of harness runs unless another is given."""


class RiskRun(NamedTuple):
    """Result of :func:`run_risk`: the chain's outcome, the envelopes, the bot's slot."""

    outcome: RiskOutcome
    envelopes: list[ReportEnvelope]
    slot: BotSlot


class StrategyRun(NamedTuple):
    """Result of :func:`run_strategy`: the intents that would go on to the risk chain (empty
    unless ENFORCED), the envelopes, the bot's slot."""

    intents: list[OrderIntent]
    envelopes: list[ReportEnvelope]
    slot: BotSlot


class ExecutionRun(NamedTuple):
    """Result of :func:`run_execution`: the routing outcome (checked plan or refusal), the
    envelopes, the bot's slot."""

    outcome: RouteOutcome
    envelopes: list[ReportEnvelope]
    slot: BotSlot


def _slot(bot: Any, mode: Mode, budget_ns: int, modelled_latency_ns: int) -> BotSlot:
    return BotSlot(bot, mode, budget_ns=budget_ns, modelled_latency_ns=modelled_latency_ns)


def _recorder(run_id: str, memory: MemorySink, sink: EnvelopeSink | None) -> EnvelopeRecorder:
    """Record into ``memory`` and, when given, ``sink`` too (in that order)."""
    return EnvelopeRecorder(run_id, memory if sink is None else FanoutSink([memory, sink]))


def run_risk(
    bot: Any,
    intent: OrderIntent,
    state: DeskState,
    mode: Mode = Mode.ENFORCED,
    *,
    run_id: str = FIXTURE_RUN_ID,
    causation_id: str = "fixture",
    budget_ns: int = DEFAULT_BUDGET_NS,
    modelled_latency_ns: int = 0,
    require_known_tokens: bool = True,
    sink: EnvelopeSink | None = None,
) -> RiskRun:
    """Run ``intent`` through a :class:`RiskChain` holding only ``bot`` (desk gate included:
    in a HALTED state the bot is not consulted). Trading-state requests change ``state``.

    Raises:
        ValueError: ``bot`` is not a risk bot or does not support ``mode``.
    """
    memory = MemorySink()
    slot = _slot(bot, mode, budget_ns, modelled_latency_ns)
    chain = RiskChain(
        [slot], _recorder(run_id, memory, sink), require_known_tokens=require_known_tokens
    )
    outcome = chain.evaluate(intent, state, causation_id=causation_id)
    return RiskRun(outcome, memory.envelopes, slot)


def run_strategy(
    bot: Any,
    event: AnyEvent,
    state: DeskState,
    mode: Mode = Mode.ENFORCED,
    *,
    run_id: str = FIXTURE_RUN_ID,
    causation_id: str = "fixture",
    budget_ns: int = DEFAULT_BUDGET_NS,
    modelled_latency_ns: int = 0,
    sink: EnvelopeSink | None = None,
) -> StrategyRun:
    """Ask ``bot`` for a proposal on ``event`` given ``state`` (apply the event to the state
    first if the bot should see its effect, as the desk does: ``state.apply_event(event)``).

    Raises:
        ValueError: ``bot`` is not a strategy bot or does not support ``mode``.
    """
    memory = MemorySink()
    slot = _slot(bot, mode, budget_ns, modelled_latency_ns)
    runner = StrategyRunner([slot], _recorder(run_id, memory, sink))
    intents = runner.propose(event, state, causation_id=causation_id)
    return StrategyRun(intents, memory.envelopes, slot)


def run_execution(
    bot: Any,
    intent: OrderIntent,
    state: DeskState,
    mode: Mode = Mode.ENFORCED,
    *,
    run_id: str = FIXTURE_RUN_ID,
    causation_id: str = "fixture",
    budget_ns: int = DEFAULT_BUDGET_NS,
    modelled_latency_ns: int = 0,
    sink: EnvelopeSink | None = None,
) -> ExecutionRun:
    """Route an approved ``intent`` with ``bot``. In SHADOW/ADVISORY mode the bot's plan is
    recorded but the outcome carries no plan (nothing would be sent).

    Raises:
        ValueError: ``bot`` is not an execution bot or does not support ``mode``.
    """
    memory = MemorySink()
    slot = _slot(bot, mode, budget_ns, modelled_latency_ns)
    runner = ExecutionRunner([slot], _recorder(run_id, memory, sink))
    outcome = runner.route(intent, state, causation_id=causation_id)
    return ExecutionRun(outcome, memory.envelopes, slot)
