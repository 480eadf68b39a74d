"""Signer keys: the private key file is created with mode 600 and never overwritten; a file
open to group or others is refused naming its mode; a key from an environment variable signs
the same; no repr shows key material; a key id is always the SHA-256 of the public key."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from polytraders.readiness.governance.errors import SignerKeyError
from polytraders.readiness.governance.keys import (
    PublicKeyDoc,
    generate_key,
    keyid_of,
    load_key_env,
    load_key_file,
    sslib_key,
    write_keypair,
)
from tests.readiness.governance.conftest import raw_private_hex


def test_keypair_files_mode_600_and_never_overwritten(tmp_path: Path) -> None:
    key = generate_key()
    key_path, pub_path = write_keypair(key, "alice", tmp_path)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    doc = PublicKeyDoc.read(pub_path)
    assert doc == key.public_doc("alice")
    assert doc.keyid == hashlib.sha256(bytes.fromhex(doc.public_key)).hexdigest()
    assert json.loads(pub_path.read_text())["scheme"] == "ed25519"
    assert load_key_file(key_path).keyid == key.keyid
    before = key_path.read_bytes()
    with pytest.raises(SignerKeyError, match="already exists"):
        write_keypair(generate_key(), "alice", tmp_path)
    assert key_path.read_bytes() == before


def test_key_file_open_to_others_is_refused_without_its_contents(tmp_path: Path) -> None:
    key_path, _ = write_keypair(generate_key(), "bob", tmp_path)
    pem = key_path.read_text()
    key_path.chmod(0o644)
    with pytest.raises(SignerKeyError) as refused:
        load_key_file(key_path)
    assert refused.value.code == "GOV_SIGNING_KEY_REFUSED"
    assert str(key_path) in str(refused.value)
    assert "mode 644" in str(refused.value)
    assert pem not in str(refused.value)
    assert "\n" not in str(refused.value)
    key_path.chmod(0o640)
    with pytest.raises(SignerKeyError, match="mode 640"):
        load_key_file(key_path)


def test_key_from_environment_variable(tmp_path: Path) -> None:
    key = generate_key()
    env = {"POLYTRADERS_SIGNER_KEY": key.private_pem().decode()}
    loaded = load_key_env("POLYTRADERS_SIGNER_KEY", env)
    assert loaded.keyid == key.keyid
    assert loaded.sign(b"data") == key.sign(b"data")  # Ed25519 is deterministic
    with pytest.raises(SignerKeyError, match="POLYTRADERS_SIGNER_KEY is not set"):
        load_key_env("POLYTRADERS_SIGNER_KEY", {})
    with pytest.raises(SignerKeyError, match="does not hold") as refused:
        load_key_env("X", {"X": "-----BEGIN PRIVATE KEY-----\nnot a key\n"})
    assert "not a key" not in str(refused.value)


def test_non_ed25519_key_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(SignerKeyError, match="not an Ed25519 key"):
        load_key_env("K", {"K": pem.decode()})


def test_no_repr_shows_key_material() -> None:
    key = generate_key()
    pem = key.private_pem().decode()
    raw = raw_private_hex(key.private_pem())
    body = "".join(pem.splitlines()[1:-1])
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert raw not in text
        assert body not in text
        assert key.keyid in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_keyid_must_be_sha256_of_the_public_key() -> None:
    key = generate_key()
    assert keyid_of(key.public_key) == key.keyid
    with pytest.raises(ValueError, match="is not the SHA-256"):
        sslib_key(key.public_key, "ab" * 32)
    doc = key.public_doc("alice").to_dict()
    doc["keyid"] = "ab" * 32
    with pytest.raises(ValueError, match="is not the SHA-256"):
        PublicKeyDoc.from_dict(doc)
