"""in-toto Statements in DSSE envelopes parse back only when well formed, and envelope files
round-trip; the evidence bundle index is canonical, sorted, and refuses symlinks leaving it."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from polytraders.readiness.governance.envelopes import (
    envelope_from_json,
    envelope_to_json,
    new_envelope,
    read_envelope,
)
from polytraders.readiness.governance.errors import EnvelopeError
from polytraders.readiness.governance.evidence_bundle import (
    BundleError,
    bundle_index,
    bundle_sha256,
    write_bundle,
)
from polytraders.readiness.governance.statements import (
    STATEMENT_PAYLOAD_TYPE,
    STATEMENT_TYPE,
    Statement,
    StatementError,
    Subject,
    parse_statement,
    statement_envelope,
)

PREDICATE = "https://example.test/p/v1"


def _raw(payload: dict[str, Any]) -> str:
    return json.dumps(
        {
            "payload": base64.b64encode(rfc8785.dumps(payload)).decode(),
            "payloadType": STATEMENT_PAYLOAD_TYPE,
            "signatures": [],
        }
    )


def _payload(**changes: object) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "a", "digest": {"sha256": "ab" * 32}}],
        "predicateType": PREDICATE,
        "predicate": {"x": 1},
    }
    payload.update(changes)
    return payload


def test_statement_round_trip(tmp_path: Path) -> None:
    statement = Statement((Subject("a", "ab" * 32),), PREDICATE, {"x": 1})
    envelope = statement_envelope(statement)
    assert envelope.payload == rfc8785.dumps(_payload())
    path = tmp_path / "s.json"
    path.write_text(envelope_to_json(envelope))
    assert parse_statement(read_envelope(path), PREDICATE) == statement


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_payload(_type="https://in-toto.io/Statement/v0.1"), "_type"),
        (_payload(subject=[]), "non-empty"),
        (_payload(subject=[{"name": "a", "digest": {"sha256": "XY" * 32}}]), "hex"),
        (_payload(subject=[{"name": "a", "digest": {"sha512": "ab" * 64}}]), "digest"),
        (_payload(subject=[{"name": "a"}]), "exactly"),
        (_payload(predicateType="https://other"), "predicateType"),
        (_payload(predicate=[1]), "object"),
    ],
)
def test_malformed_statements_are_refused(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(StatementError, match=message):
        parse_statement(envelope_from_json(_raw(payload)), PREDICATE)


def test_non_canonical_payload_or_wrong_type_is_refused() -> None:
    raw = json.loads(_raw(_payload()))
    raw["payload"] = base64.b64encode(json.dumps(_payload(), indent=1).encode()).decode()
    with pytest.raises(EnvelopeError, match="RFC 8785"):
        parse_statement(envelope_from_json(json.dumps(raw)), PREDICATE)
    other = new_envelope(_payload(), "application/json")
    with pytest.raises(EnvelopeError, match="payload type"):
        parse_statement(other, PREDICATE)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"payload": "", "payloadType": "x"}',
        '{"payload": "!!", "payloadType": "x", "signatures": []}',
    ],
)
def test_malformed_envelope_files_are_refused(text: str) -> None:
    with pytest.raises(EnvelopeError) as refused:
        envelope_from_json(text)
    assert refused.value.code == "GOV_ENVELOPE_MALFORMED"


def test_bundle_index_is_canonical_and_sorted(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "b.txt").write_bytes(b"bee")
    (sources / "a.txt").write_bytes(b"a")
    digest = write_bundle(
        tmp_path / "bundle", {"z/b.txt": sources / "b.txt", "a.txt": sources / "a.txt"}
    )
    entries = bundle_index(tmp_path / "bundle")
    assert [e.path for e in entries] == ["a.txt", "z/b.txt"]
    expected = rfc8785.dumps(
        [
            {"path": "a.txt", "length": 1, "sha256": hashlib.sha256(b"a").hexdigest()},
            {"path": "z/b.txt", "length": 3, "sha256": hashlib.sha256(b"bee").hexdigest()},
        ]
    )
    assert digest == hashlib.sha256(expected).hexdigest() == bundle_sha256(tmp_path / "bundle")
    (tmp_path / "bundle" / "z" / "b.txt").write_bytes(b"bed")
    assert bundle_sha256(tmp_path / "bundle") != digest
    with pytest.raises(BundleError, match="already exists"):
        write_bundle(tmp_path / "bundle", {})
    with pytest.raises(BundleError, match="not a relative path"):
        write_bundle(tmp_path / "other", {"../x": sources / "a.txt"})


def test_bundle_refuses_symlinks_leaving_it(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "inside.txt").write_text("in")
    (root / "alias.txt").symlink_to(root / "inside.txt")
    assert [e.path for e in bundle_index(root)] == ["alias.txt", "inside.txt"]
    (tmp_path / "secret.txt").write_text("out")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(BundleError, match="leaving"):
        bundle_index(root)
    (root / "leak.txt").unlink()
    (root / "dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(BundleError, match="symlinked directory"):
        bundle_index(root)
