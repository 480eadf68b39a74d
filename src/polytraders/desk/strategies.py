"""``StrategyRunner``: asks strategy bots for proposals on each event, with quarantine.

Rules (DESIGN.md "The desk" step 2, "Contracts"):

- STUB bots do not run. SHADOW and ADVISORY bots run on every event and are recorded; their
  intents are never applied. ENFORCED bots' intents go on to the risk chain.
- One envelope per bot per event: PROPOSE (with the proposal as output) or IDLE (empty
  proposal). ``correlation_id`` is "" and ``causation_id`` the event's id.
- A bot that raises (``SYS_BOT_EXCEPTION``: the exception's type, message and the
  ``file:line`` of the bot's own code, :func:`~polytraders.desk.failures.exception_failure`),
  times out (``SYS_BOT_TIMEOUT``: the slot's modelled latency under a simulated clock; under a
  live clock the CPU time of the call on the desk's thread, so waiting — for the market-data
  thread, in a sleep — never counts against the bot; a measured overrun quarantines as
  :meth:`~polytraders.desk.slots.BotSlot.over_budget` rules, and one that does not is recorded
  as ``SYS_BOT_OVER_BUDGET`` with the proposal dropped), or whose output fails the
  intake checks of :class:`~polytraders.desk.intake.IntentIntake` (``SYS_INVALID_OUTPUT``,
  ``SYS_INTENT_FIELD_INVALID``, ``SYS_AUTHORITY_VIOLATION``) is quarantined with an ERROR
  envelope whose output is the :class:`~polytraders.contracts.envelope.BotFailure`, and its
  output is dropped: no envelope records it and no risk or execution bot sees it. A
  quarantined strategy proposes nothing (it is not called and records nothing further); the
  desk cancels its open orders (:class:`~polytraders.desk.desk.Desk`, step 5).
"""

from __future__ import annotations

from collections.abc import Sequence

from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import BotFailure, Decision, input_digest
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.decision_cpu import decision_cpu_ns
from polytraders.desk.failures import exception_failure
from polytraders.desk.intake import IntentIntake
from polytraders.desk.recorder import Cause, EnvelopeRecorder, record_over_budget, record_quarantine
from polytraders.desk.slots import SYS_BOT_OVER_BUDGET, BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent
from polytraders.model.orders import OrderIntent


class StrategyRunner:
    """Runs strategy ``slots`` (in order) on events.

    Args:
        slots: strategy-bot slots.
        recorder: envelope recorder of the run.
        measure_cpu: measure each call's thread CPU time (live clock) instead of using the
            slot's modelled latency; it goes to the envelope and the budget check.
        require_known_tokens: the intake refuses intents for tokens without metadata.

    Raises:
        ValueError: a slot whose bot is not a strategy bot.
    """

    def __init__(
        self,
        slots: Sequence[BotSlot],
        recorder: EnvelopeRecorder,
        *,
        measure_cpu: bool = False,
        require_known_tokens: bool = True,
    ) -> None:
        for slot in slots:
            if slot.bot_class is not BotClass.STRATEGY:
                raise ValueError(f"{slot.bot_id} is not a strategy bot")
        self.slots = list(slots)
        self.recorder = recorder
        self.measure_cpu = measure_cpu
        self.intake = IntentIntake(require_known_tokens=require_known_tokens)

    def propose(
        self, event: AnyEvent, state: DeskState, *, causation_id: str = ""
    ) -> list[OrderIntent]:
        """Ask every running bot; return the intents of ENFORCED bots, in slot order."""
        intents: list[OrderIntent] = []
        digest = ""
        for slot in self.slots:
            mode = slot.mode
            if not mode.runs:
                continue
            if not digest:
                digest = input_digest(event)
            proposal = self._decide(
                slot, event, state, Cause(causation_id, event.ts_event_ns, digest)
            )
            if proposal is not None and mode is Mode.ENFORCED:
                intents.extend(proposal.intents)
        return intents

    def _decide(
        self, slot: BotSlot, event: AnyEvent, state: DeskState, cause: Cause
    ) -> Proposal | None:
        mode = slot.mode
        measure = self.measure_cpu
        started = decision_cpu_ns() if measure else 0
        try:
            output = slot.decide(event, state)
        except Exception as exc:
            latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
            self._fail(slot, state, cause, exception_failure(exc, slot.bot), latency)
            return None
        latency = decision_cpu_ns() - started if measure else slot.modelled_latency_ns
        if latency > slot.budget_ns:
            late = slot.over_budget(latency, measure, state.now_ns)
            if late.code == SYS_BOT_OVER_BUDGET:  # refused: its intents are dropped
                record_over_budget(self.recorder, slot, state, cause, late, latency_ns=latency)
            else:
                self._fail(slot, state, cause, late, latency)
            return None
        failure = self.intake.check(slot.bot_id, slot.bot.reason_codes, output, state)
        if failure is not None:
            self._fail(slot, state, cause, failure, latency)
            return None
        assert isinstance(output, Proposal)  # guaranteed by the intake
        self.recorder.record(
            bot_id=slot.bot_id,
            bot_class=slot.bot_class,
            bot_version=slot.version,
            config_version=slot.config_version,
            mode=mode,
            decision=Decision.PROPOSE if output.intents else Decision.IDLE,
            ts_event_ns=event.ts_event_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=output.reason_codes,
            causation_id=cause.causation_id,
            input_digest=cause.input_digest,
            output=output,
            latency_ns=latency,
        )
        return output

    def _fail(
        self, slot: BotSlot, state: DeskState, cause: Cause, failure: BotFailure, latency_ns: int
    ) -> None:
        record_quarantine(self.recorder, slot, state, cause, failure, latency_ns=latency_ns)
