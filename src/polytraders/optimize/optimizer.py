"""``polytraders optimize`` as a library call: :func:`optimize`.

Steps: check the request (bot in the desk and ENFORCED, a searchable space, score, sampler,
numbers) before anything is written; split the data (:mod:`~polytraders.optimize.split`); open
or create the study (:mod:`~polytraders.optimize.study`); run its trials on the in-sample part;
then re-run the best trial in sample (with outputs under ``<out>/in_sample``; its envelope
timeline must equal the trial's, or the study is reported as not reproducible) and out of
sample (``<out>/out_of_sample``), and the untuned desk on both parts (the baseline); compare
in-sample and out-of-sample figures.

Comparison: a score that scales with the number of markets (``scales_with_markets``, e.g.
PnL) is compared per market; others as they are. The warning fires when the out-of-sample
value falls below the in-sample value by more than :data:`OOS_WARN_DROP_PCT` percent of the
in-sample value's size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import optuna

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.stop import stop_on_signals
from polytraders.bots.registry import BOTS
from polytraders.contracts.search_space import Param
from polytraders.optimize.samplers import check_sampler
from polytraders.optimize.scores import Score, load_score
from polytraders.optimize.space import space_json, space_problems
from polytraders.optimize.split import DataSplit, split_data
from polytraders.optimize.storage import StudyError, open_storage
from polytraders.optimize.study import (
    StudyProgress,
    StudySettings,
    TrialRecord,
    best_record,
    open_study,
    run_trials,
    trial_records,
)
from polytraders.optimize.trial import TrialOutcome, TrialTask, trial_desk
from polytraders.optimize.tuned_desk import DeskSpec, TunedBotError, base_config, locate
from polytraders.optimize.workers import Workers
from polytraders.store.url import masked, resolve

OOS_WARN_DROP_PCT = 50
"""Out of sample this many percent (of the in-sample value's size) below in sample: warn."""
STUDY_FILE = "study.sqlite"
"""The default storage: this SQLite file in the output folder."""
IN_SAMPLE_DIR = "in_sample"
OUT_OF_SAMPLE_DIR = "out_of_sample"
DATA_DIR = "data"
_BASELINE_IN, _BASELINE_OUT, _BEST_OUT = -1, -2, -3
"""Task numbers of the re-runs outside the study (the best in sample keeps its trial number)."""


class OptimizeError(ValueError):
    """The request is refused before anything runs, or the study cannot be used (one line)."""


class OptimizeRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What to optimise.

    Fields:
        bot_id: the bot to tune (a library bot or the desk's user bot).
        desk: the base desk (the rest of the desk stays fixed).
        data: the data (a path or synthetic spec) to split.
        out_dir: the output folder.
        trials: trials in the study (≥ 1).
        score: a built-in score name or ``module:function`` / ``FILE.py:function``.
        sampler: an Optuna sampler name (:data:`~polytraders.optimize.samplers.SAMPLERS`).
        seed: the study's seed (its samplers'); the desk keeps its own ``seed``.
        jobs: processes running trials (1 ≤ jobs ≤ batch).
        batch: trials suggested together (the unit of reproducibility, ≥ 1).
        in_sample_pct: percent of the markets (by start) in sample, 1–99.
        ranges: parameters replacing the bot's own of the same name (a ranges file,
            :func:`~polytraders.optimize.space.load_ranges`); empty: the bot's space as is.
        min_fills: a trial whose run makes fewer fills FAILS (too few to be evidence, as
            Freqtrade's hyperopt penalises too few trades); 0: no minimum. The re-runs of the
            untuned desk and the best parameters out of sample are reported as they are.
        storage: Optuna storage URL (None: ``<out_dir>/study.sqlite``).
        study: study name (None: derived from the settings).
    """

    bot_id: str
    desk: DeskSpec
    data: str
    out_dir: str
    trials: int
    score: str = "total_pnl"
    sampler: str = "tpe"
    seed: int = 7
    jobs: int = 1
    batch: int = 8
    in_sample_pct: int = 75
    ranges: tuple[Param, ...] = ()
    min_fills: int = 0
    storage: str | None = None
    study: str | None = None


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """In-sample vs out-of-sample score of the best trial, on the basis named (``per market``
    or ``as is``), and the warning (empty when none)."""

    basis: str
    in_sample: float | None
    out_of_sample: float | None
    warning: str


class OptimizeResult(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a finished study reports (see :mod:`polytraders.optimize.outputs`)."""

    request: OptimizeRequest
    study_name: str
    storage: str
    settings: StudySettings
    bot_version: str
    score_scales_with_markets: bool
    split: DataSplit
    base_config: dict[str, Any]
    records: list[TrialRecord]
    best: TrialRecord | None
    best_desk: DeskSpec | None
    best_in_sample: TrialOutcome | None
    best_out_of_sample: TrialOutcome | None
    baseline_in_sample: TrialOutcome
    baseline_out_of_sample: TrialOutcome
    reproduced: bool
    comparison: Comparison
    trials_run_here: int
    """Trials this process ran (the others ran in other processes, or before a resume)."""
    wall_s: float

    @property
    def trials_per_minute(self) -> float:
        """Trials this process ran per minute of its wall time (re-runs included in the time)."""
        return 60.0 * self.trials_run_here / self.wall_s if self.wall_s > 0 else 0.0


def check_bot(desk: DeskFile, bot_id: str, ranges: tuple[Param, ...] = ()) -> Any:
    """The class of ``bot_id`` when the desk can tune it with ``ranges`` in place of its own
    (:meth:`~polytraders.contracts.search_space.SearchSpace.with_ranges`).

    Raises:
        OptimizeError: unknown bot, not in the desk, not ENFORCED there, or a space the
            optimizer cannot search (empty, outside the hard limits, step with log, ranges
            naming no parameter of the bot's).
    """
    try:
        _, _, cls = locate(desk, bot_id)
    except TunedBotError as exc:
        if bot_id not in BOTS and not _in_desk(desk, bot_id):
            raise OptimizeError(
                f"--bot {bot_id}: unknown bot; known: {', '.join(sorted(BOTS))} "
                "(your own strategy: --strategy FILE.py:Class)"
            ) from exc
        raise OptimizeError(f"--bot {exc}") from exc
    problems = space_problems(bot_id, getattr(cls, "SEARCH_SPACE", None))
    if not problems and ranges:
        try:
            narrowed = cls.SEARCH_SPACE.with_ranges(ranges)
        except ValueError as exc:
            raise OptimizeError(f"--ranges: {bot_id}: {exc}") from exc
        problems = [f"--ranges: {p}" for p in space_problems(bot_id, narrowed)]
    if problems:
        raise OptimizeError("; ".join(problems))
    return cls


def _in_desk(desk: DeskFile, bot_id: str) -> bool:
    return any(
        desk.bot_class(entry).bot_id == bot_id
        for section in ("strategies", "risk", "execution")
        for entry in getattr(desk, section)
    )


def check_request(request: OptimizeRequest) -> tuple[Any, Score]:
    """Refuse a request that cannot run, before anything is written; returns the bot class and
    the loaded score.

    Raises:
        OptimizeError: one line naming the option and the problem.
    """
    if request.trials < 1:
        raise OptimizeError(f"--trials {request.trials}: must be at least 1")
    if request.batch < 1:
        raise OptimizeError(f"--batch {request.batch}: must be at least 1")
    if not 1 <= request.jobs <= request.batch:
        raise OptimizeError(
            f"--jobs {request.jobs}: must be between 1 and --batch ({request.batch}); at most "
            "a batch of trials runs at once"
        )
    if request.min_fills < 0:
        raise OptimizeError(f"--min-fills {request.min_fills}: must be at least 0")
    if not 0 <= request.seed <= 2**63 - 1:
        raise OptimizeError(f"--seed {request.seed}: must be between 0 and 2**63 - 1")
    out = Path(request.out_dir)
    if out.exists() and not out.is_dir():
        raise OptimizeError(f"--out {out}: is a file, not a folder")
    try:
        check_sampler(request.sampler)
        score = load_score(request.score)
    except ValueError as exc:  # SamplerError, ScoreError
        raise OptimizeError(str(exc)) from exc
    cls = check_bot(request.desk.load(), request.bot_id, request.ranges)
    return cls, score


def storage_url(request: OptimizeRequest) -> str:
    """The storage URL of ``request`` (default: ``<out_dir>/study.sqlite``)."""
    return request.storage or str(Path(request.out_dir) / STUDY_FILE)


def optimize(
    request: OptimizeRequest,
    *,
    progress: StudyProgress | None = None,
) -> OptimizeResult:
    """Run the study of ``request`` and the re-runs of its best trial (module docstring).

    Raises:
        OptimizeError: the request is refused, or the storage/study cannot be used.
        FeedError / SplitError: the data cannot be read or split.
        StudyInterruptedError: SIGINT/SIGTERM stopped it (finished trials stay in the study).
        RunRefusedError, OSError: a backtest could not start or write its outputs.
    """
    started = time.perf_counter()
    cls, score = check_request(request)
    out = Path(request.out_dir)
    url = storage_url(request)
    try:
        storage = open_storage(url)
    except StudyError as exc:
        raise OptimizeError(str(exc)) from exc
    split = split_data(request.data, in_sample_pct=request.in_sample_pct, folder=out / DATA_DIR)
    base_desk = request.desk.load()
    space = cls.SEARCH_SPACE.with_ranges(request.ranges)
    settings = StudySettings(
        bot_id=request.bot_id,
        search_space=space_json(space),
        score=score.name,
        sampler=request.sampler,
        seed=request.seed,
        trials=request.trials,
        batch=request.batch,
        desk_version=base_desk.config_version,
        data_digest=split.digest,
        in_sample_digest=split.in_sample.digest,
        in_sample_pct=request.in_sample_pct,
        min_fills=request.min_fills,
    )
    name = request.study or settings.default_name()
    try:
        study = open_study(storage, name, settings)
    except StudyError as exc:
        raise OptimizeError(str(exc)) from exc

    def task(
        number: int,
        params: dict[str, Any],
        data: str,
        out_dir: str | None = None,
        *,
        min_fills: int = request.min_fills,
    ) -> TrialTask:
        return TrialTask(
            number=number,
            params=params,
            data=data,
            desk=request.desk,
            bot_id=request.bot_id,
            score=score.name,
            ranges=request.ranges,
            min_fills=min_fills,
            out_dir=out_dir,
        )

    with stop_on_signals() as stop, Workers(request.jobs) as workers:
        ran_here = run_trials(
            study=study,
            storage=storage,
            space=space,
            settings=settings,
            make_task=lambda number, params: task(number, params, split.in_sample.path),
            workers=workers,
            stop=stop,
            progress=progress,
        )
        # a fresh view of the study: this process's cached one may still hold a trial that
        # another worker finished while this one waited for it
        settled = optuna.load_study(study_name=study.study_name, storage=storage)
        records = trial_records(settled, space)
        best = best_record(records)
        reruns = [
            task(_BASELINE_IN, {}, split.in_sample.path, min_fills=0),
            task(_BASELINE_OUT, {}, split.out_of_sample.path, min_fills=0),
        ]
        if best is not None:
            reruns += [
                task(best.number, best.params, split.in_sample.path, str(out / IN_SAMPLE_DIR)),
                task(
                    _BEST_OUT,
                    best.params,
                    split.out_of_sample.path,
                    str(out / OUT_OF_SAMPLE_DIR),
                    min_fills=0,
                ),
            ]
        outcomes = _by_number(workers.run(reruns, stop))
    best_in = outcomes.get(best.number) if best is not None else None
    best_out = outcomes.get(_BEST_OUT)
    reproduced = (
        best is not None
        and best.figures is not None
        and best_in is not None
        and best_in.figures is not None
        and best_in.figures.envelopes_sha256 == best.figures.envelopes_sha256
        and best_in.figures.score == best.figures.score
    )
    _, parsed = resolve(url)
    return OptimizeResult(
        request=request,
        study_name=name,
        storage=masked(parsed),
        settings=settings,
        bot_version=str(cls.version),
        score_scales_with_markets=score.scales_with_markets,
        split=split,
        base_config=base_config(base_desk, request.bot_id).model_dump(mode="json"),
        records=records,
        best=best,
        best_desk=_best_desk(request, best),
        best_in_sample=best_in,
        best_out_of_sample=best_out,
        baseline_in_sample=outcomes[_BASELINE_IN],
        baseline_out_of_sample=outcomes[_BASELINE_OUT],
        reproduced=reproduced,
        comparison=compare(score, best_in, best_out),
        trials_run_here=ran_here,
        wall_s=time.perf_counter() - started,
    )


def _by_number(outcomes: Iterable[TrialOutcome]) -> dict[int, TrialOutcome]:
    return {o.number: o for o in outcomes}


def _best_desk(request: OptimizeRequest, best: TrialRecord | None) -> DeskSpec | None:
    if best is None:
        return None
    return trial_desk(
        TrialTask(
            number=best.number,
            params=best.params,
            data="",
            desk=request.desk,
            bot_id=request.bot_id,
            score=request.score,
            ranges=request.ranges,
        )
    )


def compare(
    score: Score, in_sample: TrialOutcome | None, out_of_sample: TrialOutcome | None
) -> Comparison:
    """The best trial's in-sample vs out-of-sample score (module docstring)."""
    basis = "per market" if score.scales_with_markets else "as is"
    if in_sample is None or in_sample.figures is None:
        return Comparison(basis=basis, in_sample=None, out_of_sample=None, warning="")
    ins = in_sample.figures
    a = ins.score / ins.markets if score.scales_with_markets and ins.markets else ins.score
    if out_of_sample is None or out_of_sample.figures is None:
        error = out_of_sample.error if out_of_sample is not None else "not run"
        return Comparison(
            basis=basis,
            in_sample=a,
            out_of_sample=None,
            warning=f"out of sample the best parameters failed: {error}",
        )
    oos = out_of_sample.figures
    b = oos.score / oos.markets if score.scales_with_markets and oos.markets else oos.score
    warning = ""
    if b < a - abs(a) * OOS_WARN_DROP_PCT / 100:
        warning = (
            f"out of sample the score ({b:.6g} {basis}) falls far below in sample "
            f"({a:.6g} {basis}): more than {OOS_WARN_DROP_PCT} % lower; the parameters may be "
            "fitted to the in-sample markets"
        )
    return Comparison(basis=basis, in_sample=a, out_of_sample=b, warning=warning)
