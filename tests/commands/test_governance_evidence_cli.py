"""``polytraders incident|review|alerts`` through the command line on SQLite and PostgreSQL:
what each records and prints, and the refusals with their exit codes (one line on stderr).

The sub-apps are mounted here under the names the top-level CLI gives them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.commands.alerts import app as alerts_app
from polytraders.commands.incidents import app as incident_app
from polytraders.commands.reviews import app as review_app
from polytraders.store import EventStore
from polytraders.store.incidents import list_incidents
from polytraders.store.reviews import summarize
from tests.store import desk_sessions as ds

cli = typer.Typer()
cli.add_typer(incident_app, name="incident")
cli.add_typer(review_app, name="review")
cli.add_typer(alerts_app, name="alerts")
runner = CliRunner()


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def existing(store_url: str) -> str:
    """An existing, empty store."""
    EventStore.open(store_url).close()
    return store_url


def test_incidents_open_list_and_close(existing: str) -> None:
    code, out, err = _invoke(
        "incident", "open", "--store", existing, "--bot", "risk.killswitch", "--severity", "P2",
        "--title", "drill: stale feed replayed", "--drill", "--origin", "desk",
        "--operator", "ana",
    )  # fmt: skip
    assert code == 0, err
    incident_id = out.split()[0]
    assert out.strip() == (
        f"{incident_id} opened: drill P2 of risk.killswitch (desk) by ana: "
        "drill: stale feed replayed"
    )
    code, out, err = _invoke(
        "incident", "close", incident_id, "--store", existing, "--operator", "bob",
        "--resolution", "runbook steps 1-4 followed", "--runbook-exercised",
    )  # fmt: skip
    assert (code, out.strip()) == (
        0,
        f"{incident_id} closed by bob (runbook exercised): runbook steps 1-4 followed",
    )
    code, out, err = _invoke(
        "incident", "close", incident_id, "--store", existing, "--operator", "bob",
        "--resolution", "again",
    )  # fmt: skip
    assert (code, err.strip()) == (1, f"error: incident {incident_id} is already closed (by bob)")
    code, out, _ = _invoke("incident", "list", "--store", existing, "--json")
    (listed,) = json.loads(out)
    assert (listed["incident_id"], listed["state"], listed["runbook_exercised"]) == (
        incident_id,
        "closed",
        True,
    )
    code, out, _ = _invoke("incident", "list", "--store", existing, "--bot", "risk.killswitch")
    assert code == 0 and f"{incident_id}  P2 drill  closed  risk.killswitch (desk)" in out
    assert "runbook exercised" in out
    with EventStore.open(existing, create=False) as reader:
        assert [e.action for e in reader.audit_log()] == [
            "GOV_INCIDENT_OPENED",
            "GOV_INCIDENT_CLOSED",
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--bot", "risk.nosuch", "--severity", "P1"),
            "error: --bot: unknown bot 'risk.nosuch'; one of exec.smartrouter,",
        ),
        (
            ("--bot", "desk", "--severity", "P1", "--title", " "),
            "error: an incident needs a non-empty title",
        ),
    ],
)
def test_bad_incident_openings_exit_2_with_one_line(
    existing: str, args: tuple[str, ...], message: str
) -> None:
    full = ["incident", "open", "--store", existing, "--operator", "ana", "--title", "t", *args]
    code, _, err = _invoke(*full)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1
    with EventStore.open(existing, create=False) as reader:
        assert list_incidents(reader) == []


def test_unknown_incidents_and_missing_stores_exit_2(existing: str, tmp_path: Path) -> None:
    code, _, err = _invoke(
        "incident", "close", "inc-0000000000000000", "--store", existing, "--operator", "ana",
        "--resolution", "x",
    )  # fmt: skip
    assert (code, err.strip()) == (2, "error: no incident 'inc-0000000000000000' in the store")
    missing = tmp_path / "nowhere.sqlite"
    code, _, err = _invoke("incident", "list", "--store", str(missing))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not missing.exists()  # never created by an evidence command


def test_a_review_through_the_cli(store_url: str) -> None:
    with EventStore.open(store_url) as store:
        ds.record_session(store, ds.desk(), ds.synthetic(0, scenario="thin_book"))
    code, out, err = _invoke(
        "review", "sample", "risk.marketqualityguard", "--n", "10", "--seed", "99",
        "--operator", "ana", "--store", store_url, "--json",
    )  # fmt: skip
    assert code == 0, err
    drawn = json.loads(out)
    assert (len(drawn["picks"]), drawn["created"]) == (10, True)
    sample_id = drawn["sample_id"]
    code, out, _ = _invoke(
        "review", "sample", "risk.marketqualityguard", "--n", "10", "--seed", "99",
        "--operator", "bob", "--store", store_url,
    )  # fmt: skip
    assert out.splitlines()[0] == (
        f"{sample_id}: 10 decision(s) of risk.marketqualityguard, seed 99 "
        "(already on record: the same draw)"
    )
    first, second = drawn["picks"][0]["envelope_id"], drawn["picks"][1]["envelope_id"]
    code, out, err = _invoke(
        "review", "verdict", sample_id, first, "--incorrect", "--reviewer", "cyd",
        "--note", "depth was enough", "--store", store_url,
    )  # fmt: skip
    assert code == 0, err
    assert out.strip().endswith(
        "1 of 10 reviewed, 1 incorrect: false-positive rate 100.0% (95 % upper bound 100.0%)"
    )
    code, out, err = _invoke(
        "review", "verdict", sample_id, second, "--correct", "--reviewer", "cyd",
        "--store", store_url,
    )  # fmt: skip
    assert code == 0, err
    assert (
        "2 of 10 reviewed, 1 incorrect: false-positive rate 50.0% (95 % upper bound 97.5%)" in out
    )
    code, out, _ = _invoke("review", "show", sample_id, "--store", store_url, "--json")
    shown = json.loads(out)
    assert (shown["reviewed"], shown["incorrect"], shown["fp_rate"]) == (2, 1, 0.5)
    with EventStore.open(store_url, create=False) as reader:
        assert shown["fp_upper_95"] == summarize(reader, sample_id).fp_upper_95
    assert shown["picks"][0]["verdicts"]["cyd"]["note"] == "depth was enough"
    code, out, _ = _invoke("review", "show", sample_id, "--store", store_url)
    assert f"{first}  REJECT" in out and "[cyd: incorrect]" in out
    assert out.count("[not reviewed]") == 8
    # refusals
    code, _, err = _invoke(
        "review", "verdict", sample_id, first, "--correct", "--incorrect", "--reviewer", "cyd",
        "--store", store_url,
    )  # fmt: skip
    assert (code, err.strip()) == (2, "error: give exactly one of --correct and --incorrect")
    code, _, err = _invoke(
        "review", "verdict", sample_id, "run-x/e1", "--correct", "--reviewer", "cyd",
        "--store", store_url,
    )  # fmt: skip
    assert (code, err.strip()) == (2, f"error: envelope 'run-x/e1' is not in sample {sample_id}")
    code, _, err = _invoke("review", "show", "rs-nope", "--store", store_url)
    assert (code, err.strip()) == (2, "error: no review sample 'rs-nope' in the store")
    code, _, err = _invoke(
        "review", "sample", "risk.killswitch", "--seed", "1", "--operator", "ana",
        "--store", store_url,
    )  # fmt: skip
    assert (code, err.strip()) == (
        2,
        "error: no reviewable decision of 'risk.killswitch' in the store's live-clock runs",
    )


def _webhook(status: str, ends: str) -> str:
    return json.dumps(
        {
            "version": "4",
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "BotQuarantined",
                        "severity": "P0",
                        "bot_id": "risk.stalebookguard",
                    },
                    "startsAt": "2026-12-06T10:00:00.5Z",
                    "endsAt": ends,
                    "fingerprint": "1f2e3d4c5b6a7980",
                }
            ],
        }
    )


def test_alerts_ingest_and_list(existing: str, tmp_path: Path) -> None:
    payload = tmp_path / "firing.json"
    payload.write_text(_webhook("firing", "0001-01-01T00:00:00Z"))
    code, out, err = _invoke("alerts", "ingest", str(payload), "--store", existing)
    assert (code, out.strip()) == (
        0,
        "1 notification(s) recorded (1 firing, 0 resolved), 0 already on record",
    ), err
    code, out, _ = _invoke("alerts", "ingest", str(payload), "--store", existing)
    assert out.strip() == "0 notification(s) recorded (0 firing, 0 resolved), 1 already on record"
    code, out, _ = _invoke("alerts", "list", "--store", existing)
    assert (
        "P0  BotQuarantined  risk.stalebookguard  fired 2026-12-06T10:00:00Z, still firing" in out
    )
    code, out, err = _invoke(
        "alerts", "ingest", "-", "--store", existing, "--source", "am-2",
        stdin=_webhook("resolved", "2026-12-06T10:05:00Z"),
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = _invoke("alerts", "list", "--store", existing, "--json", "--severity", "P0")
    (instance,) = json.loads(out)
    assert (instance["starts_ns"], instance["ends_ns"], instance["firing"]) == (
        1_796_551_200_500_000_000,
        1_796_551_500_000_000_000,
        False,
    )
    code, out, _ = _invoke("alerts", "list", "--store", existing, "--bot", "risk.killswitch")
    assert out.startswith("no alerts in ")
    bad = tmp_path / "bad.json"
    bad.write_text(_webhook("firing", "0001-01-01T00:00:00Z").replace('"P0"', '"page"'))
    code, _, err = _invoke("alerts", "ingest", str(bad), "--store", existing)
    assert (code, err.strip()) == (
        2,
        "error: alert 0 (BotQuarantined): severity label must be P0, P1 or P2, got 'page'",
    )
    code, _, err = _invoke("alerts", "ingest", str(tmp_path / "none.json"), "--store", existing)
    assert code == 2 and err.startswith(f"error: {tmp_path / 'none.json'}: ")
