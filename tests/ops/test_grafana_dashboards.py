"""The Grafana dashboards of ``ops/grafana/``: every panel's PromQL names only metrics the
project exports (read from the prometheus-client registry objects of ``polytraders.ops``) or
recording rules of ``ops/prometheus/``; every SQL panel reads only tables and columns of the
store's schema (``polytraders.store.schema.metadata``); every data source is provisioned."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot
import yaml
from prometheus_client import CollectorRegistry
from sqlglot import exp

from polytraders.bots.registry import BOTS
from polytraders.ops.metrics import DeskMetrics
from polytraders.ops.venue_metrics import VenueMetrics
from polytraders.readiness.evidence import ItemStatus
from polytraders.readiness.ops_files import alert_rule_coverage, dashboard_coverage
from polytraders.store import schema
from tests.conftest import REPO

GRAFANA = REPO / "ops" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "stateset": ("",),
}
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def exported_metrics() -> set[str]:
    """Every sample name the desk's and the venue's registries can export."""
    desk = DeskMetrics({b: c.RUNTIME_BUDGET for b, c in BOTS.items()})
    VenueMetrics(desk.registry)
    names: set[str] = set()
    registry: CollectorRegistry = desk.registry
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def recording_rules() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "ops" / "prometheus").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8")).get("groups", []):
            names.update(r["record"] for r in group["rules"] if "record" in r)
    return names


def promql_metric_names(expr: str) -> set[str]:
    """The metric (or recorded series) names a PromQL expression selects: identifiers that
    are not in strings, label matchers, grouping clauses, ranges, function calls, keywords
    or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', "", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        if m.group(2) or m.group(1).lower() in _KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _targets() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for panel in _panels(doc["panels"]):
            for target in panel.get("targets", []):
                yield f"{path.name}#{panel['title']}", target


def _grafana_macros(sql: str) -> str:
    """Grafana's macros and variables replaced by what they expand to (numbers, literals)."""
    sql = re.sub(r"\$__unixEpochNano(From|To)\(\)", "0", sql)
    return re.sub(r"\$\{?(\w+)\}?", r"\1", sql)


def sql_columns(sql: str) -> list[tuple[str, str]]:
    """(table, column) for every column a query reads, aliases resolved to store tables;
    an unqualified column resolves to the one FROM/JOIN table that has it.

    Raises:
        AssertionError: an unknown table, an alias of nothing, or an unresolvable column.
    """
    tree = sqlglot.parse_one(_grafana_macros(sql), read="postgres")
    tables = schema.metadata.tables
    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        assert table.name in tables, f"no table {table.name!r} in the store"
        aliases[table.alias_or_name] = table.name
    outputs = {a.alias for a in tree.find_all(exp.Alias)}
    found: list[tuple[str, str]] = []
    for column in tree.find_all(exp.Column):
        if column.table:
            if column.table not in aliases:
                continue  # a derived table's output (checked inside it)
            found.append((aliases[column.table], column.name))
        elif column.name not in outputs:
            owners = [t for t in set(aliases.values()) if column.name in tables[t].c]
            assert len(owners) == 1, f"column {column.name!r} in {owners or 'no table'}"
            found.append((owners[0], column.name))
    return found


def test_there_are_four_dashboards() -> None:
    assert [p.name for p in DASHBOARDS] == [
        "bot.json",
        "desk-overview.json",
        "execution-quality.json",
        "venue-health.json",
    ]


def test_every_promql_query_names_exported_metrics_or_recording_rules() -> None:
    known = exported_metrics() | recording_rules()
    assert "polytraders_bot_decision_latency_ms_bucket" in known
    assert "polytraders_venue_request_latency_seconds_bucket" in known
    queries = 0
    for where, target in _targets():
        if target["datasource"]["type"] != "prometheus":
            continue
        queries += 1
        names = promql_metric_names(target["expr"])
        assert names, f"{where}: no metric in {target['expr']!r}"
        assert names <= known, f"{where}: unknown {sorted(names - known)}"
    assert queries >= 30


def test_every_sql_query_reads_existing_tables_and_columns() -> None:
    queries = 0
    for where, target in _targets():
        if target["datasource"]["type"] != "grafana-postgresql-datasource":
            continue
        queries += 1
        for table, column in sql_columns(target["rawSql"]):
            assert column in schema.metadata.tables[table].c, f"{where}: no {table}.{column}"
    assert queries >= 6


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (bot_id) (rate(a_total{bot_id="x"}[5m])) / b', {"a_total", "b"}),
        ("histogram_quantile(0.9, sum by (le) (rate(c_bucket[$__rate_interval])))", {"c_bucket"}),
        ("x:y:rate1h > on (bot_id) (14.4 * max by (bot_id) (z))", {"x:y:rate1h", "z"}),
    ],
)
def test_the_promql_reader(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_the_sql_reader_refuses_unknown_columns_and_tables() -> None:
    assert sql_columns("SELECT e.bot_id, count(*) AS n FROM envelopes e GROUP BY e.bot_id") == [
        ("envelopes", "bot_id"),
        ("envelopes", "bot_id"),
    ]
    with pytest.raises(AssertionError, match="no table 'trades'"):
        sql_columns("SELECT t.price FROM trades t")
    with pytest.raises(AssertionError, match="'pnl'"):
        sql_columns("SELECT pnl FROM fills")
    ((table, column),) = sql_columns("SELECT f.pnl FROM fills f")
    assert column not in schema.metadata.tables[table].c


def test_every_data_source_is_provisioned() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "polytraders.yml").read_text(encoding="utf-8")
    )
    by_uid = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    for where, target in _targets():
        source = target["datasource"]
        assert by_uid.get(source["uid"]) == source["type"], where


def test_the_runtime_score_sees_every_bot_covered() -> None:
    for bot_id in BOTS:
        dashboards = dashboard_coverage(REPO, bot_id)
        alerts = alert_rule_coverage(REPO, bot_id)
        assert dashboards.status is ItemStatus.PASS, dashboards.detail
        assert alerts.status is ItemStatus.PASS, alerts.detail
        assert "P0" in alerts.detail and "P2" in alerts.detail
