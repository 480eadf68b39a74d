"""Release manifests: an in-toto Statement (predicate type :data:`MANIFEST_PREDICATE_TYPE`) in a
DSSE envelope, approving one bot at one code digest and one config for one lifecycle
transition, signed offline by approvers of the signer list.

Subjects: ``code:<bot_id>`` (SHA-256 of the bot's source files,
``polytraders.backtest.bot_source.code_sha256``), ``config:<bot_id>`` (SHA-256 of the canonical
config, :func:`~polytraders.readiness.governance.predicates.config_sha256`) and
``evidence:<bot_id>`` (the evidence bundle SHA-256). Predicate: ``bot_id``, ``bot_version``,
``config_version`` (16 hex, the config SHA-256's prefix), ``from_state``, ``to_state``,
``gates`` ([{gate_id, phase, value, threshold}]), ``sequence`` (>= 1, per bot),
``prev_manifest_sha256`` (null for sequence 1), ``created``, ``expires``,
``incident_playbook`` and ``rollback_plan`` ({path, sha256}, files of the bundle) and
``waivers`` ([{gate_id, reason}]). A manifest's SHA-256 is that of its payload bytes, so
signatures do not change it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.dsse import Envelope

from polytraders.readiness.evidence import Phase
from polytraders.readiness.governance.envelopes import payload_sha256, verified_keyids
from polytraders.readiness.governance.errors import EnvelopeError, ManifestRefusedError
from polytraders.readiness.governance.evidence_bundle import (
    BundleError,
    bundle_sha256,
    file_sha256,
    relative_path,
)
from polytraders.readiness.governance.predicates import (
    code_subject,
    config_subject,
    config_version_of,
    exact_fields,
    state,
    text,
    time_ns,
)
from polytraders.readiness.governance.signers import APPROVER, SignerList
from polytraders.readiness.governance.statements import (
    Statement,
    StatementError,
    Subject,
    bot_id_of,
    is_sha256,
    load_statement,
    parse_statement,
    statement_envelope,
)
from polytraders.readiness.governance.utc import utc_text
from polytraders.readiness.lifecycle import State

MANIFEST_PREDICATE_TYPE = "https://polytraders.dev/release-manifest/v1"

JsonScalar = str | int | float | bool | None
"""A gate's measured value or threshold, as the caller gives it."""

_FIELDS = {
    "bot_id", "bot_version", "config_version", "from_state", "to_state", "gates", "sequence",
    "prev_manifest_sha256", "created", "expires", "incident_playbook", "rollback_plan",
    "waivers",
}  # fmt: skip


def evidence_subject(bot_id: str) -> str:
    """Subject name of a bot's evidence bundle digest: ``evidence:<bot_id>``."""
    return f"evidence:{bot_id}"


@dataclass(frozen=True)
class GateResult:
    """One gate's result as recorded in a manifest."""

    gate_id: str
    phase: Phase
    value: JsonScalar
    threshold: JsonScalar


@dataclass(frozen=True)
class FileRef:
    """A file of the evidence bundle: its relative posix path and SHA-256."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Waiver:
    """A gate passed by an operator override (backed by a signed ``gate_waiver`` sign-off)."""

    gate_id: str
    reason: str


@dataclass(frozen=True)
class ReleaseManifest:
    """A parsed manifest (module docstring); times in ns since the epoch (whole seconds)."""

    bot_id: str
    bot_version: str
    code_sha256: str
    config_sha256: str
    config_version: str
    evidence_sha256: str
    from_state: State
    to_state: State
    gates: tuple[GateResult, ...]
    sequence: int
    prev_manifest_sha256: str | None
    created_ns: int
    expires_ns: int
    incident_playbook: FileRef
    rollback_plan: FileRef
    waivers: tuple[Waiver, ...]

    def to_statement(self) -> Statement:
        """The in-toto Statement of this manifest."""
        return Statement(
            (
                Subject(code_subject(self.bot_id), self.code_sha256),
                Subject(config_subject(self.bot_id), self.config_sha256),
                Subject(evidence_subject(self.bot_id), self.evidence_sha256),
            ),
            MANIFEST_PREDICATE_TYPE,
            {
                "bot_id": self.bot_id,
                "bot_version": self.bot_version,
                "config_version": self.config_version,
                "from_state": self.from_state.value,
                "to_state": self.to_state.value,
                "gates": [
                    {
                        "gate_id": g.gate_id,
                        "phase": g.phase.value,
                        "value": g.value,
                        "threshold": g.threshold,
                    }
                    for g in self.gates
                ],
                "sequence": self.sequence,
                "prev_manifest_sha256": self.prev_manifest_sha256,
                "created": utc_text(self.created_ns),
                "expires": utc_text(self.expires_ns),
                "incident_playbook": _file_ref_dict(self.incident_playbook),
                "rollback_plan": _file_ref_dict(self.rollback_plan),
                "waivers": [{"gate_id": w.gate_id, "reason": w.reason} for w in self.waivers],
            },
        )


def _file_ref_dict(ref: FileRef) -> dict[str, str]:
    return {"path": ref.path, "sha256": ref.sha256}


def build_manifest(
    *,
    bot_id: str,
    bot_version: str,
    code_sha256: str,
    config_sha256: str,
    evidence_dir: Path,
    from_state: State,
    to_state: State,
    gates: Sequence[GateResult],
    sequence: int,
    prev_manifest_sha256: str | None,
    created_ns: int,
    expires_ns: int,
    incident_playbook: str,
    rollback_plan: str,
    waivers: Sequence[Waiver] = (),
) -> Envelope:
    """An unsigned manifest envelope. The evidence digest and the playbook and rollback-plan
    hashes (``incident_playbook``, ``rollback_plan``: paths relative to ``evidence_dir``) are
    computed from ``evidence_dir``; ``config_version`` from ``config_sha256``. Times are
    truncated to the second.

    Raises:
        ManifestRefusedError: ``GOV_MANIFEST_MALFORMED`` (any invalid field, as
            :func:`parse_manifest` would refuse) or ``GOV_MANIFEST_EVIDENCE_MISMATCH`` (the
            bundle cannot be indexed or a referenced file is not in it).
    """
    try:
        evidence = bundle_sha256(evidence_dir)
        playbook, rollback = (
            FileRef(p, _bundle_file_sha256(evidence_dir, p))
            for p in (incident_playbook, rollback_plan)
        )
    except (BundleError, OSError) as exc:
        raise ManifestRefusedError("GOV_MANIFEST_EVIDENCE_MISMATCH", f"{bot_id}: {exc}") from None
    manifest = ReleaseManifest(
        bot_id=bot_id,
        bot_version=bot_version,
        code_sha256=code_sha256,
        config_sha256=config_sha256,
        config_version=config_version_of(config_sha256),
        evidence_sha256=evidence,
        from_state=from_state,
        to_state=to_state,
        gates=tuple(gates),
        sequence=sequence,
        prev_manifest_sha256=prev_manifest_sha256,
        created_ns=created_ns,
        expires_ns=expires_ns,
        incident_playbook=playbook,
        rollback_plan=rollback,
        waivers=tuple(waivers),
    )
    try:
        envelope = statement_envelope(manifest.to_statement())
    except ValueError as exc:
        raise ManifestRefusedError("GOV_MANIFEST_MALFORMED", f"{bot_id}: {exc}") from None
    parse_manifest(envelope)
    return envelope


def _bundle_file_sha256(root: Path, path: str) -> str:
    file = root.joinpath(*relative_path(path).parts)
    if file.is_symlink() or not file.is_file():
        raise BundleError(f"{path} is not a regular file of the evidence bundle {root}")
    return file_sha256(file)


def manifest_sha256(envelope: Envelope) -> str:
    """The manifest's identity: SHA-256 (hex) of the payload bytes (signatures excluded)."""
    return payload_sha256(envelope)


def load_manifest(path: Path) -> Envelope:
    """Read a manifest envelope file.

    Raises:
        ManifestRefusedError: ``GOV_MANIFEST_DUPLICATE_SIGNATURE`` (two signatures under one key id)
            or ``GOV_MANIFEST_MALFORMED`` (unreadable or not an envelope).
    """
    return load_statement(path, ManifestRefusedError, "GOV_MANIFEST")


def parse_manifest(envelope: Envelope) -> ReleaseManifest:
    """The manifest in ``envelope``, checked field by field (signatures not checked).

    Raises:
        ManifestRefusedError: ``GOV_MANIFEST_MALFORMED``, naming the bot and the field.
    """
    try:
        return _parse(parse_statement(envelope, MANIFEST_PREDICATE_TYPE))
    except (EnvelopeError, StatementError) as exc:
        message = exc.message if isinstance(exc, EnvelopeError) else str(exc)
        raise ManifestRefusedError(
            "GOV_MANIFEST_MALFORMED", f"{bot_id_of(envelope)}: manifest {message}"
        ) from None


def _parse(statement: Statement) -> ReleaseManifest:
    p = statement.predicate
    exact_fields(p, _FIELDS)
    bot_id = text(p, "bot_id")
    names = {code_subject(bot_id), config_subject(bot_id), evidence_subject(bot_id)}
    if {s.name for s in statement.subjects} != names:
        raise StatementError(f"subjects must be exactly {sorted(names)}")
    config_sha256 = statement.subject(config_subject(bot_id))
    if p["config_version"] != config_version_of(config_sha256):
        raise StatementError("config_version is not the prefix of the config subject's sha256")
    sequence, prev = p["sequence"], p["prev_manifest_sha256"]
    if type(sequence) is not int or sequence < 1:
        raise StatementError(f"sequence must be an integer >= 1, got {sequence!r}")
    if (sequence == 1) != (prev is None) or not (prev is None or is_sha256(prev)):
        raise StatementError("prev_manifest_sha256 must be null for sequence 1, else a sha256")
    created_ns, expires_ns = time_ns(p, "created"), time_ns(p, "expires")
    if expires_ns <= created_ns:
        raise StatementError("expires must be after created")
    return ReleaseManifest(
        bot_id=bot_id,
        bot_version=text(p, "bot_version"),
        code_sha256=statement.subject(code_subject(bot_id)),
        config_sha256=config_sha256,
        config_version=p["config_version"],
        evidence_sha256=statement.subject(evidence_subject(bot_id)),
        from_state=state(p, "from_state"),
        to_state=state(p, "to_state"),
        gates=_gates(p["gates"]),
        sequence=sequence,
        prev_manifest_sha256=prev,
        created_ns=created_ns,
        expires_ns=expires_ns,
        incident_playbook=_file_ref(p, "incident_playbook"),
        rollback_plan=_file_ref(p, "rollback_plan"),
        waivers=_waivers(p["waivers"]),
    )


def _gates(raw: object) -> tuple[GateResult, ...]:
    if not isinstance(raw, list):
        raise StatementError("gates must be a list")
    gates = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"gate_id", "phase", "value", "threshold"}:
            raise StatementError("each gate is exactly {gate_id, phase, value, threshold}")
        try:
            phase = Phase(item["phase"])
        except ValueError:
            raise StatementError(f"gate phase {item['phase']!r} is not a phase") from None
        for key in ("value", "threshold"):
            if isinstance(item[key], list | dict):
                raise StatementError(f"gate {key} must be a string, number, boolean or null")
        gates.append(GateResult(text(item, "gate_id"), phase, item["value"], item["threshold"]))
    if len({g.gate_id for g in gates}) != len(gates):
        raise StatementError("two gates share a gate_id")
    return tuple(gates)


def _file_ref(predicate: Mapping[str, Any], key: str) -> FileRef:
    raw = predicate[key]
    if not isinstance(raw, dict) or set(raw) != {"path", "sha256"} or not is_sha256(raw["sha256"]):
        raise StatementError(f"{key} must be exactly {{path, sha256}} with a hex sha256")
    try:
        relative_path(raw["path"] if isinstance(raw["path"], str) else "")
    except BundleError as exc:
        raise StatementError(f"{key}: {exc}") from None
    return FileRef(raw["path"], raw["sha256"])


def _waivers(raw: object) -> tuple[Waiver, ...]:
    if not isinstance(raw, list):
        raise StatementError("waivers must be a list")
    waivers = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"gate_id", "reason"}:
            raise StatementError("each waiver is exactly {gate_id, reason}")
        waivers.append(Waiver(text(item, "gate_id"), text(item, "reason")))
    if len({w.gate_id for w in waivers}) != len(waivers):
        raise StatementError("two waivers share a gate_id")
    return tuple(waivers)


@dataclass(frozen=True)
class VerifiedManifest:
    """A manifest that passed :func:`verify_manifest`: the manifest, its SHA-256, the sorted
    names of the approvers whose signatures counted, and whether it is the last accepted
    manifest itself (a re-verification, not a new release)."""

    manifest: ReleaseManifest
    sha256: str
    approvers: tuple[str, ...]
    reverified: bool


def verify_manifest(
    envelope: Envelope,
    *,
    signers: SignerList,
    now_ns: int,
    last_accepted: tuple[int, str] | None,
    evidence_dir: Path,
    expected_code_sha256: str,
    expected_config_sha256: str,
) -> VerifiedManifest:
    """Verify a manifest, in this order: well-formed; signed by at least ``signers.threshold``
    distinct approvers of ``signers`` (other signatures count for nothing); not expired at
    ``now_ns``; in sequence after ``last_accepted`` ((sequence, manifest SHA-256) of the bot's
    last accepted manifest, None if none; the last accepted manifest itself passes); code and
    config subjects equal to the expected digests; the evidence bundle recomputed from
    ``evidence_dir`` and the playbook and rollback-plan files equal to their hashes.
    ``signers`` is the current verified signer list
    (:func:`~polytraders.readiness.governance.signers.current_signers`).

    Raises:
        ManifestRefusedError: ``GOV_MANIFEST_MALFORMED``, ``GOV_MANIFEST_THRESHOLD_NOT_MET``,
            ``GOV_MANIFEST_EXPIRED``, ``GOV_MANIFEST_REPLAYED``, ``GOV_MANIFEST_CHAIN_BROKEN``,
            ``GOV_MANIFEST_CODE_MISMATCH``, ``GOV_MANIFEST_CONFIG_MISMATCH`` or
            ``GOV_MANIFEST_EVIDENCE_MISMATCH``; one line naming the bot.
    """
    manifest = parse_manifest(envelope)
    bot, sha256 = manifest.bot_id, manifest_sha256(envelope)
    signed = verified_keyids(envelope, signers.keys(APPROVER))
    if len(signed) < signers.threshold:
        raise ManifestRefusedError(
            "GOV_MANIFEST_THRESHOLD_NOT_MET",
            f"{bot}: manifest {manifest.sequence} is signed by {len(signed)} distinct approver(s) "
            f"of signer list version {signers.version}; {signers.threshold} are needed",
        )
    if now_ns >= manifest.expires_ns:
        raise ManifestRefusedError(
            "GOV_MANIFEST_EXPIRED",
            f"{bot}: manifest {manifest.sequence} expired at {utc_text(manifest.expires_ns)}",
        )
    reverified = _check_sequence(manifest, sha256, last_accepted)
    _check_digest(bot, "CODE", "code", manifest.code_sha256, expected_code_sha256)
    _check_digest(bot, "CONFIG", "config", manifest.config_sha256, expected_config_sha256)
    _check_evidence(manifest, evidence_dir)
    return VerifiedManifest(manifest, sha256, signers.names(signed), reverified)


def _check_sequence(
    manifest: ReleaseManifest, sha256: str, last_accepted: tuple[int, str] | None
) -> bool:
    bot, sequence = manifest.bot_id, manifest.sequence
    last_sequence, last_sha256 = last_accepted if last_accepted is not None else (0, None)
    if last_accepted is not None and (sequence, sha256) == last_accepted:
        return True
    if sequence <= last_sequence:
        raise ManifestRefusedError(
            "GOV_MANIFEST_REPLAYED",
            f"{bot}: manifest sequence {sequence} is not above the last accepted "
            f"sequence {last_sequence}",
        )
    if sequence != last_sequence + 1 or manifest.prev_manifest_sha256 != last_sha256:
        raise ManifestRefusedError(
            "GOV_MANIFEST_CHAIN_BROKEN",
            f"{bot}: manifest {sequence} does not follow the last accepted manifest "
            f"(sequence {last_sequence}, sha256 {last_sha256}); it names sequence "
            f"{sequence - 1}, sha256 {manifest.prev_manifest_sha256}",
        )
    return False


def _check_digest(bot: str, code: str, label: str, signed: str, expected: str) -> None:
    if signed != expected:
        raise ManifestRefusedError(
            f"GOV_MANIFEST_{code}_MISMATCH",
            f"{bot}: manifest approves {label} sha256 {signed}, but the {label} to run has "
            f"{expected}",
        )


def _check_evidence(manifest: ReleaseManifest, evidence_dir: Path) -> None:
    bot = manifest.bot_id
    try:
        recomputed = bundle_sha256(evidence_dir)
        files = [
            (label, ref, _bundle_file_sha256(evidence_dir, ref.path))
            for label, ref in (
                ("incident playbook", manifest.incident_playbook),
                ("rollback plan", manifest.rollback_plan),
            )
        ]
    except (BundleError, OSError) as exc:
        raise ManifestRefusedError("GOV_MANIFEST_EVIDENCE_MISMATCH", f"{bot}: {exc}") from None
    if recomputed != manifest.evidence_sha256:
        raise ManifestRefusedError(
            "GOV_MANIFEST_EVIDENCE_MISMATCH",
            f"{bot}: evidence bundle {evidence_dir} has sha256 {recomputed}, the manifest "
            f"approves {manifest.evidence_sha256}",
        )
    for label, ref, actual in files:
        if actual != ref.sha256:
            raise ManifestRefusedError(
                "GOV_MANIFEST_EVIDENCE_MISMATCH",
                f"{bot}: {label} {ref.path} has sha256 {actual}, the manifest approves "
                f"{ref.sha256}",
            )
