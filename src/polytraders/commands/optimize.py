"""``polytraders optimize`` (Optuna over one bot's ``SEARCH_SPACE``) and ``polytraders
reference-runs`` (regenerate or check the committed reference runs); see ``docs/optimize.md``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.backtest.stop import EXIT_CODE_BY_SIGNAL
from polytraders.commands.failures import EXIT_FAILED, EXIT_REFUSED, fail
from polytraders.contracts.search_space import Param
from polytraders.feeds.samples import sample_path

if TYPE_CHECKING:
    from polytraders.optimize.optimizer import OptimizeResult
    from polytraders.optimize.trial import TrialOutcome

console = Console()
DEFAULT_OUT = Path("runs") / "optimize"
_INSTALL = "the optimizer needs Optuna: pip install 'polytraders[optimize]'"


def _quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the progress bar says it instead."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class _Bar:
    """The study's progress bar: trials finished of the study's total, best score, elapsed
    time and ETA."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("trials", total=None, best="-", note="")

    def start(self, total: int, finished: int) -> None:
        self._progress.update(self._task, total=total, completed=finished)

    def update(self, finished: int, best: float | None, note: str = "") -> None:
        shown = "-" if best is None else f"{best:.6g}"
        self._progress.update(self._task, completed=finished, best=shown, note=note)


def _load_desk(desk: Path | None, strategy: str | None) -> tuple[DeskFile, Path]:
    try:
        desk_file = DeskFile.load(desk) if desk is not None else DeskFile()
        if strategy:
            desk_file = desk_file.with_strategy(strategy)
    except DeskFileError as exc:
        fail(exc.one_line(), EXIT_REFUSED, exc)
    base_dir = desk.resolve().parent if desk is not None else Path.cwd()
    return desk_file, base_dir


def _ranges(path: Path, desk_file: DeskFile, bot_id: str) -> tuple[Param, ...]:
    """The parameters of the ranges file ``path`` for ``bot_id`` of ``desk_file``; exits 2 when
    the bot cannot be tuned or the file cannot be applied."""
    from polytraders.optimize.optimizer import OptimizeError, check_bot
    from polytraders.optimize.space import RangesError, load_ranges

    try:
        return load_ranges(path, check_bot(desk_file, bot_id).SEARCH_SPACE)
    except (OptimizeError, RangesError) as exc:
        fail(str(exc), EXIT_REFUSED, exc)


def _figures_table(result: OptimizeResult) -> Table:
    table = Table(
        title=f"Best trial {result.best.number if result.best else '-'}: in / out of sample"
    )
    unit = result.split.currency
    for column in ("run", "score", f"PnL ({unit})", f"max DD ({unit})", "Sharpe", "fills",
                   "markets"):  # fmt: skip
        table.add_column(column, justify="left" if column == "run" else "right")
    rows: list[tuple[str, TrialOutcome | None]] = [
        ("best, in sample", result.best_in_sample),
        ("best, out of sample", result.best_out_of_sample),
        ("untuned, in sample", result.baseline_in_sample),
        ("untuned, out of sample", result.baseline_out_of_sample),
    ]
    for label, outcome in rows:
        if outcome is None:
            table.add_row(label, "not run")
        elif outcome.figures is None:
            table.add_row(label, f"FAILED: {outcome.error}")
        else:
            f = outcome.figures
            table.add_row(
                label,
                f"{f.score:.6g}",
                f.pnl_usd,
                f.max_drawdown_usd,
                f"{f.sharpe:.4g}",
                str(f.fills),
                str(f.markets),
            )
    return table


def _best_trials_table(result: OptimizeResult) -> Table:
    from polytraders.optimize.outputs import TOP_TRIALS

    table = Table(title=f"Best trials (of {len(result.records)})")
    unit = result.split.currency
    for column in ("trial", "score", f"PnL ({unit})", f"max DD ({unit})", "Sharpe", "fills",
                   "orders"):  # fmt: skip
        table.add_column(column, justify="right")
    ranked = sorted(
        (r for r in result.records if r.figures is not None),
        key=lambda r: (-(r.figures.score if r.figures else 0.0), r.number),
    )
    for record in ranked[:TOP_TRIALS]:
        f = record.figures
        assert f is not None
        table.add_row(
            str(record.number),
            f"{f.score:.6g}",
            f.pnl_usd,
            f.max_drawdown_usd,
            f"{f.sharpe:.4g}",
            str(f.fills),
            str(f.orders),
        )
    return table


def _params_table(result: OptimizeResult) -> Table:
    table = Table(title=f"Best parameters of {result.request.bot_id}")
    for column in ("parameter", "best", "base config"):
        table.add_column(column)
    if result.best is not None:
        for name, value in result.best.params.items():
            table.add_row(name, str(value), str(result.base_config.get(name)))
    return table


def optimize(
    bot: Annotated[
        str | None,
        typer.Option("--bot", help="Bot to tune (a library bot id; default: --strategy's bot)."),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Your strategy, FILE.py:Class or module:Class, in place of the desk's "
            "strategies (as in `backtest`); tuned unless --bot names another bot.",
        ),
    ] = None,
    desk: Annotated[
        Path | None,
        typer.Option("--desk", help="Base desk file (TOML); all but the tuned bot stays fixed."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="Data to split and replay (default: the shipped Polymarket sample)."
        ),
    ] = None,
    trials: Annotated[int, typer.Option("--trials", help="Trials in the study.")] = 30,
    score: Annotated[
        str,
        typer.Option(
            "--score",
            help="total_pnl, sharpe, pnl_drawdown, risk_guard, or module:function / "
            "FILE.py:function (keyword-only arguments).",
        ),
    ] = "total_pnl",
    sampler: Annotated[
        str, typer.Option("--sampler", help="Optuna sampler: tpe, random, cmaes or nsgaii.")
    ] = "tpe",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the study's samplers.")] = 7,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            help="Processes running trials (default: every core, at most --batch; results do "
            "not change).",
        ),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(
            "--batch",
            help="Trials suggested together before any is scored (part of the study's identity; "
            "--jobs at most this).",
        ),
    ] = 8,
    in_sample_pct: Annotated[
        int,
        typer.Option("--in-sample-pct", help="Percent of the markets (by start) in sample, 1-99."),
    ] = 75,
    min_fills: Annotated[
        int,
        typer.Option(
            "--min-fills",
            help="A trial whose in-sample run makes fewer fills fails (too few to be "
            "evidence); 0: no minimum.",
        ),
    ] = 0,
    ranges: Annotated[
        Path | None,
        typer.Option(
            "--ranges",
            help="TOML file of parameter ranges replacing the bot's own for this data (one "
            "table per parameter: low/high/step/log or choices), within its hard limits.",
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage: SQLite path/URL or postgresql+psycopg://… (default: "
            "OUT/study.sqlite).",
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(
            "--study", help="Study name (default: derived from the settings); workers share it."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: runs/optimize/<bot id>)."),
    ] = None,
) -> None:
    """Tune one bot's SEARCH_SPACE with Optuna: every trial a real backtest of the desk on the
    in-sample markets, the best parameters re-run out of sample. Writes best.toml (a desk
    file for `polytraders backtest --desk`), summary.json, trials.csv and report.html.

    Exit codes: 0 done, 1 no trial completed or the best trial did not reproduce, 2 refused
    input, 130/143 interrupted (run the same command again to resume)."""
    try:
        _quiet_optuna()
        from polytraders.feeds.errors import FeedError
        from polytraders.optimize.optimizer import OptimizeError, OptimizeRequest
        from polytraders.optimize.optimizer import optimize as run_optimize
        from polytraders.optimize.split import SplitError
        from polytraders.optimize.tuned_desk import DeskSpec
        from polytraders.optimize.workers import StudyInterruptedError, default_jobs
    except ImportError as exc:
        fail(_INSTALL, EXIT_REFUSED, exc)
    from polytraders.backtest.engine import RunRefusedError

    desk_file, base_dir = _load_desk(desk, strategy)
    bot_id = bot
    if bot_id is None:
        if not strategy:
            fail("--bot BOT_ID or --strategy FILE.py:Class is required")
        bot_id = str(desk_file.strategies[0].id)
    out_dir = out if out is not None else DEFAULT_OUT / bot_id
    params = _ranges(ranges, desk_file, bot_id) if ranges is not None else ()
    request = OptimizeRequest(
        bot_id=bot_id,
        desk=DeskSpec.of(desk_file, base_dir),
        data=data if data is not None else str(sample_path()),
        out_dir=str(out_dir),
        trials=trials,
        score=score,
        sampler=sampler,
        seed=seed,
        jobs=default_jobs(batch) if jobs is None else jobs,
        batch=batch,
        in_sample_pct=in_sample_pct,
        ranges=params,
        min_fills=min_fills,
        storage=storage,
        study=study,
    )
    with Progress(
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("trials  best {task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=True,
    ) as progress:
        try:
            result = run_optimize(request, progress=_Bar(progress))
        except (OptimizeError, SplitError, FeedError, RunRefusedError) as exc:
            fail(str(exc), EXIT_REFUSED, exc)
        except StudyInterruptedError as exc:
            progress.stop()
            fail(
                f"{exc}: the unfinished trials are waiting again; run the same command to resume",
                EXIT_CODE_BY_SIGNAL[exc.signal_name],
                exc,
            )
    _finish(result)


def _finish(result: OptimizeResult) -> None:
    """Write the outputs, print the tables and exit with the study's code."""
    import optuna

    from polytraders.backtest.result import FillModel
    from polytraders.optimize.optimizer import storage_url
    from polytraders.optimize.outputs import reproduce_command, write_outputs
    from polytraders.optimize.report import report_html
    from polytraders.optimize.storage import open_storage

    study = optuna.load_study(
        study_name=result.study_name, storage=open_storage(storage_url(result.request))
    )
    fill_model = FillModel.of(result.request.desk.load().venue)
    written = write_outputs(result, report_html(result, study, fill_model))
    console.print(_best_trials_table(result))
    console.print(_params_table(result))
    console.print(_figures_table(result))
    if result.comparison.warning:
        console.print(f"[bold red]WARNING: {result.comparison.warning}[/bold red]", soft_wrap=True)
    if result.split.overlap:
        console.print("note: the out-of-sample markets overlap the in-sample ones in time")
    for name, path in written.items():
        console.print(f"{name + ':':<14}{path}")
    console.print(
        f"study:        {result.study_name} in {result.storage} "
        f"({result.trials_run_here} trials run here, {result.trials_per_minute:.2f} trials/min, "
        f"{result.wall_s:.1f} s)",
        soft_wrap=True,
    )
    if result.best is None:
        fail("no trial completed: see trials.csv for each trial's error", EXIT_FAILED)
    if not result.reproduced:
        fail(
            f"the best trial {result.best.number} did not reproduce when re-run in sample",
            EXIT_FAILED,
        )
    console.print(f"reproduce:    {reproduce_command(result)}", soft_wrap=True)


def reference_runs(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder of the reference runs (one subfolder per bot)."),
    ] = Path("runs") / "optimizer",
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            help="Processes running trials, 1-8 (default: every core, at most 8; results do "
            "not change).",
        ),
    ] = None,
    timelines: Annotated[
        bool,
        typer.Option(
            "--timelines",
            help="Rewrite only the timelines (seconds; after a change to a bot's code that "
            "keeps its tuning valid).",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only re-run every bot's timeline fixture and compare with the files "
            "(exit 1 on a difference).",
        ),
    ] = False,
    bot: Annotated[
        list[str] | None,
        typer.Option(
            "--bot",
            help="Rewrite only this bot's files (repeatable; default: every library bot).",
        ),
    ] = None,
) -> None:
    """Regenerate the optimizer evidence under runs/optimizer/<bot_id>/: every bot's recorded
    timeline on its synthetic fixture (timeline.json) and, for every bot with a non-empty
    SEARCH_SPACE, a reference study on the shipped sample (reference.json). See
    docs/optimize.md."""
    try:
        _quiet_optuna()
        from polytraders.optimize.references import check_timelines, regenerate
        from polytraders.optimize.workers import StudyInterruptedError, default_jobs
    except ImportError as exc:
        fail(_INSTALL, EXIT_REFUSED, exc)
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file, not a folder")
    if check and (timelines or jobs is not None or bot):
        fail("--check re-runs the timelines only: it takes neither --timelines, --jobs nor --bot")
    if check:
        problems = check_timelines(out)
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        if problems:
            raise typer.Exit(code=EXIT_FAILED)
        console.print(f"ok: every recorded timeline under {out} reproduces")
        return
    if timelines and jobs is not None:
        fail("--timelines runs no study: it takes no --jobs")
    jobs = default_jobs(8) if jobs is None else jobs
    if not 1 <= jobs <= 8:
        fail(f"--jobs {jobs}: must be between 1 and 8 (the batch size of a reference study)")
    with Progress(
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("trials  best {task.fields[best]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=True,
    ) as progress:
        try:
            written = regenerate(
                out,
                jobs=jobs,
                timelines_only=timelines,
                bots=tuple(bot or ()),
                progress=_Bar(progress),
                announce=console.print,
            )
        except StudyInterruptedError as exc:
            progress.stop()
            fail(f"{exc}: files already rewritten stay", EXIT_CODE_BY_SIGNAL[exc.signal_name], exc)
        except (ValueError, OSError) as exc:  # the shipped sample missing or unreadable
            progress.stop()
            fail(f"reference runs failed: {exc}", EXIT_FAILED, exc)
    for path in written:
        console.print(f"wrote {path}")
