"""What a finished study writes into ``--out`` (beside ``study.sqlite``, ``data/`` and the
best trial's backtests ``in_sample/`` and ``out_of_sample/``):

- ``best.toml``: the base desk with the tuned bot's winning config, a desk file
  ``polytraders backtest --desk`` accepts as is (comments at the top say how to reproduce the
  in-sample score);
- ``summary.json``: :func:`summary`;
- ``trials.csv``: one row per trial (number, state, score, headline figures, worker, error,
  then every parameter in search-space order);
- ``report.html``: :mod:`polytraders.optimize.report`.

Files are written to a temporary name and renamed into place.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import msgspec
import optuna

from polytraders import __version__
from polytraders.backtest.result import utc_iso
from polytraders.optimize.optimizer import OptimizeResult
from polytraders.optimize.split import Part
from polytraders.optimize.trial import TrialOutcome
from polytraders.optimize.tuned_desk import best_toml

BEST_TOML = "best.toml"
SUMMARY_JSON = "summary.json"
TRIALS_CSV = "trials.csv"
REPORT_HTML = "report.html"
TOP_TRIALS = 10
"""Trials listed in ``summary.json``'s ``top_trials`` and the report's table."""


def _relative(path: str, out_dir: Path) -> str:
    try:
        return Path(path).relative_to(out_dir).as_posix()
    except ValueError:
        return path


def _part(part: Part, out_dir: Path) -> dict[str, Any]:
    return {
        "path": _relative(part.path, out_dir),
        "digest": part.digest,
        "markets": list(part.market_ids),
        "start_utc": utc_iso(part.start_ns),
        "end_utc": utc_iso(part.end_ns),
    }


def outcome_json(outcome: TrialOutcome | None) -> dict[str, Any] | None:
    """A re-run's figures, or ``{"error": …}`` when it failed (None when not run)."""
    if outcome is None:
        return None
    if outcome.figures is None:
        return {"error": outcome.error}
    figures: dict[str, Any] = msgspec.to_builtins(outcome.figures)
    return figures


def reproduce_command(result: OptimizeResult) -> str:
    """The command that reproduces the best in-sample score from ``best.toml``."""
    out = Path(result.request.out_dir)
    return (
        f"polytraders backtest --desk {out / BEST_TOML} --data {result.split.in_sample.path} "
        f"--out {out / 'reproduced'}"
    )


def summary(result: OptimizeResult) -> dict[str, Any]:
    """The study's summary: settings (``search_space`` the one searched; ``ranges``, only
    when the study replaced some of the bot's ranges, those parameters; ``min_fills`` when
    not 0), data split, trial
    counts, best trial (number, params, score), in-sample / out-of-sample figures of the best
    parameters and of the untuned desk (the baseline), the comparison and its warning, the top
    trials, the versions, and ``environment`` (jobs, trials this process ran, wall time, trials
    per minute, storage, output folder: the only part that changes with the jobs, the storage,
    the output folder or the machine)."""
    request = result.request
    out = Path(request.out_dir)
    states: dict[str, int] = {}
    for record in result.records:
        states[record.state] = states.get(record.state, 0) + 1
    ranked = sorted(
        (r for r in result.records if r.figures is not None),
        key=lambda r: (-(r.figures.score if r.figures else 0.0), r.number),
    )
    best = result.best
    return {
        "study": result.study_name,
        "bot_id": request.bot_id,
        "bot_version": result.bot_version,
        "score": result.settings.score,
        "score_scales_with_markets": result.score_scales_with_markets,
        "sampler": request.sampler,
        "seed": request.seed,
        "trials": request.trials,
        "batch": request.batch,
        "search_space": json.loads(result.settings.search_space),
        **({"ranges": msgspec.to_builtins(request.ranges)} if request.ranges else {}),
        **({"min_fills": request.min_fills} if request.min_fills else {}),
        "desk_version": result.settings.desk_version,
        "data": {
            "source": request.data,
            "digest": result.split.digest,
            "in_sample_pct": result.split.in_sample_pct,
            "in_sample": _part(result.split.in_sample, out),
            "out_of_sample": _part(result.split.out_of_sample, out),
            "overlap_in_time": result.split.overlap,
        },
        "trial_states": dict(sorted(states.items())),
        "best": None
        if best is None or best.figures is None
        else {"number": best.number, "score": best.figures.score, "params": best.params},
        "base_config": result.base_config,
        "in_sample": outcome_json(result.best_in_sample),
        "out_of_sample": outcome_json(result.best_out_of_sample),
        "baseline": {
            "in_sample": outcome_json(result.baseline_in_sample),
            "out_of_sample": outcome_json(result.baseline_out_of_sample),
        },
        "comparison": msgspec.to_builtins(result.comparison),
        "reproduced": result.reproduced,
        "top_trials": [
            {"number": r.number, "score": r.figures.score, "pnl_usd": r.figures.pnl_usd}
            for r in ranked[:TOP_TRIALS]
            if r.figures is not None
        ],
        "versions": {"polytraders": __version__, "optuna": optuna.__version__},
        "environment": {
            "jobs": request.jobs,
            "trials_run_here": result.trials_run_here,
            "wall_s": round(result.wall_s, 3),
            "trials_per_minute": round(result.trials_per_minute, 2),
            "storage": result.storage,
            "out": str(out),
        },
    }


def trials_csv(result: OptimizeResult) -> str:
    """``trials.csv`` text (module docstring)."""
    names = [p["name"] for p in json.loads(result.settings.search_space)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    figures_columns = ["score", "pnl_usd", "max_drawdown_usd", "sharpe", "fills", "orders"]
    writer.writerow(["number", "state", *figures_columns, "worker", "error", *names])
    for record in result.records:
        figures = msgspec.to_builtins(record.figures) if record.figures is not None else {}
        writer.writerow(
            [
                record.number,
                record.state,
                *(figures.get(c, "") for c in figures_columns),
                record.worker,
                record.error,
                *(record.params.get(n, "") for n in names),
            ]
        )
    return buffer.getvalue()


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def write_outputs(result: OptimizeResult, report_html: str) -> dict[str, Path]:
    """Write ``best.toml`` (when a trial completed), ``summary.json``, ``trials.csv`` and
    ``report.html`` into the output folder; returns what was written by name.

    Raises:
        OSError: a file cannot be written.
    """
    out = Path(result.request.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if result.best_desk is not None and result.best is not None and result.best.figures:
        header = [
            f"written by polytraders optimize: study {result.study_name}, trial "
            f"{result.best.number} of {result.request.trials}",
            f"{result.request.bot_id} tuned for score {result.settings.score} = "
            f"{result.best.figures.score!r} in sample",
            f"reproduce: {reproduce_command(result)}",
        ]
        _write(out / BEST_TOML, best_toml(result.best_desk, header))
        written[BEST_TOML] = out / BEST_TOML
    _write(out / SUMMARY_JSON, json.dumps(summary(result), indent=2) + "\n")
    written[SUMMARY_JSON] = out / SUMMARY_JSON
    _write(out / TRIALS_CSV, trials_csv(result))
    written[TRIALS_CSV] = out / TRIALS_CSV
    _write(out / REPORT_HTML, report_html)
    written[REPORT_HTML] = out / REPORT_HTML
    return written
