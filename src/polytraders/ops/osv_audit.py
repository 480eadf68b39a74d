"""Offline dependency audit: Python distributions matched against a vulnerability database
file in the OSV format (https://ossf.github.io/osv-schema/), never a network service.

- **Database**: a ``.json`` file holding a list of OSV records (or one record), or a ``.zip``
  of per-advisory ``.json`` files (as OSV publishes ``PyPI/all.zip``). Withdrawn records
  (``withdrawn`` set) are ignored.
- **Distributions**: those installed in the running environment (:mod:`importlib.metadata`),
  or the pins of a requirements file (``name==version`` lines, as ``pip freeze`` prints).
- **Matching** (the schema's ``IsVulnerable``): an ``affected`` entry of ecosystem ``PyPI``
  whose package name equals the distribution's (both normalised per PEP 503) affects its
  version when the version is in the entry's ``versions`` list, or within one of its
  ``ECOSYSTEM`` ranges: events sorted by version (``introduced: "0"`` first), the version
  vulnerable after an ``introduced`` at or below it, not after a ``fixed`` at or below it
  or a ``last_affected`` below it, and below one of the range's ``limit`` events if it has
  any (``*`` is infinity). Versions compare as PEP 440 versions (:mod:`packaging.version`).
  ``GIT`` and ``SEMVER`` ranges are not evaluated (PyPI records list ``versions`` for the
  former). **A version that does not parse** (the installed one or a range's) makes the
  range count as affected (fail closed), said in the finding's description.
- **Score**: the CVSS base score computed (the ``cvss`` library) from each ``CVSS_V2``,
  ``CVSS_V3`` and ``CVSS_V4`` vector of the record and of the matching ``affected`` entry;
  the highest is kept. No valid vector: no score (the finding is recorded unscored, which
  counts as above every threshold); a score is never guessed.
- **One vulnerability, one finding**: records matching the same distribution that name each
  other (id or shared alias: the PYSEC and GHSA records of one vulnerability) make one
  finding, its id the smallest of their ids, the others its aliases, its score the highest,
  its fix versions all of theirs.

Errors: :class:`AuditInputError` (an unreadable or malformed database or requirements file),
one line naming the file and where.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec
from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from polytraders.store.security_findings import ReportedVulnerability, parse_cvss

ECOSYSTEM = "PyPI"
_CALCULATORS = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}
_COMMENT = re.compile(r"(^|\s)#.*$")
"""A comment in a requirements file, as pip reads one (``#`` at the start or after a space)."""


class AuditInputError(Exception):
    """A database or requirements file that cannot be read or is malformed (one line)."""


class Distribution(msgspec.Struct, frozen=True, order=True):
    """A distribution to audit: ``name`` normalised per PEP 503, ``version`` as installed."""

    name: str
    version: str


class _Severity(msgspec.Struct, frozen=True):
    type: str
    score: str


class _Event(msgspec.Struct, frozen=True):
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class _Range(msgspec.Struct, frozen=True):
    type: str
    events: list[_Event] = []


class _Package(msgspec.Struct, frozen=True):
    ecosystem: str = ""
    name: str = ""


class _Affected(msgspec.Struct, frozen=True):
    package: _Package | None = None
    severity: list[_Severity] = []
    ranges: list[_Range] = []
    versions: list[str] = []


class OsvRecord(msgspec.Struct, frozen=True):
    """The fields of an OSV record the audit reads (others are ignored)."""

    id: str
    aliases: list[str] = []
    summary: str = ""
    withdrawn: str | None = None
    severity: list[_Severity] = []
    affected: list[_Affected] = []


# ---------------------------------------------------------------- inputs


def installed_distributions() -> list[Distribution]:
    """The distributions of the running environment, sorted, each once (a distribution
    without a ``Name`` in its metadata cannot be matched and is left out)."""
    found = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.add(Distribution(canonicalize_name(name), dist.version))
    return sorted(found)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with comments removed and ``\\`` continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, (pending + line).strip()
        pending = ""
    if pending.strip():
        yield start, pending.strip()


def pinned_requirements(path: Path) -> list[Distribution]:
    """The ``name==version`` pins of a requirements file (extras and markers allowed, every
    pin audited whatever its marker; ``--hash`` options ignored), sorted, each once.

    Raises:
        AuditInputError: unreadable file, or a line that is not one exact pin (an option,
            a range, a URL): the audit needs each version.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    found = set()
    for number, line in _logical_lines(text):
        if not line:
            continue
        requirement = line.split(" --hash", 1)[0].strip()
        where = f"{path}:{number}"
        if requirement.startswith("-"):
            raise AuditInputError(f"{where}: options are not supported, only name==version pins")
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement as exc:
            raise AuditInputError(f"{where}: {exc}") from None
        pins = list(parsed.specifier)
        if (
            parsed.url is not None
            or len(pins) != 1
            or pins[0].operator not in ("==", "===")
            or "*" in pins[0].version
        ):
            raise AuditInputError(f"{where}: {requirement!r} is not one exact name==version pin")
        found.add(Distribution(canonicalize_name(parsed.name), pins[0].version))
    return sorted(found)


_RECORDS = msgspec.json.Decoder(list[OsvRecord] | OsvRecord)


def _decode(payload: bytes, where: str) -> list[OsvRecord]:
    try:
        decoded = _RECORDS.decode(payload)
    except msgspec.DecodeError as exc:
        raise AuditInputError(f"{where}: not OSV JSON: {exc}") from None
    return decoded if isinstance(decoded, list) else [decoded]


def load_database(path: Path) -> Iterator[OsvRecord]:
    """The records of an OSV database file: a ``.zip`` of ``.json`` records (one or a list
    each), else a JSON list of records (or one record), in file order.

    Raises:
        AuditInputError: unreadable file, a bad zip, or a member that is not OSV JSON.
    """
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.is_dir() and info.filename.lower().endswith(".json"):
                        yield from _decode(archive.read(info), f"{path}:{info.filename}")
        else:
            yield from _decode(path.read_bytes(), str(path))
    except zipfile.BadZipFile as exc:
        raise AuditInputError(f"{path}: {exc}") from None
    except OSError as exc:
        raise AuditInputError(f"{path}: {exc.strerror or exc}") from None


def file_digest(path: Path) -> str:
    """``sha256:`` + the hex SHA-256 of a file (names the database an audit used).

    Raises:
        AuditInputError: unreadable file.
    """
    try:
        with path.open("rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise AuditInputError(f"{path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------- matching


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_versions(version: str, listed: Sequence[str]) -> bool:
    parsed = _version(version)
    for item in listed:
        other = _version(item)
        if item == version or (parsed is not None and other is not None and parsed == other):
            return True
    return False


def _event_version(event: _Event) -> str:
    for value in (event.introduced, event.fixed, event.last_affected, event.limit):
        if value is not None:
            return value
    return ""


def _in_range(version: str, events: Sequence[_Event]) -> tuple[bool, str]:
    """(affected, why uncertain: "" when every version parsed) per the schema's
    ``IncludedInRanges`` for one range."""
    parsed = _version(version)
    bounds = {_event_version(e) for e in events} - {"0", "*"}
    broken = sorted(b for b in bounds if _version(b) is None)
    if parsed is None or broken:
        bad = version if parsed is None else ", ".join(broken)
        return True, f"version {bad} is not PEP 440: affected assumed (fail closed)"
    limits = [e.limit for e in events if e.limit is not None]
    if limits and not any(lim == "*" or parsed < Version(lim) for lim in limits):
        return False, ""

    def key(event: _Event) -> tuple[int, Version]:  # introduced "0" sorts before any version
        first = event.introduced == "0"
        return (0, Version("0")) if first else (1, Version(_event_version(event)))

    vulnerable = False
    for event in sorted((e for e in events if e.limit is None), key=key):
        if event.introduced is not None:
            if event.introduced == "0" or parsed >= Version(event.introduced):
                vulnerable = True
        elif event.fixed is not None:
            if parsed >= Version(event.fixed):
                vulnerable = False
        elif event.last_affected is not None and parsed > Version(event.last_affected):
            vulnerable = False
    return vulnerable, ""


def cvss_score_tenths(vectors: Iterable[tuple[str, str]]) -> tuple[int | None, list[str]]:
    """The highest CVSS base score (tenths) of ``(type, vector)`` pairs of type ``CVSS_V2``,
    ``CVSS_V3`` or ``CVSS_V4`` (others ignored), and the vectors that did not parse; None
    when no vector gave a score."""
    best: int | None = None
    bad: list[str] = []
    for kind, vector in vectors:
        calculator = _CALCULATORS.get(kind)
        if calculator is None:
            continue
        try:
            score = Decimal(str(calculator(vector).base_score))
        except CVSSError:
            bad.append(vector)
            continue
        tenths = parse_cvss(f"{score:.1f}")
        best = tenths if best is None else max(best, tenths)
    return best, bad


class _Hit(msgspec.Struct, frozen=True):
    record: OsvRecord
    fixed: tuple[str, ...]
    vectors: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]


def _hit(record: OsvRecord, affected: _Affected, version: str) -> _Hit | None:
    notes: list[str] = []
    hit = _in_versions(version, affected.versions)
    for rng in affected.ranges:
        if rng.type != "ECOSYSTEM":
            continue
        inside, note = _in_range(version, rng.events)
        hit = hit or inside
        if inside and note:
            notes.append(note)
    if not hit:
        return None
    fixed = tuple(e.fixed for r in affected.ranges for e in r.events if e.fixed is not None)
    vectors = tuple((s.type, s.score) for s in (*record.severity, *affected.severity))
    return _Hit(record=record, fixed=fixed, vectors=vectors, notes=tuple(notes))


def _names(hit: _Hit) -> set[str]:
    return {hit.record.id, *hit.record.aliases}


def _groups(hits: list[_Hit]) -> list[list[_Hit]]:
    """Hits of one distribution joined when their ids and aliases meet (transitively)."""
    groups: list[list[_Hit]] = []
    for hit in hits:
        joined = [hit]
        for group in [g for g in groups if any(_names(hit) & _names(h) for h in g)]:
            groups.remove(group)
            joined.extend(group)
        groups.append(joined)
    return groups


def _version_key(text: str) -> tuple[int, Version | str]:
    parsed = _version(text)
    return (0, parsed) if parsed is not None else (1, text)


def _reported(distribution: Distribution, group: list[_Hit]) -> ReportedVulnerability:
    group = sorted(group, key=lambda h: h.record.id)
    first = group[0].record
    names = set().union(*(_names(h) for h in group)) - {first.id}
    score, bad = cvss_score_tenths(v for h in group for v in h.vectors)
    notes = sorted(
        {n for h in group for n in h.notes} | {f"malformed CVSS vector {v}" for v in bad}
    )
    summary = next((h.record.summary for h in group if h.record.summary), "")
    return ReportedVulnerability(
        package=canonicalize_name(distribution.name),
        version=distribution.version,
        vulnerability_id=first.id,
        aliases=tuple(sorted(names)),
        fix_versions=tuple(sorted({f for h in group for f in h.fixed}, key=_version_key)),
        description="; ".join(part for part in (summary, *notes) if part),
        cvss_score_tenths=score,
    )


def audit(
    distributions: Iterable[Distribution], records: Iterable[OsvRecord]
) -> list[ReportedVulnerability]:
    """The vulnerabilities of ``distributions`` that ``records`` list (module docstring),
    one per distribution and vulnerability, sorted by package, version and id.

    Raises:
        AuditInputError: from ``records`` (a malformed database).
    """
    by_name: dict[str, list[Distribution]] = {}
    for dist in distributions:
        by_name.setdefault(canonicalize_name(dist.name), []).append(dist)
    hits: dict[Distribution, list[_Hit]] = {}
    for record in records:
        if record.withdrawn is not None:
            continue
        for affected in record.affected:
            package = affected.package
            if package is None or package.ecosystem != ECOSYSTEM:
                continue
            for dist in by_name.get(canonicalize_name(package.name), []):
                hit = _hit(record, affected, dist.version)
                if hit is not None:
                    hits.setdefault(dist, []).append(hit)
    out = [
        _reported(dist, group) for dist, dist_hits in hits.items() for group in _groups(dist_hits)
    ]
    return sorted(out, key=lambda r: (r.package, _version_key(r.version), r.vulnerability_id))
