"""Throwaway signers and documents for the governance tests: alice, bob and carol are the three
approvers (2 of 3), dave is a reviewer only, erin a risk officer only; the signer list's
version 1 is signed by alice and bob."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.dsse import Envelope

from polytraders.readiness.evidence import Phase
from polytraders.readiness.governance.envelopes import add_signature
from polytraders.readiness.governance.keys import SignerKey, generate_key
from polytraders.readiness.governance.manifest import GateResult, build_manifest
from polytraders.readiness.governance.signers import (
    SignerEntry,
    SignerList,
    signer_list_envelope,
)
from polytraders.readiness.governance.utc import NS_PER_S
from polytraders.readiness.lifecycle import State

NOW_NS = 1_800_000_000 * NS_PER_S
DAY_NS = 86_400 * NS_PER_S
BOT = "risk.killswitch"
CODE = "c0" * 32
CONFIG = "cf" * 32
ROLES = {
    "alice": ["approver", "reviewer"],
    "bob": ["approver", "risk_officer"],
    "carol": ["approver"],
    "dave": ["reviewer"],
    "erin": ["risk_officer"],
}


def sign(envelope: Envelope, *keys: SignerKey) -> Envelope:
    """``envelope`` signed by each key, in place."""
    for key in keys:
        add_signature(envelope, key)
    return envelope


def raw_private_hex(pem: bytes) -> str:
    """The raw 32-byte private key of a PEM, as hex (to look for it where it must not be)."""
    key = load_pem_private_key(pem, None)
    assert isinstance(key, Ed25519PrivateKey)
    return key.private_bytes_raw().hex()


@pytest.fixture(scope="session")
def keys() -> dict[str, SignerKey]:
    return {name: generate_key() for name in ROLES}


def entries(keys: dict[str, SignerKey], roles: dict[str, list[str]]) -> list[SignerEntry]:
    return [SignerEntry.from_public_doc(keys[n].public_doc(n), r) for n, r in roles.items()]


@pytest.fixture
def signers(keys: dict[str, SignerKey]) -> SignerList:
    return SignerList.create(
        version=1, expires_ns=NOW_NS + 365 * DAY_NS, threshold=2, signers=entries(keys, ROLES)
    )


@pytest.fixture
def root(signers: SignerList, keys: dict[str, SignerKey]) -> Envelope:
    return sign(signer_list_envelope(signers), keys["alice"], keys["bob"])


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    root = tmp_path / "evidence"
    (root / "runbooks").mkdir(parents=True)
    (root / "runbooks" / "playbook.md").write_text("# Incident playbook\nhalt, cancel all\n")
    (root / "runbooks" / "rollback.md").write_text("# Rollback\ndemote to shadow\n")
    (root / "gates.json").write_text('{"R1": "Successful"}\n')
    return root


ManifestFactory = Callable[..., Envelope]


@pytest.fixture
def make_manifest(evidence_dir: Path) -> ManifestFactory:
    """Build an unsigned manifest of BOT with overridable keyword arguments."""

    def make(**overrides: object) -> Envelope:
        arguments: dict[str, Any] = {
            "bot_id": BOT,
            "bot_version": "1.0.0",
            "code_sha256": CODE,
            "config_sha256": CONFIG,
            "evidence_dir": evidence_dir,
            "from_state": State.SHADOW,
            "to_state": State.LIMITED_LIVE,
            "gates": [GateResult("R1", Phase.SUCCESSFUL, 0.97, 0.95)],
            "sequence": 1,
            "prev_manifest_sha256": None,
            "created_ns": NOW_NS - DAY_NS,
            "expires_ns": NOW_NS + 30 * DAY_NS,
            "incident_playbook": "runbooks/playbook.md",
            "rollback_plan": "runbooks/rollback.md",
        }
        arguments.update(overrides)
        return build_manifest(**arguments)

    return make
