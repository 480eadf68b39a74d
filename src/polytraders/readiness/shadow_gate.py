"""The shadow-agreement gate's measure (seed 001, Shadow → Limited live: "Shadow agreement with
current live decision — side-by-side replay of last 30 days — ≥ 99 % identical decision;
divergences manually reviewed").

Evidence: the bot's rows of ``shadow_comparisons`` (:mod:`polytraders.store.shadow_comparisons`,
recorded by ``polytraders shadow compare``) whose event-time window overlaps the last 30 days
before the evaluation's clock (``ReadinessContext.now_ns``); a comparison that overlaps counts
whole. Pooled over them:

- the verdict agreement ``agreed / compared`` (items decided on both sides; one-sided items are
  neither), with Cohen's κ of the pooled confusion table and the one-sided 95 % Clopper–Pearson
  lower bound of the agreement beside it (``../shared/research/governance.md`` §3: 990/1,000 →
  lower bound 98.3 %), and the strict agreement (verdict and codes);
- the days covered: the UTC days of the 30 ending at the clock on which some comparison's
  window lies (replayed data counts on the days it was recorded, not the day it was replayed);
- the review state of every divergence (:func:`~polytraders.store.shadow_comparisons.unreviewed`).

Phases: **Failed** when the agreement is below 99 % (whatever the coverage: the breach is in
the data), or when a reviewer judged a divergence ``incorrect`` (the candidate decided wrong:
a defect to fix before promotion, not a statistic to average away); **Inconclusive** when
nothing was compared, fewer than 30 days are covered, or a divergence has no review verdict;
**Successful** otherwise.
"""

from __future__ import annotations

from fractions import Fraction

from polytraders.model.agreement import Confusion, decimal_text, percent_text
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import EvidenceKind, Phase, result_evidence
from polytraders.readiness.gates import Measurement
from polytraders.readiness.store_evidence import DAY_NS, utc_day
from polytraders.store.reviews import ReviewVerdict
from polytraders.store.shadow_comparisons import (
    ShadowComparisonRow,
    comparisons,
    divergence_verdicts,
)

WINDOW_DAYS = 30
"""Seed 001: "side-by-side replay of last 30 days"."""

MIN_AGREEMENT = Fraction(99, 100)
"""Seed 001: "≥ 99 % identical decision"."""


def _days(row: ShadowComparisonRow, since_ns: int, until_ns: int) -> set[str]:
    """The UTC days of ``[since_ns, until_ns]`` the row's window lies on."""
    start, end = max(row.window_start_ns, since_ns), min(row.window_end_ns, until_ns)
    if end < start:
        return set()
    days = set()
    day = start - start % DAY_NS
    while day <= end:
        days.add(utc_day(day))
        day += DAY_NS
    return days


def shadow_agreement(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The shadow-agreement gate (rules in the module docstring)."""
    if ctx.store is None:
        from polytraders.readiness.measures import NO_STORE  # the shared no-store answer

        return NO_STORE
    since_ns = ctx.now_ns - WINDOW_DAYS * DAY_NS
    rows = comparisons(
        ctx.store, bot_id=bot_id, window_since_ns=since_ns, window_until_ns=ctx.now_ns
    )
    pooled = Confusion.empty()
    for row in rows:
        pooled = pooled.plus(row.confusion)
    strict = sum(r.agree_strict for r in rows)
    wanted = {utc_day(ctx.now_ns - k * DAY_NS) for k in range(WINDOW_DAYS)}
    covered = set().union(*(_days(r, since_ns, ctx.now_ns) for r in rows)) & wanted
    verdicts = divergence_verdicts(ctx.store, [r.comparison_id for r in rows])
    divergences = [(r.comparison_id, d) for r in rows for d in r.divergences]
    judged = [verdicts.get((cid, *d.key), {}) for cid, d in divergences]
    open_reviews = sum(1 for j in judged if not j)
    incorrect = sum(
        1 for j in judged if any(v.verdict is ReviewVerdict.INCORRECT for v in j.values())
    )
    unsafe = sum(1 for _, d in divergences if d.unsafe)
    agreement, kappa, lower = pooled.agreement(), pooled.kappa(), pooled.lower_bound()
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"shadow_comparisons where bot_id = {bot_id} and the window overlaps "
            f"[{since_ns}, {ctx.now_ns}]; review_verdicts of their divergences",
            {
                "comparisons": [r.comparison_id for r in rows],
                "compared": pooled.compared,
                "agree_verdict": pooled.agreed,
                "agree_strict": strict,
                "kappa": decimal_text(kappa),
                "agreement_lower_95": lower,
                "days": sorted(covered),
                "divergences": len(divergences),
                "unsafe": unsafe,
                "unreviewed": open_reviews,
                "incorrect": incorrect,
            },
            f"{len(rows)} comparison(s) on {len(covered)} day(s)",
        ),
    )
    if agreement is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no decision compared",
            detail=f"no recorded shadow comparison of {bot_id} compared a decision in the last "
            f"{WINDOW_DAYS} days (polytraders shadow compare)",
            evidence=evidence,
        )
    value = (
        f"{pooled.agreed:,}/{pooled.compared:,} = {percent_text(agreement)} "
        f"(kappa {decimal_text(kappa)}; 95 % lower bound {percent_text(lower)}; strict "
        f"{percent_text(Fraction(strict, pooled.compared))}) over {len(covered)}/"
        f"{WINDOW_DAYS} days"
    )
    reviews = (
        f"{len(divergences) - open_reviews} of {len(divergences)} divergence(s) reviewed "
        f"({unsafe} unsafe, {incorrect} judged incorrect)"
    )
    if agreement < MIN_AGREEMENT:
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"verdict agreement {percent_text(agreement)} < 99 %; {reviews}",
            evidence=evidence,
        )
    if incorrect:
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"a reviewer judged {incorrect} divergence(s) incorrect; {reviews}",
            evidence=evidence,
        )
    if len(covered) < WINDOW_DAYS:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"comparisons cover {len(covered)} of the last {WINDOW_DAYS} UTC days (all "
            f"{WINDOW_DAYS} are needed); {reviews}",
            evidence=evidence,
        )
    if open_reviews:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=value,
            detail=f"{open_reviews} divergence(s) have no review verdict "
            f"(polytraders shadow review); {reviews}",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail=f"verdict agreement ≥ 99 % over {WINDOW_DAYS} days; {reviews}",
        evidence=evidence,
    )
