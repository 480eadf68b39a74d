"""``EnvelopeRecorder``: turns decisions into :class:`ReportEnvelope`\\ s with deterministic ids
and hands them to a sink.

Ids and sequence numbers come from :mod:`polytraders.contracts.ids`: the n-th envelope of run
``r`` is ``envelope_id(r, n)``, gap-free from ``start_sequence``. Envelopes produced by the desk
itself (trading-state gate, invalid intents) carry ``bot_id="desk"`` and the desk's version and
config version (:class:`DeskActor`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

from polytraders import __version__
from polytraders.contracts.envelope import BotFailure, Decision, EnvelopeOutput, ReportEnvelope
from polytraders.contracts.ids import envelope_id
from polytraders.contracts.modes import BotClass, Mode
from polytraders.desk.sinks import EnvelopeSink

if TYPE_CHECKING:
    from polytraders.desk.slots import BotSlot
    from polytraders.desk.state import DeskState

_LOG = logging.getLogger("polytraders.desk")

DESK_BOT_ID = "desk"
"""``bot_id`` of envelopes the desk records for its own decisions."""


class Cause(NamedTuple):
    """What a decision is about: the triggering event's id and time, and the input digest."""

    causation_id: str
    ts_event_ns: int
    input_digest: str


class DeskActor:
    """The desk's identity in envelopes for its own decisions (the trading-state gate, refusals
    of malformed intents, order-manager refusals)."""

    __slots__ = ("bot_class", "bot_id", "config_version", "version")

    def __init__(self, bot_class: BotClass, config_version: str) -> None:
        self.bot_id = DESK_BOT_ID
        self.bot_class = bot_class
        self.version = __version__
        self.config_version = config_version


class EnvelopeRecorder:
    """Creates envelopes for one run and records them in ``sink``.

    Attributes:
        run_id: the run the envelopes belong to.
        sequence: the next envelope's sequence number (hot paths that build envelopes
            themselves take it and increment it).
        prefix: ``envelope_id(run_id, n) == prefix + str(n)``.
        sink: where envelopes go.
    """

    __slots__ = ("prefix", "run_id", "sequence", "sink")

    def __init__(self, run_id: str, sink: EnvelopeSink, start_sequence: int = 0) -> None:
        if start_sequence < 0:
            raise ValueError("start_sequence must not be negative")
        self.run_id = run_id
        self.sink = sink
        self.sequence = start_sequence
        self.prefix = envelope_id(run_id, 0)[:-1]

    def record(
        self,
        *,
        bot_id: str,
        bot_class: BotClass,
        bot_version: str,
        config_version: str,
        mode: Mode,
        decision: Decision,
        ts_event_ns: int,
        ts_decided_ns: int,
        reason_codes: tuple[str, ...] = (),
        correlation_id: str = "",
        causation_id: str = "",
        input_digest: str = "",
        output: EnvelopeOutput = None,
        latency_ns: int = 0,
    ) -> ReportEnvelope:
        """Create the next envelope, record it, return it."""
        sequence = self.sequence
        self.sequence = sequence + 1
        envelope = ReportEnvelope(
            envelope_id=self.prefix + str(sequence),
            run_id=self.run_id,
            sequence=sequence,
            ts_event_ns=ts_event_ns,
            ts_decided_ns=ts_decided_ns,
            bot_id=bot_id,
            bot_class=bot_class,
            bot_version=bot_version,
            config_version=config_version,
            mode=mode,
            decision=decision,
            reason_codes=reason_codes,
            correlation_id=correlation_id,
            causation_id=causation_id,
            input_digest=input_digest,
            output=output,
            latency_ns=latency_ns,
        )
        self.sink.record(envelope)
        return envelope


SYS_BOT_QUARANTINED = "SYS_BOT_QUARANTINED"


def record_quarantine(
    recorder: EnvelopeRecorder,
    slot: BotSlot,
    state: DeskState,
    cause: Cause,
    failure: BotFailure,
    *,
    correlation_id: str = "",
    latency_ns: int,
) -> tuple[str, str]:
    """The desk's answer to a failing bot (exception, time-out, invalid or unauthorised
    output), the same for every bot class: quarantine the slot (remembering the mode it failed
    in and ``failure``), count the error in the desk state and queue the quarantine in
    ``state.new_quarantines`` for the desk, log it, and record an ERROR envelope with
    ``(failure.code, SYS_BOT_QUARANTINED)`` whose output is ``failure``. Returns those codes."""
    mode = slot.mode
    slot.quarantine(failure, state.now_ns)
    if mode is not Mode.QUARANTINE and slot.quarantined is not None:
        state.new_quarantines.append(slot.quarantined)
    state.record_error()
    _LOG.warning(
        "%s quarantined (%s): %s%s%s",
        slot.bot_id,
        failure.code,
        f"{failure.error_type}: " if failure.error_type else "",
        failure.message,
        f" at {failure.location}" if failure.location else "",
    )
    codes = (failure.code, SYS_BOT_QUARANTINED)
    recorder.record(
        bot_id=slot.bot_id,
        bot_class=slot.bot_class,
        bot_version=slot.version,
        config_version=slot.config_version,
        mode=mode,
        decision=Decision.ERROR,
        ts_event_ns=cause.ts_event_ns,
        ts_decided_ns=state.now_ns,
        reason_codes=codes,
        correlation_id=correlation_id,
        causation_id=cause.causation_id,
        input_digest=cause.input_digest,
        output=failure,
        latency_ns=latency_ns,
    )
    return codes


def record_over_budget(
    recorder: EnvelopeRecorder,
    slot: BotSlot,
    state: DeskState,
    cause: Cause,
    failure: BotFailure,
    *,
    correlation_id: str = "",
    latency_ns: int,
) -> tuple[str, ...]:
    """The desk's answer to one decision over its budget that does not quarantine the bot
    (``failure.code`` is ``SYS_BOT_OVER_BUDGET``; :meth:`BotSlot.over_budget`): count the
    error, log it, and record an ERROR envelope with ``(failure.code,)`` whose output is
    ``failure``. The caller refuses the decision. Returns the codes."""
    state.record_error()
    _LOG.warning("%s over its decision budget (%s): %s", slot.bot_id, failure.code, failure.message)
    codes = (failure.code,)
    recorder.record(
        bot_id=slot.bot_id,
        bot_class=slot.bot_class,
        bot_version=slot.version,
        config_version=slot.config_version,
        mode=slot.mode,
        decision=Decision.ERROR,
        ts_event_ns=cause.ts_event_ns,
        ts_decided_ns=state.now_ns,
        reason_codes=codes,
        correlation_id=correlation_id,
        causation_id=cause.causation_id,
        input_digest=cause.input_digest,
        output=failure,
        latency_ns=latency_ns,
    )
    return codes
