"""The ``chaos_suite`` gate (seed 001, Shadow → Limited live: "Failure-injection recipes pass —
all 5 standard scenarios pass"), measured from the chaos suite's recorded verdicts
(``chaos_runs``, :mod:`polytraders.store.chaos_runs`; ``polytraders chaos run``).

Which recorded runs count for a bot:

- **the desk under test ran the bot ENFORCED** — a STUB bot did not run, and a SHADOW or
  ADVISORY one was recorded but not applied, so the scenarios say nothing about the bot's
  own decisions under the fault (Limited live runs it enforced);
- **the run's commit is the commit under evaluation** (``ReadinessContext.commit``): the
  scenarios test the desk, the venue adapter, the feeds and the bot together, and a change
  to any of them can break what a scenario checks, so a verdict speaks for the code that
  produced it only. The bot's config version alone would let an old pass vouch for new venue
  or desk code. A run recorded outside a git checkout (commit ``""``), or an evaluation
  outside one, never counts: no provenance is no pass;
- recorded at or before the evaluation's clock.

Among those, the **latest run of each of the five standard scenarios**
(:data:`polytraders.chaos.SCENARIO_NAMES`) decides — a scenario may be re-run alone
(``--scenario``), so the five need not share a suite:

- **Failed** when the latest counted run of any scenario failed (its failed checks named);
- else **Inconclusive** when any scenario has no counted run (runs at other commits, or of
  desks without the bot enforced, are mentioned but do not count);
- else **Successful**: the latest counted run of all five passed.
"""

from __future__ import annotations

from polytraders.chaos import SCENARIO_NAMES
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import EvidenceKind, Phase, result_evidence
from polytraders.readiness.gates import Measurement
from polytraders.store.chaos_runs import ChaosRunRow, chaos_runs

ENFORCED = "ENFORCED"


def runs_enforcing(rows: list[ChaosRunRow], bot_id: str) -> list[ChaosRunRow]:
    """The rows whose desk ran ``bot_id`` ENFORCED."""
    return [r for r in rows if any(b.bot_id == bot_id and b.mode == ENFORCED for b in r.bots)]


def chaos_suite(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """The gate's measure (module docstring for the rules)."""
    if ctx.store is None:
        from polytraders.readiness.measures import NO_STORE  # measures imports this module

        return NO_STORE
    with_bot = runs_enforcing(chaos_runs(ctx.store), bot_id)
    counted = [
        r
        for r in with_bot
        if ctx.commit and r.commit_sha == ctx.commit and r.ended_wall_ns <= ctx.now_ns
    ]
    latest: dict[str, ChaosRunRow] = {}
    for row in counted:  # in row order: the last one wins
        if row.scenario in SCENARIO_NAMES:
            latest[row.scenario] = row
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"latest chaos_runs per scenario where commit_sha = {ctx.commit or '(none)'} and "
            f"the desk ran {bot_id} ENFORCED",
            [
                [name, r.suite_id, r.row_id, r.passed, list(r.failed_checks), list(r.run_refs)]
                for name, r in sorted(latest.items())
            ],
            f"{len(latest)} of {len(SCENARIO_NAMES)} scenarios recorded",
        ),
    )
    passed = sum(1 for r in latest.values() if r.passed)
    value = f"{passed}/{len(SCENARIO_NAMES)} scenarios"
    failed = [latest[name] for name in SCENARIO_NAMES if name in latest and not latest[name].passed]
    if failed:
        first = failed[0]
        return Measurement(
            phase=Phase.FAILED,
            value=value,
            detail=f"the latest {first.scenario} run (suite {first.suite_id}) failed: "
            f"{', '.join(first.failed_checks)}"
            + (f"; {len(failed) - 1} other scenario(s) failed too" if len(failed) > 1 else ""),
            evidence=evidence,
        )
    missing = [name for name in SCENARIO_NAMES if name not in latest]
    if missing:
        if not ctx.commit:
            why = "the evaluation has no commit (not a git checkout), so no run counts"
        else:
            elsewhere = len(with_bot) - len(counted)
            why = (
                f"no recorded run of {', '.join(missing)} at commit {ctx.commit[:12]} for a "
                f"desk running {bot_id} ENFORCED (polytraders chaos run)"
                + (f"; {elsewhere} run(s) at other commits do not count" if elsewhere else "")
            )
        return Measurement(phase=Phase.INCONCLUSIVE, value=value, detail=why, evidence=evidence)
    suites = sorted({r.suite_id for r in latest.values()})
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=value,
        detail=f"the latest run of every standard scenario passed at commit {ctx.commit[:12]} "
        f"(suite{'s' if len(suites) > 1 else ''} {', '.join(suites)})",
        evidence=evidence,
    )
