"""Trials: a config outside the hard limits, a quarantined bot or a score that raises is a
FAILED trial (never a zero); an interrupted study resumes with the results an uninterrupted
one has."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import RunRefusedError
from polytraders.bots.strategy.maker_tight import SEARCH_SPACE
from polytraders.optimize.space import space_json
from polytraders.optimize.split import DataSplit, split_data
from polytraders.optimize.storage import open_storage
from polytraders.optimize.study import (
    StudySettings,
    TrialRecord,
    open_study,
    run_trials,
    trial_records,
)
from polytraders.optimize.trial import TrialTask, evaluate
from polytraders.optimize.tuned_desk import DeskSpec
from polytraders.optimize.workers import Workers, default_jobs
from tests.optimize.conftest import SYNTHETIC, invoke, touch_quoter_variant

SMALL = "synthetic:normal?seed=5&markets=2&duration_s=120"


def _task(tmp_path: Path, **changes: Any) -> TrialTask:
    task = TrialTask(
        number=0,
        params={},
        data=SMALL,
        desk=DeskSpec.of(DeskFile(), tmp_path),
        bot_id="strat.maker_tight",
        score="total_pnl",
    )
    return msgspec.structs.replace(task, **changes)


def test_a_scored_trial_has_its_figures(tmp_path: Path) -> None:
    outcome = evaluate(_task(tmp_path))
    assert outcome.error == ""
    assert outcome.figures is not None
    assert outcome.figures.score == float(outcome.figures.pnl_usd)
    assert outcome.figures.synthetic


def test_a_value_outside_the_hard_limits_fails_the_trial(tmp_path: Path) -> None:
    outcome = evaluate(_task(tmp_path, params={"base_half_spread_ticks": 99}))
    assert outcome.figures is None
    assert outcome.error.startswith("violates a hard limit")
    assert "base_half_spread_ticks" in outcome.error


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("    raise ZeroDivisionError('no fills')\n", "score: ZeroDivisionError: no fills"),
        ("    return float('nan')\n", "returned nan"),
        ("    return 'high'\n", "returned str, not a number"),
    ],
)
def test_a_score_that_raises_or_is_not_a_number_fails_the_trial(
    tmp_path: Path, body: str, error: str
) -> None:
    (tmp_path / "bad_score.py").write_text(f"def score(*, result):\n{body}")
    outcome = evaluate(_task(tmp_path, score=f"{tmp_path / 'bad_score.py'}:score"))
    assert outcome.figures is None
    assert error in outcome.error


def test_a_quarantined_bot_fails_the_trial(tmp_path: Path) -> None:
    strategy = touch_quoter_variant(
        tmp_path,
        "        codes = tuple(self._learn(view))\n",
        "        raise RuntimeError('broken quoter')\n",
    )
    desk = DeskFile().with_strategy(f"{strategy}:TouchQuoter")
    outcome = evaluate(
        _task(tmp_path, desk=DeskSpec.of(desk, tmp_path), bot_id="strat.touch_quoter")
    )
    assert outcome.figures is None
    assert outcome.error.startswith("quarantined: strat.touch_quoter")


def test_failed_trials_are_failed_in_the_study_and_the_run_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad_score.py").write_text("def score(*, result):\n    raise ValueError('x')\n")
    out = tmp_path / "out"
    result = invoke(
        "optimize",
        "--bot",
        "strat.maker_tight",
        "--data",
        SMALL,
        "--trials",
        "2",
        "--score",
        f"{tmp_path / 'bad_score.py'}:score",
        "--out",
        str(out),
    )
    assert result.exit_code == 1, result.output
    assert "no trial completed" in result.output
    assert not (out / "best.toml").exists()
    rows = (out / "trials.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 2
    assert all(",FAIL,," in row and "score: ValueError: x" in row for row in rows)


def _study(tmp_path: Path, name: str) -> tuple[Any, Any, StudySettings, DataSplit]:
    split = split_data(SYNTHETIC, in_sample_pct=75, folder=tmp_path / "data")
    settings = StudySettings(
        bot_id="strat.maker_tight",
        search_space=space_json(SEARCH_SPACE),
        score="total_pnl",
        sampler="tpe",
        seed=11,
        trials=4,
        batch=2,
        desk_version=DeskFile().config_version,
        data_digest=split.digest,
        in_sample_digest=split.in_sample.digest,
        in_sample_pct=75,
    )
    storage = open_storage(tmp_path / f"{name}.sqlite")
    return storage, open_study(storage, name, settings), settings, split


def _records(tmp_path: Path, name: str, *, fail_at: int | None) -> list[TrialRecord]:
    """Run a 4-trial study; with ``fail_at``, first a run whose trial ``fail_at`` cannot start
    (its data is missing), then the same command again."""
    storage, study, settings, split = _study(tmp_path, name)

    def make_task(data: str) -> Any:
        return lambda number, params: _task(
            tmp_path,
            number=number,
            params=params,
            data=data if number == fail_at else split.in_sample.path,
        )

    if fail_at is not None:
        with Workers(1) as workers, pytest.raises(RunRefusedError):
            run_trials(
                study=study,
                storage=storage,
                space=SEARCH_SPACE,
                settings=settings,
                make_task=make_task(str(tmp_path / "missing")),
                workers=workers,
            )
        states = [r.state for r in trial_records(study, SEARCH_SPACE)]
        assert states == ["COMPLETE", "COMPLETE", "WAITING", "WAITING"]
        fail_at = None
    with Workers(1) as workers:
        run_trials(
            study=study,
            storage=storage,
            space=SEARCH_SPACE,
            settings=settings,
            make_task=make_task(split.in_sample.path),
            workers=workers,
        )
    return trial_records(study, SEARCH_SPACE)


def test_an_interrupted_study_resumes_with_the_uninterrupted_results(tmp_path: Path) -> None:
    interrupted = _records(tmp_path / "a", "study", fail_at=2)
    straight = _records(tmp_path / "b", "study", fail_at=None)
    assert [r.state for r in interrupted] == ["COMPLETE"] * 4
    assert [(r.number, r.params, r.figures) for r in interrupted] == [
        (r.number, r.params, r.figures) for r in straight
    ]


def test_without_jobs_the_trials_run_on_every_core_up_to_a_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # os.process_cpu_count (Python 3.13) counts the cores this process may use; else cpu_count
    counter = "process_cpu_count" if hasattr(os, "process_cpu_count") else "cpu_count"
    monkeypatch.setattr(os, counter, lambda: 6)
    assert [default_jobs(8), default_jobs(4), default_jobs(1)] == [6, 4, 1]
    monkeypatch.setattr(os, counter, lambda: None)  # unknown: one process
    assert default_jobs(8) == 1
