"""``polytraders optimize`` end to end on labelled synthetic data: jobs 1 and 2 give the same
study, ``best.toml`` reproduces the best in-sample score through ``polytraders backtest``, the
report is self-contained, and running the same command again resumes (no new trials)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from polytraders.backtest.desk_file import DeskFile
from tests.optimize.conftest import SYNTHETIC, invoke, summary

ARGS = (
    "optimize",
    "--bot",
    "strat.maker_tight",
    "--data",
    SYNTHETIC,
    "--trials",
    "4",
    "--batch",
    "2",
    "--seed",
    "7",
)

Run = Callable[[int], tuple[Path, Result]]


@pytest.fixture(scope="module")
def run_jobs(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The study of :data:`ARGS` with ``--jobs N`` (each run once per module)."""
    done: dict[int, tuple[Path, Result]] = {}

    def run(jobs: int) -> tuple[Path, Result]:
        if jobs not in done:
            out = tmp_path_factory.mktemp(f"jobs{jobs}") / "out"
            result = invoke(*ARGS, "--jobs", str(jobs), "--out", str(out))
            assert result.exit_code == 0, result.output
            done[jobs] = (out, result)
        return done[jobs]

    return run


def _trials(out: Path) -> list[dict[str, str]]:
    with (out / "trials.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("worker")
    return rows


def test_jobs_1_and_2_give_the_same_parameters_and_figures(run_jobs: Run) -> None:
    one, _ = run_jobs(1)
    two, _ = run_jobs(2)
    first, second = summary(one), summary(two)
    assert first["best"] is not None
    assert first["trial_states"] == {"COMPLETE": 4}
    assert first == second
    assert _trials(one) == _trials(two)
    environment = json.loads((two / "summary.json").read_text(encoding="utf-8"))["environment"]
    assert environment["jobs"] == 2


def test_best_toml_reproduces_the_best_in_sample_score_exactly(
    run_jobs: Run, tmp_path: Path
) -> None:
    out, _ = run_jobs(1)
    document = summary(out)
    best = document["best"]
    assert document["reproduced"] is True
    assert DeskFile.load(out / "best.toml").strategies[0].config  # a desk file as is
    result = invoke(
        "backtest",
        "--desk",
        str(out / "best.toml"),
        "--data",
        str(out / document["data"]["in_sample"]["path"]),
        "--out",
        str(tmp_path / "again"),
    )
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "again" / "result.json").read_text(encoding="utf-8"))
    assert again["envelopes_sha256"] == document["in_sample"]["envelopes_sha256"]
    assert again["pnl_usd"] == document["in_sample"]["pnl_usd"]
    assert float(again["pnl_usd"]) == best["score"]  # total_pnl is the PnL in pUSD
    trial_rows = {row["number"]: row for row in _trials(out)}
    assert float(trial_rows[str(best["number"])]["score"]) == best["score"]


def test_the_report_is_one_offline_page_with_optunas_plots(run_jobs: Run) -> None:
    out, _ = run_jobs(1)
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in ("history", "importances", "parallel", "slice"):
        assert f'id="figure-{name}"' in page, name
    assert 'src="http' not in page and "src='http" not in page
    assert page.count("plotly.js v") == 1  # the library, embedded once
    assert "SYNTHETIC DATA" in page
    assert "best, out of sample" in page


def test_the_terminal_shows_the_best_trials_and_the_two_samples(run_jobs: Run) -> None:
    _, result = run_jobs(1)
    for text in ("Best trials", "Best parameters", "in / out of sample", "best.toml", "reproduce"):
        assert text in result.output
    assert "PnL (pUSD)" in result.output and "USDT" not in result.output


def test_the_same_command_again_resumes_the_finished_study(run_jobs: Run) -> None:
    out, _ = run_jobs(1)
    before = summary(out)
    result = invoke(*ARGS, "--jobs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert summary(out) == before
