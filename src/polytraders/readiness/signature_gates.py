"""The evidence functions of the signature gates (seed 000 stages 2 and 4) and of the audit
log's retention (stage 3).

Every signed statement is re-verified at evaluation time from the envelope the store kept
(:mod:`polytraders.readiness.release_check`), against the current signer list and the bot's
code and config as the evaluation's desk file runs them (``ReadinessContext.desk``): a
statement for other code or another config, an expired one, or one whose signers were rotated
out proves nothing. With no desk file or no governance directory in the context the gates are
Inconclusive (they block).

- ``reviewer_signoff``: a valid reviewer sign-off (a signer with the reviewer role).
- ``final_risk_review``: a valid final risk review (a risk officer) for General live.
- ``release_manifest_signed`` and ``multisig_approval``: the bot's current release is to
  General live and verifies (≥ threshold distinct approvers: the value shows k of n).
- ``incident_playbook``: that release references the playbook by hash (checked with the
  bundle).
- ``rollback_plan_tested``: the latest rollback drill from that release passed.
- ``audit_retention``: the audit log is kept for good (the database's append-only guards are
  installed on it) and its hash chain is intact.
"""

from __future__ import annotations

from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import Evidence, EvidenceKind, Phase, result_evidence
from polytraders.readiness.gates import Measurement
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.governance.manifest import VerifiedManifest
from polytraders.readiness.governance.signoffs import SignoffKind
from polytraders.readiness.lifecycle import State
from polytraders.readiness.release_check import current_release, pinned_signers, valid_signoffs
from polytraders.readiness.release_subjects import ReleaseSubjects, desk_subjects
from polytraders.store import schema
from polytraders.store.audit_chain import verify_chain
from polytraders.store.releases import ReleaseRow
from polytraders.store.rollback_drills import drills

_NO_EVIDENCE_CODES = frozenset(
    {"GOV_RELEASE_MISSING", "GOV_SIGNERS_MISSING", "GOV_SIGNERS_NOT_ACCEPTED"}
)
"""Refusals that mean no evidence yet (Inconclusive); any other refusal means the evidence
contradicts the gate (Failed)."""


def _refused(exc: GovernanceError) -> Measurement:
    phase = Phase.INCONCLUSIVE if exc.code in _NO_EVIDENCE_CODES else Phase.FAILED
    return Measurement(phase=phase, value=exc.code, detail=str(exc))


_NO_STORE = Measurement(
    phase=Phase.INCONCLUSIVE,
    value="no store",
    detail="no event store was given: signed statements are recorded there",
)


def _subjects(bot_id: str, ctx: ReadinessContext) -> ReleaseSubjects | Measurement:
    """The bot as the context's desk runs it, or the Inconclusive measurement saying why not."""
    if ctx.desk is None or ctx.gov_dir is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no desk",
            detail="signed statements bind a bot's code and config: give the desk file and "
            "the governance directory (--desk, --gov-dir)",
        )
    subjects = desk_subjects(ctx.desk).get(bot_id)
    if subjects is None:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="not in desk",
            detail=f"{bot_id} is not a bot of the desk file, so no config binds its statements",
        )
    return subjects


def _statement(bot_id: str, ctx: ReadinessContext, kind: SignoffKind, role: str) -> Measurement:
    subjects = _subjects(bot_id, ctx)
    if isinstance(subjects, Measurement):
        return subjects
    if ctx.store is None or ctx.gov_dir is None:
        return _NO_STORE
    try:
        valid, stale = valid_signoffs(
            ctx.store, subjects, kind, gov_dir=ctx.gov_dir, now_ns=ctx.now_ns
        )
    except GovernanceError as exc:
        return _refused(exc)
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"signoffs where bot_id = {bot_id} and kind = {kind.value}, re-verified for code "
            f"{subjects.code_sha256[:12]} and config {subjects.config_version}",
            [[row.statement_sha256, list(v.signers)] for row, v in valid] + [stale],
            f"{len(valid)} valid, {len(stale)} no longer valid",
        ),
    )
    if not valid:
        why = f"; {len(stale)} recorded no longer verify ({stale[-1]})" if stale else ""
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no valid statement",
            detail=f"no valid {kind.value.replace('_', ' ')} by a {role} for this code and "
            f"config{why}",
            evidence=evidence,
        )
    row, latest = valid[-1]
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"signed by {', '.join(latest.signers)}",
        detail=f"statement {row.statement_sha256[:12]} verifies for code "
        f"{subjects.code_sha256[:12]} and config {subjects.config_version}",
        evidence=evidence,
    )


def reviewer_signoff(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 2: a valid reviewer sign-off."""
    return _statement(bot_id, ctx, SignoffKind.REVIEWER_SIGNOFF, "reviewer")


def final_risk_review(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 4: a valid final risk review."""
    return _statement(bot_id, ctx, SignoffKind.FINAL_RISK_REVIEW, "risk officer")


def _general_live_release(
    bot_id: str, ctx: ReadinessContext
) -> tuple[ReleaseRow, VerifiedManifest, int] | Measurement:
    """The bot's current release, re-verified, when it is to General live (with the signer
    list's threshold), else the measurement saying why not."""
    subjects = _subjects(bot_id, ctx)
    if isinstance(subjects, Measurement):
        return subjects
    if ctx.store is None or ctx.gov_dir is None:
        return _NO_STORE
    try:
        release, verified = current_release(
            ctx.store, subjects, gov_dir=ctx.gov_dir, now_ns=ctx.now_ns
        )
        threshold = pinned_signers(ctx.store, ctx.gov_dir, now_ns=ctx.now_ns).threshold
    except GovernanceError as exc:
        return _refused(exc)
    if verified.manifest.to_state is not State.GENERAL_LIVE:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value=f"release to {verified.manifest.to_state.label}",
            detail=f"the current release ({release.sequence}) is to "
            f"{verified.manifest.to_state.label}: create and sign one to General live",
        )
    return release, verified, threshold


def _release_evidence(release: ReleaseRow, verified: VerifiedManifest) -> tuple[Evidence, ...]:
    return (
        result_evidence(
            EvidenceKind.STORE,
            f"releases where bot_id = {release.bot_id} and sequence = {release.sequence}, "
            "re-verified",
            [release.manifest_sha256, list(verified.approvers)],
            f"verified, {len(verified.approvers)} approver(s)",
        ),
    )


def release_manifest_signed(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 4: ``GOV_RELEASE_SIGNED`` for a release to General live that verifies
    now."""
    found = _general_live_release(bot_id, ctx)
    if isinstance(found, Measurement):
        return found
    release, verified, _threshold = found
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"release {release.sequence} verified",
        detail=f"manifest {release.manifest_sha256[:12]} verifies for this code, config and "
        "evidence",
        evidence=_release_evidence(release, verified),
    )


def multisig_approval(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 4: that release carries ≥ threshold distinct approvers' signatures."""
    found = _general_live_release(bot_id, ctx)
    if isinstance(found, Measurement):
        return found
    release, verified, threshold = found
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value=f"{len(verified.approvers)} of {threshold}",
        detail=f"signed by {', '.join(verified.approvers)}",
        evidence=_release_evidence(release, verified),
    )


def incident_playbook(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 4: the release references the incident playbook by hash."""
    found = _general_live_release(bot_id, ctx)
    if isinstance(found, Measurement):
        return found
    release, verified, _threshold = found
    playbook = verified.manifest.incident_playbook
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value="attached",
        detail=f"{playbook.path} (sha256 {playbook.sha256[:12]}) in the evidence of release "
        f"{release.sequence}",
        evidence=_release_evidence(release, verified),
    )


def rollback_plan_tested(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 4: the latest rollback drill from the current release (to General live)
    back to the previous one passed."""
    found = _general_live_release(bot_id, ctx)
    if isinstance(found, Measurement):
        return found
    release, _verified, _threshold = found
    assert ctx.store is not None  # checked by _general_live_release
    mine = [d for d in drills(ctx.store, bot_id=bot_id) if d.from_sequence == release.sequence]
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            f"rollback_drills where bot_id = {bot_id} and from_sequence = {release.sequence}",
            [[f"{d.run_id}@{d.attempt}", d.passed] for d in mine],
            f"{len(mine)} drill(s)",
        ),
    )
    if not mine:
        return Measurement(
            phase=Phase.INCONCLUSIVE,
            value="no drill",
            detail=f"no rollback drill from release {release.sequence} is recorded "
            "(polytraders gov drill)",
            evidence=evidence,
        )
    latest = mine[-1]
    failed = [c.name for c in latest.checks if not c.passed]
    return Measurement(
        phase=Phase.SUCCESSFUL if latest.passed else Phase.FAILED,
        value="passed" if latest.passed else "failed",
        detail=f"drill {latest.run_id}@{latest.attempt}: release {latest.from_sequence} → "
        f"{latest.to_sequence}"
        + (f"; failed checks: {', '.join(failed)}" if failed else ", every check held"),
        evidence=evidence,
    )


def audit_retention(bot_id: str, ctx: ReadinessContext) -> Measurement:
    """Seed 000 stage 3: the audit log is retained for good and tamper-evident."""
    if ctx.store is None:
        return _NO_STORE
    report = verify_chain(ctx.store.audit_chain())
    guarded = ctx.store.append_only_guarded(schema.audit_log)
    evidence = (
        result_evidence(
            EvidenceKind.STORE,
            "audit_log: append-only guards and hash chain",
            [guarded, report.entries, report.head_sha256, list(report.problems)],
            f"{report.entries} entries, head {report.head_sha256[:12]}",
        ),
    )
    if not report.intact or not guarded:
        why = report.problems[0] if report.problems else "its append-only guards are missing"
        return Measurement(
            phase=Phase.FAILED,
            value="not retained" if not guarded else "chain broken",
            detail=f"the audit log: {why}",
            evidence=evidence,
        )
    return Measurement(
        phase=Phase.SUCCESSFUL,
        value="kept for good, chained",
        detail=f"the database refuses updates and deletes of the audit log, and its "
        f"{report.entries} entries form an intact hash chain (head {report.head_sha256[:12]}); "
        "no retention policy may prune it",
        evidence=evidence,
    )


def gate_waivers(bot_id: str, to_state: State, ctx: ReadinessContext) -> dict[str, str]:
    """The gates of a transition to ``to_state`` overridden by a valid gate waiver (gate id →
    the waiver's digest); empty without a store, desk file or governance directory.

    Raises:
        StoreError: the store could not be read.
    """
    subjects = _subjects(bot_id, ctx)
    if isinstance(subjects, Measurement) or ctx.store is None or ctx.gov_dir is None:
        return {}
    try:
        valid, _stale = valid_signoffs(
            ctx.store, subjects, SignoffKind.GATE_WAIVER, gov_dir=ctx.gov_dir, now_ns=ctx.now_ns
        )
    except GovernanceError:  # no valid signer list: no waiver counts
        return {}
    return {
        v.signoff.gate_id or "": row.statement_sha256
        for row, v in valid
        if v.signoff.to_state is to_state
    }
