"""Reconciliation settings, venue-neutral: how often the desk compares its orders and positions
with the venue's, what to do with venue orders it does not know, and how much unexplained
difference is a warning or critical.

Drift is what the venue's truth differs from the desk's records by *after* everything the
venue explains has been applied (fills found in its trade history, orders it cancelled), in
micro-shares (1 share = 1_000_000; Polymarket sizes are whole 0.01 shares = 10_000):

- **order drift**: over the desk's orders still open at the venue, the sum of
  ``|venue matched size − desk filled size|`` once the fills the venue lists are booked;
- **position drift**: the largest, over tokens, ``|venue holding − desk holding|`` where the
  desk holding includes the fills just recovered.

The comparison itself is :func:`polytraders.venues.drift.compare`. Venue orders the desk does
not know (orphans) are not drift: at start-up :class:`OrphanPolicy` handles them. The start-up
reconciliation of the Polymarket venue (:func:`polytraders.venues.polymarket.reconcile.reconcile`)
reads every setting here but ``interval_s`` (the ccxt session applies ``orphan_policy`` the
same way, :mod:`polytraders.venues.ccxt.reconcile`); the live node
(:class:`polytraders.commands.live.LiveSession`) reconciles again every ``interval_s`` while it
runs, and both act on the level the same way: WARNING is logged, CRITICAL halts the desk.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from polytraders.contracts.config import FrozenConfig

RECONCILE_DRIFT_WARNING = "SYS_RECONCILE_DRIFT_WARNING"
RECONCILE_DRIFT_CRITICAL = "SYS_RECONCILE_DRIFT_CRITICAL"


class OrphanPolicy(StrEnum):
    """What to do with an open venue order the desk's records do not know."""

    ADOPT = "adopt"
    """Track it as the desk's own (its fills are booked)."""
    CANCEL = "cancel"
    """Cancel it at the venue."""


class DriftLevel(StrEnum):
    """How serious a reconciliation's unexplained difference is."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def reason_code(self) -> str:
        """The registered code of this level (``""`` for OK)."""
        return {
            DriftLevel.OK: "",
            DriftLevel.WARNING: RECONCILE_DRIFT_WARNING,
            DriftLevel.CRITICAL: RECONCILE_DRIFT_CRITICAL,
        }[self]


_MAX_MICROS = 10**15
"""Upper hard limit of a drift threshold: a billion shares."""


class ReconciliationConfig(FrozenConfig):
    """When to reconcile and how to judge the result (sizes in micro-shares).

    A drift at or above its ``*_warn_micros`` threshold is a WARNING; at or above its
    ``*_critical_micros`` threshold it is CRITICAL (:meth:`level`); the reconciliation result
    carries the level's registered code. Warn thresholds never exceed critical ones. The live
    node logs a WARNING and halts the desk on a CRITICAL (``SYS_RECONCILE_DRIFT_CRITICAL``).
    """

    interval_s: int = Field(default=60, ge=5, le=3_600)
    """Seconds between periodic reconciliations while the node runs (the first one
    ``interval_s`` after start-up's). Each asks the venue for its orders, trades and holdings
    (Polymarket: a few REST requests plus one per token), so not more often than every 5 s."""

    orphan_policy: OrphanPolicy = OrphanPolicy.CANCEL
    """``cancel`` (default: nothing the desk did not decide stays at the venue) or ``adopt``
    (track it as the desk's own) for an open venue order the desk's records do not know."""

    order_drift_warn_micros: int = Field(default=1, ge=1, le=_MAX_MICROS)
    """Order drift (micro-shares) from which a reconciliation warns: by default any."""

    order_drift_critical_micros: int = Field(default=10_000, ge=1, le=_MAX_MICROS)
    """Order drift (micro-shares) from which a reconciliation is critical: by default one
    0.01-share step, the smallest size Polymarket trades."""

    position_drift_warn_micros: int = Field(default=1, ge=1, le=_MAX_MICROS)
    """Position drift (micro-shares, the worst token) from which a reconciliation warns: by
    default any, including sub-step dust from rounding."""

    position_drift_critical_micros: int = Field(default=10_000, ge=1, le=_MAX_MICROS)
    """Position drift (micro-shares, the worst token) from which a reconciliation is critical:
    by default one 0.01-share step, so any unexplained holding is critical."""

    @model_validator(mode="after")
    def _warn_below_critical(self) -> Self:
        for kind in ("order", "position"):
            warn = getattr(self, f"{kind}_drift_warn_micros")
            critical = getattr(self, f"{kind}_drift_critical_micros")
            if warn > critical:
                raise ValueError(
                    f"{kind}_drift_warn_micros ({warn}) must not exceed "
                    f"{kind}_drift_critical_micros ({critical})"
                )
        return self

    def level(self, order_drift_micros: int, position_drift_micros: int) -> DriftLevel:
        """The level of a reconciliation with these drifts (micro-shares, ≥ 0): the worse of
        the order and the position level."""
        if (
            order_drift_micros >= self.order_drift_critical_micros
            or position_drift_micros >= self.position_drift_critical_micros
        ):
            return DriftLevel.CRITICAL
        if (
            order_drift_micros >= self.order_drift_warn_micros
            or position_drift_micros >= self.position_drift_warn_micros
        ):
            return DriftLevel.WARNING
        return DriftLevel.OK
