"""CI results as readiness evidence: Impl item 15 ("CI is green — lint, type-check, test,
schema validation, contract verification", seed 002) and the daily CI record the gate "all
tests pass on main for 7 consecutive days" (seed 001) measures.

The README's test command runs ruff, mypy, the reason-code registry check and pytest; its
exit status and JUnit report are recorded per commit by ``polytraders readiness record-ci``
(:mod:`polytraders.store.ci_runs`).
"""

from __future__ import annotations

from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    EvidenceKind,
    ItemStatus,
    result_evidence,
)
from polytraders.store.ci_runs import CiOutcome, CiRun, ci_runs

CI_ITEM_TITLE = "CI is green — lint, type-check, test, schema validation, contract verification."


def ci_run_summary(run: CiRun) -> dict[str, object]:
    """The JSON-compatible figures of a CI run that evidence digests (not its per-test list,
    which the JUnit digest covers)."""
    return {
        "commit_sha": run.commit_sha,
        "branch": run.branch,
        "outcome": run.outcome.value,
        "tests_passed": run.tests_passed,
        "tests_failed": run.tests_failed,
        "tests_errors": run.tests_errors,
        "tests_skipped": run.tests_skipped,
        "wall_ns": run.wall_ns,
        "junit_sha256": run.junit_sha256,
    }


def ci_item(ctx: ReadinessContext, number: int = 15) -> ChecklistItem:
    """Impl item 15 from the latest CI run recorded for ``ctx.commit``: PASS when it passed,
    FAIL when it failed, PENDING with no store, no commit or no run recorded for it."""
    if ctx.store is None:
        return ChecklistItem(
            number=number, title=CI_ITEM_TITLE, status=ItemStatus.PENDING, detail="no event store"
        )
    if not ctx.commit:
        return ChecklistItem(
            number=number,
            title=CI_ITEM_TITLE,
            status=ItemStatus.PENDING,
            detail="not a git checkout: no commit to look up",
        )
    runs = ci_runs(ctx.store, commit_sha=ctx.commit)
    ref = f"ci_runs where commit_sha = {ctx.commit}"
    if not runs:
        return ChecklistItem(
            number=number,
            title=CI_ITEM_TITLE,
            status=ItemStatus.PENDING,
            detail=f"no CI run recorded for commit {ctx.commit[:12]} "
            "(.ci/run records one with `polytraders readiness record-ci`)",
            evidence=(result_evidence(EvidenceKind.STORE, ref, [], "0 runs"),),
        )
    latest = runs[-1]
    summary = ci_run_summary(latest)
    counts = (
        f"{latest.tests_passed} passed, {latest.tests_failed} failed, "
        f"{latest.tests_errors} errors, {latest.tests_skipped} skipped"
    )
    green = latest.outcome is CiOutcome.PASSED
    return ChecklistItem(
        number=number,
        title=CI_ITEM_TITLE,
        status=ItemStatus.PASS if green else ItemStatus.FAIL,
        detail=f"latest of {len(runs)} CI run(s) of {ctx.commit[:12]}: "
        f"{latest.outcome.value} ({counts})",
        evidence=(result_evidence(EvidenceKind.STORE, ref, summary, latest.outcome.value),),
    )
