"""Optimizer throughput: trials per minute tuning ``strat.maker_tight`` on the shipped sample
(``data/samples/polymarket/resolvedkit_btc15m``, 12 markets; the 9 earliest in sample) with
one and with two jobs.

Each trial is a whole backtest of the default desk over the in-sample markets; the figure is
trials finished per minute of the trial loop's wall time (the data split, the storage setup
and the re-runs of the best trial are left out; with two jobs, starting the worker processes
is in). Both runs use the same seed, batch (= the trial count) and trial count, so they run
the same trials, and the bench says whether their scores agree. The machine's other load
shows in the figures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import optuna

from bench.data import POLYMARKET_SAMPLE
from polytraders.backtest.desk_file import DeskFile
from polytraders.bots.strategy.maker_tight import SEARCH_SPACE
from polytraders.optimize.space import space_json
from polytraders.optimize.split import split_data
from polytraders.optimize.storage import open_storage
from polytraders.optimize.study import (
    StudySettings,
    open_study,
    run_trials,
    trial_records,
)
from polytraders.optimize.trial import TrialTask
from polytraders.optimize.tuned_desk import DeskSpec
from polytraders.optimize.workers import Workers

DESCRIPTION = "optimizer trials per minute, strat.maker_tight on the real sample, 1 and 2 jobs"


def _study(folder: Path, trials: int, jobs: int) -> tuple[float, list[float | None]]:
    """Run a ``trials``-trial study with ``jobs`` jobs; (wall seconds of the trial loop,
    scores in trial order)."""
    split = split_data(str(POLYMARKET_SAMPLE), in_sample_pct=75, folder=folder / "data")
    desk = DeskSpec.of(DeskFile(), folder)
    settings = StudySettings(
        bot_id="strat.maker_tight",
        search_space=space_json(SEARCH_SPACE),
        score="total_pnl",
        sampler="tpe",
        seed=7,
        trials=trials,
        batch=trials,
        desk_version=DeskFile().config_version,
        data_digest=split.digest,
        in_sample_digest=split.in_sample.digest,
        in_sample_pct=75,
    )
    storage = open_storage(folder / "study.sqlite")
    study = open_study(storage, "bench", settings)

    def task(number: int, params: dict[str, object]) -> TrialTask:
        return TrialTask(
            number=number,
            params=params,
            data=split.in_sample.path,
            desk=desk,
            bot_id="strat.maker_tight",
            score="total_pnl",
        )

    started = time.perf_counter()
    with Workers(jobs) as workers:
        run_trials(
            study=study,
            storage=storage,
            space=SEARCH_SPACE,
            settings=settings,
            make_task=task,
            workers=workers,
        )
    wall_s = time.perf_counter() - started
    scores = [r.figures.score if r.figures else None for r in trial_records(study, SEARCH_SPACE)]
    return wall_s, scores


def run(quick: bool = False) -> dict[str, float | int | str]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = 2 if quick else 4
    figures: dict[str, float | int | str] = {"trials": trials}
    scores: dict[int, list[float | None]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as folder:
        for jobs in (1, 2):
            wall_s, scores[jobs] = _study(Path(folder) / f"jobs{jobs}", trials, jobs)
            figures[f"jobs{jobs}_wall_s"] = round(wall_s, 2)
            figures[f"jobs{jobs}_trials_per_min"] = round(60.0 * trials / wall_s, 2)
    figures["same_scores_both_ways"] = str(scores[1] == scores[2])
    return figures
