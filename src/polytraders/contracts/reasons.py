"""The reason-code registry (DESIGN.md "Reason-code registry").

One data file, ``reasons.toml`` in this package, holds every code a bot or the desk may emit.
A committed lock, ``reasons.lock.json``, maps each code to a hash of its severity, summary and
user message: codes may be added, never removed or reworded (:func:`registry_problems` fails
when they are). ``polytraders reasons --update-lock`` adds new codes to the lock and never
changes an existing entry.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

import msgspec

from polytraders.contracts.modes import BotClass

REGISTRY_FILE = "reasons.toml"
LOCK_FILE = "reasons.lock.json"
PREFIXES = ("RISK_", "STRAT_", "EXEC_", "GOV_", "SYS_")
CLASS_PREFIXES: dict[BotClass, str] = {
    BotClass.STRATEGY: "STRAT_",
    BotClass.RISK: "RISK_",
    BotClass.EXECUTION: "EXEC_",
}
_CODE = re.compile(r"^(RISK|STRAT|EXEC|GOV|SYS)_[A-Z0-9]+(_[A-Z0-9]+)*$")
_OWNER = re.compile(r"^(desk|(strat|risk|exec)\.[a-z][a-z0-9_]*)$")
_SINCE = re.compile(r"^\d+\.\d+\.\d+$")


class Severity(StrEnum):
    """INFO: recorded only. WARNING: surfaced to operators. HARD: blocks or halts."""

    INFO = "info"
    WARNING = "warning"
    HARD = "hard"


class ReasonCode(msgspec.Struct, frozen=True, kw_only=True):
    """One registered code.

    Fields: ``code`` (UPPER_SNAKE with a class prefix), ``severity``, ``owner`` (bot id or
    ``desk``), ``summary`` (for engineers), ``user_message`` (plain English for an operator or
    end user), ``since`` (version that introduced it).
    """

    code: str
    severity: Severity
    owner: str
    summary: str
    user_message: str
    since: str

    def text_hash(self) -> str:
        """SHA-256 (16 hex digits) of severity, summary and user message: the locked texts."""
        text = "\x1f".join((self.severity.value, self.summary, self.user_message))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class ReasonRegistry(Mapping[str, ReasonCode]):
    """Read-only mapping code → :class:`ReasonCode`, in file order."""

    def __init__(self, codes: Mapping[str, ReasonCode]) -> None:
        self._codes = dict(codes)

    def __getitem__(self, code: str) -> ReasonCode:
        return self._codes[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    @classmethod
    def from_toml(cls, text: str) -> ReasonRegistry:
        """Parse registry TOML: one table per code.

        Raises:
            ValueError: TOML syntax error or a table missing/mistyping a field.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"reason registry is not valid TOML: {exc}") from exc
        codes: dict[str, ReasonCode] = {}
        for code, fields in data.items():
            try:
                codes[code] = msgspec.convert({"code": code, **fields}, ReasonCode)
            except (msgspec.ValidationError, TypeError) as exc:
                raise ValueError(f"reason code {code}: {exc}") from exc
        return cls(codes)

    def lock_entries(self) -> dict[str, str]:
        """code → text hash for every code (the content of the lock file)."""
        return {code: entry.text_hash() for code, entry in sorted(self._codes.items())}


def _package_file(name: str) -> Path:
    return Path(str(resources.files("polytraders.contracts").joinpath(name)))


def registry_path() -> Path:
    """Path of the packaged registry file."""
    return _package_file(REGISTRY_FILE)


def lock_path() -> Path:
    """Path of the committed lock file."""
    return _package_file(LOCK_FILE)


@cache
def load_registry() -> ReasonRegistry:
    """The packaged registry (parsed once per process)."""
    return ReasonRegistry.from_toml(registry_path().read_text(encoding="utf-8"))


def load_lock(path: Path | None = None) -> dict[str, str]:
    """The committed lock: code → text hash."""
    data: dict[str, str] = json.loads((path or lock_path()).read_text(encoding="utf-8"))
    return data


def registry_problems(registry: ReasonRegistry, lock: Mapping[str, str]) -> list[str]:
    """Lint the registry against its rules and the lock (empty when clean).

    Rules: code format ``PREFIX_UPPER_SNAKE`` with a known prefix; owner is ``desk`` or a bot id
    whose class matches the prefix (``SYS_``/``GOV_`` codes belong to the desk or any bot);
    non-empty summary and user message; the user message is a sentence (capital letter, final
    period) that does not just repeat the code; ``since`` is a version. Lock: every locked code
    still exists with the same text hash (no removal, no rewording); every code is locked.
    """
    problems: list[str] = []
    for code, entry in registry.items():
        if not _CODE.match(code):
            problems.append(f"{code}: not UPPER_SNAKE with a prefix in {PREFIXES}")
        if not _OWNER.match(entry.owner):
            problems.append(f"{code}: owner {entry.owner!r} is not 'desk' or a bot id")
        elif entry.owner != "desk" and not code.startswith(("SYS_", "GOV_")):
            expected = {"strat": "STRAT_", "risk": "RISK_", "exec": "EXEC_"}[
                entry.owner.split(".")[0]
            ]
            if not code.startswith(expected):
                problems.append(f"{code}: owner {entry.owner} needs prefix {expected}")
        if not entry.summary.strip():
            problems.append(f"{code}: empty summary")
        message = entry.user_message.strip()
        if not message:
            problems.append(f"{code}: empty user_message")
        elif not (message[0].isupper() and message.endswith((".", "!"))) or code in message:
            problems.append(f"{code}: user_message must be a plain sentence, not the code")
        if not _SINCE.match(entry.since):
            problems.append(f"{code}: since {entry.since!r} is not a version")
    for code, text_hash in lock.items():
        current = registry.get(code)
        if current is None:
            problems.append(f"{code}: removed from the registry (codes may never be removed)")
        elif current.text_hash() != text_hash:
            problems.append(f"{code}: reworded (locked texts may never change; add a new code)")
    for code in registry:
        if code not in lock:
            problems.append(f"{code}: not in the lock (run `polytraders reasons --update-lock`)")
    return problems


def updated_lock(registry: ReasonRegistry, lock: Mapping[str, str]) -> dict[str, str]:
    """The lock with new codes added; existing entries are kept as they are."""
    merged = dict(lock)
    for code, text_hash in registry.lock_entries().items():
        merged.setdefault(code, text_hash)
    return dict(sorted(merged.items()))


def write_lock(lock: Mapping[str, str], path: Path | None = None) -> None:
    """Write the lock file (sorted, one code per line)."""
    text = json.dumps(dict(sorted(lock.items())), indent=1) + "\n"
    (path or lock_path()).write_text(text, encoding="utf-8")
