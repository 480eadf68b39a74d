"""What a readiness checklist item or a gate rests on: evidence, items, scores, gate phases.

Nothing here is self-declared: an item's status comes from a check that names its evidence (a
file and the SHA-256 of its bytes, a store query and the digest of its result, a test id and
its outcome, a command and what it printed). Seed 002 ("Definition of done") gives the four
scores and their sizes; the gate phases and their order are Argo Rollouts' analysis phases
(``pkg/apis/rollouts/v1alpha1/analysis_types.go``; ``../shared/research/governance.md`` §1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

import msgspec

from polytraders.contracts.canonical import canonical_sha256


class ItemStatus(StrEnum):
    """A checklist item's status: PASS (the evidence shows it), FAIL (the evidence contradicts
    it), PENDING (the evidence does not exist yet, e.g. no shadow run recorded)."""

    PASS = "PASS"
    FAIL = "FAIL"
    PENDING = "PENDING"


class EvidenceKind(StrEnum):
    """Where a piece of evidence comes from."""

    FILE = "file"
    """A file of the repository: ``ref`` its path relative to the repository root."""
    STORE = "store"
    """A query of the event store: ``ref`` what was asked (table and filter)."""
    TEST = "test"
    """A test: ``ref`` its id (pytest node id or the check's name), ``result`` its outcome."""
    COMMAND = "command"
    """A command that ran: ``ref`` the command line, ``result`` its outcome."""
    CODE = "code"
    """The code itself, inspected: ``ref`` the dotted name (``module:Class.attribute``)."""


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """One piece of evidence.

    ``digest`` is the SHA-256 (hex) of the file's bytes (FILE), or of the canonical JSON of
    the result (every other kind); empty when the file is missing. ``result`` says in a few
    words what it showed ("missing", "3 rows", "passed", "27/27 sections").
    """

    kind: EvidenceKind
    ref: str
    digest: str
    result: str


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def file_evidence(root: Path, relative: str | Path) -> Evidence:
    """Evidence of the file ``root / relative``: its bytes' SHA-256, or ``missing``.

    Args:
        root: the repository root.
        relative: the path inside it (recorded as given, with ``/`` separators).
    """
    path = root / relative
    ref = Path(relative).as_posix()
    if not path.is_file():
        return Evidence(kind=EvidenceKind.FILE, ref=ref, digest="", result="missing")
    data = path.read_bytes()
    return Evidence(
        kind=EvidenceKind.FILE, ref=ref, digest=sha256_hex(data), result=f"{len(data)} bytes"
    )


def result_evidence(kind: EvidenceKind, ref: str, result: object, summary: str) -> Evidence:
    """Evidence of a query, test, command or code inspection whose ``result`` (any
    JSON-compatible value) is digested as canonical JSON; ``summary`` is what is shown.

    Raises:
        ValueError: ``result`` is not JSON-compatible (NaN, an unknown type).
    """
    digest = canonical_sha256(result)
    return Evidence(kind=kind, ref=ref, digest=digest, result=summary)


def evidence_digest(evidence: Iterable[Evidence]) -> str:
    """One SHA-256 over several pieces of evidence (order-independent): the digest recorded
    with a gate evaluation or a promotion."""
    rows = sorted([e.kind.value, e.ref, e.digest, e.result] for e in evidence)
    return canonical_sha256(rows)


class ChecklistItem(msgspec.Struct, frozen=True, kw_only=True):
    """One numbered item of a score's checklist (seed 002's wording in ``title``)."""

    number: int
    title: str
    status: ItemStatus
    detail: str
    """Why the status is what it is, in one or two sentences (what was measured, what failed)."""
    evidence: tuple[Evidence, ...] = ()


class ScoreName(StrEnum):
    """The four scores of the definition of done (seed 002)."""

    DOCS = "docs"
    IMPL = "impl"
    RUNTIME = "runtime"
    BACKTEST = "backtest"

    @property
    def out_of(self) -> int:
        """The checklist's size: Docs 27, Impl 15, Runtime 8, Backtest 4 (seed 002)."""
        return SCORE_SIZES[self]


SCORE_SIZES: dict[ScoreName, int] = {
    ScoreName.DOCS: 27,
    ScoreName.IMPL: 15,
    ScoreName.RUNTIME: 8,
    ScoreName.BACKTEST: 4,
}
"""Seed 002: "Docs 27, Impl 15, Runtime 8, Backtest 4"."""


class Score(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's score: every item of one checklist, numbered 1..out_of."""

    bot_id: str
    name: ScoreName
    items: tuple[ChecklistItem, ...]

    def __post_init__(self) -> None:
        numbers = [item.number for item in self.items]
        if numbers != list(range(1, self.name.out_of + 1)):
            raise ValueError(
                f"{self.bot_id} {self.name.value} score needs items 1..{self.name.out_of}, "
                f"got {numbers}"
            )

    @property
    def out_of(self) -> int:
        """How many items the checklist has."""
        return self.name.out_of

    @property
    def passed(self) -> int:
        """How many items PASS."""
        return sum(1 for item in self.items if item.status is ItemStatus.PASS)

    @property
    def complete(self) -> bool:
        """True when every item passes (x/x)."""
        return self.passed == self.out_of

    def item(self, number: int) -> ChecklistItem:
        """The item numbered ``number`` (1-based).

        Raises:
            IndexError: no such item.
        """
        if not 1 <= number <= len(self.items):
            raise IndexError(f"{self.name.value} has no item {number}")
        return self.items[number - 1]


class Phase(StrEnum):
    """A gate evaluation's outcome (Argo Rollouts' analysis phases, without the transient
    Pending/Running). Missing or insufficient data is INCONCLUSIVE, never SUCCESSFUL; a check
    that could not run at all (it raised) is ERROR."""

    SUCCESSFUL = "Successful"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def rank(self) -> int:
        """Badness: Successful < Inconclusive < Error < Failed (Argo's order)."""
        return _PHASE_RANK[self]


_PHASE_RANK = {Phase.SUCCESSFUL: 0, Phase.INCONCLUSIVE: 1, Phase.ERROR: 2, Phase.FAILED: 3}


def worst_phase(phases: Iterable[Phase]) -> Phase:
    """The worst of ``phases`` (Argo: a run takes its worst metric's phase); SUCCESSFUL for
    none."""
    return max(phases, key=lambda p: p.rank, default=Phase.SUCCESSFUL)
