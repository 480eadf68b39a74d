"""``report.html`` of a study: one self-contained page (plotly.js embedded once: works offline).

Header: the bot, score, sampler, seed, trials, the data and its split, the paper venue's fill
model and its bound (the scores inherit it), and banners for synthetic data, a best trial that
did not reproduce, and an out-of-sample score far below the in-sample one. Then: in-sample and
out-of-sample figures of the best parameters beside the untuned desk's, the best parameters
beside the base config with their ranges, the best trials, the failed trials with their
errors, and Optuna's plots (each a ``div`` with a fixed id): optimisation history
(``figure-history``), parameter importances (``figure-importances``, PED-ANOVA, Optuna's
default), parallel coordinates (``figure-parallel``) and slices (``figure-slice``).
"""

from __future__ import annotations

import html
import json
from typing import Any

import optuna
import plotly.graph_objects as go
from optuna import visualization

from polytraders.backtest.result import FillModel
from polytraders.optimize.optimizer import OptimizeResult
from polytraders.optimize.outputs import TOP_TRIALS, reproduce_command
from polytraders.optimize.trial import TrialOutcome

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}
table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:8px 12px;font-weight:bold}.danger{background:#fdecea;color:#922}
.note{background:#fef5e7;padding:8px 12px}pre{background:#f6f6f6;padding:1em;overflow-x:auto}"""
_FIGURE_COLUMNS = (
    ("score", "score"),
    ("PnL ({currency})", "pnl_usd"),
    ("max drawdown ({currency})", "max_drawdown_usd"),
    ("Sharpe", "sharpe"),
    ("fills", "fills"),
    ("orders", "orders"),
    ("markets", "markets"),
    ("status", "status"),
)


def _esc(value: object) -> str:
    return html.escape(str(value))


def _figures_row(label: str, outcome: TrialOutcome | None) -> str:
    if outcome is None:
        return f"<tr><td>{_esc(label)}</td><td colspan='{len(_FIGURE_COLUMNS)}'>not run</td></tr>"
    if outcome.figures is None:
        return (
            f"<tr><td>{_esc(label)}</td><td colspan='{len(_FIGURE_COLUMNS)}'>FAILED: "
            f"{_esc(outcome.error)}</td></tr>"
        )
    figures = outcome.figures
    cells = "".join(
        f"<td class='num'>{_esc(getattr(figures, key))}</td>" for _, key in _FIGURE_COLUMNS
    )
    return f"<tr class='part' data-part='{_esc(label)}'><td>{_esc(label)}</td>{cells}</tr>"


def _comparison(result: OptimizeResult) -> str:
    currency = result.split.currency
    head = "".join(
        f"<th>{_esc(name.format(currency=currency))}</th>" for name, _ in _FIGURE_COLUMNS
    )
    rows = [
        _figures_row("best, in sample", result.best_in_sample),
        _figures_row("best, out of sample", result.best_out_of_sample),
        _figures_row("untuned desk, in sample", result.baseline_in_sample),
        _figures_row("untuned desk, out of sample", result.baseline_out_of_sample),
    ]
    comparison = result.comparison
    line = ""
    if comparison.in_sample is not None:
        outside = "-" if comparison.out_of_sample is None else f"{comparison.out_of_sample:.6g}"
        line = (
            f"<p>Score {comparison.basis}: in sample {comparison.in_sample:.6g}, out of sample "
            f"{outside}.</p>"
        )
    return f"<table><tr><th>run</th>{head}</tr>{''.join(rows)}</table>{line}"


def _params(result: OptimizeResult) -> str:
    if result.best is None:
        return "<p>No trial completed.</p>"
    ranges = {p["name"]: p for p in json.loads(result.settings.search_space)}
    rows = []
    for name, value in result.best.params.items():
        spec = dict(ranges[name])
        kind = spec.pop("type")
        spec.pop("name")
        rows.append(
            f"<tr><td>{_esc(name)}</td><td class='num'>{_esc(value)}</td>"
            f"<td class='num'>{_esc(result.base_config.get(name))}</td>"
            f"<td>{_esc(kind)} {_esc(json.dumps(spec))}</td></tr>"
        )
    return (
        "<table><tr><th>parameter</th><th>best</th><th>base config</th><th>search range</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def _trials(result: OptimizeResult) -> str:
    ranked = sorted(
        (r for r in result.records if r.figures is not None),
        key=lambda r: (-(r.figures.score if r.figures else 0.0), r.number),
    )[:TOP_TRIALS]
    rows = "".join(
        f"<tr class='trial' data-number='{r.number}'><td class='num'>{r.number}</td>"
        f"<td class='num'>{r.figures.score:.6g}</td><td class='num'>{_esc(r.figures.pnl_usd)}</td>"
        f"<td class='num'>{_esc(r.figures.max_drawdown_usd)}</td>"
        f"<td class='num'>{r.figures.sharpe}</td><td class='num'>{r.figures.fills}</td>"
        f"<td>{_esc(r.worker)}</td></tr>"
        for r in ranked
        if r.figures is not None
    )
    failed = [r for r in result.records if r.state == "FAIL"]
    failed_rows = "".join(
        f"<tr class='failed' data-number='{r.number}'><td class='num'>{r.number}</td>"
        f"<td>{_esc(r.error)}</td></tr>"
        for r in failed
    )
    failed_table = (
        f"<h3>Failed trials ({len(failed)})</h3><table><tr><th>trial</th><th>error</th></tr>"
        f"{failed_rows}</table>"
        if failed
        else ""
    )
    return (
        f"<table><tr><th>trial</th><th>score</th><th>PnL ({_esc(result.split.currency)})</th>"
        "<th>max drawdown</th>"
        f"<th>Sharpe</th><th>fills</th><th>worker</th></tr>{rows}</table>{failed_table}"
    )


def _plots(study: optuna.Study) -> str:
    """Optuna's plots, plotly.js embedded with the first; a plot Optuna cannot draw for this
    study (e.g. importances with fewer than two completed trials) is replaced by its reason."""
    makers = (
        ("history", "Optimisation history", visualization.plot_optimization_history),
        ("importances", "Parameter importances", visualization.plot_param_importances),
        ("parallel", "Parallel coordinates", visualization.plot_parallel_coordinate),
        ("slice", "Slices", visualization.plot_slice),
    )
    parts = []
    embedded = False
    for name, title, maker in makers:
        try:
            figure: go.Figure = maker(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            parts.append(f"<h3>{title}</h3><p>Not drawn: {_esc(exc)}</p>")
            continue
        plot = figure.to_html(
            full_html=False,
            include_plotlyjs=not embedded,
            default_width="100%",
            div_id=f"figure-{name}",
        )
        embedded = True
        parts.append(f"<h3>{title}</h3>{plot}")
    return "".join(parts)


def _banners(result: OptimizeResult, synthetic: bool) -> str:
    lines = []
    if synthetic:
        lines.append("SYNTHETIC DATA: these figures say nothing about real markets")
    if result.best is not None and not result.reproduced:
        lines.append(
            "NOT REPRODUCED: re-running the best trial did not give the same envelope timeline "
            "and score"
        )
    if result.comparison.warning:
        lines.append(result.comparison.warning)
    return "".join(f"<div class='banner danger'>{_esc(line)}</div>" for line in lines)


def report_html(result: OptimizeResult, study: optuna.Study, fill_model: FillModel) -> str:
    """The page (module docstring) for ``result``; ``study`` is the study it ran,
    ``fill_model`` the base desk's paper venue fill model."""
    request = result.request
    split = result.split
    outcomes = (result.best_in_sample, result.baseline_in_sample)
    synthetic = any(
        o is not None and o.figures is not None and o.figures.synthetic for o in outcomes
    )
    overlap = (
        "<p class='note'>The out-of-sample markets overlap the in-sample ones in time "
        "(they start before the last in-sample market ends).</p>"
        if split.overlap
        else ""
    )
    states = ", ".join(
        f"{state} {sum(r.state == state for r in result.records)}"
        for state in sorted({r.state for r in result.records})
    )
    settings: list[tuple[str, Any]] = [
        ("study", f"{result.study_name} in {result.storage}"),
        ("bot", f"{request.bot_id} {result.bot_version}"),
        ("score", f"{result.settings.score} (compared {result.comparison.basis})"),
        ("sampler / seed", f"{request.sampler} / {request.seed}"),
        ("trials", f"{request.trials} in batches of {request.batch} ({states})"),
        ("data", f"{request.data} (digest {split.digest})"),
        (
            "split by market start",
            f"{len(split.in_sample.market_ids)} markets in sample ({split.in_sample_pct} %), "
            f"{len(split.out_of_sample.market_ids)} out of sample",
        ),
        ("fill model", f"{fill_model.bound} bound: {fill_model.bound_reason}"),
        ("reproduce the best in-sample score", reproduce_command(result)),
    ]
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in settings)
    title = f"Polytraders optimizer: {request.bot_id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_esc(title)}</title>
<style>{_STYLE}</style>
</head><body>
<h1>{_esc(title)}</h1>
{_banners(result, synthetic)}
<table>{rows}</table>
{overlap}
<h2>In sample and out of sample</h2>
{_comparison(result)}
<h2>Best parameters</h2>
{_params(result)}
<h2>Best trials</h2>
{_trials(result)}
<h2>Optuna's plots</h2>
{_plots(study)}
</body></html>
"""
