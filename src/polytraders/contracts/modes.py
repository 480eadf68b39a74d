"""Bot classes and run modes (DESIGN.md "Contracts")."""

from __future__ import annotations

from enum import StrEnum


class BotClass(StrEnum):
    """What a bot is allowed to decide.

    STRATEGY proposes intents; RISK approves, rejects, reshapes (never riskier) or halts (when
    granted); EXECUTION turns an approved intent into venue orders (never larger, never another
    token or side except the economically identical complement).
    """

    STRATEGY = "strategy"
    RISK = "risk"
    EXECUTION = "execution"


class Mode(StrEnum):
    """How far a bot's decisions reach.

    STUB: declared, not run. SHADOW: runs on real inputs, recorded and compared with the live
    decision, never applied. ADVISORY: runs, recorded and surfaced, not applied. ENFORCED:
    applied. QUARANTINE: the bot failed (exception, time-out, invalid or unauthorised output); a
    quarantined risk bot rejects every intent (fails closed).
    """

    STUB = "STUB"
    SHADOW = "SHADOW"
    ADVISORY = "ADVISORY"
    ENFORCED = "ENFORCED"
    QUARANTINE = "QUARANTINE"

    @property
    def applies(self) -> bool:
        """True when the bot's decision takes effect (ENFORCED; QUARANTINE applies its
        fail-closed fallback)."""
        return self in (Mode.ENFORCED, Mode.QUARANTINE)

    @property
    def runs(self) -> bool:
        """True when the bot's ``decide`` is called."""
        return self in (Mode.SHADOW, Mode.ADVISORY, Mode.ENFORCED)
