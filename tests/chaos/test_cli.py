"""``polytraders chaos run|list|history`` through the command line (the typer app mounted here
under the name the top-level CLI is to give it): every check printed, verdicts recorded, exit
1 when a scenario fails, 2 on a bad option or desk file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.chaos import SCENARIO_NAMES, SCENARIOS
from polytraders.commands.chaos import app as chaos_app
from polytraders.store import EventStore
from polytraders.store.chaos_runs import chaos_runs
from polytraders.venues.polymarket.venue import PolymarketVenue

cli = typer.Typer()
cli.add_typer(chaos_app, name="chaos")
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["chaos", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_every_scenario_and_its_checks() -> None:
    code, out, _ = invoke("list")
    assert code == 0
    for name, scenario in SCENARIOS.items():
        assert f"{name}: " in out
        assert all(f"  {check}: " in out for check in scenario.criteria)
    code, out, _ = invoke("list", "--json")
    assert [s["scenario"] for s in json.loads(out)] == list(SCENARIO_NAMES)


def test_bad_options_exit_2_before_anything_runs(tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite")
    code, _, err = invoke("run", "--scenario", "nope", "--store", store)
    assert code == 2 and "unknown nope" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = -1\n")
    code, _, err = invoke("run", "--desk", str(bad), "--store", store)
    assert code == 2 and "bad.toml" in err
    assert not Path(store).exists()
    code, _, err = invoke("history", "--store", store)  # history never creates a store
    assert code == 2 and not Path(store).exists()


@pytest.mark.slow
def test_run_prints_the_checks_records_and_exits_by_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "s.sqlite")
    runs = str(tmp_path / "runs.sqlite")
    code, out, err = invoke(
        "run", "--scenario", "heartbeat_lapse", "--store", store, "--runs-store", runs,
        "--operator", "ana",
    )  # fmt: skip
    assert code == 0, out + err
    # the desk's run under fault is kept apart from the store whose runs are runtime evidence
    with EventStore.open(store, create=False) as handle, EventStore.open(runs) as desk_runs:
        assert handle.runs() == []
        assert [r.run_id.startswith("chaos-") for r in desk_runs.runs()] == [True]
    assert "heartbeat_lapse: PASS" in out and "1/1 scenario(s) passed" in out
    assert all(f"ok   {c}: " in out for c in SCENARIOS["heartbeat_lapse"].criteria)
    code, out, _ = invoke("history", "--store", store)
    assert code == 0 and "heartbeat_lapse: PASS" in out and "by ana" in out

    original = PolymarketVenue._settle_lapse

    def resending(self: PolymarketVenue, now_ns: int) -> None:  # re-posts what was cancelled
        was_open = [o.client_order_id for o in self.orders() if o.status.is_open]
        original(self, now_ns)
        if not self._state.lapse_unsettled:
            self.acknowledge_heartbeat_lapse()
            self._pending.extend(c for c in was_open if not self._orders[c].status.is_open)

    monkeypatch.setattr(PolymarketVenue, "_settle_lapse", resending)
    code, out, err = invoke(
        "run", "--scenario", "heartbeat_lapse", "--store", store, "--runs-store", runs,
        "--timeout-s", "8", "--json",
    )  # fmt: skip
    assert code == 1, out + err
    document = json.loads(out)
    assert document["passed"] is False
    (run,) = document["runs"]
    assert "nothing_resent" in [c["name"] for c in run["checks"] if not c["passed"]]
    with EventStore.open(store, create=False) as handle:
        assert [r.passed for r in chaos_runs(handle)] == [True, False]
