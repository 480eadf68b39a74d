"""Re-verifying what the store accepted: a bot's current release and its sign-offs, against
the signer list, the clock, the evidence files and the code and config that will run.

A row in ``releases`` or ``signoffs`` says a statement verified when it was recorded. Nothing
trusts that row afterwards: every reader (the gates, the live node) re-verifies the signed
envelope kept in the row, so a signer rotated out, an expired statement, a changed evidence
file, other code or another config all count as no proof at all (fail closed).

Layout of a governance directory (``--gov-dir``, default ``governance/``):
``signers/<version>.json`` (the signer list), ``manifests/<bot_id>/<sequence>.json`` (release
manifests), ``evidence/<bot_id>/<sequence>/`` (each manifest's evidence bundle) and
``signoffs/<bot_id>/<kind>-<UTC time>.json`` (sign-offs and gate waivers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from securesystemslib.dsse import Envelope

from polytraders.readiness.governance.envelopes import envelope_from_json, payload_sha256
from polytraders.readiness.governance.errors import GovernanceError, SignersRefusedError
from polytraders.readiness.governance.manifest import VerifiedManifest, verify_manifest
from polytraders.readiness.governance.signers import (
    SignerList,
    load_signer_chain,
    verify_signer_chain,
)
from polytraders.readiness.governance.signoffs import (
    SignoffKind,
    VerifiedSignoff,
    verify_signoff,
)
from polytraders.readiness.release_subjects import ReleaseSubjects
from polytraders.store import EventStore
from polytraders.store.releases import ReleaseRow, last_release
from polytraders.store.signoffs import SignoffRow, signoffs

SIGNERS_ACCEPTED = "GOV_SIGNERS_ACCEPTED"
"""The audit action recording a signer-list version accepted into a store (its digest pins
it: the keys added and removed)."""

MANIFESTS_DIR = "manifests"
EVIDENCE_DIR = "evidence"
SIGNOFFS_DIR = "signoffs"


def accepted_signer_versions(store: EventStore) -> dict[int, str]:
    """Signer-list versions accepted into ``store`` (version → payload SHA-256), from the
    ``GOV_SIGNERS_ACCEPTED`` audit entries.

    Raises:
        StoreError: the store could not be read.
    """
    accepted: dict[int, str] = {}
    for entry in store.audit_log():
        if entry.action == SIGNERS_ACCEPTED:
            detail = json.loads(entry.detail)
            accepted[int(detail["version"])] = str(detail["sha256"])
    return accepted


def pinned_signers(store: EventStore, gov_dir: Path, *, now_ns: int) -> SignerList:
    """The signer list of ``gov_dir``, verified (:func:`current_signers`) and pinned to what
    the store accepted (``polytraders gov signers accept``, trust on first acceptance as a TUF
    client trusts its first root): every version the store accepted must be in the chain
    byte for byte, and the chain must reach the newest accepted version. A swapped root, a
    rewritten older version or a rolled-back list is refused.

    Raises:
        SignersRefusedError: the list does not verify, ``GOV_SIGNERS_NOT_ACCEPTED`` (the store
            accepted none) or ``GOV_SIGNERS_PIN_MISMATCH``.
        StoreError: the store could not be read.
    """
    chain = load_signer_chain(gov_dir)
    signers = verify_signer_chain(chain, now_ns=now_ns)
    accepted = accepted_signer_versions(store)
    if not accepted:
        raise SignersRefusedError(
            "GOV_SIGNERS_NOT_ACCEPTED",
            f"no signer list was accepted into this store (polytraders gov signers accept "
            f"--gov-dir {gov_dir})",
        )
    check_pins(chain, accepted, gov_dir)
    return signers


def check_pins(chain: Sequence[Envelope], accepted: Mapping[int, str], gov_dir: Path) -> None:
    """Every accepted version (version → payload SHA-256) is in ``chain`` byte for byte.

    Raises:
        SignersRefusedError: ``GOV_SIGNERS_PIN_MISMATCH``.
    """
    for version, digest in sorted(accepted.items()):
        if version > len(chain) or payload_sha256(chain[version - 1]) != digest:
            raise SignersRefusedError(
                "GOV_SIGNERS_PIN_MISMATCH",
                f"signer list version {version} in {gov_dir} is not the one this store "
                f"accepted (sha256 {digest[:12]}…)",
            )


def manifest_path(gov_dir: Path, bot_id: str, sequence: int) -> Path:
    """Where manifest ``sequence`` of ``bot_id`` is written."""
    return gov_dir / MANIFESTS_DIR / bot_id / f"{sequence}.json"


def evidence_dir(gov_dir: Path, bot_id: str, sequence: int) -> Path:
    """The evidence bundle of manifest ``sequence`` of ``bot_id``."""
    return gov_dir / EVIDENCE_DIR / bot_id / str(sequence)


def reverify_release(
    release: ReleaseRow,
    *,
    subjects: ReleaseSubjects,
    signers: SignerList,
    gov_dir: Path,
    now_ns: int,
) -> VerifiedManifest:
    """Verify an accepted release again, as :func:`verify_manifest` does for the last accepted
    manifest (its own sequence and digest), against ``subjects`` (the code and config that
    will run) and its evidence bundle under ``gov_dir``.

    Raises:
        ManifestRefusedError: as :func:`verify_manifest` (``GOV_MANIFEST_...``).
    """
    return verify_manifest(
        envelope_from_json(release.envelope_json),
        signers=signers,
        now_ns=now_ns,
        last_accepted=(release.sequence, release.manifest_sha256),
        evidence_dir=evidence_dir(gov_dir, release.bot_id, release.sequence),
        expected_code_sha256=subjects.code_sha256,
        expected_config_sha256=subjects.config_sha256,
    )


def current_release(
    store: EventStore, subjects: ReleaseSubjects, *, gov_dir: Path, now_ns: int
) -> tuple[ReleaseRow, VerifiedManifest]:
    """The bot's last accepted release, re-verified now.

    Raises:
        GovernanceError: ``GOV_RELEASE_MISSING`` (none accepted), the signer list's refusal
            (``GOV_SIGNERS_...``, :func:`pinned_signers`) or the manifest's
            (``GOV_MANIFEST_...``).
        StoreError: the store could not be read.
    """
    release = last_release(store, subjects.bot_id)
    if release is None:
        raise GovernanceError(
            "GOV_RELEASE_MISSING", f"{subjects.bot_id}: no accepted release manifest"
        )
    signers = pinned_signers(store, gov_dir, now_ns=now_ns)
    return release, reverify_release(
        release, subjects=subjects, signers=signers, gov_dir=gov_dir, now_ns=now_ns
    )


def valid_signoffs(
    store: EventStore,
    subjects: ReleaseSubjects,
    kind: SignoffKind,
    *,
    gov_dir: Path,
    now_ns: int,
) -> tuple[list[tuple[SignoffRow, VerifiedSignoff]], list[str]]:
    """The bot's recorded statements of ``kind`` that still verify now for ``subjects`` (each
    with its row), and one line per recorded statement that no longer does (why).

    Raises:
        SignersRefusedError: the signer list does not verify.
        StoreError: the store could not be read.
    """
    signers = pinned_signers(store, gov_dir, now_ns=now_ns)
    valid: list[tuple[SignoffRow, VerifiedSignoff]] = []
    stale: list[str] = []
    for row in signoffs(store, bot_id=subjects.bot_id, kind=kind.value):
        try:
            verified = verify_signoff(
                envelope_from_json(row.envelope_json),
                signers=signers,
                now_ns=now_ns,
                expected_code_sha256=subjects.code_sha256,
                expected_config_sha256=subjects.config_sha256,
            )
        except GovernanceError as exc:
            stale.append(f"{row.statement_sha256[:12]}: {exc}")
            continue
        valid.append((row, verified))
    return valid, stale
