"""``polytraders kill-switch trip|reset`` through the CLI on SQLite and PostgreSQL: what is
recorded (checkpoint row, audit entry), and the refusals with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.desk.checkpoints import load_checkpoint
from polytraders.model.events import TradingState
from polytraders.store import EventStore
from tests.store import factories as f

runner = CliRunner()
RUN = "run-kill-switch-cli"


@pytest.fixture
def running(store_url: str) -> str:
    """A store holding RUN, RUNNING, with no checkpoint yet (its desk never wrote one)."""
    with EventStore.open(store_url) as store:
        f.start(store, RUN)
    return store_url


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_trip_then_reset_are_recorded_with_who_and_why(running: str) -> None:
    common = ("--store", running, "--run", RUN)
    code, out, err = _invoke(
        "kill-switch", "trip", *common, "--operator", "ana", "--reason", "venue outage"
    )
    assert code == 0, err
    assert f"kill switch of {RUN}@1 tripped by ana (checkpoint 0)" in out
    code, out, err = _invoke(
        "kill-switch", "trip", *common, "--operator", "ana", "--reason", "again"
    )
    assert (code, err.strip()) == (
        1,
        f"error: the kill switch of run {RUN} is already tripped (SYS_KILL_SWITCH_TRIPPED by "
        "operator:ana)",
    )
    code, out, err = _invoke(
        "kill-switch",
        "reset",
        *common,
        "--operator",
        "bob",
        "--reason",
        "venue back",
        "--trading-state",
        "REDUCING",
    )
    assert code == 0, err
    assert "trip SYS_KILL_SWITCH_TRIPPED by operator:ana cleared, trading state REDUCING" in out
    with EventStore.open(running, create=False) as store:
        restored = load_checkpoint(store, RUN)
        entries = store.audit_log(RUN)
    assert restored is not None and not restored.controls.kill_switch.tripped
    assert restored.controls.trading_state is TradingState.REDUCING
    assert [(e.actor, e.action) for e in entries] == [
        ("ana", "GOV_KILL_SWITCH_TRIPPED"),
        ("bob", "GOV_KILL_SWITCH_RESET"),
    ]
    detail = json.loads(entries[1].detail)
    assert detail["reason"] == "venue back"
    assert detail["trip_source"] == "operator:ana"
    assert detail["trading_state"] == "REDUCING"


def test_refusals_name_the_problem_in_one_line(running: str, tmp_path: Path) -> None:
    common = ("--operator", "bob", "--reason", "r")
    code, _, err = _invoke("kill-switch", "reset", "--store", running, "--run", RUN, *common)
    assert (code, err.strip()) == (
        1,
        f"error: the kill switch of run {RUN} is not tripped and the desk is ACTIVE: nothing "
        "to reset",
    )
    missing = str(tmp_path / "nowhere.sqlite")
    code, _, err = _invoke("kill-switch", "reset", "--store", missing, "--run", RUN, *common)
    assert code == 2 and err.startswith("error: --store: ") and "\n" not in err.strip()
    code, _, err = _invoke("kill-switch", "trip", "--store", running, "--run", f"{RUN}@x", *common)
    assert code == 2 and err.startswith("error: --run: ")
    code, _, err = _invoke("kill-switch", "trip", "--store", running, "--run", "run-other", *common)
    assert code == 2 and "not in the store" in err
    code, _, err = _invoke(
        "kill-switch", "trip", "--store", running, "--run", RUN, "--operator", " ", "--reason", "r"
    )
    assert (code, err.strip()) == (
        2,
        "error: an operator command needs an operator name and a reason",
    )
    with EventStore.open(running) as store:
        store.resume_run(RUN)
        store.end_run(RUN, ended_ns=f.T0_NS + 1, produced=f.produced(store, RUN))
    code, _, err = _invoke("kill-switch", "trip", "--store", running, "--run", RUN, *common)
    assert code == 2 and "has ended (COMPLETED)" in err
