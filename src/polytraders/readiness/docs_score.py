"""The Docs score (seed 002: "Docs 27"): a bot's spec ``docs/bots/<bot_id>.md`` has the 27
sections, each with its canonical title and a non-empty body, and the sections that state
facts of the code agree with the code.

Item N is spec section N (:data:`~polytraders.readiness.spec.SECTION_TITLES`). It passes only
when the section exists once, under its title, with a body, and — for the sections in
:data:`CHECKED_SECTIONS` — when what it states equals what the code declares:

- 2 Class and authority: `` `bot_class = …` `` and `` `capabilities = {…}` `` (or
  ``frozenset()``) equal the class's ``bot_class`` and ``capabilities``;
- 7 Parameters: a table with columns field (or parameter), type, default and hard limits, one
  row per field of the bot's pydantic ``Config`` and nothing else; the type as
  :func:`~polytraders.readiness.spec.type_name` writes it, the default equal to
  ``Config().model_dump(mode="json")``'s, the ``[low, high]`` range equal to
  ``Config.hard_limits()`` (and none stated for a field without limits);
- 8 Defaults: the one JSON block equals ``Config().model_dump(mode="json")`` and every
  "config version `…`" stated equals ``Config().config_version``;
- 11 Search space: the one JSON block equals ``SEARCH_SPACE.to_dict()``;
- 12 Modes: every `` `mode_support` = A, B, … `` lists exactly the class's ``mode_support``;
- 13 Reason codes: a table with code, severity and summary (or meaning) columns listing
  exactly the bot's ``reason_codes``, each with the registry's severity and summary;
- 14 User messages: `` - `CODE`: message `` items or a two-column code table, exactly the
  bot's codes, each with the registry's ``user_message``;
- 18 Latency budget: the ``| budget | value |`` table states every field of the class's
  ``RUNTIME_BUDGET`` (:func:`~polytraders.readiness.spec.budget_table`);
- 21 Wire examples: every line of its JSON blocks is a valid ReportEnvelope of this bot whose
  reason codes the bot declares (at least one);
- 22 Fixtures: every listing of the fixture cases (a ``tests/fixtures/bots/<id>/{a,b}.json``
  path, ``- **case**:`` items, a table's case column) names exactly the files of
  ``tests/fixtures/bots/<bot_id>/``.

The spec and the fixture folder are read from ``ctx.repo``; the code is the installed package.
Each item's evidence is the spec file's digest plus, for a checked section, the code side it
was compared with (kind CODE, or FILE for the fixture folder).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from polytraders.bots.registry import bot_class
from polytraders.contracts.envelope import decode_envelope
from polytraders.contracts.reasons import ReasonRegistry, load_registry
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Score,
    ScoreName,
    file_evidence,
    result_evidence,
)
from polytraders.readiness.spec import (
    BUDGET_HEADER,
    SECTION_TITLES,
    Section,
    Table,
    code_blocks,
    parse_sections,
    parse_value,
    same_value,
    spec_path,
    tables,
    type_name,
    unquote,
    without_code_blocks,
)

FIXTURE_DIR = Path("tests") / "fixtures" / "bots"
"""Where each bot's fixture pack lives (``<bot_id>/<case>.json``), relative to the repo."""


class Check(NamedTuple):
    """What comparing one section with the code found: the disagreements (empty when it
    agrees), the code side as evidence, and a one-line account of what agreed."""

    problems: list[str]
    code: Evidence
    agreed: str


class _Inputs(NamedTuple):
    cls: Any
    body: str
    repo: Path
    registry: ReasonRegistry


def _ref(cls: Any, attribute: str) -> str:
    return f"{cls.__module__}:{cls.__name__}.{attribute}"


def _check_class(i: _Inputs) -> Check:
    declared_class = i.cls.bot_class.value
    declared_caps = sorted(c.value for c in i.cls.capabilities)
    problems = []
    classes = re.findall(r"`bot_class = (\w+)`", i.body)
    if not classes:
        problems.append("no `bot_class = …` statement")
    problems += [
        f"states bot_class = {c}, the class declares {declared_class}"
        for c in classes
        if c != declared_class
    ]
    stated = re.findall(r"`capabilities = (frozenset\(\)|\{[^}`]*\})`", i.body)
    if not stated:
        problems.append("no `capabilities = {…}` statement")
    for text in stated:
        inner = "" if text == "frozenset()" else text[1:-1]
        caps = sorted(c.strip() for c in inner.split(",") if c.strip())
        if caps != declared_caps:
            problems.append(
                f"states capabilities {{{', '.join(caps)}}}, the class declares "
                f"{{{', '.join(declared_caps)}}}"
            )
    code = {"bot_class": declared_class, "capabilities": declared_caps}
    summary = f"bot_class {declared_class}, capabilities {{{', '.join(declared_caps)}}}"
    return Check(
        problems,
        result_evidence(EvidenceKind.CODE, _ref(i.cls, "bot_class,capabilities"), code, summary),
        summary,
    )


def _find_table(
    found: Iterable[Table], *columns: tuple[str, ...]
) -> tuple[Table, list[int]] | None:
    """The first table having, for each group of ``columns``, one of its names, with the index
    of that column per group; None when no table has them all."""
    for table in found:
        indexes = [table.column(*group) for group in columns]
        if all(index is not None for index in indexes):
            return table, [index for index in indexes if index is not None]
    return None


def _rows(table: Table, key_column: int, what: str) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """A table's rows by their unquoted key cell, and the problems of its shape (rows with the
    wrong number of cells, repeated keys)."""
    problems = []
    rows: dict[str, tuple[str, ...]] = {}
    for number, row in enumerate(table.rows, start=1):
        if len(row) != len(table.header):
            problems.append(
                f"{what} table row {number} has {len(row)} cells, its header {len(table.header)}"
            )
            continue
        key = unquote(row[key_column])
        if key in rows:
            problems.append(f"{what} table lists `{key}` twice")
        rows[key] = row
    return rows, problems


def _membership(listed: Iterable[str], declared: Iterable[str], what: str) -> list[str]:
    listed, declared = set(listed), set(declared)
    problems = []
    if declared - listed:
        problems.append(f"{what} missing: {', '.join(sorted(declared - listed))}")
    if listed - declared:
        problems.append(f"{what} not declared by the code: {', '.join(sorted(listed - declared))}")
    return problems


_RANGE = re.compile(r"\[\s*([^\[\],]+?)\s*,\s*([^\[\],]+?)\s*\]")
_NO_LIMIT = {"None", "—", "-", "-∞", "∞", "+∞"}


def _limit(text: str) -> Any:
    """One end of a stated ``[low, high]``: a number, or None for an open end.

    Raises:
        ValueError: neither.
    """
    if text in _NO_LIMIT:
        return None
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {text!r}")
    return value


def _same_limit(stated: Any, declared: Any) -> bool:
    if stated is None or declared is None:
        return stated is declared
    return bool(stated == declared)


def _check_limits(name: str, cell: str, limits: tuple[Any, Any] | None) -> list[str]:
    ranges = _RANGE.findall(cell)
    if limits is None:
        return [f"`{name}` states hard limits {cell!r}; the Config declares none"] if ranges else []
    shown = f"[{limits[0]}, {limits[1]}]"
    if len(ranges) != 1:
        return [f"`{name}` hard limits {cell!r}: expected one range {shown}"]
    try:
        low, high = (_limit(end) for end in ranges[0])
    except ValueError as exc:
        return [f"`{name}` hard limits {cell!r}: {exc}"]
    if not (_same_limit(low, limits[0]) and _same_limit(high, limits[1])):
        return [f"`{name}` hard limits {cell!r} in the spec, {shown} in the Config"]
    return []


def _check_parameters(i: _Inputs) -> Check:
    config = i.cls.Config
    fields = config.model_fields
    defaults = config().model_dump(mode="json")
    limits = config.hard_limits()
    code = {
        name: {
            "type": type_name(info.annotation),
            "default": defaults[name],
            "hard_limits": list(limits[name]) if name in limits else None,
        }
        for name, info in fields.items()
    }
    evidence = result_evidence(
        EvidenceKind.CODE,
        f"{config.__module__}:{config.__name__}",
        code,
        f"{len(fields)} fields with types, defaults and hard limits",
    )
    found = _find_table(
        tables(i.body), ("field", "parameter"), ("type",), ("default",), ("hard limits",)
    )
    if found is None:
        problem = "no table with columns field (or parameter), type, default, hard limits"
        return Check([problem], evidence, "")
    table, (name_col, type_col, default_col, limits_col) = found
    rows, problems = _rows(table, name_col, "parameters")
    problems += _membership(rows, fields, "fields")
    for name, row in rows.items():
        if name not in fields:
            continue
        stated_type, declared_type = unquote(row[type_col]), code[name]["type"]
        if stated_type != declared_type:
            problems.append(
                f"`{name}` type {stated_type} in the spec, {declared_type} in the Config"
            )
        cell = row[default_col]
        try:
            stated = parse_value(cell)
        except ValueError:
            problems.append(f"`{name}` default {cell!r} is not a value")
        else:
            if not same_value(stated, defaults[name]):
                problems.append(
                    f"`{name}` default {json.dumps(stated)} in the spec, "
                    f"{json.dumps(defaults[name])} in the Config"
                )
        problems += _check_limits(name, row[limits_col], limits.get(name))
    return Check(problems, evidence, f"{len(fields)} fields agree with {config.__name__}")


def _one_json_block(body: str, what: str) -> tuple[Any, list[str]]:
    blocks = code_blocks(body, "json")
    if len(blocks) != 1:
        return None, [f"{len(blocks)} JSON blocks, expected one holding the {what}"]
    try:
        return json.loads(blocks[0]), []
    except json.JSONDecodeError as exc:
        return None, [f"the {what} block is not JSON: {exc}"]


def _dict_differences(stated: Any, declared: dict[str, Any]) -> list[str]:
    if not isinstance(stated, dict):
        return [f"the JSON is a {type(stated).__name__}, not an object"]
    problems = _membership(stated, declared, "keys")
    problems += [
        f"`{key}` is {json.dumps(stated[key])} in the spec, {json.dumps(declared[key])} in the code"
        for key in declared
        if key in stated and not same_value(stated[key], declared[key])
    ]
    return problems


_VERSION = re.compile(r"config[ _]version\b[^\n]*?`([0-9a-f]{16})`", re.IGNORECASE)


def _check_defaults(i: _Inputs) -> Check:
    config = i.cls.Config()
    declared = config.model_dump(mode="json")
    version = config.config_version
    evidence = result_evidence(
        EvidenceKind.CODE,
        f"{type(config).__module__}:{type(config).__name__}()",
        {"defaults": declared, "config_version": version},
        f"defaults of {len(declared)} fields, config_version {version}",
    )
    stated, problems = _one_json_block(i.body, "defaults")
    if not problems:
        problems = _dict_differences(stated, declared)
    versions = _VERSION.findall(without_code_blocks(i.body))
    if not versions:
        problems.append("no config version `…` stated")
    problems += [
        f"states config version {v}, the defaults' is {version}" for v in versions if v != version
    ]
    return Check(problems, evidence, f"defaults and config_version {version} agree")


def _check_search_space(i: _Inputs) -> Check:
    declared = i.cls.SEARCH_SPACE.to_dict()
    names = [p["name"] for p in declared]
    evidence = result_evidence(
        EvidenceKind.CODE,
        _ref(i.cls, "SEARCH_SPACE"),
        declared,
        f"{len(declared)} parameters" if declared else "empty",
    )
    stated, problems = _one_json_block(i.body, "search space")
    if problems:
        return Check(problems, evidence, "")
    if not isinstance(stated, list) or not all(isinstance(p, dict) for p in stated):
        return Check(["the search space JSON is not a list of parameters"], evidence, "")
    by_name = {str(p.get("name")): p for p in stated}
    problems = _membership(by_name, names, "parameters")
    problems += [
        f"`{p['name']}` is {json.dumps(by_name[p['name']])} in the spec, {json.dumps(p)} in "
        "SEARCH_SPACE"
        for p in declared
        if p["name"] in by_name and not same_value(by_name[p["name"]], p)
    ]
    if not problems and not same_value(stated, declared):
        problems.append("the parameters are listed in another order than SEARCH_SPACE's")
    agreed = f"{len(declared)} parameters agree with SEARCH_SPACE" if declared else "[]: empty"
    return Check(problems, evidence, agreed)


def _check_modes(i: _Inputs) -> Check:
    declared = sorted(m.value for m in i.cls.mode_support)
    evidence = result_evidence(
        EvidenceKind.CODE, _ref(i.cls, "mode_support"), declared, ", ".join(declared)
    )
    statements = re.findall(r"`mode_support` = ([A-Z_]+(?:, [A-Z_]+)*)", i.body)
    problems = [] if statements else ["no `mode_support` = … statement"]
    for statement in statements:
        modes = statement.split(", ")
        if sorted(modes) != declared:
            problems.append(f"states mode_support = {statement}; declared: {', '.join(declared)}")
    return Check(problems, evidence, f"modes {', '.join(declared)}")


def _codes_evidence(i: _Inputs, fields: tuple[str, ...]) -> Evidence:
    codes = sorted(i.cls.reason_codes)
    data = {
        c: {f: str(getattr(i.registry[c], f)) for f in fields} if c in i.registry else None
        for c in codes
    }
    return result_evidence(
        EvidenceKind.CODE,
        f"{_ref(i.cls, 'reason_codes')} + polytraders.contracts.reasons:load_registry()",
        data,
        f"{len(codes)} codes",
    )


def _registered(codes: Iterable[str], registry: ReasonRegistry) -> list[str]:
    return [f"`{c}` is not in the reason-code registry" for c in sorted(codes) if c not in registry]


def _check_reason_codes(i: _Inputs) -> Check:
    evidence = _codes_evidence(i, ("severity", "summary"))
    found = _find_table(tables(i.body), ("code",), ("severity",), ("summary", "meaning"))
    if found is None:
        return Check(["no table with columns code, severity, summary (or meaning)"], evidence, "")
    table, (code_col, severity_col, summary_col) = found
    rows, problems = _rows(table, code_col, "reason-code")
    problems += _membership(rows, i.cls.reason_codes, "codes")
    problems += _registered(i.cls.reason_codes, i.registry)
    for code, row in rows.items():
        if code not in i.registry or code not in i.cls.reason_codes:
            continue
        entry = i.registry[code]
        severity, summary = row[severity_col], row[summary_col]
        if severity != entry.severity.value:
            problems.append(
                f"`{code}` severity {severity} in the spec, {entry.severity.value} registered"
            )
        if summary != entry.summary:
            problems.append(f"`{code}` summary differs from the registry's: {entry.summary!r}")
    count = len(i.cls.reason_codes)
    return Check(problems, evidence, f"{count} codes with the registry's severity and summary")


_MESSAGE_ITEM = re.compile(r"^- `([A-Z][A-Z0-9_]*)`: (.+)$", re.MULTILINE)


def _check_user_messages(i: _Inputs) -> Check:
    evidence = _codes_evidence(i, ("user_message",))
    pairs = [(m.group(1), m.group(2).strip()) for m in _MESSAGE_ITEM.finditer(i.body)]
    for table in tables(i.body):
        if table.column("code") == 0 and len(table.header) == 2:
            pairs += [(unquote(r[0]), r[1]) for r in table.rows if len(r) == 2]
    problems = [
        f"`{c}` is given {n} messages" for c, n in Counter(c for c, _ in pairs).items() if n > 1
    ]
    stated = dict(pairs)
    problems += _membership(stated, i.cls.reason_codes, "codes")
    problems += _registered(i.cls.reason_codes, i.registry)
    problems += [
        f"`{code}` message differs from the registry's: {i.registry[code].user_message!r}"
        for code, message in stated.items()
        if code in i.registry
        and code in i.cls.reason_codes
        and message != i.registry[code].user_message
    ]
    count = len(i.cls.reason_codes)
    return Check(problems, evidence, f"{count} user messages equal the registry's")


def _check_budget(i: _Inputs) -> Check:
    budget = getattr(i.cls, "RUNTIME_BUDGET", None)
    declared = msgspec.structs.asdict(budget) if budget is not None else {}
    evidence = result_evidence(
        EvidenceKind.CODE,
        _ref(i.cls, "RUNTIME_BUDGET"),
        declared,
        "p95 {decision_p95_us} µs, p99 {decision_p99_us} µs, {error_rate_max_ppm} ppm, "
        "band {reject_rate_min_bps}–{reject_rate_max_bps} bps".format(**declared)
        if declared
        else "no RUNTIME_BUDGET",
    )
    if not declared:
        return Check(["the class declares no RUNTIME_BUDGET"], evidence, "")
    table = next((t for t in tables(i.body) if t.header == BUDGET_HEADER), None)
    if table is None:
        return Check([f"no | {' | '.join(BUDGET_HEADER)} | table"], evidence, "")
    rows, problems = _rows(table, 0, "budget")
    problems += _membership(rows, declared, "budget fields")
    for name, row in rows.items():
        if name not in declared:
            continue
        value = declared[name]
        if isinstance(value, int):
            try:
                agrees = same_value(parse_value(row[1]), value)
            except ValueError:
                agrees = False
        else:
            agrees = row[1] == value
        if not agrees:
            problems.append(f"`{name}` is {row[1]!r} in the spec, {value!r} in RUNTIME_BUDGET")
    return Check(problems, evidence, f"RUNTIME_BUDGET stated: {evidence.result}")


def _check_wire_examples(i: _Inputs) -> Check:
    declared = sorted(i.cls.reason_codes)
    evidence = result_evidence(
        EvidenceKind.CODE,
        _ref(i.cls, "bot_id,reason_codes"),
        {"bot_id": i.cls.bot_id, "reason_codes": declared},
        f"{i.cls.bot_id}, {len(declared)} codes",
    )
    lines = [line for block in code_blocks(i.body, "json") for line in block.splitlines()]
    lines = [line for line in lines if line.strip()]
    problems = [] if lines else ["no envelope in a JSON block"]
    for number, line in enumerate(lines, start=1):
        try:
            envelope = decode_envelope(line)
        except msgspec.DecodeError as exc:
            problems.append(f"line {number} is not a ReportEnvelope: {exc}")
            continue
        if envelope.bot_id != i.cls.bot_id:
            problems.append(f"line {number} is an envelope of {envelope.bot_id}")
        undeclared = sorted(set(envelope.reason_codes) - set(declared))
        if undeclared:
            problems.append(f"line {number} carries undeclared codes {', '.join(undeclared)}")
    return Check(problems, evidence, f"{len(lines)} envelopes of {i.cls.bot_id}")


def _listed_cases(bot_id: str, body: str) -> list[tuple[str, list[str]]]:
    """Every listing of fixture cases in section 22: (how it was found, the cases)."""
    listings = []
    folder = re.escape(f"{FIXTURE_DIR.as_posix()}/{bot_id}/")
    for match in re.finditer(folder + r"\{([^}]*)\}\.json", body):
        listings.append(("path", [c.strip() for c in match.group(1).split(",")]))
    items = re.findall(r"^- \*\*([\w.-]+)\*\*:", body, re.MULTILINE)
    if items:
        listings.append(("items", items))
    for table in tables(body):
        column = table.column("case")
        if column is not None:
            listings.append(("table", [r[column] for r in table.rows if len(r) > column]))
    return listings


def _check_fixtures(i: _Inputs) -> Check:
    relative = FIXTURE_DIR / i.cls.bot_id
    folder = i.repo / relative
    files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    evidence = result_evidence(
        EvidenceKind.FILE,
        f"{relative.as_posix()}/",
        files,
        f"{len(files)} files" if folder.is_dir() else "missing",
    )
    problems = [] if files else [f"no fixture files in {relative.as_posix()}/"]
    problems += [
        f"{relative.as_posix()}/{f} is not a .json case" for f in files if not f.endswith(".json")
    ]
    cases = sorted(f.removesuffix(".json") for f in files if f.endswith(".json"))
    listings = _listed_cases(i.cls.bot_id, i.body)
    if not listings:
        problems.append("no listing of the fixture cases")
    for how, listed in listings:
        if sorted(listed) != cases:
            problems.append(
                f"the {how} listing names {', '.join(listed)}; the folder holds "
                f"{', '.join(cases) or 'nothing'}"
            )
    return Check(problems, evidence, f"cases {', '.join(cases)} listed")


CHECKED_SECTIONS: dict[int, Callable[[_Inputs], Check]] = {
    2: _check_class,
    7: _check_parameters,
    8: _check_defaults,
    11: _check_search_space,
    12: _check_modes,
    13: _check_reason_codes,
    14: _check_user_messages,
    18: _check_budget,
    21: _check_wire_examples,
    22: _check_fixtures,
}
"""The sections compared with the code, by number."""


def _structure(number: int, found: list[Section]) -> str:
    """Why section ``number`` is not usable ("" when it exists once, titled, non-empty)."""
    title = SECTION_TITLES[number - 1]
    if not found:
        return f"section {number} ({title}) is missing"
    if len(found) > 1:
        return f"{len(found)} sections are numbered {number}"
    if found[0].title != title:
        return f"section {number} is titled {found[0].title!r}, expected {title!r}"
    if not found[0].body:
        return f"section {number} ({title}) is empty"
    return ""


def docs_score(bot_id: str, ctx: ReadinessContext) -> Score:
    """The Docs score of ``bot_id``: 27 items, item N = spec section N (module docstring).

    Raises:
        KeyError: ``bot_id`` is not a library bot.
    """
    cls = bot_class(bot_id)
    relative = spec_path(bot_id)
    spec = file_evidence(ctx.repo, relative)
    if spec.result == "missing":
        detail = f"{relative.as_posix()} is missing"
        return Score(
            bot_id=bot_id,
            name=ScoreName.DOCS,
            items=tuple(
                ChecklistItem(
                    number=n, title=t, status=ItemStatus.FAIL, detail=detail, evidence=(spec,)
                )
                for n, t in enumerate(SECTION_TITLES, start=1)
            ),
        )
    sections = parse_sections((ctx.repo / relative).read_text(encoding="utf-8"))
    registry = load_registry()
    items = []
    for number, title in enumerate(SECTION_TITLES, start=1):
        found = [s for s in sections if s.number == number]
        problem = _structure(number, found)
        evidence: tuple[Evidence, ...] = (spec,)
        if problem:
            status, detail = ItemStatus.FAIL, problem
        elif number in CHECKED_SECTIONS:
            check = CHECKED_SECTIONS[number](_Inputs(cls, found[0].body, ctx.repo, registry))
            evidence = (spec, check.code)
            if check.problems:
                status, detail = ItemStatus.FAIL, f"section {number}: " + "; ".join(check.problems)
            else:
                status, detail = ItemStatus.PASS, f"section {number}: {check.agreed}"
        else:
            status = ItemStatus.PASS
            detail = f"section {number} present with {len(found[0].body)} characters"
        items.append(
            ChecklistItem(
                number=number, title=title, status=status, detail=detail, evidence=evidence
            )
        )
    return Score(bot_id=bot_id, name=ScoreName.DOCS, items=tuple(items))
