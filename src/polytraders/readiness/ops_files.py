"""Does the repository's monitoring cover a bot? Grafana dashboards under ``ops/grafana/`` and
Prometheus alerting rules under ``ops/prometheus/`` (seed 002, Runtime items 6 "Dashboard live
in the team Grafana" and 7 "Alerts wired to the correct severity tier"; issue 19 builds them).

**Which queries cover a bot.** The desk's per-bot metrics carry the label ``bot_id``
(:mod:`polytraders.ops.metrics`); alerts may also carry ``bot``. A query covers bot ``B`` when
one of its label matchers on ``bot_id`` or ``bot`` (PromQL ``label="v"``, ``label=~"re"``,
single or double quotes or backticks; SQL ``bot_id = 'v'`` or ``bot_id IN ('v', …)``)

- equals ``B`` (``=``), or is a regular expression matching all of ``B`` (``=~``, anchored as
  Prometheus anchors it), or
- refers to a dashboard variable (``$name``, ``${name}``, ``${name:fmt}``, ``[[name]]``) that
  the dashboard defines in ``templating.list`` (a panel templated by bot covers every bot).

An alerting rule also covers ``B`` when its ``labels`` say ``bot``/``bot_id`` = ``B``, or when
its expression aggregates ``by (…, bot_id, …)`` (one alert per bot) without a matcher that
excludes ``B``.

**Dashboards**: every ``*.json`` below ``ops/grafana/`` holding ``panels`` (or a
``dashboard`` object that does, as the HTTP API exports it); panels nest in collapsed rows
(``panels[].panels``); each target's ``expr`` (Prometheus) or ``rawSql`` (PostgreSQL) is a
query. **Rules**: every ``*.yml`` / ``*.yaml`` directly under ``ops/prometheus/`` holding
``groups`` (promtool test files hold ``tests`` and are skipped), parsed with PyYAML's
``safe_load``; a rule with an ``alert`` key is an alerting rule, its tier is
``labels.severity`` (P0, P1 or P2; anything else is a wiring fault).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import msgspec
import yaml

from polytraders.readiness.evidence import Evidence, EvidenceKind, ItemStatus, file_evidence

GRAFANA_DIR = "ops/grafana"
PROMETHEUS_DIR = "ops/prometheus"
TIERS = ("P0", "P1", "P2")
BOT_LABELS = ("bot_id", "bot")

_MATCHER = re.compile(
    r"\b(?P<label>bot_id|bot)\s*(?P<op>=~|!=|!~|=)\s*"
    r"(?:\"(?P<dq>(?:[^\"\\]|\\.)*)\"|'(?P<sq>(?:[^'\\]|\\.)*)'|`(?P<bq>[^`]*)`)"
)
_SQL_IN = re.compile(r"\b(?:bot_id|bot)\s+in\s*\((?P<values>[^)]*)\)", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_BY_BOT = re.compile(r"\bby\s*\([^)]*\bbot_id\b[^)]*\)")


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    """What a check of monitoring files found.

    Fields: ``status`` PASS or FAIL; ``detail`` one or two sentences; ``evidence`` the
    files read (digests) or the missing folder; ``covering`` where the bot is covered
    (``file#panel title`` or ``file#alert name (tier)``).
    """

    status: ItemStatus
    detail: str
    evidence: tuple[Evidence, ...]
    covering: tuple[str, ...] = ()


def _missing(folder: str, what: str) -> Coverage:
    return Coverage(
        status=ItemStatus.FAIL,
        detail=f"no {what} under {folder}/ (issue 19 builds them)",
        evidence=(Evidence(kind=EvidenceKind.FILE, ref=f"{folder}/", digest="", result="missing"),),
    )


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _refers(value: str, variables: Collection[str]) -> bool:
    names = (next(g for g in m.groups() if g) for m in _VARIABLE.finditer(value))
    return any(name in variables for name in names)


def _value_covers(op: str, value: str, bot_id: str, variables: Collection[str]) -> bool:
    if _refers(value, variables):
        return op in ("=", "=~", "in")
    if op in ("=", "in"):
        return value == bot_id
    if op == "=~":
        try:
            return re.fullmatch(value, bot_id) is not None
        except re.error:
            return False
    return False


def _excludes(query: str, bot_id: str) -> bool:
    """True when a negative matcher (``!=``, ``!~``) on the bot label rules ``bot_id`` out."""
    for m in _MATCHER.finditer(query):
        value = _unescape(m.group("dq") or m.group("sq") or m.group("bq") or "")
        if m.group("op") == "!=" and value == bot_id:
            return True
        if m.group("op") == "!~":
            try:
                if re.fullmatch(value, bot_id) is not None:
                    return True
            except re.error:
                continue
    return False


def query_covers(query: str, bot_id: str, variables: Collection[str] = ()) -> bool:
    """True when ``query`` selects ``bot_id`` by a label matcher (rules in the module
    docstring); ``variables`` are the dashboard's variable names."""
    if _excludes(query, bot_id):
        return False
    for m in _MATCHER.finditer(query):
        value = m.group("dq") if m.group("dq") is not None else m.group("sq") or m.group("bq")
        if _value_covers(m.group("op"), _unescape(value or ""), bot_id, variables):
            return True
    for m in _SQL_IN.finditer(query):
        for raw in m.group("values").split(","):
            if _value_covers("in", raw.strip().strip("'\""), bot_id, variables):
                return True
    return False


def _panels(panels: Any) -> Iterator[dict[str, Any]]:
    for panel in panels if isinstance(panels, list) else []:
        if isinstance(panel, dict):
            yield panel
            yield from _panels(panel.get("panels"))


def _queries(panel: dict[str, Any]) -> Iterator[str]:
    targets = panel.get("targets")
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, dict):
            for key in ("expr", "rawSql"):
                if isinstance(target.get(key), str):
                    yield target[key]


def dashboard_coverage(repo: Path, bot_id: str) -> Coverage:
    """Runtime item 6: a Grafana dashboard under ``ops/grafana/`` with a panel whose query
    names ``bot_id`` or is templated by bot. FAIL when the folder or every dashboard is
    missing, when a dashboard file is not valid JSON, or when no panel covers the bot."""
    folder = repo / GRAFANA_DIR
    files = sorted(folder.rglob("*.json")) if folder.is_dir() else []
    evidence: list[Evidence] = []
    covering: list[str] = []
    broken: list[str] = []
    dashboards = 0
    for path in files:
        relative = path.relative_to(repo).as_posix()
        evidence.append(file_evidence(repo, relative))
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            broken.append(f"{relative}: {exc}")
            continue
        if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict):
            doc = doc["dashboard"]
        if not isinstance(doc, dict) or not isinstance(doc.get("panels"), list):
            continue
        dashboards += 1
        templating = doc.get("templating")
        entries = templating.get("list") if isinstance(templating, dict) else None
        variables = {
            v["name"]
            for v in (entries if isinstance(entries, list) else [])
            if isinstance(v, dict) and isinstance(v.get("name"), str)
        }
        for panel in _panels(doc["panels"]):
            if any(query_covers(q, bot_id, variables) for q in _queries(panel)):
                covering.append(f"{relative}#{panel.get('title', panel.get('id', '?'))}")
    if broken:
        return Coverage(
            status=ItemStatus.FAIL,
            detail="dashboard file(s) not valid JSON: " + "; ".join(broken),
            evidence=tuple(evidence),
        )
    if dashboards == 0:
        missing = _missing(GRAFANA_DIR, "Grafana dashboard")
        return Coverage(
            status=ItemStatus.FAIL, detail=missing.detail, evidence=(*missing.evidence, *evidence)
        )
    if not covering:
        return Coverage(
            status=ItemStatus.FAIL,
            detail=f"{dashboards} dashboard(s), no panel whose query names {bot_id} or is "
            "templated by bot",
            evidence=tuple(evidence),
        )
    return Coverage(
        status=ItemStatus.PASS,
        detail=f"{len(covering)} panel(s) cover {bot_id}: {', '.join(covering[:3])}"
        + (" …" if len(covering) > 3 else ""),
        evidence=tuple(evidence),
        covering=tuple(covering),
    )


def _rule_covers(rule: dict[str, Any], bot_id: str) -> bool:
    labels = rule.get("labels")
    if isinstance(labels, dict) and any(labels.get(name) == bot_id for name in BOT_LABELS):
        return True
    expr = rule.get("expr")
    if not isinstance(expr, str):
        return False
    if query_covers(expr, bot_id):
        return True
    return bool(_BY_BOT.search(expr)) and not _excludes(expr, bot_id)


def alert_rule_coverage(repo: Path, bot_id: str) -> Coverage:
    """Runtime item 7: Prometheus alerting rules under ``ops/prometheus/`` with a severity
    tier P0/P1/P2 covering ``bot_id``. FAIL when the folder or every rule file is missing, a
    file is not valid YAML, an alerting rule has no valid tier, or no rule covers the bot."""
    folder = repo / PROMETHEUS_DIR
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []
    evidence: list[Evidence] = []
    covering: list[str] = []
    faults: list[str] = []
    rule_files = 0
    for path in files:
        relative = path.relative_to(repo).as_posix()
        evidence.append(file_evidence(repo, relative))
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            faults.append(f"{relative}: not valid YAML ({' '.join(str(exc).split())})")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
            continue
        rule_files += 1
        for group in doc["groups"]:
            rules = group.get("rules") if isinstance(group, dict) else None
            for rule in rules if isinstance(rules, list) else []:
                if not isinstance(rule, dict) or "alert" not in rule:
                    continue
                labels = rule.get("labels") if isinstance(rule.get("labels"), dict) else {}
                tier = labels.get("severity") if isinstance(labels, dict) else None
                if tier not in TIERS:
                    faults.append(
                        f"{relative}#{rule['alert']}: severity {tier!r} is not P0, P1 or P2"
                    )
                    continue
                if _rule_covers(rule, bot_id):
                    covering.append(f"{relative}#{rule['alert']} ({tier})")
    if faults:
        return Coverage(
            status=ItemStatus.FAIL, detail="; ".join(faults[:5]), evidence=tuple(evidence)
        )
    if rule_files == 0:
        missing = _missing(PROMETHEUS_DIR, "Prometheus rule file")
        return Coverage(
            status=ItemStatus.FAIL, detail=missing.detail, evidence=(*missing.evidence, *evidence)
        )
    if not covering:
        return Coverage(
            status=ItemStatus.FAIL,
            detail=f"{rule_files} rule file(s), no alerting rule covers {bot_id}",
            evidence=tuple(evidence),
        )
    tiers = sorted({c.rsplit("(", 1)[1].rstrip(")") for c in covering})
    return Coverage(
        status=ItemStatus.PASS,
        detail=f"{len(covering)} alerting rule(s) cover {bot_id}, tiers {', '.join(tiers)}",
        evidence=tuple(evidence),
        covering=tuple(covering),
    )
