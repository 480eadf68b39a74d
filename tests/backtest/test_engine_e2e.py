"""End-to-end: the main job and the backtest command on the real shipped sample."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.contracts.reasons import load_registry
from polytraders.model.money import to_micros

runner = CliRunner()
DEFAULT_RUN_ENVELOPES_SHA256 = "398e31f1923b3656c4e8a18505d3c41f4dfb90f148648d80d14ddb0ceb37c39d"
"""``envelopes_sha256`` of ``polytraders run`` (the default desk over the shipped sample). It
changes with any bot's code digest (part of the run id); issue 20 changed risk.exposureguard's
(it reads ``DeskView.exposure``), with every decision, order and figure unchanged; issue 21
changed exec.smartrouter's and risk.stalebookguard's (they handle crypto instruments), again with
every decision, order, fill and figure unchanged (envelopes equal up to the run id)."""
EXAMPLE_STRATEGY = Path(__file__).resolve().parents[2] / "examples" / "strategies"


def _check_run_outputs(out: Path) -> dict:
    result = json.loads((out / "result.json").read_text())
    # every figure the issue names is present
    for key in (
        "run_id", "seed", "config_version", "markets", "events", "orders", "fills",
        "maker_fills", "taker_fills", "rejections", "volume_usd", "invested_usd", "fees_usd",
        "realized_pnl_usd", "settlement_usd", "pnl_usd", "max_drawdown_usd", "sharpe",
        "reason_codes", "envelopes", "envelopes_sha256", "wall_s", "events_per_s",
        "per_market", "synthetic",
    ):  # fmt: skip
        assert key in result, key
    assert result["maker_fills"] + result["taker_fills"] == result["fills"]
    registry = load_registry()
    assert all(code in registry for code in result["reason_codes"])
    assert all(code in registry for code in result["rejections"])
    # the envelope file is the timeline the result names
    digest = hashlib.sha256((out / "envelopes.jsonl").read_bytes()).hexdigest()
    assert digest == result["envelopes_sha256"]
    assert sum(1 for _ in (out / "envelopes.jsonl").open()) == result["envelopes"]
    # positions from fills, and money conserved, recomputed from fills.csv
    with (out / "fills.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == result["fills"]
    held: dict[str, int] = defaultdict(int)
    cash = 0
    for row in rows:
        size, notional, fee = (
            to_micros(row[k]) for k in ("size_shares", "notional_pusd", "fee_pusd")
        )
        sign = 1 if row["side"] == "BUY" else -1
        held[row["token_id"]] += sign * size
        cash += -sign * notional - fee
    final = {}
    for market in result["per_market"]:
        for token, size in market["final_positions"].items():
            final[token] = to_micros(size)
    assert dict(held) == final
    # every market of these feeds resolves inside the data, so nothing is left unrealized and
    # PnL is exactly the cash flow: sells − buys − fees + payouts at resolution
    assert to_micros(result["unrealized_pnl_usd"]) == 0
    assert to_micros(result["pnl_usd"]) == cash + to_micros(result["settlement_usd"])
    assert sum(to_micros(m["pnl_usd"]) for m in result["per_market"]) == to_micros(
        result["pnl_usd"]
    )
    page = (out / "report.html").read_text()
    assert "Equity" in page
    assert "Reason codes" in page
    return result


@pytest.mark.slow
def test_main_job_runs_the_default_desk_and_is_deterministic(
    tmp_path: Path, polymarket_sample: Path
) -> None:
    first = runner.invoke(
        app, ["run", "--out", str(tmp_path / "a"), "--store", str(tmp_path / "desk.sqlite")]
    )
    assert first.exit_code == 0, first.output
    assert "integrity sound" in first.output
    result = _check_run_outputs(tmp_path / "a")
    assert result["markets"] == 12
    assert result["synthetic"] is False
    assert result["events"] >= 25_640
    # the default run's timeline is pinned: a change to it must be deliberate (and said)
    assert result["envelopes_sha256"] == DEFAULT_RUN_ENVELOPES_SHA256
    assert (result["orders"], result["fills"], result["pnl_usd"]) == (3_718, 1_431, "361.281854")
    second = runner.invoke(
        app,
        ["backtest", "--data", str(polymarket_sample), "--out", str(tmp_path / "b")],
    )
    assert second.exit_code == 0, second.output
    again = json.loads((tmp_path / "b" / "result.json").read_text())
    assert again["envelopes_sha256"] == result["envelopes_sha256"]
    assert again["run_id"] == result["run_id"]
    for key in ("pnl_usd", "fills", "orders", "reason_codes"):
        assert again[key] == result[key]


@pytest.mark.slow
def test_user_strategy_runs_through_the_guards(tmp_path: Path, polymarket_sample: Path) -> None:
    out = tmp_path / "touch"
    desk = tmp_path / "pessimistic.toml"
    desk.write_text('[venue]\nqueue_model = "pessimistic"\n', encoding="utf-8")
    completed = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(polymarket_sample),
            "--desk",
            str(desk),
            "--strategy",
            f"{EXAMPLE_STRATEGY / 'touch_quoter.py'}:TouchQuoter",
            "--out",
            str(out),
        ],
    )
    # filled only by crossings (the pessimistic queue model), the naive touch quoter loses more
    # than 5 % of its day-start equity marked to mid: the kill switch halts the desk, the run
    # ends HALTED (exit code 4) and its outputs are complete
    assert completed.exit_code == 4, completed.output
    assert "HALTED: RISK_KILLSWITCH_DAILY_LOSS" in completed.output
    result = _check_run_outputs(out)
    assert result["orders"] > 0
    assert "strat.touch_quoter" in (out / "envelopes.jsonl").read_text()


def test_schema_command() -> None:
    desk = json.loads(runner.invoke(app, ["schema", "desk"]).output)
    assert desk["additionalProperties"] is False
    guard = json.loads(runner.invoke(app, ["schema", "risk.stalebookguard"]).output)
    assert guard["properties"]["max_book_age_ms"]["maximum"] == 120_000
    assert runner.invoke(app, ["schema", "nope"]).exit_code == 2


def test_synthetic_runs_are_labelled(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    completed = runner.invoke(
        app, ["backtest", "--data", "synthetic:normal?seed=3&markets=1", "--out", str(out)]
    )
    assert completed.exit_code == 0, completed.output
    assert "SYNTHETIC" in completed.output
    result = _check_run_outputs(out)
    assert result["synthetic"] is True
    # the guards let the desk trade the synthetic market (receipts trail venue time by 20 ms)
    assert result["orders"] > 0
    assert "RISK_KILLSWITCH_INPUT_INVALID" not in result["reason_codes"]
    assert "SYNTHETIC DATA" in (out / "report.html").read_text()


def test_bad_desk_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    desk = tmp_path / "bad.toml"
    desk.write_text(
        '[[risk]]\nid = "risk.stalebookguard"\n[risk.config]\nmax_book_age_ms = 999999999\n'
        '[[risk]]\nid = "risk.unknown"\n'
    )
    completed = runner.invoke(app, ["run", "--desk", str(desk), "--out", str(tmp_path / "o")])
    assert completed.exit_code == 2
    assert "max_book_age_ms" in completed.output
    assert "risk.unknown" in completed.output


def test_strategy_loader_refuses_non_strategies(tmp_path: Path) -> None:
    completed = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            "synthetic:normal?seed=1&markets=1",
            "--strategy",
            "polytraders.bots.risk.killswitch:KillSwitch",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert completed.exit_code != 0
    assert "not a strategy bot" in completed.output


def test_repeating_a_run_in_the_same_store_records_a_new_attempt(tmp_path: Path) -> None:
    """Same data, desk and seed into the same store: attempt 2 of the same run id, and both
    attempts hold byte-identical envelopes with the same timeline hash."""
    store = str(tmp_path / "desk.sqlite")
    data = "synthetic:normal?seed=5&markets=1"
    first = runner.invoke(
        app, ["run", "--data", data, "--store", store, "--out", str(tmp_path / "a")]
    )
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        app, ["run", "--data", data, "--store", store, "--out", str(tmp_path / "b")]
    )
    assert second.exit_code == 0, second.output
    assert "integrity sound" in second.output
    result_a = json.loads((tmp_path / "a" / "result.json").read_text())
    result_b = json.loads((tmp_path / "b" / "result.json").read_text())
    run = result_a["run_id"]
    assert result_b["run_id"] == run
    assert result_b["envelopes_sha256"] == result_a["envelopes_sha256"]
    assert f"recorded again as {run}@2" in second.output
    from polytraders.store import EventStore

    with EventStore.open(store) as recorded:
        assert [(r.run_id, r.attempt) for r in recorded.runs()] == [(run, 1), (run, 2)]
        exported = []
        for attempt in (1, 2):
            assert recorded.check_integrity(f"{run}@{attempt}") == []
            stream = io.BytesIO()
            recorded.export_jsonl(f"{run}@{attempt}", stream)
            exported.append(stream.getvalue())
    assert exported[0] == exported[1]
    assert hashlib.sha256(exported[0]).hexdigest() == result_a["envelopes_sha256"]
