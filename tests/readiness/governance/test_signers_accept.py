"""Pinning the signer list in the store: a rotation (signed by the old and the new threshold)
is accepted with the keys added and removed; a rotation signed by the new keys alone, or an
accepted version rewritten on disk, is refused; a release stays verifiable across rotations
while its signers remain approvers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from polytraders.readiness.governance.envelopes import add_signature, write_envelope
from polytraders.readiness.governance.errors import GovernanceError
from polytraders.readiness.governance.keys import generate_key
from polytraders.readiness.governance.signers import (
    APPROVER,
    SignerEntry,
    load_signer_chain,
    parse_signer_list,
    rotated,
    signer_list_envelope,
    signers_path,
)
from polytraders.readiness.release_check import pinned_signers
from polytraders.readiness.releases import accept_signers
from polytraders.store import EventStore
from tests.governed import DAY_NS, govern


def test_a_rotation_is_pinned_with_the_keys_added_and_removed(
    store_url: str, tmp_path: Path
) -> None:
    gov_dir, now_ns = tmp_path / "gov", time.time_ns()
    keys = govern(store_url, gov_dir)
    current = parse_signer_list(load_signer_chain(gov_dir)[-1])
    dan = generate_key()
    v2 = rotated(
        current,
        expires_ns=now_ns + 365 * DAY_NS,
        add=[SignerEntry.from_public_doc(dan.public_doc("dan"), [APPROVER])],
        remove=["cleo"],
    )
    envelope = signer_list_envelope(v2)
    add_signature(envelope, dan)  # the new list's keys alone: not enough
    add_signature(envelope, keys["ben"])
    write_envelope(signers_path(gov_dir, 2), envelope, create=True)
    with EventStore.open(store_url) as store:
        with pytest.raises(GovernanceError) as refused:
            accept_signers(store, gov_dir, now_ns=now_ns, actor="ops")
        assert refused.value.code == "GOV_SIGNERS_THRESHOLD_NOT_MET"
        add_signature(envelope, keys["ana"])  # now two approvers of version 1 as well
        write_envelope(signers_path(gov_dir, 2), envelope)
        assert accept_signers(store, gov_dir, now_ns=now_ns, actor="ops") == [2]
        assert accept_signers(store, gov_dir, now_ns=now_ns, actor="ops") == []
        [entry] = [e for e in store.audit_log() if e.action == "GOV_SIGNERS_ACCEPTED"][-1:]
        detail = json.loads(entry.detail)
        assert (detail["version"], detail["keys_added"], detail["keys_removed"]) == (
            2,
            ["dan"],
            ["cleo"],
        )
        assert pinned_signers(store, gov_dir, now_ns=now_ns).version == 2
        # an accepted version rewritten on disk (here: version 1 re-signed, other bytes)
        v1 = load_signer_chain(gov_dir)[0]
        doc = json.loads(signers_path(gov_dir, 1).read_text())
        doc["payload"] = doc["payload"][:-4] + "AAA="
        signers_path(gov_dir, 1).write_text(json.dumps(doc))
        with pytest.raises(GovernanceError):
            pinned_signers(store, gov_dir, now_ns=now_ns)
        write_envelope(signers_path(gov_dir, 1), v1)
        assert pinned_signers(store, gov_dir, now_ns=now_ns).version == 2
