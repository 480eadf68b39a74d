"""Security findings in the store (SQLite and PostgreSQL): recorded open, re-scored, resolved
as second rows, listed by bot (desk-wide ones apply to every bot) as they stood at a time; a
pip-audit JSON report in its real shape ingested with scores given by id or alias, unscored
ones kept as unscored (counted above every threshold), repeats skipped; every write audited."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from polytraders.store import EventStore, schema
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.security_findings import (
    OSV_AUDIT,
    UNSCORED,
    FindingState,
    ReportedVulnerability,
    cvss_text,
    findings,
    get_finding,
    ingest_pip_audit,
    ingest_report,
    open_intervals,
    parse_cvss,
    parse_pip_audit,
    record_finding,
    resolve_finding,
)

S = 1_000_000_000
H = 3_600 * S
T0 = 1_767_225_600 * S
BOTS = {"risk.killswitch", "exec.smartrouter"}

# pip-audit 2.x ``--format json --desc --aliases`` output: the shape of
# pip_audit/_format/json.py (dependencies with vulns, skipped dependencies, fixes)
REPORT = {
    "dependencies": [
        {
            "name": "urllib3",
            "version": "1.26.4",
            "vulns": [
                {
                    "id": "PYSEC-2021-108",
                    "fix_versions": ["1.26.5"],
                    "aliases": ["CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg"],
                    "description": "ReDoS in the authority regex.",
                },
                {
                    "id": "GHSA-v845-jxx5-vc9f",
                    "fix_versions": ["1.26.17", "2.0.6"],
                    "aliases": ["CVE-2023-43804"],
                    "description": "Cookie header not stripped on cross-origin redirects.",
                },
            ],
        },
        {"name": "msgspec", "version": "0.19.0", "vulns": []},
        {"name": "polytraders", "skip_reason": "Dependency not found on PyPI"},
    ],
    "fixes": [],
}


def _record(store: EventStore, bot: str = "risk.killswitch", **kwargs: object) -> str:
    values: dict[str, object] = {
        "bot_id": bot,
        "vulnerability_id": "GHSA-aaaa-bbbb-cccc",
        "cvss_score_tenths": 75,
        "operator": "ana",
        "known_bots": BOTS,
        "package": "requests",
        "version": "2.31.0",
        "ts_ns": T0,
    }
    values.update(kwargs)
    return record_finding(store, **values).finding_id  # type: ignore[arg-type]


def test_cvss_text_is_parsed_exactly_in_tenths() -> None:
    assert [parse_cvss(t) for t in ("7.5", "10", "10.0", "0.0", " 6.9 ")] == [75, 100, 100, 0, 69]
    for bad in ("10.1", "7.55", "-1", "7,5", "", "high", "1e1"):
        with pytest.raises(EvidenceInputError):
            parse_cvss(bad)
    assert (cvss_text(75), cvss_text(100), cvss_text(UNSCORED)) == ("7.5", "10.0", "unscored")


def test_a_finding_is_opened_rescored_and_resolved_as_rows(store: EventStore) -> None:
    fid = _record(store, cvss_score_tenths=UNSCORED)
    assert fid.startswith("sec-") and len(fid) == 20
    with pytest.raises(EvidenceStateError, match="already open with CVSS unscored"):
        _record(store, cvss_score_tenths=UNSCORED, ts_ns=T0 + H)
    assert _record(store, cvss_score_tenths=69, ts_ns=T0 + 2 * H) == fid  # assessed: 6.9
    resolved = resolve_finding(
        store, fid, operator="bo", resolution="upgraded requests to 2.32.0", ts_ns=T0 + 3 * H
    )
    assert (resolved.state, resolved.cvss_score_tenths, resolved.resolved_by) == (
        FindingState.RESOLVED,
        69,
        "bo",
    )
    with pytest.raises(EvidenceStateError, match="is not open"):
        resolve_finding(store, fid, operator="bo", resolution="again")
    with pytest.raises(EvidenceInputError, match="no security finding"):
        resolve_finding(store, "sec-0000000000000000", operator="bo", resolution="x")
    rows = store.select(
        sa.select(schema.security_findings.c.state, schema.security_findings.c.cvss_score_tenths)
    )
    assert [(r.state, r.cvss_score_tenths) for r in rows] == [
        ("open", UNSCORED),
        ("open", 69),
        ("resolved", 69),
    ]
    actions = [e.action for e in store.audit_log() if e.action.startswith("GOV_SECURITY")]
    assert actions == [
        "GOV_SECURITY_FINDING",
        "GOV_SECURITY_FINDING",
        "GOV_SECURITY_FINDING_RESOLVED",
    ]
    rescore = json.loads(
        [e for e in store.audit_log() if e.action == "GOV_SECURITY_FINDING"][1].detail
    )
    assert (rescore["cvss"], rescore["rescored_from"]) == ("6.9", "unscored")


def test_open_findings_by_bot_over_time_include_the_desk_wide_ones(store: EventStore) -> None:
    own = _record(store, ts_ns=T0)
    desk = _record(store, bot="desk", vulnerability_id="PYSEC-2024-1", ts_ns=T0 + H)
    other = _record(store, bot="exec.smartrouter", vulnerability_id="CVE-2024-2", ts_ns=T0)
    resolve_finding(store, own, operator="bo", resolution="patched", ts_ns=T0 + 2 * H)

    def ids(bot: str | None, at_ns: int | None, *, open_only: bool = True) -> list[str]:
        return [f.finding_id for f in findings(store, bot_id=bot, at_ns=at_ns, open_only=open_only)]

    assert ids("risk.killswitch", T0) == [own]
    assert ids("risk.killswitch", T0 + H) == [own, desk]
    assert ids("risk.killswitch", None) == [desk]
    assert ids("risk.killswitch", None, open_only=False) == [own, desk]
    assert ids("exec.smartrouter", None) == [other, desk]
    assert ids(None, T0 - 1) == []
    found = get_finding(store, own)
    assert found is not None and found.resolution == "patched"


def test_open_stretches_above_a_score_end_at_a_rescore_or_resolution(store: EventStore) -> None:
    high = _record(store, cvss_score_tenths=75, ts_ns=T0)
    _record(store, cvss_score_tenths=69, ts_ns=T0 + 5 * H)  # re-scored below 7.0
    low = _record(store, vulnerability_id="CVE-low", cvss_score_tenths=70, ts_ns=T0)
    unscored = _record(store, bot="desk", vulnerability_id="CVE-x", cvss_score_tenths=UNSCORED)
    resolve_finding(store, unscored, operator="bo", resolution="removed", ts_ns=T0 + 30 * H)
    stretches = open_intervals(store, "risk.killswitch", above_tenths=70)
    assert [(i.finding_id, i.cvss_score_tenths, i.starts_ns, i.ends_ns) for i in stretches] == [
        (high, 75, T0, T0 + 5 * H),
        (unscored, UNSCORED, T0, T0 + 30 * H),
    ]
    assert low not in {i.finding_id for i in stretches}  # 7.0 is not above 7.0


def test_refusals(store: EventStore) -> None:
    with pytest.raises(EvidenceInputError, match=r"unknown bot 'risk\.nope'"):
        _record(store, bot="risk.nope")
    with pytest.raises(EvidenceInputError, match="0 to 100"):
        _record(store, cvss_score_tenths=101)
    with pytest.raises(EvidenceInputError, match="non-empty operator"):
        _record(store, operator=" ")
    with pytest.raises(EvidenceInputError, match="non-empty vulnerability id"):
        _record(store, vulnerability_id="")
    assert store.select(sa.select(schema.security_findings)) == []


def test_a_pip_audit_report_is_ingested_with_scores_by_id_or_alias(store: EventStore) -> None:
    payload = json.dumps(REPORT)
    result = ingest_pip_audit(
        store,
        payload,
        scores={"CVE-2023-43804": 81},  # an alias of GHSA-v845-jxx5-vc9f
        operator="ci",
        known_bots=BOTS,
        ts_ns=T0,
    )
    got = {f.vulnerability_id: f for f in result.opened}
    assert set(got) == {"PYSEC-2021-108", "GHSA-v845-jxx5-vc9f"}
    assert got["GHSA-v845-jxx5-vc9f"].cvss_score_tenths == 81
    assert got["PYSEC-2021-108"].cvss_score_tenths == UNSCORED  # no score given: fail closed
    assert {(f.bot_id, f.package, f.version, f.source) for f in result.opened} == {
        ("desk", "urllib3", "1.26.4", "pip-audit")
    }
    assert json.loads(got["PYSEC-2021-108"].detail)["fix_versions"] == ["1.26.5"]
    assert result.skipped_dependencies == ("polytraders: Dependency not found on PyPI",)
    # the same report again: nothing new; a score for the unscored one re-scores it
    again = ingest_pip_audit(store, payload, scores={}, operator="ci", known_bots=BOTS)
    assert (again.opened, again.already_open) == ((), 2)
    scored = ingest_pip_audit(
        store, payload, scores={"PYSEC-2021-108": 53}, operator="ci", known_bots=BOTS
    )
    assert [(f.vulnerability_id, f.cvss_score_tenths) for f in scored.opened] == [
        ("PYSEC-2021-108", 53)
    ]
    ingests = [e for e in store.audit_log() if e.action == "GOV_SECURITY_AUDIT_INGESTED"]
    first = json.loads(ingests[0].detail)
    assert (first["vulnerabilities"], first["unscored"], len(first["opened"])) == (2, 1, 2)


def test_the_older_bare_list_form_and_malformed_reports(store: EventStore) -> None:
    assert [d.name for d in parse_pip_audit(json.dumps(REPORT["dependencies"]))] == [
        "urllib3",
        "msgspec",
        "polytraders",
    ]
    for bad in ("not json", '{"deps": []}', '{"dependencies": [{"version": "1"}]}'):
        with pytest.raises(EvidenceInputError, match="not pip-audit JSON output"):
            ingest_pip_audit(store, bad, scores={}, operator="ci", known_bots=BOTS)
    with pytest.raises(EvidenceInputError, match="CVE-2099-1, which the report does not list"):
        ingest_pip_audit(
            store, json.dumps(REPORT), scores={"CVE-2099-1": 90}, operator="ci", known_bots=BOTS
        )
    assert store.select(sa.select(schema.security_findings)) == []


def test_a_whole_audit_resolves_only_its_own_absent_findings(store: EventStore) -> None:
    def reported(package: str, version: str) -> ReportedVulnerability:
        return ReportedVulnerability(
            package=package, version=version, vulnerability_id="GHSA-test", cvss_score_tenths=98
        )

    first = ingest_report(
        store,
        [reported("urllib3", "1.26.4"), reported("idna", "3.6")],
        source=OSV_AUDIT,
        operator="ci",
        known_bots=BOTS,
        ts_ns=T0,
        resolve_absent="no longer found",
    )
    manual = _record(store, bot="desk", ts_ns=T0)  # another source: never resolved by an audit
    other_bot = ingest_report(
        store,
        [reported("idna", "3.6")],
        source=OSV_AUDIT,
        operator="ci",
        known_bots=BOTS,
        bot_id="risk.killswitch",
        ts_ns=T0,
        resolve_absent="no longer found",
    )
    later = ingest_report(
        store,
        [reported("idna", "3.6")],
        source=OSV_AUDIT,
        operator="ci",
        known_bots=BOTS,
        ts_ns=T0 + H,
        resolve_absent="no longer found",
    )
    assert (len(first.opened), later.already_open) == (2, 1)
    assert [(f.package, f.resolution, f.resolved_ns) for f in later.resolved] == [
        ("urllib3", "no longer found", T0 + H)
    ]
    still_open = {f.finding_id for f in findings(store, open_only=True)}
    assert still_open == {first.opened[1].finding_id, manual, other_bot.opened[0].finding_id}
    ingest = json.loads(
        [e for e in store.audit_log() if e.action == "GOV_SECURITY_AUDIT_INGESTED"][-1].detail
    )
    assert (ingest["source"], ingest["resolved"]) == ("osv-audit", [later.resolved[0].finding_id])
