"""DSSE envelope files and their payloads: the one reader and writer of envelope files, the
canonical (RFC 8785) payload rule, adding one signature offline, and counting the distinct keys
whose signatures verify.

File format: securesystemslib's ``Envelope.to_dict()`` as JSON
(``{"payload": base64, "payloadType", "signatures": [{"keyid", "sig": base64}]}``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rfc8785
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, UnverifiedSignatureError
from securesystemslib.signer import SSlibKey

from polytraders.readiness.governance.errors import EnvelopeError
from polytraders.readiness.governance.keys import SignerKey


def canonical_bytes(value: object) -> bytes:
    """``value`` (JSON-compatible; integers within ±2**53) as RFC 8785 bytes.

    Raises:
        ValueError: a value RFC 8785 cannot represent.
    """
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonicalisable as RFC 8785: {exc}") from None


def new_envelope(payload: Mapping[str, Any], payload_type: str) -> Envelope:
    """An unsigned envelope of ``payload`` (RFC 8785 bytes).

    Raises:
        ValueError: as :func:`canonical_bytes`.
    """
    return Envelope(canonical_bytes(dict(payload)), payload_type, {})


def payload_object(envelope: Envelope, payload_type: str) -> dict[str, Any]:
    """The envelope's payload as a JSON object, checking its type and that its bytes are exactly
    the RFC 8785 form (one document, one byte string, one hash).

    Raises:
        EnvelopeError: another payload type, not a JSON object, or not canonical.
    """
    if envelope.payload_type != payload_type:
        raise EnvelopeError(f"payload type {envelope.payload_type!r} is not {payload_type!r}")
    try:
        value = json.loads(envelope.payload)
        canonical = canonical_bytes(value)
    except ValueError as exc:
        raise EnvelopeError(f"payload is not canonical JSON ({exc})") from None
    if not isinstance(value, dict):
        raise EnvelopeError("payload is not a JSON object")
    if canonical != envelope.payload:
        raise EnvelopeError("payload bytes are not the RFC 8785 form of its JSON")
    return value


def payload_sha256(envelope: Envelope) -> str:
    """SHA-256 (hex) of the payload bytes: the document's identity, unchanged by signatures."""
    return hashlib.sha256(envelope.payload).hexdigest()


def envelope_from_json(text: bytes | str) -> Envelope:
    """Parse an envelope file's content.

    Raises:
        EnvelopeError: not JSON of the envelope shape, bad base64, or two signatures under
            one key id (then ``duplicate_keyid`` is set).
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise EnvelopeError("not JSON") from None
    if not isinstance(data, dict) or set(data) != {"payload", "payloadType", "signatures"}:
        raise EnvelopeError("not a DSSE envelope {payload, payloadType, signatures}")
    signatures = data["signatures"]
    if not isinstance(signatures, list) or not all(
        isinstance(s, dict) and isinstance(s.get("keyid"), str) for s in signatures
    ):
        raise EnvelopeError("signatures is not a list of {keyid, sig}")
    seen: set[str] = set()
    for signature in signatures:
        if signature["keyid"] in seen:
            raise EnvelopeError(
                f"two signatures under key id {signature['keyid']}",
                duplicate_keyid=signature["keyid"],
            )
        seen.add(signature["keyid"])
    if not isinstance(data["payload"], str) or not isinstance(data["payloadType"], str):
        raise EnvelopeError("payload and payloadType must be strings")
    try:
        return Envelope.from_dict(copy.deepcopy(data))
    except (KeyError, TypeError, ValueError, FormatError) as exc:
        raise EnvelopeError(f"not a valid DSSE envelope ({type(exc).__name__})") from None


def envelope_to_json(envelope: Envelope) -> str:
    """The envelope file's content (indented JSON, one trailing newline)."""
    return json.dumps(envelope.to_dict(), indent=2) + "\n"


def read_envelope(path: Path) -> Envelope:
    """Read an envelope file.

    Raises:
        EnvelopeError: unreadable or invalid (as :func:`envelope_from_json`; the message
            names the file).
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise EnvelopeError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return envelope_from_json(text)
    except EnvelopeError as exc:
        raise EnvelopeError(f"{path}: {exc.message}", duplicate_keyid=exc.duplicate_keyid) from None


def write_envelope(path: Path, envelope: Envelope, *, create: bool = False) -> None:
    """Write an envelope file: ``create=True`` refuses an existing file; otherwise the file is
    replaced atomically (a temporary file renamed over it).

    Raises:
        FileExistsError: ``create`` and the file exists.
        OSError: it cannot be written.
    """
    text = envelope_to_json(envelope).encode()
    if create:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
        return
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(text)
    os.replace(temporary, path)


def add_signature(envelope: Envelope, key: SignerKey) -> bool:
    """Sign ``envelope`` (DSSE PAE) with ``key``, in place; True if a signature was added,
    False if the envelope already holds one under that key id (signing twice adds nothing)."""
    if key.keyid in envelope.signatures:
        return False
    signature = key.sign(envelope.pae())
    envelope.signatures[signature.keyid] = signature
    return True


def verified_keyids(envelope: Envelope, keys: Mapping[str, SSlibKey]) -> frozenset[str]:
    """The key ids of ``keys`` (key id → key, each key id the SHA-256 of its raw public key)
    whose signature in ``envelope`` verifies over its PAE. A signature under any other key id,
    or one that does not verify, counts for nothing; each key counts once."""
    pae = envelope.pae()
    accepted: set[str] = set()
    for keyid, signature in envelope.signatures.items():
        key = keys.get(keyid)
        if key is None or signature.keyid != keyid:
            continue
        try:
            key.verify_signature(signature, pae)
        except UnverifiedSignatureError:
            continue
        accepted.add(keyid)
    return frozenset(accepted)
