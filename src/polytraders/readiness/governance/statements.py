"""in-toto Statement v1 in a DSSE envelope (payload type ``application/vnd.in-toto+json``,
payload = RFC 8785 bytes): ``{"_type", "subject": [{"name", "digest": {"sha256"}}],
"predicateType", "predicate"}`` (in-toto ``spec/v1/statement.md``)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.dsse import Envelope

from polytraders.readiness.governance.envelopes import new_envelope, payload_object, read_envelope
from polytraders.readiness.governance.errors import EnvelopeError, GovernanceError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
STATEMENT_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a SHA-256 digest as 64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


class StatementError(ValueError):
    """An invalid Statement (the caller turns it into its document's ``..._MALFORMED``)."""


@dataclass(frozen=True)
class Subject:
    """One subject: a name and its SHA-256 (64 lowercase hex)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Statement:
    """A parsed Statement: subjects in order, the predicate type and the predicate object."""

    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    def subject(self, name: str) -> str:
        """The SHA-256 of subject ``name``.

        Raises:
            StatementError: no subject has that name.
        """
        for subject in self.subjects:
            if subject.name == name:
                return subject.sha256
        raise StatementError(f"no subject {name!r}")


def statement_envelope(statement: Statement) -> Envelope:
    """An unsigned envelope of ``statement``.

    Raises:
        StatementError: an invalid subject (see :func:`parse_statement`).
        ValueError: a predicate RFC 8785 cannot represent.
    """
    subjects = [{"name": s.name, "digest": {"sha256": s.sha256}} for s in statement.subjects]
    _check_subjects(subjects)
    return new_envelope(
        {
            "_type": STATEMENT_TYPE,
            "subject": subjects,
            "predicateType": statement.predicate_type,
            "predicate": dict(statement.predicate),
        },
        STATEMENT_PAYLOAD_TYPE,
    )


def _check_subjects(raw: object) -> tuple[Subject, ...]:
    if not isinstance(raw, list) or not raw:
        raise StatementError("subject must be a non-empty list")
    subjects = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"name", "digest"}:
            raise StatementError("each subject is exactly {name, digest}")
        name, digest = item["name"], item["digest"]
        if not isinstance(name, str) or not name:
            raise StatementError("a subject name must be a non-empty string")
        if not isinstance(digest, dict) or set(digest) != {"sha256"}:
            raise StatementError(f"subject {name!r}: digest must be exactly {{sha256}}")
        if not is_sha256(digest["sha256"]):
            raise StatementError(f"subject {name!r}: sha256 is not 64 lowercase hex digits")
        subjects.append(Subject(name, digest["sha256"]))
    if len({s.name for s in subjects}) != len(subjects):
        raise StatementError("two subjects share a name")
    return tuple(subjects)


def parse_statement(envelope: Envelope, predicate_type: str) -> Statement:
    """The Statement in ``envelope``, checked: payload type and canonical bytes, ``_type``,
    non-empty subjects with unique names and hex SHA-256 digests, the expected predicate type
    and an object predicate.

    Raises:
        EnvelopeError: wrong payload type or non-canonical payload.
        StatementError: anything else invalid.
    """
    data = payload_object(envelope, STATEMENT_PAYLOAD_TYPE)
    if set(data) != {"_type", "subject", "predicateType", "predicate"}:
        raise StatementError("a Statement has exactly _type, subject, predicateType, predicate")
    if data["_type"] != STATEMENT_TYPE:
        raise StatementError(f"_type {data['_type']!r} is not {STATEMENT_TYPE!r}")
    if data["predicateType"] != predicate_type:
        raise StatementError(f"predicateType {data['predicateType']!r} is not {predicate_type!r}")
    if not isinstance(data["predicate"], dict):
        raise StatementError("predicate must be an object")
    return Statement(_check_subjects(data["subject"]), predicate_type, data["predicate"])


def bot_id_of(envelope: Envelope) -> str:
    """The predicate's ``bot_id`` for messages, or ``"an unidentified bot"`` when the payload
    does not name one (never raises)."""
    return _bot_id(envelope.payload)


def _bot_id(payload: bytes) -> str:
    try:
        bot_id = json.loads(payload)["predicate"]["bot_id"]
    except (ValueError, KeyError, TypeError):
        return "an unidentified bot"
    return bot_id if isinstance(bot_id, str) and bot_id else "an unidentified bot"


def _file_bot_id(path: Path) -> str:
    try:
        payload = base64.b64decode(json.loads(path.read_bytes())["payload"], validate=True)
    except (OSError, ValueError, KeyError, TypeError):
        return "an unidentified bot"
    return _bot_id(payload)


def load_statement(path: Path, refusal: type[GovernanceError], code_prefix: str) -> Envelope:
    """Read a statement envelope file, turning a refusal into ``refusal`` with code
    ``<code_prefix>_DUPLICATE_SIGNATURE`` (two signatures under one key id) or
    ``<code_prefix>_MALFORMED``; the message names the bot when the payload does.

    Raises:
        GovernanceError: of type ``refusal``, as above.
    """
    try:
        return read_envelope(path)
    except EnvelopeError as exc:
        suffix = "DUPLICATE_SIGNATURE" if exc.duplicate_keyid else "MALFORMED"
        raise refusal(f"{code_prefix}_{suffix}", f"{_file_bot_id(path)}: {exc.message}") from None
