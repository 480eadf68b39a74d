"""``polytraders run``, ``backtest`` and ``schema``: the main job and the research engine."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.backtest.engine import RunOutcome, run_desk
from polytraders.bots.registry import BOTS
from polytraders.contracts.bot import bot_problems
from polytraders.contracts.modes import BotClass
from polytraders.contracts.reasons import load_registry
from polytraders.ops.metrics import DeskMetrics

console = Console()

REPO_SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "polymarket"
DEFAULT_DATA = REPO_SAMPLE / "resolvedkit_btc15m"
DEFAULT_OUT = Path("runs") / "latest"


def _load_desk(path: Path | None) -> DeskFile:
    if path is None:
        return DeskFile()
    try:
        return DeskFile.load(path)
    except DeskFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc


def load_strategy(spec: str) -> Any:
    """Load a user's strategy bot class from ``FILE.py:Class`` or ``module:Class``.

    The class must declare ``bot_class = BotClass.STRATEGY`` and pass the contract checks
    (``contracts.bot.bot_problems``: id, config with units and hard limits, search space,
    registered reason codes).

    Raises:
        typer.BadParameter: unloadable, not a strategy, or breaking the contract.
    """
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise typer.BadParameter("use FILE.py:Class or module:Class", param_hint="--strategy")
    try:
        if target.endswith(".py"):
            path = Path(target).resolve()
            module_spec = importlib.util.spec_from_file_location(f"user_strategy_{path.stem}", path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        cls = getattr(module, name)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise typer.BadParameter(f"{spec}: {exc}", param_hint="--strategy") from exc
    if getattr(cls, "bot_class", None) is not BotClass.STRATEGY:
        raise typer.BadParameter(f"{spec} is not a strategy bot", param_hint="--strategy")
    problems = bot_problems(cls, load_registry())
    if problems:
        raise typer.BadParameter(
            f"{spec} breaks the bot contract:\n  " + "\n  ".join(problems),
            param_hint="--strategy",
        )
    return cls


def _summary(outcome: RunOutcome) -> Table:
    doc = outcome.result.as_json()
    table = Table(title=f"Run {doc['run_id']}" + ("  [SYNTHETIC DATA]" if doc["synthetic"] else ""))
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("markets", doc["markets"]),
        ("events", f"{doc['events']:,}"),
        ("orders", f"{doc['orders']:,}"),
        (
            "fills (maker / taker)",
            f"{doc['fills']:,} ({doc['maker_fills']:,} / {doc['taker_fills']:,})",
        ),
        ("volume", f"{doc['volume_usd']} pUSD"),
        ("invested (buys)", f"{doc['invested_usd']} pUSD"),
        ("fees", f"{doc['fees_usd']} pUSD"),
        ("PnL realized", f"{doc['realized_pnl_usd']} pUSD"),
        ("PnL settled", f"{doc['settled_pnl_usd']} pUSD (payouts {doc['settlement_usd']})"),
        ("PnL unrealized", f"{doc['unrealized_pnl_usd']} pUSD"),
        ("PnL total (after fees)", f"{doc['pnl_usd']} pUSD"),
        ("max drawdown", f"{doc['max_drawdown_usd']} pUSD"),
        ("Sharpe (1-min changes)", f"{doc['sharpe']}"),
        ("envelopes", f"{doc['envelopes']:,}  sha256 {str(doc['envelopes_sha256'])[:16]}…"),
        ("wall time", f"{doc['wall_s']} s ({doc['events_per_s']:,} events/s)"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    model = outcome.result.fill_model
    if model:
        inferred = model.get("infer_fills_from_decreases")
        table.add_row(
            "fill model",
            f"latency {model.get('order_latency_ms')} ms, queue {model.get('queue_model')}, "
            + (
                "L2 inference ON: maker fills inferred from book decreases (optimistic bound; "
                "set infer_fills_from_decreases = false for the pessimistic one)"
                if inferred
                else "L2 inference OFF: makers fill only when the book crosses them (pessimistic)"
            ),
        )
    top = sorted(outcome.result.reason_codes.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    table.add_row("top reason codes", "\n".join(f"{c} {n:,}" for c, n in top) or "-")
    if outcome.feed_problems:
        table.add_row("bad feed input", json.dumps(outcome.feed_problems))
    return table


def _execute(
    *,
    data: str,
    desk: Path | None,
    out: Path,
    store: str | None,
    strategy: str | None,
    speed: float | None,
    metrics_port: int | None,
) -> RunOutcome:
    desk_file = _load_desk(desk)
    strategy_cls = load_strategy(strategy) if strategy else None
    metrics = None
    if metrics_port is not None:
        metrics = DeskMetrics()
        metrics.serve(metrics_port)
        console.print(f"metrics: http://127.0.0.1:{metrics_port}/metrics")
    with Progress(
        TextColumn("[bold]replaying[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(str(data), total=None)

        def progress(events: int, _ts_ns: int) -> None:
            bar.update(task, completed=events)

        try:
            outcome = run_desk(
                data=data,
                desk_file=desk_file,
                out_dir=out,
                store_url=store,
                strategy_override=strategy_cls,
                speed=speed,
                metrics=metrics,
                progress=progress,
            )
        except (ValueError, FileNotFoundError) as exc:
            console.print(f"[red]run failed: {exc}[/red]")
            raise typer.Exit(code=1) from exc
    console.print(_summary(outcome))
    console.print(f"report:    {out / 'report.html'}")
    console.print(f"result:    {out / 'result.json'}")
    console.print(f"envelopes: {out / 'envelopes.jsonl'}   fills: {out / 'fills.csv'}")
    if store:
        if outcome.store_attempt is not None and outcome.store_attempt > 1:
            console.print(
                "note:      this run (same data, desk and seed) was already in the store, so it "
                f"is recorded again as {outcome.result.run_id}@{outcome.store_attempt}"
            )
        verdict = "sound" if not outcome.integrity_problems else "PROBLEMS"
        console.print(f"store:     {store} (integrity {verdict})")
        for problem in outcome.integrity_problems[:10]:
            console.print(f"[red]  {problem}[/red]")
        if outcome.integrity_problems:
            raise typer.Exit(code=1)
    return outcome


def run(
    ctx: typer.Context,
    venue: Annotated[
        str,
        typer.Option(
            "--venue",
            help="paper (default: replay recorded data on the paper venue) or polymarket "
            "(live data; add --paper, --shadow or --live and the options of `polytraders live`).",
        ),
    ] = "paper",
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="Feed: Parquet dir, line file, Binance .gz, or synthetic:<scenario>?seed=N.",
        ),
    ] = str(DEFAULT_DATA),
    desk: Annotated[
        Path | None, typer.Option("--desk", help="Desk file (TOML); default: the default desk.")
    ] = None,
    store: Annotated[
        str,
        typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…"),
    ] = "runs/desk.sqlite",
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Pace at X × real time (default: as fast as possible)."),
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Pace at real time (same as --speed 1).")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:PORT."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for result.json, envelopes.jsonl, fills.csv, report.html."
        ),
    ] = DEFAULT_OUT,
) -> None:
    """Run the default desk (strat.maker_tight, seven risk guards, exec.smartrouter, all
    ENFORCED) on the paper venue over the real Polymarket sample, record it, and summarise.

    With ``--venue polymarket`` the desk runs on live Polymarket data instead: ``--paper``
    (paper venue), ``--shadow`` (a candidate desk beside the current one, recording only) or
    ``--live`` (real orders; credentials and the explicit confirmation flag are required);
    every option of ``polytraders live`` applies (``--clob-url``/``--ws-url`` point at the
    local simulator)."""
    if venue == "polymarket":
        from polytraders.commands import live

        live_app = typer.Typer(add_completion=False)
        live_app.command()(live.run)
        command = typer.main.get_command(live_app)
        command.main(
            args=["--venue", "polymarket", *ctx.args],
            prog_name="polytraders run --venue polymarket",
            standalone_mode=False,
        )
        return
    if venue != "paper":
        raise typer.BadParameter("use paper or polymarket", param_hint="--venue")
    if ctx.args:
        raise typer.BadParameter(
            f"unexpected arguments {ctx.args} (live options need --venue polymarket)"
        )
    _execute(
        data=data,
        desk=desk,
        out=out,
        store=store,
        strategy=None,
        speed=1.0 if realtime else speed,
        metrics_port=metrics_port,
    )


def backtest(
    data: Annotated[str, typer.Option("--data", help="Feed to replay (see `run --help`).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    desk: Annotated[Path | None, typer.Option("--desk", help="Desk file (TOML).")] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Your strategy, FILE.py:Class or module:Class (replaces the desk's strategies).",
        ),
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Also record to this event store.")
    ] = None,
) -> None:
    """Backtest a desk (or your own strategy inside the default guards) on recorded or
    synthetic data; writes result.json, envelopes.jsonl, fills.csv and report.html."""
    _execute(
        data=data,
        desk=desk,
        out=out,
        store=store,
        strategy=strategy,
        speed=None,
        metrics_port=None,
    )


def schema(
    target: str = typer.Argument(..., help="'desk' or a bot id (e.g. risk.stalebookguard)."),
) -> None:
    """Print the JSON Schema of the desk file or of a bot's config."""
    if target == "desk":
        document = DeskFile.model_json_schema()
    elif target in BOTS:
        document = BOTS[target].Config.json_schema()
    else:
        console.print(
            f"[red]unknown schema {target!r}; use 'desk' or one of: {', '.join(sorted(BOTS))}[/red]"
        )
        raise typer.Exit(code=2)
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
