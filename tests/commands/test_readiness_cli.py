"""``polytraders readiness``, ``gates check``, ``promote`` and ``readiness record-ci`` through
the real CLI on real stores: every figure from evidence, a check failing closed on missing data
with every gate's value, threshold and evidence, the evaluation recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.contracts.modes import BotClass
from polytraders.readiness.gates import transition_gates
from polytraders.readiness.lifecycle import State
from polytraders.store import EventStore
from polytraders.store.ci_runs import ci_runs
from polytraders.store.promotions import gate_evaluations, promotions
from tests.conftest import REPO

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_gates_check_fails_closed_when_evidence_is_missing(tmp_path: Path) -> None:
    store = tmp_path / "desk.sqlite"
    code, out, err = _invoke(
        "gates", "check", "risk.killswitch", "--to", "shadow", "--ci", "--json",
        "--store", str(store), "--repo", str(REPO), "--operator", "ci",
    )  # fmt: skip
    assert code == 1, err
    data = json.loads(out)
    assert data["verdict"] == "FAIL"
    gates = {g["gate_id"]: g for g in data["gates"]}
    expected = transition_gates(State.BUILT, State.SHADOW, BotClass.RISK)
    assert list(gates) == [g.gate_id for g in expected]
    for gate in gates.values():
        assert gate["value"] and gate["threshold"] and gate["phase"]
        assert gate["blocks"] == (gate["severity"] == "critical" and gate["phase"] != "Successful")
    # no CI run recorded in this store: Inconclusive, never a pass, and it blocks
    ci = gates["ci_green_7_days"]
    assert (ci["phase"], ci["blocks"]) == ("Inconclusive", True)
    assert ci["evidence"][0]["kind"] == "store"
    # what the repository shows passes, with the file and its hash as evidence
    docs = gates["docs_checklist"]
    assert (docs["phase"], docs["value"]) == ("Successful", "27/27")
    assert {e["ref"] for e in docs["evidence"]} >= {"docs/bots/risk.killswitch.md"}
    assert gates["reason_code_stability"]["phase"] == "Successful"
    assert gates["reviewer_signoff"]["phase"] == "Inconclusive"
    with EventStore.open(store) as opened:
        rows = gate_evaluations(opened, evaluation_id=data["evaluation_id"])
        assert [r.gate_id for r in rows] == list(gates)
        assert opened.audit_log()[-1].action == "GOV_GATES_CHECKED"
    # without --ci the same verdict is reported and the command exits 0
    code, out, _ = _invoke(
        "gates", "check", "risk.killswitch", "--to", "shadow", "--markdown",
        "--store", str(store), "--repo", str(REPO),
    )  # fmt: skip
    assert code == 0 and "FAIL" in out and "| ci_green_7_days | critical | Inconclusive |" in out


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    store = str(tmp_path / "desk.sqlite")
    for args, needle in (
        (("gates", "check", "risk.nope", "--to", "shadow"), "unknown bot 'risk.nope'"),
        (("gates", "check", "risk.killswitch", "--to", "prod"), "unknown target 'prod'"),
        (("promote", "risk.killswitch", "--to", "shadow-ready"), "is a stage"),
        (("readiness", "risk.nope"), "unknown bot 'risk.nope'"),
    ):
        code, _, err = _invoke(*args, "--store", store)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_promote_records_a_passing_step_and_gates_history_shows_it(tmp_path: Path) -> None:
    store = tmp_path / "desk.sqlite"
    code, out, err = _invoke(
        "promote", "risk.killswitch", "--to", "spec_started", "--operator", "ana",
        "--store", str(store), "--repo", str(REPO),
    )  # fmt: skip
    assert code == 0, err
    assert "GOV_PROMOTED: idea_only → spec_started" in out
    code, out, _ = _invoke("gates", "history", "risk.killswitch", "--json", "--store", str(store))
    history = json.loads(out)
    assert history["state"] == "spec_started"
    (step,) = history["history"]
    assert step["reason_code"] == "GOV_PROMOTED" and len(step["evidence_digest"]) == 64
    with EventStore.open(store) as opened:
        assert promotions(opened, bot_id="risk.killswitch")[0].actor == "ana"


@pytest.mark.parametrize("exit_code", [0, 1])
def test_record_ci_keeps_the_outcome_of_the_checked_out_commit(
    tmp_path: Path, exit_code: int
) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        "<testsuites><testsuite>"
        "<testcase classname='tests.a' name='ok'/>"
        "<testcase classname='tests.a' name='skip'><skipped/></testcase>"
        "</testsuite></testsuites>"
    )
    store = tmp_path / "desk.sqlite"
    code, out, err = _invoke(
        "readiness", "record-ci", "--exit-code", str(exit_code), "--duration-ms", "1234",
        "--junit", str(junit), "--store", str(store), "--repo", str(REPO),
    )  # fmt: skip
    assert code == 0, err
    outcome = "passed" if exit_code == 0 else "failed"
    assert f": {outcome} (1 passed, 0 failed, 0 errors, 1 skipped)" in out
    with EventStore.open(store) as opened:
        (run,) = ci_runs(opened)
        assert run.outcome.value == outcome and run.duration_ms == 1234
        assert run.results == {"tests.a::ok": "passed", "tests.a::skip": "skipped"}
        assert opened.audit_log()[-1].action == "GOV_CI_RECORDED"
    code, _, err = _invoke(
        "readiness", "record-ci", "--exit-code", "0", "--repo", str(tmp_path),
        "--store", str(store),
    )  # fmt: skip
    assert code == 1 and "not a git checkout" in err
