"""Release manifests: 2 distinct approvers of the current signer list pass; 1 of 3, the same
key twice (two entries of one key id, or one key under a second key id), a non-approver, an
expired manifest, an older sequence, a broken chain, a changed evidence byte, a changed config
and a changed code are each refused with their GOV_ code; the last accepted manifest passes
re-verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import Signature

from polytraders.readiness.governance.envelopes import envelope_to_json
from polytraders.readiness.governance.errors import ManifestRefusedError
from polytraders.readiness.governance.keys import SignerKey, generate_key
from polytraders.readiness.governance.manifest import (
    Waiver,
    load_manifest,
    manifest_sha256,
    parse_manifest,
    verify_manifest,
)
from polytraders.readiness.governance.signers import SignerList
from polytraders.readiness.lifecycle import State
from tests.readiness.governance.conftest import (
    BOT,
    CODE,
    CONFIG,
    DAY_NS,
    NOW_NS,
    ManifestFactory,
    sign,
)


def _verify(
    envelope: Envelope,
    signers: SignerList,
    evidence_dir: Path,
    *,
    now_ns: int = NOW_NS,
    last: tuple[int, str] | None = None,
    code: str = CODE,
    config: str = CONFIG,
) -> object:
    return verify_manifest(
        envelope,
        signers=signers,
        now_ns=now_ns,
        last_accepted=last,
        evidence_dir=evidence_dir,
        expected_code_sha256=code,
        expected_config_sha256=config,
    )


def _refused(reason: str, *args: object, **kwargs: object) -> str:
    with pytest.raises(ManifestRefusedError) as refused:
        _verify(*args, **kwargs)  # type: ignore[arg-type]
    assert refused.value.code == reason
    message = str(refused.value)
    assert BOT in message
    assert "\n" not in message
    return message


def test_two_approvers_pass(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    envelope = sign(make_manifest(), keys["alice"], keys["carol"])
    verified = _verify(envelope, signers, evidence_dir)
    assert verified.approvers == ("alice", "carol")  # type: ignore[attr-defined]
    assert verified.sha256 == manifest_sha256(envelope)  # type: ignore[attr-defined]
    assert not verified.reverified  # type: ignore[attr-defined]
    manifest = parse_manifest(envelope)
    assert (manifest.bot_id, manifest.to_state, manifest.config_version) == (
        BOT, State.LIMITED_LIVE, CONFIG[:16],
    )  # fmt: skip
    unsigned_sha = manifest_sha256(make_manifest())
    assert manifest_sha256(envelope) == unsigned_sha  # signatures do not change the hash


def test_one_of_three_and_non_approvers_do_not_count(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    one = sign(make_manifest(), keys["alice"])
    assert "signed by 1" in _refused("GOV_MANIFEST_THRESHOLD_NOT_MET", one, signers, evidence_dir)
    # dave (reviewer), erin (risk officer) and an unknown key sign too: still one approver
    sign(one, keys["dave"], keys["erin"], generate_key())
    assert len(one.signatures) == 4
    _refused("GOV_MANIFEST_THRESHOLD_NOT_MET", one, signers, evidence_dir)


def test_same_key_twice_is_refused(
    tmp_path: Path,
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    envelope = sign(make_manifest(), keys["alice"])
    assert not sign(envelope, keys["alice"]).signatures.keys() - {keys["alice"].keyid}
    data = json.loads(envelope_to_json(envelope))
    data["signatures"].append(dict(data["signatures"][0]))  # the same entry twice in the file
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestRefusedError) as refused:
        load_manifest(path)
    assert refused.value.code == "GOV_MANIFEST_DUPLICATE_SIGNATURE"
    assert BOT in str(refused.value)

    # alice's valid signature again under a second key id: it counts for nothing
    original = envelope.signatures[keys["alice"].keyid]
    envelope.signatures["ab" * 32] = Signature("ab" * 32, original.signature)
    _refused("GOV_MANIFEST_THRESHOLD_NOT_MET", envelope, signers, evidence_dir)


def test_expired_is_refused(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    envelope = sign(make_manifest(expires_ns=NOW_NS), keys["alice"], keys["bob"])
    _refused("GOV_MANIFEST_EXPIRED", envelope, signers, evidence_dir)
    _verify(envelope, signers, evidence_dir, now_ns=NOW_NS - 1)


def test_sequence_replay_chain_and_reverification(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    first = sign(make_manifest(), keys["alice"], keys["bob"])
    first_sha = manifest_sha256(first)
    second = sign(
        make_manifest(sequence=2, prev_manifest_sha256=first_sha, to_state=State.GENERAL_LIVE),
        keys["bob"],
        keys["carol"],
    )
    last = (2, manifest_sha256(second))
    _verify(second, signers, evidence_dir, last=(1, first_sha))
    assert _verify(second, signers, evidence_dir, last=last).reverified  # type: ignore[attr-defined]
    message = _refused("GOV_MANIFEST_REPLAYED", first, signers, evidence_dir, last=last)
    assert "sequence 1 is not above" in message
    other_second = sign(
        make_manifest(sequence=2, prev_manifest_sha256=first_sha, to_state=State.SHADOW),
        keys["alice"],
        keys["bob"],
    )
    _refused("GOV_MANIFEST_REPLAYED", other_second, signers, evidence_dir, last=last)
    wrong_prev = sign(
        make_manifest(sequence=3, prev_manifest_sha256=first_sha), keys["alice"], keys["bob"]
    )
    _refused("GOV_MANIFEST_CHAIN_BROKEN", wrong_prev, signers, evidence_dir, last=last)
    gap = sign(make_manifest(sequence=4, prev_manifest_sha256=last[1]), keys["alice"], keys["bob"])
    _refused("GOV_MANIFEST_CHAIN_BROKEN", gap, signers, evidence_dir, last=last)
    _refused("GOV_MANIFEST_CHAIN_BROKEN", second, signers, evidence_dir, last=None)


def test_changed_evidence_byte_is_refused(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    envelope = sign(make_manifest(), keys["alice"], keys["bob"])
    gates = evidence_dir / "gates.json"
    original = gates.read_bytes()
    gates.write_bytes(original[:-1] + b" ")
    assert "evidence bundle" in _refused(
        "GOV_MANIFEST_EVIDENCE_MISMATCH", envelope, signers, evidence_dir
    )
    gates.write_bytes(original)
    _verify(envelope, signers, evidence_dir)
    (evidence_dir / "extra.txt").write_text("x")
    _refused("GOV_MANIFEST_EVIDENCE_MISMATCH", envelope, signers, evidence_dir)
    (evidence_dir / "extra.txt").unlink()
    (evidence_dir / "runbooks" / "rollback.md").unlink()
    _refused("GOV_MANIFEST_EVIDENCE_MISMATCH", envelope, signers, evidence_dir)


def test_changed_config_or_code_is_refused(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
) -> None:
    envelope = sign(make_manifest(), keys["alice"], keys["bob"])
    _refused("GOV_MANIFEST_CONFIG_MISMATCH", envelope, signers, evidence_dir, config="cd" * 32)
    _refused("GOV_MANIFEST_CODE_MISMATCH", envelope, signers, evidence_dir, code="cd" * 32)


def test_malformed_manifests(
    make_manifest: ManifestFactory, signers: SignerList, evidence_dir: Path
) -> None:
    with pytest.raises(ManifestRefusedError) as refused:
        make_manifest(sequence=2)  # sequence 2 without a previous manifest
    assert refused.value.code == "GOV_MANIFEST_MALFORMED"
    with pytest.raises(ManifestRefusedError, match="expires must be after created"):
        make_manifest(expires_ns=NOW_NS - 2 * DAY_NS)
    with pytest.raises(ManifestRefusedError, match="two waivers"):
        make_manifest(waivers=[Waiver("R1", "a"), Waiver("R1", "b")])
    with pytest.raises(ManifestRefusedError) as refused:
        make_manifest(incident_playbook="missing.md")
    assert refused.value.code == "GOV_MANIFEST_EVIDENCE_MISMATCH"
    with pytest.raises(ManifestRefusedError) as refused:
        make_manifest(code_sha256="not-hex")
    assert refused.value.code == "GOV_MANIFEST_MALFORMED"
