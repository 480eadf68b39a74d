"""Creating and accepting release manifests and sign-offs: the store-backed half of the
signed promotion path (the offline half, keys and signatures, is
:mod:`polytraders.readiness.governance`; the directory layout is
:mod:`polytraders.readiness.release_check`).

**Create** (``polytraders gov manifest create``): the bot must be one transition away from the
target; every gate of that transition is evaluated from evidence and recorded; each critical
gate must be Successful, or waived by a valid gate waiver, except the gates the signed
manifest itself provides (:data:`POST_MANIFEST_GATES`, checked when the bot is promoted). The
evidence bundle is written (gate results with their evidence, the four readiness scores with
every item, the bot's config and spec, its fixture pack, the incident playbook, the rollback
plan, the sign-offs and waivers it rests on, the runs its evidence cites), then the unsigned
manifest with the next sequence number and the previous accepted manifest's digest.

**Accept** (``polytraders gov manifest verify``): the manifest is verified against the current
signer list, the clock, the bot's last accepted release, the evidence bundle recomputed from
its files and the code and config of the desk that will run, and the bundle is scanned for
secrets (a private key, an API secret or a passphrase in evidence is refused, at creation
too); only then is it recorded
(``releases``, ``GOV_RELEASE_SIGNED``). A refusal is recorded in the audit log under its own
GOV_ code and raised.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.bots.registry import bot_class
from polytraders.contracts.canonical import canonical_json
from polytraders.ops.secret_scan import scan_paths
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evaluate import Evaluation, evaluate, record_evaluation
from polytraders.readiness.evidence import Score, ScoreName
from polytraders.readiness.gates import transition_gates
from polytraders.readiness.governance.envelopes import (
    envelope_to_json,
    payload_sha256,
    write_envelope,
)
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.governance.evidence_bundle import write_bundle
from polytraders.readiness.governance.manifest import (
    GateResult,
    VerifiedManifest,
    Waiver,
    build_manifest,
    load_manifest,
    parse_manifest,
    verify_manifest,
)
from polytraders.readiness.governance.signers import (
    load_signer_chain,
    parse_signer_list,
    verify_signer_chain,
)
from polytraders.readiness.governance.signoffs import (
    Signoff,
    SignoffKind,
    VerifiedSignoff,
    build_signoff,
    load_signoff,
    parse_signoff,
    verify_signoff,
)
from polytraders.readiness.governance.utc import utc_text
from polytraders.readiness.lifecycle import State, path_between
from polytraders.readiness.packs import FIXTURES_DIR
from polytraders.readiness.promote import current_state
from polytraders.readiness.release_check import (
    SIGNERS_ACCEPTED,
    SIGNOFFS_DIR,
    accepted_signer_versions,
    check_pins,
    evidence_dir,
    manifest_path,
    pinned_signers,
    valid_signoffs,
)
from polytraders.readiness.release_subjects import ReleaseSubjects, desk_subjects
from polytraders.readiness.scores import all_scores
from polytraders.readiness.store_evidence import RunKind, bot_runs
from polytraders.store import EventStore
from polytraders.store.releases import ReleaseRow, last_release, record_release
from polytraders.store.signoffs import SignoffRow, record_signoff, signoffs

POST_MANIFEST_GATES = frozenset(
    {"multisig_approval", "release_manifest_signed", "incident_playbook", "rollback_plan_tested"}
)
"""Gates the manifest itself provides (its approvals, its GOV_RELEASE_SIGNED, the playbook it
references) or that need it accepted first (a rollback drill returns from it): not required
to create it, required to promote."""

MANIFEST_CREATED = "GOV_MANIFEST_CREATED"
MANIFEST_NOT_CREATED = "GOV_MANIFEST_NOT_CREATED"
PLAYBOOK_FILE = "incident_playbook.md"
ROLLBACK_PLAN_FILE = "rollback_plan.md"
RUNS_FILE = "runs.json"


def bot_subjects(desk: DeskFile, bot_id: str) -> ReleaseSubjects:
    """``bot_id`` as ``desk`` runs it.

    Raises:
        GovernanceError: ``GOV_MANIFEST_CONFIG_MISMATCH``: the desk does not run the bot.
    """
    subjects = desk_subjects(desk).get(bot_id)
    if subjects is None:
        raise GovernanceError(
            "GOV_MANIFEST_CONFIG_MISMATCH",
            f"{bot_id}: not a bot of the desk file, so it has no config to release",
        )
    return subjects


def _refuse(
    store: EventStore, exc: GovernanceError, *, actor: str, now_ns: int, **detail: object
) -> None:
    store.audit(
        actor=actor, action=exc.code, ts_ns=now_ns, detail={**detail, "reason": exc.message}
    )


def _refuse_secrets(bundle: Path, code: str, bot_id: str) -> None:
    """Refuse an evidence bundle holding a private key, an API secret or a passphrase
    (:func:`polytraders.ops.secret_scan.scan_paths`, no allowlist: evidence is published to
    every verifier).

    Raises:
        GovernanceError: ``code``, naming the first finding (never the value).
    """
    report = scan_paths([bundle])
    if not report.clean:
        raise GovernanceError(
            code,
            f"{bot_id}: the evidence bundle holds {len(report.findings)} secret(s), e.g. "
            f"{report.findings[0].line()}",
        )


def create_manifest(
    bot_id: str,
    to_state: State,
    *,
    desk: DeskFile,
    ctx: ReadinessContext,
    gov_dir: Path,
    playbook: Path,
    rollback_plan: Path,
    expires_ns: int,
    actor: str,
) -> tuple[Path, Evaluation]:
    """Evaluate the transition's gates, write the evidence bundle and the unsigned manifest
    (module docstring); return the manifest's path and the evaluation.

    Raises:
        GovernanceError: ``GOV_MANIFEST_NOT_CREATED`` (the target is not the next state, or a
            critical gate blocks), ``GOV_MANIFEST_CONFIG_MISMATCH`` (the bot is not in the
            desk), or the library's refusals; the refusal is audited.
        ValueError: no store in ``ctx``.
        StoreError: the store failed.
    """
    store = ctx.store
    if store is None:
        raise ValueError("a release manifest needs the event store holding the evidence")
    subjects = bot_subjects(desk, bot_id)
    from_state = current_state(store, bot_id)
    steps = path_between(from_state, to_state) if to_state is not from_state else []
    if len(steps) != 1 or to_state is State.DEPRECATED:
        exc = GovernanceError(
            MANIFEST_NOT_CREATED,
            f"{bot_id}: is in {from_state.label}; a manifest releases the next state, not "
            f"{to_state.label}",
        )
        _refuse(store, exc, actor=actor, now_ns=ctx.now_ns, bot_id=bot_id)
        raise exc

    def statements(kind: SignoffKind) -> list[tuple[SignoffRow, VerifiedSignoff]]:
        found = valid_signoffs(store, subjects, kind, gov_dir=gov_dir, now_ns=ctx.now_ns)[0]
        return [(row, v) for row, v in found if v.signoff.to_state is to_state]

    waivers = statements(SignoffKind.GATE_WAIVER)
    gates = transition_gates(from_state, to_state, bot_class(bot_id).bot_class)
    evaluation = evaluate(
        bot_id,
        gates,
        ctx,
        from_state=from_state.value,
        target=to_state.value,
        waivers={v.signoff.gate_id or "": row.statement_sha256 for row, v in waivers},
    )
    record_evaluation(store, evaluation, actor=actor)
    blocking = [
        f"{r.gate.gate_id} ({r.measurement.phase.value})"
        for r in evaluation.results
        if r.blocks and r.gate.gate_id not in POST_MANIFEST_GATES
    ]
    if blocking:
        exc = GovernanceError(
            MANIFEST_NOT_CREATED,
            f"{bot_id}: {from_state.label} → {to_state.label} is blocked by " + ", ".join(blocking),
        )
        _refuse(
            store,
            exc,
            actor=actor,
            now_ns=ctx.now_ns,
            bot_id=bot_id,
            evaluation_id=evaluation.evaluation_id,
        )
        raise exc
    attached = [
        *statements(SignoffKind.REVIEWER_SIGNOFF),
        *statements(SignoffKind.FINAL_RISK_REVIEW),
        *waivers,
    ]
    last = last_release(store, bot_id)
    sequence = 1 if last is None else last.sequence + 1
    bundle = evidence_dir(gov_dir, bot_id, sequence)
    runs = sorted(
        f"{r.run_id}@{r.attempt}"
        for r in bot_runs(store, bot_id, (RunKind.LIVE_CLOCK, RunKind.LIVE_VENUE))
    )
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp)
        files = _bundle_files(
            generated,
            bot_id=bot_id,
            subjects=subjects,
            evaluation=evaluation,
            desk=desk,
            statements=attached,
            runs=runs,
            repo=ctx.repo,
            scores=all_scores(bot_id, ctx),
        )
        files[PLAYBOOK_FILE] = playbook
        files[ROLLBACK_PLAN_FILE] = rollback_plan
        write_bundle(bundle, files)
    try:
        _refuse_secrets(bundle, MANIFEST_NOT_CREATED, bot_id)
    except GovernanceError as exc:
        shutil.rmtree(bundle)
        _refuse(store, exc, actor=actor, now_ns=ctx.now_ns, bot_id=bot_id)
        raise
    envelope = build_manifest(
        bot_id=bot_id,
        bot_version=subjects.bot_version,
        code_sha256=subjects.code_sha256,
        config_sha256=subjects.config_sha256,
        evidence_dir=bundle,
        from_state=from_state,
        to_state=to_state,
        gates=[
            GateResult(r.gate.gate_id, r.measurement.phase, r.measurement.value, r.gate.threshold)
            for r in evaluation.results
        ],
        sequence=sequence,
        prev_manifest_sha256=None if last is None else last.manifest_sha256,
        created_ns=ctx.now_ns,
        expires_ns=expires_ns,
        incident_playbook=PLAYBOOK_FILE,
        rollback_plan=ROLLBACK_PLAN_FILE,
        waivers=[
            Waiver(v.signoff.gate_id or "", f"{v.signoff.statement} (waiver {v.sha256[:12]})")
            for _row, v in waivers
        ],
    )
    path = manifest_path(gov_dir, bot_id, sequence)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_envelope(path, envelope, create=True)
    store.audit(
        actor=actor,
        action=MANIFEST_CREATED,
        ts_ns=ctx.now_ns,
        detail={
            "bot_id": bot_id,
            "sequence": sequence,
            "to_state": to_state.value,
            "evaluation_id": evaluation.evaluation_id,
            "path": str(path),
        },
    )
    return path, evaluation


def _bundle_files(
    tmp: Path,
    *,
    bot_id: str,
    subjects: ReleaseSubjects,
    evaluation: Evaluation,
    desk: DeskFile,
    statements: Sequence[tuple[SignoffRow, VerifiedSignoff]],
    runs: Sequence[str],
    repo: Path,
    scores: Mapping[ScoreName, Score],
) -> dict[str, Path]:
    """The files of a bundle (bundle path → source file); generated ones written to ``tmp``."""

    def generated(name: str, data: object) -> Path:
        path = tmp / name
        path.write_text(canonical_json(data) + "\n", encoding="utf-8")
        return path

    gates = [
        {
            "gate_id": r.gate.gate_id,
            "severity": r.gate.severity.value,
            "phase": r.measurement.phase.value,
            "value": r.measurement.value,
            "threshold": r.gate.threshold,
            "window": r.gate.window,
            "detail": r.measurement.detail,
            "evidence": msgspec.to_builtins(r.measurement.evidence),
            "evidence_digest": r.evidence_digest,
        }
        for r in evaluation.results
    ]
    entry = next(
        e
        for e in (*desk.strategies, *desk.risk, *desk.execution)
        if desk.bot_class(e).bot_id == bot_id
    )
    config = desk.bot_class(entry).Config(**entry.config).canonical()
    files = {
        "gates.json": generated(
            "gates.json",
            {
                "evaluation_id": evaluation.evaluation_id,
                "commit": evaluation.commit,
                "from_state": evaluation.from_state,
                "to_state": evaluation.target,
                "digest": evaluation.digest,
                "gates": gates,
            },
        ),
        "config.json": generated(
            "config.json",
            {"bot_id": bot_id, "config_version": subjects.config_version, "config": config},
        ),
        RUNS_FILE: generated(RUNS_FILE, list(runs)),
        "scores.json": generated(
            "scores.json",
            {
                name.value: {
                    "passed": score.passed,
                    "out_of": score.out_of,
                    "items": msgspec.to_builtins(score.items),
                }
                for name, score in scores.items()
            },
        ),
    }
    spec = repo / "docs" / "bots" / f"{bot_id}.md"
    if spec.is_file():
        files[f"spec/{bot_id}.md"] = spec
    pack = repo / FIXTURES_DIR / bot_id
    if pack.is_dir():
        for case in sorted(pack.glob("*.json")):
            files[f"fixtures/{case.name}"] = case
    for row, statement in statements:
        name = f"signoffs/{statement.signoff.kind.value}-{statement.sha256[:16]}.json"
        files[name] = generated(name.replace("/", "_"), json.loads(row.envelope_json))
    return files


def accept_manifest(
    path: Path, *, store: EventStore, gov_dir: Path, desk: DeskFile, now_ns: int, actor: str
) -> VerifiedManifest:
    """Verify the manifest at ``path`` (module docstring) and record it as the bot's accepted
    release with ``GOV_RELEASE_SIGNED``; the manifest already accepted verifies again and
    records nothing new (``reverified``).

    Raises:
        GovernanceError: the signer list's or the manifest's refusal (``GOV_SIGNERS_...``,
            ``GOV_MANIFEST_...``), audited under its code.
        StoreError: the store failed.
    """
    bot_id = "?"
    try:
        envelope = load_manifest(path)
        manifest = parse_manifest(envelope)
        bot_id = manifest.bot_id
        subjects = bot_subjects(desk, bot_id)
        signers = pinned_signers(store, gov_dir, now_ns=now_ns)
        last = last_release(store, bot_id)
        bundle = evidence_dir(gov_dir, bot_id, manifest.sequence)
        verified = verify_manifest(
            envelope,
            signers=signers,
            now_ns=now_ns,
            last_accepted=None if last is None else (last.sequence, last.manifest_sha256),
            evidence_dir=bundle,
            expected_code_sha256=subjects.code_sha256,
            expected_config_sha256=subjects.config_sha256,
        )
        _refuse_secrets(bundle, "GOV_MANIFEST_CREDENTIAL_IN_EVIDENCE", bot_id)
    except GovernanceError as exc:
        _refuse(store, exc, actor=actor, now_ns=now_ns, bot_id=bot_id, path=str(path))
        raise
    if verified.reverified:
        return verified
    runs = tuple(json.loads((bundle / RUNS_FILE).read_text(encoding="utf-8")))
    record_release(
        store,
        ReleaseRow(
            bot_id=bot_id,
            sequence=manifest.sequence,
            manifest_sha256=verified.sha256,
            bot_version=manifest.bot_version,
            from_state=manifest.from_state.value,
            to_state=manifest.to_state.value,
            code_sha256=manifest.code_sha256,
            config_sha256=manifest.config_sha256,
            config_version=manifest.config_version,
            evidence_sha256=manifest.evidence_sha256,
            expires_ns=manifest.expires_ns,
            signers=verified.approvers,
            evidence_runs=tuple(r.split("@")[0] for r in runs),
            envelope_json=envelope_to_json(envelope),
            actor=actor,
            ts_ns=now_ns,
        ),
    )
    return verified


def create_signoff(
    bot_id: str,
    kind: SignoffKind,
    to_state: State,
    *,
    desk: DeskFile,
    gov_dir: Path,
    statement: str,
    gate_id: str | None,
    now_ns: int,
    expires_ns: int,
) -> Path:
    """Write an unsigned sign-off (or gate waiver: ``gate_id``) bound to the bot's code and
    config as ``desk`` runs it, under ``gov_dir/signoffs/<bot_id>/``; return its path.

    Raises:
        GovernanceError: the bot is not in the desk, or the statement is malformed
            (``GOV_SIGNOFF_MALFORMED``).
    """
    subjects = bot_subjects(desk, bot_id)
    envelope = build_signoff(
        Signoff(
            bot_id=bot_id,
            bot_version=subjects.bot_version,
            kind=kind,
            to_state=to_state,
            code_sha256=subjects.code_sha256,
            config_sha256=subjects.config_sha256,
            created_ns=now_ns,
            expires_ns=expires_ns,
            statement=statement,
            gate_id=gate_id,
        )
    )
    stamp = utc_text(now_ns).replace(":", "")
    path = gov_dir / SIGNOFFS_DIR / bot_id / f"{kind.value}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_envelope(path, envelope, create=True)
    return path


def accept_signoff(
    path: Path, *, store: EventStore, gov_dir: Path, desk: DeskFile, now_ns: int, actor: str
) -> VerifiedSignoff:
    """Verify the statement at ``path`` against the current signer list, the clock and the
    bot's code and config as ``desk`` runs it, and record it (``GOV_SIGNOFF_RECORDED``, or
    ``GOV_GATE_WAIVED`` for a waiver). A statement already recorded is not recorded twice.

    Raises:
        GovernanceError: the refusal (``GOV_SIGNERS_...``, ``GOV_SIGNOFF_...``), audited.
        StoreError: the store failed.
    """
    bot_id = "?"
    try:
        envelope = load_signoff(path)
        signoff = parse_signoff(envelope)
        bot_id = signoff.bot_id
        subjects = bot_subjects(desk, bot_id)
        verified = verify_signoff(
            envelope,
            signers=pinned_signers(store, gov_dir, now_ns=now_ns),
            now_ns=now_ns,
            expected_code_sha256=subjects.code_sha256,
            expected_config_sha256=subjects.config_sha256,
        )
    except GovernanceError as exc:
        _refuse(store, exc, actor=actor, now_ns=now_ns, bot_id=bot_id, path=str(path))
        raise
    if any(r.statement_sha256 == verified.sha256 for r in signoffs(store, bot_id=bot_id)):
        return verified
    record_signoff(
        store,
        SignoffRow(
            statement_sha256=verified.sha256,
            bot_id=bot_id,
            kind=signoff.kind.value,
            gate_id=signoff.gate_id or "",
            to_state=signoff.to_state.value,
            code_sha256=signoff.code_sha256,
            config_sha256=signoff.config_sha256,
            expires_ns=signoff.expires_ns,
            signers=verified.signers,
            envelope_json=envelope_to_json(envelope),
            actor=actor,
            ts_ns=now_ns,
        ),
    )
    return verified


def accept_signers(store: EventStore, gov_dir: Path, *, now_ns: int, actor: str) -> list[int]:
    """Pin the signer list of ``gov_dir`` in ``store``: verify the chain, check the versions
    already accepted are unchanged (:func:`pinned_signers`' rules), and record each newer
    version as ``GOV_SIGNERS_ACCEPTED`` with its digest, threshold, signers and the keys added
    and removed since the previous version. Returns the versions newly accepted.

    Raises:
        SignersRefusedError: the chain does not verify or contradicts an accepted version
            (audited under its code).
        StoreError: the store failed.
    """
    try:
        chain = load_signer_chain(gov_dir)
        verify_signer_chain(chain, now_ns=now_ns)
        accepted = accepted_signer_versions(store)
        check_pins(chain, accepted, gov_dir)
    except GovernanceError as exc:
        _refuse(store, exc, actor=actor, now_ns=now_ns, gov_dir=str(gov_dir))
        raise
    new: list[int] = []
    previous: dict[str, str] = {}
    for version, envelope in enumerate(chain, start=1):
        signers = parse_signer_list(envelope)
        current = {s.keyid: s.name for s in signers.signers}
        if version not in accepted:
            store.audit(
                actor=actor,
                action=SIGNERS_ACCEPTED,
                ts_ns=now_ns,
                detail={
                    "version": version,
                    "sha256": payload_sha256(envelope),
                    "threshold": signers.threshold,
                    "signers": [
                        {"name": s.name, "keyid": s.keyid, "roles": sorted(s.roles)}
                        for s in signers.signers
                    ],
                    "keys_added": sorted(current[k] for k in current.keys() - previous.keys()),
                    "keys_removed": sorted(previous[k] for k in previous.keys() - current.keys()),
                },
            )
            new.append(version)
        previous = current
    return new
