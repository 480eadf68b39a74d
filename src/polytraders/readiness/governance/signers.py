"""The signer list: who may sign what, itself a signed document with TUF's root rules.

Payload (RFC 8785 bytes in a DSSE envelope of type :data:`SIGNERS_PAYLOAD_TYPE`)::

    {"version": int >= 1, "expires": "YYYY-MM-DDTHH:MM:SSZ", "threshold": int >= 2,
     "signers": [{"name", "keyid", "public_key", "roles": [subset of ROLES]}]}

Rules (TUF spec 1.0.34, root metadata): version 1 is signed by at least ``threshold`` distinct
approvers of itself; version N+1 by at least the threshold of approvers of version N AND the
threshold of its own approvers; versions go up by exactly 1; only the newest list's expiry is
checked (an expired list can still be rotated). A key counts once: its key id must be the
SHA-256 of its raw public key. Files live in ``<gov_dir>/signers/<version>.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from polytraders.readiness.governance.envelopes import (
    new_envelope,
    payload_object,
    read_envelope,
    verified_keyids,
)
from polytraders.readiness.governance.errors import EnvelopeError, SignersRefusedError
from polytraders.readiness.governance.keys import PublicKeyDoc, check_name, sslib_key
from polytraders.readiness.governance.utc import parse_utc, utc_text

SIGNERS_PAYLOAD_TYPE = "application/vnd.polytraders.signers+json"
REVIEWER, APPROVER, RISK_OFFICER = "reviewer", "approver", "risk_officer"
ROLES: tuple[str, ...] = (REVIEWER, APPROVER, RISK_OFFICER)
MIN_THRESHOLD = 2
"""The smallest threshold a list may declare: one key alone never approves a release."""
SIGNERS_DIR = "signers"
_VERSION_FILE = re.compile(r"([1-9][0-9]*)\.json")


@dataclass(frozen=True)
class SignerEntry:
    """One signer: name, key id (SHA-256 of the raw public key), public key (64 hex) and roles
    (a non-empty subset of :data:`ROLES`)."""

    name: str
    keyid: str
    public_key: str
    roles: frozenset[str]

    @classmethod
    def from_public_doc(cls, doc: PublicKeyDoc, roles: Iterable[str]) -> SignerEntry:
        """The entry of a public key document with ``roles`` (checked by :class:`SignerList`)."""
        return cls(doc.name, doc.keyid, doc.public_key, frozenset(roles))

    def key(self) -> SSlibKey:
        """The verification key."""
        return sslib_key(self.public_key, self.keyid)


@dataclass(frozen=True)
class SignerList:
    """A checked signer list (see the module docstring); build it with :meth:`create` or
    :meth:`from_payload`, which refuse anything invalid."""

    version: int
    expires_ns: int
    threshold: int
    signers: tuple[SignerEntry, ...]

    @classmethod
    def create(
        cls, *, version: int, expires_ns: int, threshold: int, signers: Iterable[SignerEntry]
    ) -> SignerList:
        """A checked list: signers are sorted by name, ``expires_ns`` truncated to the second.

        Raises:
            SignersRefusedError: ``GOV_SIGNERS_MALFORMED`` (see :meth:`from_payload`).
        """
        ordered = tuple(sorted(signers, key=lambda entry: entry.name))
        return cls.from_payload(
            {
                "version": version,
                "expires": utc_text(expires_ns),
                "threshold": threshold,
                "signers": [
                    {
                        "name": e.name,
                        "keyid": e.keyid,
                        "public_key": e.public_key,
                        "roles": sorted(e.roles),
                    }
                    for e in ordered
                ],
            }
        )

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> SignerList:
        """Parse and check a payload.

        Raises:
            SignersRefusedError: ``GOV_SIGNERS_MALFORMED``: other fields, a version < 1, a bad
                expiry, an invalid name, key or key id, no or unknown roles, a duplicate name,
                key id or public key, or a threshold below :data:`MIN_THRESHOLD` or above the
                number of approvers.
        """
        try:
            return cls._parse(data)
        except ValueError as exc:
            raise SignersRefusedError("GOV_SIGNERS_MALFORMED", f"signer list: {exc}") from None

    @classmethod
    def _parse(cls, data: Mapping[str, Any]) -> SignerList:
        if set(data) != {"version", "expires", "threshold", "signers"}:
            raise ValueError("fields must be exactly version, expires, threshold, signers")
        version, threshold, raw = data["version"], data["threshold"], data["signers"]
        if type(version) is not int or version < 1:
            raise ValueError(f"version must be an integer >= 1, got {version!r}")
        if not isinstance(raw, list) or not raw:
            raise ValueError("signers must be a non-empty list")
        entries = [_entry(item) for item in raw]
        for label, values in (
            ("name", [e.name for e in entries]),
            ("key id (public key)", [e.keyid for e in entries]),
        ):
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"duplicate {label} {duplicates[0]}")
        approvers = sum(APPROVER in e.roles for e in entries)
        if type(threshold) is not int or not MIN_THRESHOLD <= threshold <= approvers:
            raise ValueError(
                f"threshold {threshold!r} must be an integer from {MIN_THRESHOLD} to the "
                f"number of approvers ({approvers})"
            )
        return cls(version, parse_utc(data["expires"]), threshold, tuple(entries))

    def to_payload(self) -> dict[str, Any]:
        """The JSON payload (signers in stored order, roles sorted)."""
        return {
            "version": self.version,
            "expires": utc_text(self.expires_ns),
            "threshold": self.threshold,
            "signers": [
                {
                    "name": e.name,
                    "keyid": e.keyid,
                    "public_key": e.public_key,
                    "roles": sorted(e.roles),
                }
                for e in self.signers
            ],
        }

    def with_role(self, role: str) -> tuple[SignerEntry, ...]:
        """The signers holding ``role``.

        Raises:
            ValueError: an unknown role.
        """
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        return tuple(e for e in self.signers if role in e.roles)

    def approvers(self) -> tuple[SignerEntry, ...]:
        """The signers holding role ``approver``."""
        return self.with_role(APPROVER)

    def by_keyid(self, keyid: str) -> SignerEntry | None:
        """The signer with key id ``keyid``, or None."""
        return next((e for e in self.signers if e.keyid == keyid), None)

    def keys(self, role: str) -> dict[str, SSlibKey]:
        """Key id → verification key of the signers holding ``role``."""
        return {e.keyid: e.key() for e in self.with_role(role)}

    def names(self, keyids: Iterable[str]) -> tuple[str, ...]:
        """The sorted names of the signers with these key ids (unknown ids are skipped)."""
        wanted = set(keyids)
        return tuple(sorted(e.name for e in self.signers if e.keyid in wanted))


def _entry(item: object) -> SignerEntry:
    if not isinstance(item, dict) or set(item) != {"name", "keyid", "public_key", "roles"}:
        raise ValueError("each signer is exactly {name, keyid, public_key, roles}")
    name = check_name(item["name"])
    sslib_key(item["public_key"], item["keyid"])
    roles = item["roles"]
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise ValueError(f"signer {name}: roles must be a non-empty list of role names")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or len(set(roles)) != len(roles):
        raise ValueError(
            f"signer {name}: roles {roles} must be distinct and among {', '.join(ROLES)}"
        )
    return SignerEntry(name, item["keyid"], item["public_key"], frozenset(roles))


def signer_list_envelope(signers: SignerList) -> Envelope:
    """An unsigned envelope of ``signers``."""
    return new_envelope(signers.to_payload(), SIGNERS_PAYLOAD_TYPE)


def parse_signer_list(envelope: Envelope) -> SignerList:
    """The signer list in ``envelope`` (signatures not checked).

    Raises:
        SignersRefusedError: ``GOV_SIGNERS_MALFORMED``: wrong payload type, non-canonical payload,
            or an invalid list.
    """
    try:
        data = payload_object(envelope, SIGNERS_PAYLOAD_TYPE)
    except EnvelopeError as exc:
        raise SignersRefusedError("GOV_SIGNERS_MALFORMED", f"signer list: {exc.message}") from None
    return SignerList.from_payload(data)


def _require_threshold(envelope: Envelope, by: SignerList, version: int, whose: str) -> None:
    signed = verified_keyids(envelope, by.keys(APPROVER))
    if len(signed) < by.threshold:
        raise SignersRefusedError(
            "GOV_SIGNERS_THRESHOLD_NOT_MET",
            f"signer list version {version} is signed by {len(signed)} of the {by.threshold} "
            f"distinct approvers of {whose} it needs",
        )


def verify_signer_chain_signatures(envelopes: Sequence[Envelope]) -> SignerList:
    """The newest list of a chain ``[v1, v2, ...]`` whose versions and signatures verify
    (module docstring), whatever the expiry: rotation starts from this one.

    Raises:
        SignersRefusedError: ``GOV_SIGNERS_MISSING`` (empty chain), ``GOV_SIGNERS_MALFORMED``,
            ``GOV_SIGNERS_VERSION_MISMATCH`` or ``GOV_SIGNERS_THRESHOLD_NOT_MET``.
    """
    if not envelopes:
        raise SignersRefusedError("GOV_SIGNERS_MISSING", "no signer list (version 1 is missing)")
    current: SignerList | None = None
    for position, envelope in enumerate(envelopes, start=1):
        candidate = parse_signer_list(envelope)
        if candidate.version != position:
            raise SignersRefusedError(
                "GOV_SIGNERS_VERSION_MISMATCH",
                f"signer list at position {position} has version {candidate.version}; "
                "versions go up by exactly 1 from 1",
            )
        if current is not None:
            _require_threshold(envelope, current, position, f"version {position - 1}")
        _require_threshold(envelope, candidate, position, "itself")
        current = candidate
    assert current is not None
    return current


def verify_signer_chain(envelopes: Sequence[Envelope], *, now_ns: int) -> SignerList:
    """The current signer list: :func:`verify_signer_chain_signatures`, then the newest list
    must not be expired at ``now_ns`` (ns since the epoch).

    Raises:
        SignersRefusedError: as :func:`verify_signer_chain_signatures`, or ``GOV_SIGNERS_EXPIRED``.
    """
    current = verify_signer_chain_signatures(envelopes)
    if now_ns >= current.expires_ns:
        raise SignersRefusedError(
            "GOV_SIGNERS_EXPIRED",
            f"signer list version {current.version} expired at {utc_text(current.expires_ns)}",
        )
    return current


def signers_path(gov_dir: Path, version: int) -> Path:
    """``<gov_dir>/signers/<version>.json``."""
    return gov_dir / SIGNERS_DIR / f"{version}.json"


def load_signer_chain(gov_dir: Path) -> list[Envelope]:
    """The envelopes ``signers/1.json``, ``2.json``, ... of ``gov_dir`` in version order.

    Raises:
        SignersRefusedError: ``GOV_SIGNERS_MISSING`` (no ``1.json``, a gap, or a file that is not
            ``<version>.json``), ``GOV_SIGNERS_DUPLICATE_SIGNATURE`` (two signatures under one
            key id) or ``GOV_SIGNERS_MALFORMED`` (an unreadable or invalid envelope).
    """
    directory = gov_dir / SIGNERS_DIR
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    versions = []
    for file in files:
        match = _VERSION_FILE.fullmatch(file.name)
        if match is None:
            raise SignersRefusedError(
                "GOV_SIGNERS_MISSING", f"{file} is not named <version>.json (1.json, 2.json...)"
            )
        versions.append(int(match.group(1)))
    versions.sort()
    if versions != list(range(1, len(versions) + 1)) or not versions:
        raise SignersRefusedError(
            "GOV_SIGNERS_MISSING",
            f"{directory} must hold 1.json, 2.json, ... without gaps (found {versions})",
        )
    chain = []
    for version in versions:
        try:
            chain.append(read_envelope(signers_path(gov_dir, version)))
        except EnvelopeError as exc:
            code = (
                "GOV_SIGNERS_DUPLICATE_SIGNATURE"
                if exc.duplicate_keyid
                else "GOV_SIGNERS_MALFORMED"
            )
            raise SignersRefusedError(code, exc.message) from None
    return chain


def current_signers(gov_dir: Path, *, now_ns: int) -> SignerList:
    """The verified, unexpired signer list of ``gov_dir`` (:func:`load_signer_chain` then
    :func:`verify_signer_chain`).

    Raises:
        SignersRefusedError: as those two.
    """
    return verify_signer_chain(load_signer_chain(gov_dir), now_ns=now_ns)


def rotated(
    current: SignerList,
    *,
    expires_ns: int,
    add: Iterable[SignerEntry] = (),
    remove: Iterable[str] = (),
    set_roles: Mapping[str, Iterable[str]] | None = None,
    threshold: int | None = None,
) -> SignerList:
    """The next version of ``current``: signers named in ``remove`` dropped, ``set_roles``
    (name → roles) applied, ``add`` appended, a new expiry, and the threshold kept unless given.

    Raises:
        SignersRefusedError: ``GOV_SIGNERS_MALFORMED``: a removed or re-roled name is not in the
            list, or the result is invalid.
    """
    by_name = {e.name: e for e in current.signers}
    removed, changes = list(remove), dict(set_roles or {})
    for name in [*removed, *changes]:
        if name not in by_name:
            raise SignersRefusedError(
                "GOV_SIGNERS_MALFORMED", f"signer {name} is not in version {current.version}"
            )
    both = sorted(set(removed) & set(changes))
    if both:
        raise SignersRefusedError(
            "GOV_SIGNERS_MALFORMED", f"signer {both[0]} is both removed and given new roles"
        )
    for name in removed:
        by_name.pop(name, None)
    for name, roles in changes.items():
        entry = by_name[name]
        by_name[name] = SignerEntry(entry.name, entry.keyid, entry.public_key, frozenset(roles))
    return SignerList.create(
        version=current.version + 1,
        expires_ns=expires_ns,
        threshold=current.threshold if threshold is None else threshold,
        signers=[*by_name.values(), *add],
    )
