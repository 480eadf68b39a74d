"""ReportEnvelope: one record per bot decision, on every decision path (DESIGN.md "Contracts").

Serialised as JSON lines. Encoding is deterministic (field order fixed by the struct, no
floats), and :func:`decode_envelope` ∘ :func:`encode_envelope` is the identity, byte for byte.

``latency_ns``: under a simulated clock the desk records the *modelled* decision latency (so a
replay stays byte-identical); under a live clock, the CPU time the deciding thread spent in the
bot's call (``time.thread_time_ns``: waits for the lock or for other threads are not the bot's),
less the garbage collector's runs in it (``polytraders.desk.decision_cpu``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import IO

import msgspec

from polytraders.contracts.allocation import Allocation
from polytraders.contracts.decisions import MonitorDecision, Proposal, RiskDecision, RoutePlan
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.protective_stop import ProtectiveStopAction
from polytraders.model.events import FundingPayment
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderIntent


class Decision(StrEnum):
    """What an envelope records.

    Strategy: PROPOSE (intents) or IDLE (nothing). Risk: APPROVE, REJECT, RESHAPE, HALT; a
    risk bot's monitor step: HALT or REDUCE (its :class:`MonitorDecision`). Execution: ROUTE
    (orders) or REFUSE. Desk: ERROR (bot raised, timed out or broke authority; see reason codes)
    and QUARANTINE (fail-closed fallback of a quarantined bot); ALLOCATE (a change of the
    MetaAllocator's capital split, output :class:`~polytraders.contracts.allocation.Allocation`);
    BOOK (money the venue moved outside a fill, booked in the desk's ledger: a perpetual's
    funding payment, output the :class:`~polytraders.model.events.FundingPayment`).
    """

    PROPOSE = "PROPOSE"
    IDLE = "IDLE"
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    RESHAPE = "RESHAPE"
    HALT = "HALT"
    REDUCE = "REDUCE"
    ROUTE = "ROUTE"
    REFUSE = "REFUSE"
    ERROR = "ERROR"
    QUARANTINE = "QUARANTINE"
    ALLOCATE = "ALLOCATE"
    BOOK = "BOOK"


class BotFailure(msgspec.Struct, frozen=True, kw_only=True, tag="bot_failure"):
    """Why the desk quarantined a bot: the output of the bot's ERROR envelope (and of
    ``DeskResult.quarantined``).

    Fields:
        code: the registered reason code of the failure (``SYS_BOT_EXCEPTION``,
            ``SYS_BOT_TIMEOUT``, ``SYS_INVALID_OUTPUT``, ``SYS_AUTHORITY_VIOLATION``,
            ``SYS_INTENT_FIELD_INVALID``).
        message: what was wrong, one line: the exception's message, the latency against the
            budget, or the refused intent, field and value.
        error_type: the exception's class (qualified by its module unless built in); "" when
            the bot did not raise.
        location: ``path/to/file.py:line`` of the innermost traceback frame in the file that
            defines the bot's class (or a class it inherits from), the path relative to the
            module's import root so it is the same on every machine; "" when the bot did not
            raise.
        field: the :class:`~polytraders.model.orders.OrderIntent` field at fault, "" when the
            failure is not about one field.
    """

    code: str
    message: str
    error_type: str = ""
    location: str = ""
    field: str = ""


EnvelopeOutput = (
    OrderIntent
    | Proposal
    | RiskDecision
    | MonitorDecision
    | RoutePlan
    | BotFailure
    | Allocation
    | FundingPayment
    | ProtectiveStopAction
    | None
)


class ReportEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """The evidence of one decision.

    Fields:
        envelope_id: deterministic, from (run id, sequence).
        run_id: the run.
        sequence: 0-based, gap-free within a run.
        ts_event_ns: time of the event that triggered the decision.
        ts_decided_ns: desk-clock time of the decision.
        bot_id, bot_class, bot_version, config_version: who decided, with which config.
        mode: the bot's mode when deciding (SHADOW/ADVISORY decisions are recorded, not applied).
        decision: see :class:`Decision`.
        reason_codes: registered codes explaining it.
        correlation_id: the intent the decision is about ("" for a strategy's proposal).
        causation_id: the event (or envelope) that triggered it.
        input_digest: digest of the decision's input (:func:`input_digest`).
        output: the proposal, the (reshaped) intent / risk decision, the monitor finding, the
            route plan, for an ERROR envelope the :class:`BotFailure` that quarantined the
            bot, for an ALLOCATE envelope the desk's new
            :class:`~polytraders.contracts.allocation.Allocation`, for a BOOK envelope the
            funding payment booked, for a protective stop's ROUTE or REFUSE the
            :class:`~polytraders.contracts.protective_stop.ProtectiveStopAction`.
        latency_ns: decision latency (modelled under a simulated clock, the call's thread CPU
            time under a live clock).
    """

    envelope_id: str
    run_id: str
    sequence: int
    ts_event_ns: int
    ts_decided_ns: int
    bot_id: str
    bot_class: BotClass
    bot_version: str
    config_version: str
    mode: Mode
    decision: Decision
    reason_codes: tuple[str, ...] = ()
    correlation_id: str = ""
    causation_id: str = ""
    input_digest: str = ""
    output: EnvelopeOutput = None
    latency_ns: int = 0


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ReportEnvelope)


def encode_envelope(envelope: ReportEnvelope) -> bytes:
    """One envelope as a JSON line (with trailing newline)."""
    return _ENCODER.encode(envelope) + b"\n"


def decode_envelope(line: bytes | str) -> ReportEnvelope:
    """Decode one JSON line.

    Raises:
        msgspec.ValidationError / msgspec.DecodeError: malformed line.
    """
    return _DECODER.decode(line)


def write_jsonl(envelopes: Iterable[ReportEnvelope], stream: IO[bytes]) -> int:
    """Write envelopes as JSON lines; return how many."""
    count = 0
    for envelope in envelopes:
        stream.write(encode_envelope(envelope))
        count += 1
    return count


def read_jsonl(stream: IO[bytes]) -> Iterator[ReportEnvelope]:
    """Read envelopes from JSON lines (blank lines skipped)."""
    for line in stream:
        if line.strip():
            yield decode_envelope(line)


_NO_FEE_SIZE = b',"fee_size":0}'
"""How a :class:`Fill` without a commission in the traded asset ends its encoding."""


def input_digest(value: object) -> str:
    """16-hex-digit BLAKE2b digest of ``value``'s msgspec JSON encoding (deterministic).

    A :class:`~polytraders.model.fills.Fill` whose ``fee_size`` is 0 is digested without that
    field (its last), as it was before the field existed, so the digests — and the pinned
    timeline hashes of runs whose fills pay no commission in the traded asset — stay the
    same; a fill with ``fee_size`` > 0 is digested with it."""
    data = _ENCODER.encode(value)
    if type(value) is Fill and data.endswith(_NO_FEE_SIZE):
        data = data[: -len(_NO_FEE_SIZE)] + b"}"
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def timeline_sha256(envelopes: Iterable[ReportEnvelope]) -> str:
    """SHA-256 of the JSON-lines encoding of a timeline: equal iff byte-identical."""
    digest = hashlib.sha256()
    for envelope in envelopes:
        digest.update(encode_envelope(envelope))
    return digest.hexdigest()
