"""A bot's spec ``docs/bots/<bot_id>.md`` read as data: its numbered sections and the checkable
pieces inside them (JSON code blocks, Markdown tables, backticked values).

A spec has 27 sections (issue 5; seed 002, "Docs 27"), each a level-2 heading ``## N. Title``
with :data:`SECTION_TITLES` ``[N - 1]`` as its title; a section's body is the text up to the next
such heading. The spec generators (``tests/bots/risk/make_specs.py``,
``tests/bots/strategy/spec_envelopes.py``), the spec tests and the Docs score
(:mod:`polytraders.readiness.docs_score`) all read specs through this module.
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from polytraders.contracts.budget import RuntimeBudget

SPEC_DIR = Path("docs") / "bots"
"""Where specs live, relative to the repository root."""

SECTION_TITLES: tuple[str, ...] = (
    "Purpose",
    "Class and authority",
    "Owner",
    "Inputs",
    "Outputs",
    "Decision logic",
    "Parameters",
    "Defaults",
    "Hard thresholds",
    "Warning thresholds",
    "Search space",
    "Modes",
    "Reason codes",
    "User messages",
    "Failure modes",
    "Safe fallback",
    "Dependencies",
    "Latency budget",
    "Metrics",
    "Alerts",
    "Wire examples",
    "Fixtures",
    "Backtest evidence",
    "Runbook",
    "Rollback plan",
    "Promotion status",
    "Change log",
)
"""The 27 sections of a bot spec, in order (issue 5; seed 002's "all 27 sections")."""

_HEADING = re.compile(r"^## (\d+)\. (.+?)[ \t]*$", re.MULTILINE)
_CODE_BLOCK = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")


def spec_path(bot_id: str) -> Path:
    """``docs/bots/<bot_id>.md``, relative to the repository root."""
    return SPEC_DIR / f"{bot_id}.md"


class Section(NamedTuple):
    """One ``## N. Title`` section: its number, title and body (stripped of surrounding
    whitespace; empty when the heading is followed directly by the next one)."""

    number: int
    title: str
    body: str


def parse_sections(text: str) -> list[Section]:
    """Every ``## N. Title`` section of a spec, in document order (duplicates and gaps kept:
    judging them is the caller's job)."""
    matches = list(_HEADING.finditer(text))
    sections = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        sections.append(Section(int(match.group(1)), match.group(2), body))
    return sections


def code_blocks(body: str, language: str = "json") -> list[str]:
    """The contents of the fenced code blocks (```` ```language ````) of ``body``, in order."""
    return [m.group(2) for m in _CODE_BLOCK.finditer(body) if m.group(1) == language]


def without_code_blocks(body: str) -> str:
    """``body`` with every fenced code block removed (for reading the prose around them)."""
    return _CODE_BLOCK.sub("", body)


class Table(NamedTuple):
    """A Markdown table: its header cells (lower-cased) and its rows' cells (``\\|`` unescaped,
    stripped). A row whose cell count differs from the header's is kept as it is: the reader
    reports it."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, *names: str) -> int | None:
        """The index of the first header cell equal to one of ``names`` (lower case), or None."""
        for name in names:
            if name in self.header:
                return self.header.index(name)
        return None


def _cells(line: str) -> tuple[str, ...]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return tuple(cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner))


def tables(body: str) -> list[Table]:
    """Every Markdown table of ``body`` (outside code blocks): a header row, a ``|---|`` row,
    then rows, each line starting with ``|``."""
    found: list[Table] = []
    lines = without_code_blocks(body).splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines):
            separator = _cells(lines[i + 1])
            if separator and all(_SEPARATOR_CELL.match(c) for c in separator):
                header = tuple(c.lower() for c in _cells(lines[i]))
                j = i + 2
                rows = []
                while j < len(lines) and lines[j].lstrip().startswith("|"):
                    rows.append(_cells(lines[j]))
                    j += 1
                found.append(Table(header, tuple(rows)))
                i = j
                continue
        i += 1
    return found


def unquote(cell: str) -> str:
    """A cell's text without one pair of surrounding backticks (`` `x` `` → ``x``)."""
    text = cell.strip()
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        return text[1:-1]
    return text


def parse_value(text: str) -> Any:
    """A value as a spec writes it: JSON (``"mid"``, ``1.0``, ``true``, ``[]``), or an integer
    with ``_`` or ``,`` digit separators (``10_000_000``, ``1,000``).

    Raises:
        ValueError: neither.
    """
    text = unquote(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if re.fullmatch(r"-?\d{1,3}(?:[_,]\d{3})+|-?\d+(?:_\d+)*", text):
        return int(text.replace(",", "").replace("_", ""))
    raise ValueError(f"not a value: {text!r}")


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells types apart as JSON does (``1`` ≠ ``1.0`` ≠ ``true``; key order
    ignored)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def type_name(annotation: Any) -> str:
    """How a spec names a config field's type: ``int``, ``bool``, ``str``,
    ``Literal["mid", "microprice"]``, ``tuple[SignerGrant, ...]``, ``int | None``."""
    if annotation is Ellipsis:
        return "..."
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(json.dumps(a) for a in args) + "]"
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[" + ", ".join(type_name(a) for a in args) + "]"
    return str(getattr(annotation, "__name__", annotation))


BUDGET_HEADER = ("budget", "value")
"""The header of section 18's table of the declared :class:`RuntimeBudget`."""


def budget_table(budget: RuntimeBudget) -> str:
    """Section 18's statement of a bot's ``RUNTIME_BUDGET``: one row per field (integers with
    ``,`` separators, the calibration as text), read back by the Docs score."""
    rows = [f"| {BUDGET_HEADER[0]} | {BUDGET_HEADER[1]} |", "|---|---|"]
    for name, value in msgspec.structs.asdict(budget).items():
        shown = f"{value:,}" if isinstance(value, int) else str(value).replace("|", "\\|")
        rows.append(f"| `{name}` | {shown} |")
    return "\n".join(rows)
