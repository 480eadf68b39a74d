"""Sign-offs: signed statements (predicate type :data:`SIGNOFF_PREDICATE_TYPE`) bound to a bot's
code and config digests (subjects ``code:<bot_id>`` and ``config:<bot_id>``).

Predicate: ``bot_id``, ``bot_version``, ``kind``, ``to_state``, ``created``, ``expires``,
``statement`` (what was reviewed, or the waiver's reason) and ``gate_id`` (a gate waiver's gate;
null for the other kinds). Who must sign: a ``reviewer_signoff`` at least one reviewer, a
``final_risk_review`` at least one risk officer, a ``gate_waiver`` (an operator override of one
gate: rare and visible) at least the signer list's threshold of distinct approvers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from securesystemslib.dsse import Envelope

from polytraders.readiness.governance.envelopes import payload_sha256, verified_keyids
from polytraders.readiness.governance.errors import EnvelopeError, SignoffRefusedError
from polytraders.readiness.governance.predicates import (
    code_subject,
    config_subject,
    exact_fields,
    state,
    text,
    time_ns,
)
from polytraders.readiness.governance.signers import (
    APPROVER,
    REVIEWER,
    RISK_OFFICER,
    SignerList,
)
from polytraders.readiness.governance.statements import (
    Statement,
    StatementError,
    Subject,
    bot_id_of,
    load_statement,
    parse_statement,
    statement_envelope,
)
from polytraders.readiness.governance.utc import utc_text
from polytraders.readiness.lifecycle import State

SIGNOFF_PREDICATE_TYPE = "https://polytraders.dev/sign-off/v1"
_FIELDS = {
    "bot_id", "bot_version", "kind", "to_state", "created", "expires", "statement", "gate_id",
}  # fmt: skip


class SignoffKind(StrEnum):
    """What a sign-off attests."""

    REVIEWER_SIGNOFF = "reviewer_signoff"
    FINAL_RISK_REVIEW = "final_risk_review"
    GATE_WAIVER = "gate_waiver"


@dataclass(frozen=True)
class Signoff:
    """A parsed sign-off; times in ns since the epoch (whole seconds); ``gate_id`` is set
    exactly for a gate waiver."""

    bot_id: str
    bot_version: str
    kind: SignoffKind
    to_state: State
    code_sha256: str
    config_sha256: str
    created_ns: int
    expires_ns: int
    statement: str
    gate_id: str | None

    def to_statement(self) -> Statement:
        """The in-toto Statement of this sign-off."""
        return Statement(
            (
                Subject(code_subject(self.bot_id), self.code_sha256),
                Subject(config_subject(self.bot_id), self.config_sha256),
            ),
            SIGNOFF_PREDICATE_TYPE,
            {
                "bot_id": self.bot_id,
                "bot_version": self.bot_version,
                "kind": self.kind.value,
                "to_state": self.to_state.value,
                "created": utc_text(self.created_ns),
                "expires": utc_text(self.expires_ns),
                "statement": self.statement,
                "gate_id": self.gate_id,
            },
        )


def build_signoff(signoff: Signoff) -> Envelope:
    """An unsigned sign-off envelope.

    Raises:
        SignoffRefusedError: ``GOV_SIGNOFF_MALFORMED`` (as :func:`parse_signoff` would refuse).
    """
    try:
        envelope = statement_envelope(signoff.to_statement())
    except ValueError as exc:
        raise SignoffRefusedError("GOV_SIGNOFF_MALFORMED", f"{signoff.bot_id}: {exc}") from None
    parse_signoff(envelope)
    return envelope


def load_signoff(path: Path) -> Envelope:
    """Read a sign-off envelope file.

    Raises:
        SignoffRefusedError: ``GOV_SIGNOFF_DUPLICATE_SIGNATURE`` (two signatures under one key id)
            or ``GOV_SIGNOFF_MALFORMED``.
    """
    return load_statement(path, SignoffRefusedError, "GOV_SIGNOFF")


def parse_signoff(envelope: Envelope) -> Signoff:
    """The sign-off in ``envelope``, checked (signatures not checked).

    Raises:
        SignoffRefusedError: ``GOV_SIGNOFF_MALFORMED``, naming the bot and the field.
    """
    try:
        return _parse(parse_statement(envelope, SIGNOFF_PREDICATE_TYPE))
    except (EnvelopeError, StatementError) as exc:
        message = exc.message if isinstance(exc, EnvelopeError) else str(exc)
        raise SignoffRefusedError(
            "GOV_SIGNOFF_MALFORMED", f"{bot_id_of(envelope)}: sign-off {message}"
        ) from None


def _parse(statement: Statement) -> Signoff:
    p = statement.predicate
    exact_fields(p, _FIELDS)
    bot_id = text(p, "bot_id")
    names = {code_subject(bot_id), config_subject(bot_id)}
    if {s.name for s in statement.subjects} != names:
        raise StatementError(f"subjects must be exactly {sorted(names)}")
    try:
        kind = SignoffKind(p["kind"])
    except ValueError:
        raise StatementError(
            f"kind {p['kind']!r} is not one of {[k.value for k in SignoffKind]}"
        ) from None
    gate_id = text(p, "gate_id") if kind is SignoffKind.GATE_WAIVER else p["gate_id"]
    if kind is not SignoffKind.GATE_WAIVER and gate_id is not None:
        raise StatementError("gate_id must be null except for a gate_waiver")
    created_ns, expires_ns = time_ns(p, "created"), time_ns(p, "expires")
    if expires_ns <= created_ns:
        raise StatementError("expires must be after created")
    return Signoff(
        bot_id=bot_id,
        bot_version=text(p, "bot_version"),
        kind=kind,
        to_state=state(p, "to_state"),
        code_sha256=statement.subject(code_subject(bot_id)),
        config_sha256=statement.subject(config_subject(bot_id)),
        created_ns=created_ns,
        expires_ns=expires_ns,
        statement=text(p, "statement"),
        gate_id=gate_id,
    )


@dataclass(frozen=True)
class VerifiedSignoff:
    """A sign-off that passed :func:`verify_signoff`: the sign-off, its SHA-256 (payload bytes)
    and the sorted names of the signers whose signatures counted for its kind."""

    signoff: Signoff
    sha256: str
    signers: tuple[str, ...]


def verify_signoff(
    envelope: Envelope,
    *,
    signers: SignerList,
    now_ns: int,
    expected_code_sha256: str,
    expected_config_sha256: str,
) -> VerifiedSignoff:
    """Verify a sign-off: well-formed; signed as its kind requires (module docstring; other
    signatures count for nothing); not expired at ``now_ns``; code and config subjects equal to
    the expected digests. ``signers`` is the current verified signer list
    (:func:`~polytraders.readiness.governance.signers.current_signers`).

    Raises:
        SignoffRefusedError: ``GOV_SIGNOFF_MALFORMED``, ``GOV_SIGNOFF_ROLE_MISSING`` (reviewer or
            risk officer), ``GOV_SIGNOFF_THRESHOLD_NOT_MET`` (waiver), ``GOV_SIGNOFF_EXPIRED``,
            ``GOV_SIGNOFF_CODE_MISMATCH`` or ``GOV_SIGNOFF_CONFIG_MISMATCH``; one line naming
            the bot.
    """
    signoff = parse_signoff(envelope)
    bot, kind = signoff.bot_id, signoff.kind.value
    if signoff.kind is SignoffKind.GATE_WAIVER:
        signed = verified_keyids(envelope, signers.keys(APPROVER))
        if len(signed) < signers.threshold:
            raise SignoffRefusedError(
                "GOV_SIGNOFF_THRESHOLD_NOT_MET",
                f"{bot}: waiver of gate {signoff.gate_id} is signed by {len(signed)} distinct "
                f"approver(s); {signers.threshold} are needed",
            )
    else:
        role = REVIEWER if signoff.kind is SignoffKind.REVIEWER_SIGNOFF else RISK_OFFICER
        signed = verified_keyids(envelope, signers.keys(role))
        if not signed:
            raise SignoffRefusedError(
                "GOV_SIGNOFF_ROLE_MISSING",
                f"{bot}: {kind} has no valid signature by a signer with role {role}",
            )
    if now_ns >= signoff.expires_ns:
        raise SignoffRefusedError(
            "GOV_SIGNOFF_EXPIRED", f"{bot}: {kind} expired at {utc_text(signoff.expires_ns)}"
        )
    for label, actual, expected in (
        ("code", signoff.code_sha256, expected_code_sha256),
        ("config", signoff.config_sha256, expected_config_sha256),
    ):
        if actual != expected:
            raise SignoffRefusedError(
                f"GOV_SIGNOFF_{label.upper()}_MISMATCH",
                f"{bot}: {kind} is for {label} sha256 {actual}, but the {label} to run has "
                f"{expected}",
            )
    return VerifiedSignoff(signoff, payload_sha256(envelope), signers.names(signed))
