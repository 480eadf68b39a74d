"""Automatic demotion (seed 001): "A bot in General live is demoted to Limited live (and stops
affecting users) when any of the following holds for 24 consecutive hours: P0 alert active,
error rate > 1%, reconciliation drift outside tolerance, or a security finding above CVSS 7.0.
Demotion is automatic and on-call cannot disable it."

The monitor reads only the event store, at a clock ``now_ns`` it is given (never the wall
clock), over the window ``W = [now_ns − 24 h, now_ns)``. A bot is in General live when its
latest promoted/demoted row leads there (:func:`~polytraders.readiness.promote.current_state`).
What "holds for 24 consecutive hours" means for each condition:

- **P0 alert active**: the bot's P0 alerts (``alert_firings`` with ``severity`` P0 and the
  bot's label) fire throughout ``W``: the union of their firing intervals covers it
  (:func:`~polytraders.store.alerts.firing_intervals`; an alert never resolved is still
  firing). Silences are not read: they only mute notifications, the rule state stands
  (``../shared/research/governance.md`` §5). Desk-wide alerts (no bot label) do not count:
  they are not attributed to a bot (a venue outage must not demote every bot).
- **Error rate > 1 %**: ``W`` is cut into 24 hourly buckets; in **every** bucket the bot made
  at least one decision in a live-clock run and its ERROR + QUARANTINE envelopes are more than
  1 % of them (``errors × 100 > decisions``). A bucket without a decision has no rate, so the
  condition does not hold there and the count starts again (as Prometheus' ``for:`` resets
  when its expression yields nothing). Only the bot's own errors count: ERROR envelopes are
  written by the desk when the bot raised, overran its CPU budget or gave an invalid or
  unauthorised output, and QUARANTINE envelopes are the fail-closed answers of a bot
  quarantined for that; venue failures never produce either
  (:data:`~polytraders.readiness.store_evidence.ERROR_DECISIONS`, governance §4: error
  budgets split by origin so venue incidents do not demote bots). Backtests do not count.
- **Reconciliation drift outside tolerance**: the reconciliations of the live-venue runs the
  bot took part in, in the order written (``wall_ns``, the store's clock). The drift at an
  instant is the level of the latest reconciliation at or before it; it holds throughout
  ``W`` when the latest one at or before the window's start is ``critical`` and every one
  since is ``critical`` too (drift outside tolerance, not followed by an ``ok`` or ``warning``
  one). A desk that stopped after a critical verdict leaves it standing: nothing has
  reconciled the drift away.
- **A security finding above CVSS 7.0**: the union of the stretches during which a finding
  applying to the bot (its own, or the desk's) was open with a score above 7.0 **or
  unscored** covers ``W`` (:func:`~polytraders.store.security_findings.open_intervals`; an
  unscored finding counts as critical until scored: fail closed).

Each condition gives how long, ending at ``now_ns``, it has held without a break
(``held_ns``, at most 24 h) and one piece of store evidence; their digest
(:func:`~polytraders.readiness.evidence.evidence_digest`) is recorded with the demotion.

**Demotion.** When one condition holds, :func:`check` records a ``promotions`` row
``demoted`` General live → Limited live with reason code ``GOV_DEMOTED``, the evidence digest
and the conditions held, and a ``GOV_DEMOTED`` audit entry carrying every condition's value
and evidence. **Idempotent**: an episode is the bot's stay in General live (the row that put it
there); the demotion's ``evaluation_id`` is derived from that row, and a check that finds the
bot already out of General live, or a demotion of the same episode on record, records
nothing. A bot promoted to General live again later starts a new episode (and can only be
promoted through the Limited live → General live gates). Nothing configures this: there is no
key, flag or setting (the desk and node files refuse any key naming demotion).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

import msgspec

from polytraders.readiness.evidence import (
    Evidence,
    EvidenceKind,
    evidence_digest,
    result_evidence,
)
from polytraders.readiness.lifecycle import State
from polytraders.readiness.store_evidence import (
    RunKind,
    bot_runs,
    envelope_buckets,
)
from polytraders.store import EventStore, RunRecord
from polytraders.store.alerts import firing_intervals
from polytraders.store.incidents import Severity
from polytraders.store.intervals import trailing_ns
from polytraders.store.promotions import (
    PromotionOutcome,
    PromotionRow,
    append_promotion,
    promotions,
)
from polytraders.store.security_findings import cvss_text, open_intervals

NS_PER_S = 1_000_000_000
HOUR_NS = 3_600 * NS_PER_S
WINDOW_HOURS = 24
"""Seed 001: "holds for 24 consecutive hours"."""
WINDOW_NS = WINDOW_HOURS * HOUR_NS
ERROR_RATE_LIMIT_PCT = 1
"""Seed 001: "error rate > 1%" (strictly above)."""
CVSS_LIMIT_TENTHS = 70
"""Seed 001: "a security finding above CVSS 7.0" (strictly above; tenths)."""
DEMOTION_ACTOR = "governance.demotion"
"""Who records an automatic demotion (the promotions row's actor, the audit entries')."""
GOV_DEMOTED = "GOV_DEMOTED"
GOV_DEMOTION_CHECKED = "GOV_DEMOTION_CHECKED"

_LIVE_CLOCK = (RunKind.LIVE_CLOCK, RunKind.LIVE_VENUE)


class Condition(StrEnum):
    """Seed 001's four demotion conditions."""

    P0_ALERT = "p0_alert"
    ERROR_RATE = "error_rate"
    RECONCILIATION_DRIFT = "reconciliation_drift"
    SECURITY_FINDING = "security_finding"


class ConditionResult(msgspec.Struct, frozen=True, kw_only=True):
    """One condition over the 24 h ending at the check's clock.

    Attributes:
        condition: which.
        holds: it held throughout the 24 h.
        held_ns: how long, ending at the check's clock, it has held without a break (0 to
            24 h).
        detail: one line saying what was measured.
        evidence: the store query and the digest of what it returned.
    """

    condition: Condition
    holds: bool
    held_ns: int
    detail: str
    evidence: Evidence


class DemotionCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What a check of one bot found and did.

    Attributes:
        bot_id: the bot.
        state: its lifecycle state before the check.
        now_ns: the check's clock.
        conditions: the four conditions (empty when the bot was not in General live: nothing
            to evaluate).
        digest: the evidence digest over the conditions' evidence ("" without conditions).
        demotion: the ``demoted`` row this check recorded, or None.
    """

    bot_id: str
    state: State
    now_ns: int
    conditions: tuple[ConditionResult, ...]
    digest: str
    demotion: PromotionRow | None

    @property
    def holding(self) -> tuple[Condition, ...]:
        """The conditions that held for 24 h."""
        return tuple(c.condition for c in self.conditions if c.holds)


def _hours(ns: int) -> str:
    hours = ns / HOUR_NS
    return f"{hours:.0f} h" if ns % HOUR_NS == 0 else f"{hours:.2f} h"


def _result(condition: Condition, held_ns: int, detail: str, evidence: Evidence) -> ConditionResult:
    held = min(max(held_ns, 0), WINDOW_NS)
    return ConditionResult(
        condition=condition,
        holds=held == WINDOW_NS,
        held_ns=held,
        detail=detail,
        evidence=evidence,
    )


def p0_alert(store: EventStore, bot_id: str, now_ns: int) -> ConditionResult:
    """P0 alert of the bot firing throughout the window (module docstring)."""
    start = now_ns - WINDOW_NS
    intervals = [
        i
        for i in firing_intervals(store, bot_id, severity=Severity.P0.value)
        if i.starts_ns < now_ns and (i.ends_ns is None or i.ends_ns > start)
    ]
    held = trailing_ns(intervals, start, now_ns)
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"alert_firings where bot_id = {bot_id} and severity = P0, firing in [{start}, {now_ns})",
        [[i.fingerprint, i.alertname, i.starts_ns, i.ends_ns] for i in intervals],
        f"{len(intervals)} P0 alert instance(s)",
    )
    return _result(
        Condition.P0_ALERT,
        held,
        f"P0 alert firing for the last {_hours(held)} ({len(intervals)} instance(s) in the window)",
        evidence,
    )


def rate_above_limit(errors: int, decisions: int) -> bool:
    """True when ``errors`` of ``decisions`` is more than :data:`ERROR_RATE_LIMIT_PCT` %
    (exact integer comparison); False without decisions (no rate)."""
    return decisions > 0 and errors * 100 > decisions * ERROR_RATE_LIMIT_PCT


def _window_runs(store: EventStore, bot_id: str, start: int, now_ns: int) -> list[RunRecord]:
    """The bot's live-clock runs that may hold a decision inside ``[start, now_ns)``."""
    return [
        r
        for r in bot_runs(store, bot_id, _LIVE_CLOCK)
        if r.started_ns < now_ns and (r.ended_ns is None or r.ended_ns >= start)
    ]


def error_rate(store: EventStore, bot_id: str, now_ns: int) -> ConditionResult:
    """Error rate above 1 % in each of the window's 24 hourly buckets (module docstring)."""
    start = now_ns - WINDOW_NS
    runs = _window_runs(store, bot_id, start, now_ns)
    buckets = envelope_buckets(
        store, bot_id, runs, since_ns=start, bucket_ns=HOUR_NS, count=WINDOW_HOURS
    )
    streak = 0
    for bucket in reversed(buckets):
        if not rate_above_limit(bucket.errors, bucket.decisions):
            break
        streak += 1
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"envelopes where bot_id = {bot_id} in {len(runs)} live-clock run(s), hourly buckets "
        f"of [{start}, {now_ns})",
        {
            "runs": [f"{r.run_id}@{r.attempt}" for r in runs],
            "buckets": [[b.start_ns, b.decisions, b.errors] for b in buckets],
        },
        f"{sum(b.decisions for b in buckets)} decisions, {sum(b.errors for b in buckets)} errors",
    )
    above = sum(1 for b in buckets if rate_above_limit(b.errors, b.decisions))
    empty = sum(1 for b in buckets if b.decisions == 0)
    return _result(
        Condition.ERROR_RATE,
        streak * HOUR_NS,
        f"error rate above {ERROR_RATE_LIMIT_PCT} % in the last {streak} hourly bucket(s) "
        f"({above} of 24 above, {empty} without a decision)",
        evidence,
    )


def reconciliation_drift(store: EventStore, bot_id: str, now_ns: int) -> ConditionResult:
    """Critical drift standing throughout the window (module docstring)."""
    start = now_ns - WINDOW_NS
    rows = sorted(
        (rec.wall_ns, f"{r.run_id}@{r.attempt}", rec.level)
        for r in bot_runs(store, bot_id, (RunKind.LIVE_VENUE,))
        for rec in store.reconciliations(r.ref)
        if rec.wall_ns <= now_ns
    )
    spell_start: int | None = None
    for wall_ns, _run, level in reversed(rows):
        if level != "critical":
            break
        spell_start = wall_ns
    held = 0 if spell_start is None else now_ns - spell_start
    before = [row for row in rows if row[0] <= start]
    shown = before[-1:] + [row for row in rows if row[0] > start]
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"reconciliations of live-venue runs of {bot_id} up to {now_ns} (the last one at or "
        f"before {start} and every one since)",
        [list(row) for row in shown],
        f"{len(shown)} reconciliation(s)",
    )
    return _result(
        Condition.RECONCILIATION_DRIFT,
        held,
        f"drift outside tolerance (critical) standing for {_hours(min(held, WINDOW_NS))}"
        + ("" if rows else " (no reconciliation on record)"),
        evidence,
    )


def security_finding(store: EventStore, bot_id: str, now_ns: int) -> ConditionResult:
    """A finding above CVSS 7.0 (or unscored) open throughout the window (module
    docstring)."""
    start = now_ns - WINDOW_NS
    intervals = [
        i
        for i in open_intervals(store, bot_id, above_tenths=CVSS_LIMIT_TENTHS)
        if i.starts_ns < now_ns and (i.ends_ns is None or i.ends_ns > start)
    ]
    held = trailing_ns(intervals, start, now_ns)
    evidence = result_evidence(
        EvidenceKind.STORE,
        f"security_findings of {bot_id} and desk open with CVSS above "
        f"{cvss_text(CVSS_LIMIT_TENTHS)} or unscored in [{start}, {now_ns})",
        [
            (i.finding_id, i.vulnerability_id, i.cvss_score_tenths, i.starts_ns, i.ends_ns)
            for i in intervals
        ],
        f"{len(intervals)} stretch(es)",
    )
    names = sorted({f"{i.vulnerability_id} ({cvss_text(i.cvss_score_tenths)})" for i in intervals})
    return _result(
        Condition.SECURITY_FINDING,
        held,
        f"a finding above CVSS {cvss_text(CVSS_LIMIT_TENTHS)} open for the last {_hours(held)}"
        + (f": {', '.join(names)}" if names else ""),
        evidence,
    )


def evaluate(store: EventStore, bot_id: str, now_ns: int) -> tuple[ConditionResult, ...]:
    """Seed 001's four conditions for ``bot_id`` over the 24 h ending at ``now_ns``
    (reads only; whatever the bot's state).

    Raises:
        StoreError: a read failed.
    """
    return (
        p0_alert(store, bot_id, now_ns),
        error_rate(store, bot_id, now_ns),
        reconciliation_drift(store, bot_id, now_ns),
        security_finding(store, bot_id, now_ns),
    )


def latest_move(store: EventStore, bot_id: str) -> PromotionRow | None:
    """The bot's latest promoted or demoted row (its state is that row's target), or None.

    Raises:
        StoreError: the read failed.
    """
    rows = promotions(store, bot_id=bot_id)
    moves = [r for r in rows if r.outcome is not PromotionOutcome.REFUSED]
    return moves[-1] if moves else None


def demoted_row(store: EventStore, bot_id: str) -> PromotionRow | None:
    """The ``demoted`` row that put the bot where it is, when its latest move is a demotion
    (it has not been promoted since), else None: what a running desk applies.

    Raises:
        StoreError: the read failed.
    """
    row = latest_move(store, bot_id)
    return row if row is not None and row.outcome is PromotionOutcome.DEMOTED else None


def episode_id(bot_id: str, entered: PromotionRow) -> str:
    """The demotion's ``evaluation_id`` for the stay in General live that began with the
    row ``entered``: ``demotion-`` + 16 hex digits of the SHA-256 of (bot, row id)."""
    digest = hashlib.sha256(f"{bot_id}\n{entered.row_id}".encode()).hexdigest()[:16]
    return f"demotion-{digest}"


def check(
    store: EventStore, bot_id: str, now_ns: int, *, actor: str = DEMOTION_ACTOR
) -> DemotionCheck:
    """Check one bot at ``now_ns``: when it is in General live, evaluate the four conditions
    and, when one holds, record its demotion to Limited live (module docstring). A bot in any
    other state is left alone (``conditions`` empty).

    Raises:
        StoreError: a read or write failed (a demotion row written before a failed audit
            entry stays).
    """
    entered = latest_move(store, bot_id)
    state = State(entered.to_state) if entered is not None else State.IDEA_ONLY
    if entered is None or state is not State.GENERAL_LIVE:
        return DemotionCheck(
            bot_id=bot_id, state=state, now_ns=now_ns, conditions=(), digest="", demotion=None
        )
    conditions = evaluate(store, bot_id, now_ns)
    digest = evidence_digest(c.evidence for c in conditions)
    holding = [c for c in conditions if c.holds]
    demotion = None
    if holding:
        demotion = _record(
            store,
            bot_id,
            entered,
            conditions=conditions,
            digest=digest,
            now_ns=now_ns,
            actor=actor,
        )
    return DemotionCheck(
        bot_id=bot_id,
        state=state,
        now_ns=now_ns,
        conditions=conditions,
        digest=digest,
        demotion=demotion,
    )


def _record(
    store: EventStore,
    bot_id: str,
    entered: PromotionRow,
    *,
    conditions: Sequence[ConditionResult],
    digest: str,
    now_ns: int,
    actor: str,
) -> PromotionRow | None:
    """Record the demotion of the episode ``entered`` unless it is on record already (the
    bot's latest move changed since it was read: another monitor demoted it)."""
    evaluation_id = episode_id(bot_id, entered)
    latest = latest_move(store, bot_id)
    if latest is None or latest.row_id != entered.row_id:
        return None
    holding = [c for c in conditions if c.holds]
    detail = "; ".join(f"{c.condition.value}: {c.detail}" for c in holding)
    row = append_promotion(
        store,
        bot_id=bot_id,
        from_state=State.GENERAL_LIVE.value,
        to_state=State.LIMITED_LIVE.value,
        outcome=PromotionOutcome.DEMOTED,
        reason_code=GOV_DEMOTED,
        evaluation_id=evaluation_id,
        evidence_digest=digest,
        actor=actor,
        detail=f"held for 24 consecutive hours: {detail}",
        ts_ns=now_ns,
    )
    store.audit(
        actor=actor,
        action=GOV_DEMOTED,
        ts_ns=now_ns,
        detail={
            "bot_id": bot_id,
            "from_state": State.GENERAL_LIVE.value,
            "to_state": State.LIMITED_LIVE.value,
            "evaluation_id": evaluation_id,
            "evidence_digest": digest,
            "holding": [c.condition.value for c in holding],
            "conditions": [
                {
                    "condition": c.condition.value,
                    "holds": c.holds,
                    "held_ns": c.held_ns,
                    "detail": c.detail,
                    "evidence": [c.evidence.ref, c.evidence.digest, c.evidence.result],
                }
                for c in conditions
            ],
        },
    )
    return row


def general_live_bots(store: EventStore) -> list[str]:
    """The bots whose current state is General live, sorted.

    Raises:
        StoreError: the read failed.
    """
    latest: dict[str, PromotionRow] = {}
    for row in promotions(store):
        if row.outcome is not PromotionOutcome.REFUSED:
            latest[row.bot_id] = row
    return sorted(b for b, r in latest.items() if r.to_state == State.GENERAL_LIVE.value)


def check_all(
    store: EventStore, now_ns: int, *, actor: str = DEMOTION_ACTOR
) -> list[DemotionCheck]:
    """:func:`check` every bot in General live at ``now_ns``, then audit the run of the
    monitor (``GOV_DEMOTION_CHECKED``: the bots checked, the conditions that held, the bots
    demoted).

    Raises:
        StoreError: a read or write failed.
    """
    results = [check(store, bot_id, now_ns, actor=actor) for bot_id in general_live_bots(store)]
    store.audit(
        actor=actor,
        action=GOV_DEMOTION_CHECKED,
        ts_ns=now_ns,
        detail={
            "now_ns": now_ns,
            "checked": [r.bot_id for r in results],
            "holding": {r.bot_id: [c.value for c in r.holding] for r in results if r.holding},
            "demoted": [r.bot_id for r in results if r.demotion is not None],
            "digests": {r.bot_id: r.digest for r in results},
        },
    )
    return results
