"""Property: whatever duplicates, re-keyed copies, non-approver and unknown signatures are added,
a manifest signed by fewer than the threshold of distinct approver keys is never accepted, and
one signed by at least the threshold always is."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from securesystemslib.dsse import Envelope
from securesystemslib.signer import Signature

from polytraders.readiness.governance.errors import ManifestRefusedError
from polytraders.readiness.governance.keys import SignerKey, generate_key
from polytraders.readiness.governance.manifest import verify_manifest
from polytraders.readiness.governance.signers import SignerList
from tests.readiness.governance.conftest import CODE, CONFIG, NOW_NS, ManifestFactory, sign

APPROVERS = ("alice", "bob", "carol")
OTHERS = ("dave", "erin")
STRANGER = generate_key()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    approvers=st.sets(st.sampled_from(APPROVERS)),
    others=st.sets(st.sampled_from(OTHERS)),
    stranger=st.booleans(),
    rekeyed=st.lists(st.sampled_from(APPROVERS), max_size=4),
)
def test_fewer_than_threshold_distinct_approvers_never_pass(
    make_manifest: ManifestFactory,
    signers: SignerList,
    keys: dict[str, SignerKey],
    evidence_dir: Path,
    approvers: set[str],
    others: set[str],
    stranger: bool,
    rekeyed: list[str],
) -> None:
    envelope: Envelope = make_manifest()
    sign(envelope, *(keys[n] for n in sorted(approvers | others)))
    if stranger:
        sign(envelope, STRANGER)
    pae = envelope.pae()
    for position, name in enumerate(rekeyed):
        # a valid signature by an approver's key filed under another key id
        fake_keyid = f"{position:02x}" * 32
        envelope.signatures[fake_keyid] = Signature(fake_keyid, keys[name].sign(pae).signature)
    for name in approvers:  # signing again with the same key adds nothing
        sign(envelope, keys[name])
    try:
        verified = verify_manifest(
            envelope,
            signers=signers,
            now_ns=NOW_NS,
            last_accepted=None,
            evidence_dir=evidence_dir,
            expected_code_sha256=CODE,
            expected_config_sha256=CONFIG,
        )
    except ManifestRefusedError as refused:
        assert refused.code == "GOV_MANIFEST_THRESHOLD_NOT_MET"
        assert len(approvers) < signers.threshold
    else:
        assert len(approvers) >= signers.threshold
        assert set(verified.approvers) == approvers
