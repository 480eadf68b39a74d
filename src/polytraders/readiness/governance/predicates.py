"""What manifests and sign-offs share: the subjects that bind a statement to a bot's code and
config, and the checked reading of predicate fields (each raises :class:`StatementError`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polytraders.contracts.canonical import VERSION_HEX_DIGITS, canonical_sha256
from polytraders.contracts.config import BotConfig
from polytraders.readiness.governance.statements import StatementError
from polytraders.readiness.governance.utc import parse_utc
from polytraders.readiness.lifecycle import State


def code_subject(bot_id: str) -> str:
    """Subject name of a bot's code digest: ``code:<bot_id>``."""
    return f"code:{bot_id}"


def config_subject(bot_id: str) -> str:
    """Subject name of a bot's config digest: ``config:<bot_id>``."""
    return f"config:{bot_id}"


def config_sha256(config: BotConfig) -> str:
    """SHA-256 (hex) of a config's canonical JSON; its first 16 digits are its
    ``config_version``."""
    return canonical_sha256(config.canonical())


def config_version_of(config_sha256_hex: str) -> str:
    """The ``config_version`` (16 hex digits) a config SHA-256 implies."""
    return config_sha256_hex[:VERSION_HEX_DIGITS]


def text(predicate: Mapping[str, Any], key: str) -> str:
    """A non-empty string field."""
    value = predicate.get(key)
    if not isinstance(value, str) or not value.strip():
        raise StatementError(f"{key} must be a non-empty string")
    return value


def state(predicate: Mapping[str, Any], key: str) -> State:
    """A lifecycle state field (:class:`State` value)."""
    value = predicate.get(key)
    try:
        return State(str(value))
    except ValueError:
        raise StatementError(f"{key} {value!r} is not a lifecycle state") from None


def time_ns(predicate: Mapping[str, Any], key: str) -> int:
    """An RFC 3339 UTC time field, as ns since the epoch."""
    try:
        return parse_utc(predicate.get(key))
    except ValueError as exc:
        raise StatementError(f"{key}: {exc}") from None


def exact_fields(predicate: Mapping[str, Any], fields: set[str]) -> None:
    """The predicate has exactly ``fields``."""
    if set(predicate) != fields:
        missing, extra = sorted(fields - set(predicate)), sorted(set(predicate) - fields)
        raise StatementError(f"predicate fields: missing {missing}, unexpected {extra}")
