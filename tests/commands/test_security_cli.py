"""``polytraders security`` and ``polytraders demotion`` through the command line (SQLite and
PostgreSQL): findings recorded, re-scored, resolved, listed and ingested from a pip-audit
report; the monitor run from the command line demotes a bot whose finding above CVSS 7.0 has
been open for 24 hours, and records nothing twice. Refusals: one line on stderr, exit 1 for a
finding's state, 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.commands.demotion import app as demotion_app
from polytraders.commands.security import app as security_app
from polytraders.readiness.lifecycle import State, path_between
from polytraders.readiness.promote import current_state
from polytraders.store import EventStore
from polytraders.store.promotions import PromotionOutcome, append_promotion
from tests.store.test_security_findings import REPORT

cli = typer.Typer()
cli.add_typer(security_app, name="security")
cli.add_typer(demotion_app, name="demotion")
runner = CliRunner()

S = 1_000_000_000
H = 3_600 * S
T0 = 1_767_225_600 * S
BOT = "risk.killswitch"


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def existing(store_url: str) -> str:
    """An existing, empty store."""
    EventStore.open(store_url).close()
    return store_url


def test_record_rescore_resolve_and_list(existing: str) -> None:
    code, out, err = _invoke(
        "security", "record", "GHSA-aaaa-bbbb-cccc", "--store", existing, "--bot", BOT,
        "--package", "requests", "--package-version", "2.31.0", "--operator", "ana",
        "--ts-ns", str(T0),
    )  # fmt: skip
    assert code == 0, err
    finding_id = out.split()[1]
    assert out.splitlines() == [
        f"recorded {finding_id}  {BOT}  requests 2.31.0 GHSA-aaaa-bbbb-cccc  CVSS unscored  "
        "open since 2026-01-01T00:00:00Z",
        "unscored: it counts as above CVSS 7.0 until a score is recorded (fail closed)",
    ]
    code, out, err = _invoke(
        "security", "record", "GHSA-aaaa-bbbb-cccc", "--store", existing, "--bot", BOT,
        "--package", "requests", "--package-version", "2.31.0", "--operator", "ana",
        "--cvss", "6.9", "--ts-ns", str(T0 + H),
    )  # fmt: skip
    assert code == 0 and "CVSS 6.9" in out and out.split()[1] == finding_id
    code, _, err = _invoke(
        "security", "record", "GHSA-aaaa-bbbb-cccc", "--store", existing, "--bot", BOT,
        "--package", "requests", "--package-version", "2.31.0", "--operator", "ana",
        "--cvss", "6.9",
    )  # fmt: skip
    assert (code, err.strip()) == (
        1,
        f"error: finding {finding_id} (GHSA-aaaa-bbbb-cccc) is already open with CVSS 6.9",
    )
    code, out, _ = _invoke("security", "list", "--store", existing, "--bot", BOT, "--json")
    [listed] = json.loads(out)
    assert (listed["finding_id"], listed["cvss"], listed["state"]) == (finding_id, "6.9", "open")
    code, out, _ = _invoke("security", "list", "--store", existing, "--at-ns", str(T0), "--json")
    assert json.loads(out)[0]["cvss"] is None  # as it stood then: unscored
    code, out, err = _invoke(
        "security", "resolve", finding_id, "--store", existing, "--operator", "bo",
        "--resolution", "upgraded requests to 2.32.0", "--ts-ns", str(T0 + 2 * H),
    )  # fmt: skip
    assert code == 0 and "resolved 2026-01-01T02:00:00Z (upgraded requests to 2.32.0)" in out
    code, out, _ = _invoke("security", "list", "--store", existing)
    assert code == 0 and out.startswith("no open security finding in ")
    code, out, _ = _invoke("security", "list", "--store", existing, "--all")
    assert f"{finding_id}  {BOT}" in out and "1 finding(s)" in out
    code, _, err = _invoke(
        "security", "resolve", finding_id, "--store", existing, "--operator", "bo",
        "--resolution", "again",
    )  # fmt: skip
    assert (code, err.strip()) == (1, f"error: finding {finding_id} is not open (resolved by bo)")


def test_ingest_a_pip_audit_report(existing: str, tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    report.write_text(json.dumps(REPORT))
    code, out, err = _invoke(
        "security", "ingest-pip-audit", str(report), "--store", existing,
        "--cvss", "CVE-2023-43804=8.1",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-2:] == [
        "2 finding(s) recorded (1 unscored: counted as above CVSS 7.0 until scored), "
        "0 already open",
        "not audited by pip-audit: polytraders: Dependency not found on PyPI",
    ]
    assert any("urllib3 1.26.4 GHSA-v845-jxx5-vc9f  CVSS 8.1" in line for line in lines)
    code, out, _ = _invoke("security", "ingest-pip-audit", "-", "--store", existing,
                           stdin=json.dumps(REPORT))  # fmt: skip
    assert code == 0 and "0 finding(s) recorded" in out and "2 already open" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cvss", "7.55"), "--cvss: a CVSS score is a number from 0.0 to 10.0 with one decimal"),
        (("--bot", "risk.nope"), "--bot: unknown bot 'risk.nope'"),
    ],
)
def test_record_refusals(existing: str, args: tuple[str, ...], message: str) -> None:
    code, _, err = _invoke(
        "security", "record", "CVE-1", "--store", existing, "--operator", "ana", *args
    )
    assert code == 2 and err.startswith(f"error: {message}") and len(err.splitlines()) == 1


def test_ingest_refusals(existing: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{}]")
    code, _, err = _invoke("security", "ingest-pip-audit", str(bad), "--store", existing)
    assert code == 2 and err.startswith("error: not pip-audit JSON output")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(REPORT))
    code, _, err = _invoke(
        "security", "ingest-pip-audit", str(good), "--store", existing, "--cvss", "CVE-1"
    )
    assert (code, err.strip()) == (
        2,
        "error: --cvss 'CVE-1': expected ID=SCORE (e.g. GHSA-xxxx=7.5)",
    )
    code, _, err = _invoke("security", "ingest-pip-audit", str(tmp_path / "none.json"),
                           "--store", existing)  # fmt: skip
    assert code == 2 and "No such file" in err


def to_general_live(store_url: str) -> None:
    """Record :data:`BOT`'s promotions from Idea only to General live (real rows), ending
    10 hours before T0."""
    with EventStore.open(store_url, create=False) as store:
        for n, (src, dst) in enumerate(path_between(State.IDEA_ONLY, State.GENERAL_LIVE)):
            append_promotion(
                store,
                bot_id=BOT,
                from_state=src.value,
                to_state=dst.value,
                outcome=PromotionOutcome.PROMOTED,
                reason_code="GOV_PROMOTED",
                evaluation_id=f"test-eval-{n}",
                evidence_digest="0" * 64,
                actor="lead",
                detail="",
                ts_ns=T0 - 10 * H + n,
            )


def test_demotion_check_demotes_after_24_hours_of_a_critical_finding(existing: str) -> None:
    to_general_live(existing)
    code, _, err = _invoke(
        "security", "record", "CVE-2024-9", "--store", existing, "--bot", "desk",
        "--cvss", "7.5", "--operator", "ana", "--ts-ns", str(T0),
    )  # fmt: skip
    assert code == 0, err
    code, out, err = _invoke("demotion", "check", "--store", existing, "--now-ns", str(T0 + 23 * H))
    assert code == 0, err
    assert out.splitlines()[0] == f"{BOT}: stays in general_live"
    assert "security_finding        23.00 h  a finding above CVSS 7.0 open for the last 23 h" in out
    code, out, err = _invoke(
        "demotion", "check", "--store", existing, "--now-ns", str(T0 + 24 * H), "--json"
    )
    [result] = json.loads(out)
    assert (result["bot_id"], result["demoted"], result["holding"]) == (
        BOT,
        True,
        ["security_finding"],
    )
    code, out, _ = _invoke("demotion", "check", "--store", existing, "--now-ns", str(T0 + 25 * H))
    assert out.startswith("no bot in General live in ")  # demoted once, never twice
    code, out, _ = _invoke("demotion", "status", BOT, "--store", existing, "--now-ns",
                           str(T0 + 25 * H))  # fmt: skip
    assert "security_finding          HOLDS  a finding above CVSS 7.0 open for the last 24 h" in out
    with EventStore.open(existing, create=False) as store:
        assert current_state(store, BOT) is State.LIMITED_LIVE
        actions = [e.action for e in store.audit_log() if e.action.startswith("GOV_DEMOT")]
    assert actions == [
        "GOV_DEMOTION_CHECKED",
        "GOV_DEMOTED",
        "GOV_DEMOTION_CHECKED",
        "GOV_DEMOTION_CHECKED",
    ]
