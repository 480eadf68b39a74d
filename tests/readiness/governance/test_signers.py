"""The signer list: TUF's root rules. The root needs the threshold of its own approvers; a
rotation needs the threshold of the old AND of the new approvers; versions go up by one; the
newest list must not be expired; duplicates, unknown roles, a threshold above the approvers and
a key id that is not the SHA-256 of its key are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope

from polytraders.readiness.governance.envelopes import (
    envelope_from_json,
    envelope_to_json,
    write_envelope,
)
from polytraders.readiness.governance.errors import SignersRefusedError
from polytraders.readiness.governance.keys import SignerKey, generate_key
from polytraders.readiness.governance.signers import (
    SignerEntry,
    SignerList,
    current_signers,
    load_signer_chain,
    rotated,
    signer_list_envelope,
    signers_path,
    verify_signer_chain,
)
from tests.readiness.governance.conftest import DAY_NS, NOW_NS, ROLES, entries, sign


def _code(exc: pytest.ExceptionInfo[SignersRefusedError]) -> str:
    return str(exc.value.code)


def test_root_needs_threshold_of_its_own_approvers(
    signers: SignerList, keys: dict[str, SignerKey]
) -> None:
    envelope = signer_list_envelope(signers)
    sign(envelope, keys["alice"], keys["dave"], keys["erin"])  # one approver + two others
    with pytest.raises(SignersRefusedError) as refused:
        verify_signer_chain([envelope], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_THRESHOLD_NOT_MET"
    sign(envelope, keys["carol"])
    current = verify_signer_chain([envelope], now_ns=NOW_NS)
    assert current == signers
    assert [e.name for e in current.approvers()] == ["alice", "bob", "carol"]
    assert [e.name for e in current.with_role("risk_officer")] == ["bob", "erin"]
    assert current.by_keyid(keys["dave"].keyid) is not None
    assert current.by_keyid(generate_key().keyid) is None


def _rotation(signers: SignerList) -> tuple[SignerList, dict[str, SignerKey]]:
    """Version 2: alice and bob leave, frank and grace join as approvers (carol stays)."""
    new_keys = {"frank": generate_key(), "grace": generate_key()}
    added = [
        SignerEntry.from_public_doc(k.public_doc(n), ["approver"]) for n, k in new_keys.items()
    ]
    v2 = rotated(signers, expires_ns=NOW_NS + 400 * DAY_NS, add=added, remove=["alice", "bob"])
    return v2, new_keys


def test_rotation_needs_old_and_new_threshold(
    signers: SignerList, root: Envelope, keys: dict[str, SignerKey]
) -> None:
    v2, new = _rotation(signers)
    assert v2.version == 2
    assert [e.name for e in v2.approvers()] == ["carol", "frank", "grace"]

    only_new = sign(signer_list_envelope(v2), new["frank"], new["grace"])
    with pytest.raises(SignersRefusedError, match="of version 1") as refused:
        verify_signer_chain([root, only_new], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_THRESHOLD_NOT_MET"

    only_old = sign(signer_list_envelope(v2), keys["alice"], keys["bob"])
    with pytest.raises(SignersRefusedError, match="of itself") as refused:
        verify_signer_chain([root, only_old], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_THRESHOLD_NOT_MET"

    both = sign(signer_list_envelope(v2), keys["alice"], keys["bob"], new["frank"], new["grace"])
    assert verify_signer_chain([root, both], now_ns=NOW_NS) == v2
    # carol is an approver of both: carol + alice (old) + frank (new) suffice
    shared = sign(signer_list_envelope(v2), keys["carol"], keys["alice"], new["frank"])
    assert verify_signer_chain([root, shared], now_ns=NOW_NS) == v2


def test_versions_go_up_by_exactly_one(
    signers: SignerList, root: Envelope, keys: dict[str, SignerKey]
) -> None:
    skipping = SignerList.create(
        version=3, expires_ns=signers.expires_ns, threshold=2, signers=signers.signers
    )
    envelope = sign(signer_list_envelope(skipping), keys["alice"], keys["bob"])
    with pytest.raises(SignersRefusedError) as refused:
        verify_signer_chain([root, envelope], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_VERSION_MISMATCH"
    with pytest.raises(SignersRefusedError) as refused:
        verify_signer_chain([root, root], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_VERSION_MISMATCH"
    with pytest.raises(SignersRefusedError) as refused:
        verify_signer_chain([], now_ns=NOW_NS)
    assert _code(refused) == "GOV_SIGNERS_MISSING"


def test_expired_newest_list_is_refused_but_can_be_rotated(
    signers: SignerList, root: Envelope, keys: dict[str, SignerKey]
) -> None:
    later = signers.expires_ns + 1
    with pytest.raises(SignersRefusedError) as refused:
        verify_signer_chain([root], now_ns=later)
    assert _code(refused) == "GOV_SIGNERS_EXPIRED"
    renewed = rotated(signers, expires_ns=later + 365 * DAY_NS)
    v2 = sign(signer_list_envelope(renewed), keys["alice"], keys["bob"])
    assert verify_signer_chain([root, v2], now_ns=later).version == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("duplicate_key", "duplicate key id"),
        ("duplicate_name", "duplicate name"),
        ("unknown_role", "roles"),
        ("threshold_above_approvers", "threshold 4"),
        ("threshold_one", "threshold 1"),
        ("keyid_mismatch", "is not the SHA-256"),
        ("extra_field", "fields must be exactly"),
        ("bad_expiry", "RFC 3339"),
    ],
)
def test_invalid_lists_are_refused(
    signers: SignerList, keys: dict[str, SignerKey], change: str, message: str
) -> None:
    payload = signers.to_payload()
    first = payload["signers"][0]
    if change == "duplicate_key":
        payload["signers"].append({**first, "name": "mallory"})
    elif change == "duplicate_name":
        other = generate_key()
        payload["signers"].append({**first, "keyid": other.keyid, "public_key": other.public_key})
    elif change == "unknown_role":
        first["roles"] = ["approver", "admin"]
    elif change == "threshold_above_approvers":
        payload["threshold"] = 4
    elif change == "threshold_one":
        payload["threshold"] = 1
    elif change == "keyid_mismatch":
        first["keyid"] = "ab" * 32
    elif change == "extra_field":
        payload["root"] = True
    else:
        payload["expires"] = "2027-01-01 00:00:00"
    with pytest.raises(SignersRefusedError, match=message) as refused:
        SignerList.from_payload(payload)
    assert _code(refused) == "GOV_SIGNERS_MALFORMED"


def test_gov_dir_chain(
    tmp_path: Path, signers: SignerList, root: Envelope, keys: dict[str, SignerKey]
) -> None:
    with pytest.raises(SignersRefusedError) as refused:
        load_signer_chain(tmp_path)
    assert _code(refused) == "GOV_SIGNERS_MISSING"
    signers_path(tmp_path, 1).parent.mkdir()
    write_envelope(signers_path(tmp_path, 1), root, create=True)
    with pytest.raises(FileExistsError):
        write_envelope(signers_path(tmp_path, 1), root, create=True)
    assert current_signers(tmp_path, now_ns=NOW_NS) == signers
    renewed = rotated(signers, expires_ns=NOW_NS + 500 * DAY_NS)
    write_envelope(
        signers_path(tmp_path, 3), sign(signer_list_envelope(renewed), keys["alice"], keys["bob"])
    )
    with pytest.raises(SignersRefusedError, match="without gaps") as refused:
        load_signer_chain(tmp_path)
    assert _code(refused) == "GOV_SIGNERS_MISSING"
    signers_path(tmp_path, 3).rename(signers_path(tmp_path, 2))
    assert current_signers(tmp_path, now_ns=NOW_NS) == renewed


def test_duplicate_signature_entry_in_a_signer_list_file(tmp_path: Path, root: Envelope) -> None:
    data = json.loads(envelope_to_json(root))
    data["signatures"].append(dict(data["signatures"][0]))
    signers_path(tmp_path, 1).parent.mkdir()
    signers_path(tmp_path, 1).write_text(json.dumps(data))
    with pytest.raises(SignersRefusedError) as refused:
        load_signer_chain(tmp_path)
    assert _code(refused) == "GOV_SIGNERS_DUPLICATE_SIGNATURE"
    assert envelope_from_json(envelope_to_json(root)) == root


def test_rotation_edits(signers: SignerList, keys: dict[str, SignerKey]) -> None:
    v2 = rotated(signers, expires_ns=NOW_NS + DAY_NS, set_roles={"dave": ["approver"]})
    assert [e.name for e in v2.approvers()] == ["alice", "bob", "carol", "dave"]
    with pytest.raises(SignersRefusedError, match="not in version 1"):
        rotated(signers, expires_ns=NOW_NS + DAY_NS, remove=["zed"])
    with pytest.raises(SignersRefusedError, match="threshold 2"):  # only carol would approve
        rotated(signers, expires_ns=NOW_NS + DAY_NS, remove=["alice", "bob"])
    again = entries(keys, {"carol": ROLES["carol"]})
    with pytest.raises(SignersRefusedError, match="duplicate"):
        rotated(signers, expires_ns=NOW_NS + DAY_NS, add=again)
