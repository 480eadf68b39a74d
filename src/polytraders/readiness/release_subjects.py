"""What a release binds: each bot of a desk file with its version, code digest and the digest
of the exact config that will run.

A release manifest, a sign-off and the live node's check all name a bot by these subjects, so
they are computed here once: ``code_sha256`` from the bot's module files
(:func:`~polytraders.backtest.bot_source.code_sha256`), ``config_sha256`` as
:func:`~polytraders.contracts.canonical.canonical_sha256` of the bot's full config (every
default filled in) and ``config_version`` its first 16 hex digits (the ``config_version`` the
desk records in every envelope).
"""

from __future__ import annotations

import msgspec

from polytraders.backtest.bot_source import code_sha256
from polytraders.backtest.desk_file import DeskFile
from polytraders.contracts.canonical import VERSION_HEX_DIGITS, canonical_sha256
from polytraders.contracts.modes import Mode


class ReleaseSubjects(msgspec.Struct, frozen=True, kw_only=True):
    """One bot of a desk as a release names it.

    Attributes:
        bot_id, bot_version: the bot and its class's version.
        mode: the mode the desk file runs it in.
        code_sha256: SHA-256 of its source files.
        config_sha256: SHA-256 of its canonical config.
        config_version: the first 16 hex digits of ``config_sha256``.
    """

    bot_id: str
    bot_version: str
    mode: Mode
    code_sha256: str
    config_sha256: str
    config_version: str


def desk_subjects(desk: DeskFile) -> dict[str, ReleaseSubjects]:
    """Every bot of ``desk`` (strategies, risk chain, execution; STUB entries included) by
    bot id.

    Raises:
        pydantic.ValidationError: a bot's config is invalid.
        BotSourceError: a bot's code does not come from a file.
    """
    out: dict[str, ReleaseSubjects] = {}
    for entry in (*desk.strategies, *desk.risk, *desk.execution):
        cls = desk.bot_class(entry)
        config = cls.Config(**entry.config)
        digest = canonical_sha256(config.canonical())
        out[str(cls.bot_id)] = ReleaseSubjects(
            bot_id=str(cls.bot_id),
            bot_version=str(cls.version),
            mode=entry.mode,
            code_sha256=code_sha256(cls),
            config_sha256=digest,
            config_version=digest[:VERSION_HEX_DIGITS],
        )
    return out
