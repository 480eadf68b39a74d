"""Secrets hygiene: find private keys, API secrets and passphrases written where they must not
be (the repository, an SQLite event store, logs, run outputs, a bot's evidence bundle).

What counts as a finding (``kind``):

- ``hex-private-key``: 64 hex digits (``0x`` optional) that are the value of a key-named
  field or variable (``private_key``, ``POLYMARKET_PRIVATE_KEY``, ``signer_key``,
  ``mnemonic``…), e.g. ``"private_key": "0x…"``. A bare 64-hex value is *not* a finding:
  condition ids, transaction hashes and builder codes have that shape and this repository's
  data is full of them.
- ``key-file``: a file whose whole content is one 64-hex value (a raw key file).
- ``pem-private-key``: a PEM ``-----BEGIN … PRIVATE KEY-----`` line followed by a line of
  base64 (a header alone, as in documentation, is not a key).
- ``api-credential``: a literal value of at least 8 characters given to a secret-named field or
  variable (``secret``, ``passphrase``, ``password``, ``api_key``, ``access_token``…: the
  Polymarket L2 credentials ``POLYMARKET_API_KEY`` / ``_SECRET`` / ``_PASSPHRASE``, the
  ``POLY_*`` headers) — quoted (``api_secret = "…"``, ``"secret": "…"``), or unquoted on an
  environment-style line (``NAME=value``, ``export NAME=value``).
- ``env-secret``: the same in a ``.env`` file (``.env``, ``*.env``, ``.env.*``), where lower-case
  and unquoted assignments count too.

Values that are placeholders (``<…>``, ``${…}``, ``$VAR``, masked ``***``, one repeated
character, ``changeme``…) are not findings. A finding is reported by path, line (or, in an
SQLite file, ``table.column`` and row id) and kind, with the value's **fingerprint**
(``sha256:`` and 16 hex digits of the SHA-256 of the value): never the value itself.

The **allowlist** (TOML) names reviewed, known-public values (a documented test vector, a fake
credential a test needs): ``[[allow]]`` tables with ``fingerprint``, ``reason`` (required), and
optionally ``path`` (a glob over the reported path, ``/``-separated) and ``kind``.

Scanned: regular files under the given paths, not following symbolic links, skipping tool
folders (``.git``, ``.venv``, caches); binary files are skipped except SQLite files, whose text
columns are scanned row by row. Compressed files (``.gz``) are binary here: not opened.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import sqlite3
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".venv",
        ".venv-peers",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        "node_modules",
    }
)
"""Folder names never descended into (tools' own files, not ours)."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SNIFF_BYTES = 8192

_SECRET_NAME = re.compile(
    r"private[_-]?key|priv[_-]?key|signer[_-]?key|secret|passphrase|password|passwd|"
    r"api[_-]?key|apikey|access[_-]?token|auth[_-]?token|bearer[_-]?token|mnemonic",
    re.IGNORECASE,
)
_KEY_NAME = re.compile(
    r"private[_-]?key|priv[_-]?key|signer[_-]?key|secret[_-]?key|mnemonic", re.IGNORECASE
)
_ASSIGNMENT = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)["']?\s*(?::|=)\s*"""
    r"""(?P<quote>["']?)(?P<value>[^\s"',;)}\]]*)(?P=quote)"""
)
_ENV_LINE = re.compile(r"\s*(?:export\s+)?[A-Z][A-Z0-9_]*=")
_HEX_KEY = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_PEM = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
_PLACEHOLDERS = frozenset(
    {"changeme", "placeholder", "redacted", "example", "none", "null", "true", "false"}
)
_MIN_SECRET_CHARS = 8


class AllowlistError(ValueError):
    """The allowlist file is unreadable or malformed (one line naming the file and entry)."""


@dataclass(frozen=True)
class Finding:
    """One secret found: ``path`` (as given, ``/``-separated), ``where`` (``line N``, or
    ``table.column row N`` in an SQLite file, rows counted from 1), ``kind``, the field or
    variable ``name`` ("" for a key file or PEM block) and the value's ``fingerprint`` (never
    the value)."""

    path: str
    where: str
    kind: str
    name: str
    fingerprint: str

    def line(self) -> str:
        """``path:where: kind name fingerprint`` — what the command prints."""
        named = f" {self.name}" if self.name else ""
        return f"{self.path}:{self.where}: {self.kind}{named} ({self.fingerprint})"


@dataclass(frozen=True)
class AllowEntry:
    """A reviewed exception: the value's ``fingerprint``, why it is public (``reason``), and
    optionally the ``path`` glob and ``kind`` it is allowed under."""

    fingerprint: str
    reason: str
    path: str = "*"
    kind: str = ""

    def allows(self, finding: Finding) -> bool:
        """True when ``finding`` is this entry's value at a matching path and kind."""
        return (
            finding.fingerprint == self.fingerprint
            and fnmatch.fnmatchcase(finding.path, self.path)
            and self.kind in ("", finding.kind)
        )


@dataclass
class ScanReport:
    """A scan's outcome: ``findings`` not allowlisted, ``allowed`` ones, the number of
    ``files`` scanned, ``skipped`` binary files, and ``unused`` allowlist entries (stale: their
    path glob matched a scanned file, their value was not found)."""

    findings: list[Finding] = field(default_factory=list)
    allowed: list[Finding] = field(default_factory=list)
    files: int = 0
    skipped: int = 0
    unused: list[AllowEntry] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing outside the allowlist was found."""
        return not self.findings


def fingerprint(value: str) -> str:
    """``sha256:`` and the first 16 hex digits of the SHA-256 of ``value`` (UTF-8)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


def load_allowlist(path: Path) -> list[AllowEntry]:
    """The ``[[allow]]`` entries of a TOML allowlist.

    Raises:
        AllowlistError: unreadable, not TOML, or an entry without ``fingerprint``/``reason``,
            with a malformed fingerprint, or with unknown keys.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AllowlistError(f"allowlist {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AllowlistError(f"allowlist {path}: not TOML: {exc}") from None
    unknown = set(document) - {"allow"}
    if unknown:
        raise AllowlistError(f"allowlist {path}: unknown table(s) {', '.join(sorted(unknown))}")
    entries: list[AllowEntry] = []
    for number, raw in enumerate(document.get("allow", []), 1):
        where = f"allowlist {path}: entry {number}"
        if not isinstance(raw, dict):
            raise AllowlistError(f"{where}: not a table")
        extra = set(raw) - {"fingerprint", "reason", "path", "kind"}
        if extra:
            raise AllowlistError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        fp, reason = raw.get("fingerprint", ""), raw.get("reason", "")
        if not isinstance(fp, str) or not re.fullmatch(r"sha256:[0-9a-f]{16}", fp):
            raise AllowlistError(f"{where}: fingerprint must be sha256: and 16 hex digits")
        if not isinstance(reason, str) or not reason.strip():
            raise AllowlistError(f"{where}: a reason is required")
        path_glob, kind = raw.get("path", "*"), raw.get("kind", "")
        if not isinstance(path_glob, str) or not isinstance(kind, str):
            raise AllowlistError(f"{where}: path and kind are strings")
        entries.append(AllowEntry(fp, reason.strip(), path_glob or "*", kind))
    return entries


def _placeholder(value: str) -> bool:
    return (
        len(value) < _MIN_SECRET_CHARS
        or any(c in value for c in "<>${}*%")
        or len(set(value.removeprefix("0x"))) == 1
        or value.lower() in _PLACEHOLDERS
    )


def _is_env_file(name: str) -> bool:
    return name == ".env" or name.endswith(".env") or name.startswith(".env.")


def scan_text(
    text: str, path: str, *, env_file: bool = False, where_prefix: str = ""
) -> list[Finding]:
    """The findings in one text (a file's content or an SQLite value), lines numbered from 1
    (``where_prefix`` replaces ``line N`` for an SQLite value)."""
    out: list[Finding] = []
    stripped = text.strip()
    if _HEX_KEY.fullmatch(stripped) and not _placeholder(stripped):
        return [Finding(path, where_prefix or "line 1", "key-file", "", fingerprint(stripped))]
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not _SECRET_NAME.search(line) and "PRIVATE KEY" not in line:
            continue
        where = where_prefix or f"line {number}"
        body = lines[number].strip() if number < len(lines) else ""
        if _PEM.search(line) and _PEM_BODY.fullmatch(body):
            out.append(Finding(path, where, "pem-private-key", "", fingerprint(body)))
        env_line = env_file or _ENV_LINE.match(line) is not None
        for m in _ASSIGNMENT.finditer(line):
            name, value = m.group("name"), m.group("value")
            if not _SECRET_NAME.search(name) or _placeholder(value):
                continue
            if _HEX_KEY.fullmatch(value) and _KEY_NAME.search(name):
                kind = "hex-private-key"
            elif m.group("quote") or env_line:
                kind = "env-secret" if env_file else "api-credential"
            else:
                continue  # an unquoted reference in code (password=password), not a literal
            out.append(Finding(path, where, kind, name, fingerprint(value)))
    return out


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head


def _scan_sqlite(path: Path, shown: str) -> list[Finding]:
    """The findings in every text column of every table of an SQLite file (read-only)."""
    out: list[Finding] = []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            cursor = connection.execute(f"SELECT * FROM {quoted}")
            columns = [d[0] for d in cursor.description]
            for number, row in enumerate(cursor, 1):
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and value:
                        where = f"{table}.{column} row {number}"
                        out.extend(scan_text(value, shown, where_prefix=where))
    finally:
        connection.close()
    return out


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            candidate = Path(folder) / name
            if candidate.is_file() and not candidate.is_symlink():
                yield candidate


def scan_paths(paths: Sequence[Path], allowlist: Iterable[AllowEntry] = ()) -> ScanReport:
    """Scan files and folders (recursively) and split the findings by the allowlist.

    Raises:
        FileNotFoundError: a given path does not exist.
        OSError: a file could not be read.
        sqlite3.Error: an SQLite file could not be read.
    """
    entries = list(allowlist)
    used: set[int] = set()
    in_scope: set[int] = set()
    report = ScanReport()
    for root in paths:
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or folder")
        for file in _files(root):
            shown = file.as_posix()
            with file.open("rb") as handle:
                head = handle.read(_SNIFF_BYTES)
            if head.startswith(_SQLITE_MAGIC):
                found = _scan_sqlite(file, shown)
            elif _is_binary(head):
                report.skipped += 1
                continue
            else:
                text = file.read_bytes().decode("utf-8", errors="replace")
                found = scan_text(text, shown, env_file=_is_env_file(file.name))
            report.files += 1
            in_scope.update(i for i, e in enumerate(entries) if fnmatch.fnmatchcase(shown, e.path))
            for finding in found:
                allowing = next((i for i, e in enumerate(entries) if e.allows(finding)), None)
                if allowing is None:
                    report.findings.append(finding)
                else:
                    used.add(allowing)
                    report.allowed.append(finding)
    report.unused = [e for i, e in enumerate(entries) if i in in_scope and i not in used]
    return report
