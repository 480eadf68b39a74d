"""``StrategyRunner``: asks strategy bots for proposals on each event, with quarantine.

Rules (DESIGN.md "The desk" step 2, "Contracts"):

- STUB bots do not run. SHADOW and ADVISORY bots run on every event and are recorded; their
  intents are never applied. ENFORCED bots' intents go on to the risk chain.
- One envelope per bot per event: PROPOSE (with the proposal as output) or IDLE (empty
  proposal). ``correlation_id`` is "" and ``causation_id`` the event's id.
- A bot that raises (``SYS_BOT_EXCEPTION``), overruns its budget (``SYS_BOT_TIMEOUT``),
  returns something other than a :class:`Proposal` or undeclared codes
  (``SYS_INVALID_OUTPUT``), or proposes intents in another bot's name or malformed ones
  (:func:`~polytraders.contracts.authority.proposal_problems`, ``SYS_AUTHORITY_VIOLATION``)
  is quarantined with an ERROR envelope, and its output is dropped. A quarantined strategy
  proposes nothing (it is not called and records nothing further).
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter_ns

from polytraders.contracts.authority import proposal_problems
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import Decision, input_digest
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.recorder import Cause, EnvelopeRecorder, record_quarantine
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import AnyEvent
from polytraders.model.orders import OrderIntent


class StrategyRunner:
    """Runs strategy ``slots`` (in order) on events.

    Args:
        slots: strategy-bot slots.
        recorder: envelope recorder of the run.
        measure_wall: use measured wall latency (live clock) instead of the modelled one.

    Raises:
        ValueError: a slot whose bot is not a strategy bot.
    """

    def __init__(
        self, slots: Sequence[BotSlot], recorder: EnvelopeRecorder, *, measure_wall: bool = False
    ) -> None:
        for slot in slots:
            if slot.bot_class is not BotClass.STRATEGY:
                raise ValueError(f"{slot.bot_id} is not a strategy bot")
        self.slots = list(slots)
        self.recorder = recorder
        self.measure_wall = measure_wall

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
        started = perf_counter_ns() if self.measure_wall else 0
        try:
            proposal = slot.decide(event, state)
        except Exception as exc:
            self._fail(slot, state, cause, code="SYS_BOT_EXCEPTION", detail=repr(exc))
            return None
        latency = perf_counter_ns() - started if self.measure_wall else slot.modelled_latency_ns
        if latency > slot.budget_ns:
            self._fail(slot, state, cause, code="SYS_BOT_TIMEOUT", detail=f"{latency} ns")
            return None
        if not isinstance(proposal, Proposal):
            detail = f"returned {type(proposal).__name__}"
            self._fail(slot, state, cause, code="SYS_INVALID_OUTPUT", detail=detail)
            return None
        undeclared = set(proposal.reason_codes) - slot.bot.reason_codes
        if undeclared:
            detail = f"undeclared reason codes {sorted(undeclared)}"
            self._fail(slot, state, cause, code="SYS_INVALID_OUTPUT", detail=detail)
            return None
        problems = proposal_problems(slot.bot_id, proposal)
        if problems:
            detail = "; ".join(problems)
            self._fail(slot, state, cause, code="SYS_AUTHORITY_VIOLATION", detail=detail)
            return None
        self.recorder.record(
            bot_id=slot.bot_id,
            bot_class=slot.bot_class,
            bot_version=slot.version,
            config_version=slot.config_version,
            mode=mode,
            decision=Decision.PROPOSE if proposal.intents else Decision.IDLE,
            ts_event_ns=event.ts_event_ns,
            ts_decided_ns=state.now_ns,
            reason_codes=proposal.reason_codes,
            causation_id=cause.causation_id,
            input_digest=cause.input_digest,
            output=proposal,
            latency_ns=latency,
        )
        return proposal

    def _fail(
        self, slot: BotSlot, state: DeskState, cause: Cause, *, code: str, detail: str
    ) -> None:
        record_quarantine(
            self.recorder,
            slot,
            state,
            cause,
            code=code,
            detail=detail,
            latency_ns=slot.modelled_latency_ns,
        )
