"""Ed25519 signer keys: generate, store (a file created with mode 600, never overwritten), load
(from a file that grants no group/other permission, or from an environment variable holding
the PEM) and the public half as a small JSON document.

A key id is the SHA-256 (hex) of the raw 32-byte public key, computed here and nowhere else;
every key or signature whose key id is anything else is refused, so one public key can never
count twice under two ids. Private key material never appears in a message, a repr or a
return value other than :meth:`SignerKey.private_pem` (used only to write the key file).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey

from polytraders.readiness.governance.errors import SignerKeyError

SCHEME = "ed25519"
"""The only key type and signature scheme (securesystemslib's ``ed25519``)."""

KEY_ENV_VAR = "POLYTRADERS_SIGNER_KEY"
"""The conventional environment variable holding a signer's PEM private key."""

PRIVATE_KEY_MODE = 0o600
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def keyid_of(public_key_hex: str) -> str:
    """The key id of an Ed25519 public key: SHA-256 (hex) of its raw 32 bytes.

    Raises:
        ValueError: ``public_key_hex`` is not 64 lowercase hex digits.
    """
    if not isinstance(public_key_hex, str) or _HEX64.fullmatch(public_key_hex) is None:
        raise ValueError(f"an Ed25519 public key is 64 lowercase hex digits: {public_key_hex!r}")
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


def check_name(name: str) -> str:
    """``name`` if it is a valid signer name (1–64 of ``a-z 0-9 _ . -``, starting with a letter
    or digit); it names files, so nothing else is allowed.

    Raises:
        ValueError: an invalid name.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"a signer name is 1-64 of a-z 0-9 _ . - (got {name!r})")
    return name


def sslib_key(public_key_hex: str, keyid: str) -> SSlibKey:
    """The securesystemslib verification key of an Ed25519 public key.

    Raises:
        ValueError: an invalid public key, or ``keyid`` is not :func:`keyid_of` of it.
    """
    expected = keyid_of(public_key_hex)
    if keyid != expected:
        raise ValueError(f"key id {keyid} is not the SHA-256 of its public key ({expected})")
    return SSlibKey(keyid, SCHEME, SCHEME, {"public": public_key_hex})


@dataclass(frozen=True)
class PublicKeyDoc:
    """The public half of a signer key, as written to ``NAME.pub.json``:
    ``{"name", "keyid", "scheme": "ed25519", "public_key": hex}``."""

    name: str
    keyid: str
    public_key: str

    def to_dict(self) -> dict[str, str]:
        """The JSON document."""
        return {
            "name": self.name,
            "keyid": self.keyid,
            "scheme": SCHEME,
            "public_key": self.public_key,
        }

    @classmethod
    def from_dict(cls, data: object) -> PublicKeyDoc:
        """Parse and check a public key document.

        Raises:
            ValueError: not an object of exactly those fields, another scheme, an invalid
                name or key, or a key id that is not the SHA-256 of the key.
        """
        fields = {"name", "keyid", "scheme", "public_key"}
        if not isinstance(data, dict) or set(data) != fields:
            raise ValueError(f"a public key document has exactly the fields {sorted(fields)}")
        if data["scheme"] != SCHEME:
            raise ValueError(f"scheme must be {SCHEME!r}, got {data['scheme']!r}")
        doc = cls(check_name(data["name"]), data["keyid"], data["public_key"])
        sslib_key(doc.public_key, doc.keyid)
        return doc

    @classmethod
    def read(cls, path: Path) -> PublicKeyDoc:
        """Read ``NAME.pub.json``.

        Raises:
            ValueError: unreadable, not JSON, or invalid (the message names the file).
        """
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a valid public key document ({exc})") from None


class SignerKey:
    """An Ed25519 private key able to sign, with its public key and key id. Its repr and str
    show the key id only."""

    __slots__ = ("_signer",)

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        public_hex = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        public = sslib_key(public_hex, keyid_of(public_hex))
        self._signer = CryptoSigner(private_key, public)

    @property
    def keyid(self) -> str:
        """SHA-256 (hex) of the raw public key."""
        return self._signer.public_key.keyid

    @property
    def public_key(self) -> str:
        """The raw public key, 64 hex digits."""
        return str(self._signer.public_key.keyval["public"])

    def public_doc(self, name: str) -> PublicKeyDoc:
        """The public key document for signer ``name``."""
        return PublicKeyDoc(check_name(name), self.keyid, self.public_key)

    def sign(self, data: bytes) -> Signature:
        """An Ed25519 signature of ``data`` under :attr:`keyid`."""
        return self._signer.sign(data)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS8 PEM: only for :func:`write_private_key`."""
        return self._signer.private_bytes

    def __repr__(self) -> str:
        return f"SignerKey(keyid={self.keyid!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SignerKey cannot be pickled")


def generate_key() -> SignerKey:
    """A new random Ed25519 signer key."""
    return SignerKey(Ed25519PrivateKey.generate())


def write_private_key(key: SignerKey, path: Path) -> None:
    """Write ``key`` as PKCS8 PEM to a new file of mode 600 (created atomically with
    ``O_CREAT | O_EXCL``, so an existing file is never overwritten).

    Raises:
        SignerKeyError: the file exists or cannot be created.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_KEY_MODE)
    except FileExistsError:
        raise SignerKeyError(f"{path} already exists; a key file is never overwritten") from None
    except OSError as exc:
        raise SignerKeyError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_pem())


def write_keypair(key: SignerKey, name: str, out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/NAME.key`` (:func:`write_private_key`) and ``out_dir/NAME.pub.json``
    (the public key document); returns both paths. Neither file may exist already.

    Raises:
        SignerKeyError: either file exists or cannot be created.
        ValueError: an invalid name.
    """
    doc = key.public_doc(name)
    key_path, pub_path = out_dir / f"{name}.key", out_dir / f"{name}.pub.json"
    if pub_path.exists():
        raise SignerKeyError(f"{pub_path} already exists; a key file is never overwritten")
    write_private_key(key, key_path)
    pub_path.write_text(json.dumps(doc.to_dict(), indent=2) + "\n", encoding="utf-8")
    return key_path, pub_path


def _from_pem(pem: bytes, source: str) -> SignerKey:
    try:
        private_key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SignerKeyError(
            f"{source} does not hold an unencrypted PKCS8 PEM private key"
        ) from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SignerKeyError(f"{source} holds a {type(private_key).__name__}, not an Ed25519 key")
    return SignerKey(private_key)


def load_key_file(path: Path) -> SignerKey:
    """Load a private key file, refusing one whose mode grants any group or other permission.

    Raises:
        SignerKeyError: missing, unreadable, too open (the message gives the mode, never the
            contents), or not an Ed25519 PKCS8 PEM key.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        raise SignerKeyError(f"cannot read key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SignerKeyError(
            f"key file {path} has mode {mode:03o}; it must grant no group or other "
            f"permission (chmod 600 {path})"
        )
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SignerKeyError(f"cannot read key file {path}: {exc.strerror}") from None
    return _from_pem(pem, f"key file {path}")


def load_key_env(variable: str, environ: Mapping[str, str] | None = None) -> SignerKey:
    """Load a private key from environment variable ``variable`` (its value is the PEM);
    ``environ`` defaults to :data:`os.environ`.

    Raises:
        SignerKeyError: the variable is unset or empty, or does not hold an Ed25519 PKCS8 PEM key.
    """
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value.strip():
        raise SignerKeyError(f"environment variable {variable} is not set")
    return _from_pem(value.encode(), f"environment variable {variable}")
