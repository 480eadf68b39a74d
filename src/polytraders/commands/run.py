"""``polytraders run``, ``backtest`` and ``schema``: the main job and the research engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.backtest.engine import RunOutcome, RunRefusedError, run_desk
from polytraders.backtest.partition_workers import WorkerDiedError
from polytraders.backtest.stop import EXIT_CODE_BY_SIGNAL
from polytraders.bots.registry import BOTS
from polytraders.commands.desk_option import load_desk
from polytraders.commands.failures import (
    EXIT_FAILED,
    EXIT_HALTED,
    EXIT_QUARANTINED,
    EXIT_REFUSED,
    fail,
)
from polytraders.feeds.samples import sample_path
from polytraders.node.config import LiveNodeConfig
from polytraders.ops.logs import configure_logging
from polytraders.ops.metrics import DeskMetrics
from polytraders.store.records import RunStatus

console = Console()
_JOBS_HELP = (
    "Processes for a run split by market (a desk whose bots all read one market at a time: "
    "one sub-run per market, the same results for any N); refused above 1 for a desk whose "
    "markets are coupled (docs/runs.md)."
)
DEFAULT_OUT = Path("runs") / "latest"
DEFAULT_STORE = "runs/desk.sqlite"


def _summary(outcome: RunOutcome) -> Table:
    doc = outcome.result.as_json()
    unit = outcome.result.currency
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
        ("volume", f"{doc['volume_usd']} {unit}"),
        ("invested (buys)", f"{doc['invested_usd']} {unit}"),
        ("fees", f"{doc['fees_usd']} {unit}"),
        ("PnL realized", f"{doc['realized_pnl_usd']} {unit}"),
        ("PnL settled", f"{doc['settled_pnl_usd']} {unit} (payouts {doc['settlement_usd']})"),
        ("PnL unrealized", f"{doc['unrealized_pnl_usd']} {unit}"),
        ("PnL total (after fees)", f"{doc['pnl_usd']} {unit} ({outcome.result.fill_model.bound})"),
        *_bound_rows(outcome),
        *(
            [
                (
                    "funding (ASSUMED rates; in the desk's equity and drawdown, not in PnL)",
                    f"{doc['funding_usd']} {unit}",
                )
            ]
            if "funding_usd" in doc
            else []
        ),
        ("max drawdown", f"{doc['max_drawdown_usd']} {unit}"),
        ("Sharpe (1-min changes)", f"{doc['sharpe']}"),
        ("envelopes", f"{doc['envelopes']:,}  sha256 {str(doc['envelopes_sha256'])[:16]}…"),
        ("wall time", f"{doc['wall_s']} s ({doc['events_per_s']:,} events/s)"),
    ]
    if outcome.partitions:
        sub_runs = f"{outcome.partitions} sub-run" + ("s" if outcome.partitions > 1 else "")
        processes = f"{outcome.jobs} process" + ("es" if outcome.jobs > 1 else "")
        rows.append(("split by market", f"{sub_runs} on {processes}"))
    for name, value in rows:
        table.add_row(name, str(value))
    model = outcome.result.fill_model
    table.add_row(
        "fill model",
        f"queue model {model.name}; latency entry {model.order_latency_ms} ms, response "
        f"{model.response_latency_ms} ms, cancel {model.cancel_latency_ms} ms: "
        f"{model.bound}; {model.bound_reason}",
    )
    top = sorted(outcome.result.reason_codes.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    table.add_row("top reason codes", "\n".join(f"{c} {n:,}" for c, n in top) or "-")
    if outcome.feed_problems:
        table.add_row("bad feed input", json.dumps(outcome.feed_problems))
    return table


def _bound_rows(outcome: RunOutcome) -> list[tuple[str, str]]:
    """The run's PnL under both bounds of the fill model (same orders), when computed."""
    document = outcome.result.fill_model.as_json()
    bounds = document.get("bounds")
    if not isinstance(bounds, dict):
        return []
    return [
        (
            f"  {which} bound",
            f"{figures['pnl_usd']} {outcome.result.currency}, {figures['fills']:,} fills "
            f"(queue model {figures['queue_model']}, same orders)",
        )
        for which, figures in bounds.items()
    ]


def check_store_outside_out(store: str | None, out: Path) -> None:
    """Refuse (exit 2) a SQLite store file inside ``--out``: each run replaces that folder's
    contents whole, so the store would be deleted (or refused as a foreign file)."""
    from polytraders.store.errors import StoreUrlError
    from polytraders.store.url import Backend, resolve

    if store is None:
        return
    try:
        backend, resolved = resolve(store)
    except StoreUrlError:
        return  # the store refuses it itself, with its own message
    if backend is not Backend.SQLITE or not resolved.database:
        return
    if Path(resolved.database).resolve().is_relative_to(out.resolve()):
        fail(
            f"--store {store}: is inside --out {out}, whose contents every run replaces; "
            "keep the store elsewhere"
        )


def serve_metrics(port: int | None) -> DeskMetrics | None:
    """A :class:`DeskMetrics` with the library bots' runtime budgets, served on
    ``127.0.0.1:port`` (None: no port, no metrics); a port out of range or busy exits 2 with
    one line."""
    if port is None:
        return None
    if not 1 <= port <= 65_535:
        fail(f"--metrics-port {port}: out of range (1-65535)")
    metrics = DeskMetrics({bot_id: cls.RUNTIME_BUDGET for bot_id, cls in BOTS.items()})
    try:
        metrics.serve(port)
    except OSError as exc:
        fail(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}: {exc.strerror}", exc=exc)
    console.print(f"metrics: http://127.0.0.1:{port}/metrics")
    return metrics


class _Bar:
    """The run's progress bar: records read (rows, lines) of the data's total with percentage
    and ETA when the data says how many it holds, and the events processed; at most 80
    columns wide."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("replaying", total=None, unit="records", events=0)

    def start(self, total_records: int | None, unit: str) -> None:
        self._progress.update(self._task, total=total_records, unit=unit)

    def update(self, records_read: int, events_done: int) -> None:
        self._progress.update(self._task, completed=records_read, events=events_done)


def _banners(outcome: RunOutcome) -> list[str]:
    """Lines that must not be missed: no risk chain, quarantined bots, halts, interruptions."""
    lines: list[str] = []
    if not outcome.desk_config.get("risk"):
        lines.append("NO RISK CHAIN: this desk ran without risk bots (allow_no_risk = true)")
    for bot_id, quarantine in outcome.desk_result.quarantined.items():
        failure = quarantine.failure
        where = f" at {failure.location}" if failure.location else ""
        raised = f"{failure.error_type}: " if failure.error_type else ""
        lines.append(f"QUARANTINED {bot_id} ({failure.code}){where}: {raised}{failure.message}")
    if outcome.status is RunStatus.HALTED:
        lines.append(f"HALTED: {outcome.status_detail}")
    elif outcome.status is RunStatus.INTERRUPTED:
        lines.append(f"INTERRUPTED by {outcome.status_detail}: the figures cover what was done")
    elif outcome.status is RunStatus.FAILED:
        lines.append(f"FAILED: {outcome.status_detail}")
    if outcome.store_error:
        lines.append(f"STORE FAILED ({outcome.store_error}): recording stopped there")
    return lines


def exit_code(outcome: RunOutcome) -> int:
    """The CLI's exit code for a finished run (see :mod:`polytraders.commands.failures`)."""
    if outcome.status is RunStatus.INTERRUPTED:
        return EXIT_CODE_BY_SIGNAL[outcome.exit_signal]
    if outcome.status is RunStatus.FAILED or outcome.integrity_problems:
        return EXIT_FAILED
    if outcome.status is RunStatus.HALTED:
        return EXIT_HALTED
    if outcome.desk_result.quarantined:
        return EXIT_QUARANTINED
    return 0


def _execute(
    *,
    data: str | None,
    desk: Path | None,
    out: Path,
    store: str | None,
    strategy: str | None,
    speed: float | None,
    metrics_port: int | None,
    jobs: int,
) -> RunOutcome:
    if speed is not None and not speed > 0:
        fail(f"--speed {speed}: must be > 0 (1 = real time)")
    if jobs < 1:
        fail(f"--jobs {jobs}: must be at least 1")
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file, not a folder")
    check_store_outside_out(store, out)
    desk_file = load_desk(desk)
    if strategy:
        try:
            desk_file = desk_file.with_strategy(strategy)
        except DeskFileError as exc:
            fail(exc.one_line(), EXIT_REFUSED, exc)
    source = data if data is not None else str(sample_path())
    configure_logging(run_id="", fmt="console")  # the engine sets the run id once known
    metrics = serve_metrics(metrics_port)
    with Progress(
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        try:
            outcome = run_desk(
                data=source,
                desk_file=desk_file,
                out_dir=out,
                store_url=store,
                speed=speed,
                metrics=metrics,
                progress=_Bar(progress),
                jobs=jobs,
            )
        except RunRefusedError as exc:
            fail(f"run refused: {exc}", EXIT_REFUSED, exc)
        except WorkerDiedError as exc:
            fail(f"run failed, recorded FAILED, no outputs written: {exc}", EXIT_FAILED, exc)
        except OSError as exc:
            fail(f"run recorded, but its outputs could not be written: {exc}", EXIT_FAILED, exc)
    console.print(_summary(outcome))
    for line in _banners(outcome):
        console.print(f"[bold red]{line}[/bold red]", soft_wrap=True)
    console.print(f"report:    {out / 'report.html'}")
    console.print(f"result:    {out / 'result.json'}")
    console.print(f"envelopes: {out / 'envelopes.jsonl'}   fills: {out / 'fills.csv'}")
    if store:
        ref = outcome.result.run_id + (f"@{outcome.attempt}" if outcome.attempt > 1 else "")
        if outcome.attempt > 1:
            console.print(
                "note:      this run (same data, desk and seed) was already in the store, so it "
                f"is recorded again as {ref} (same envelopes, same envelopes_sha256)",
                soft_wrap=True,
            )
        verdict = "sound" if not outcome.integrity_problems else "PROBLEMS"
        console.print(
            f"store:     {store}: run {ref} {outcome.status.value}, integrity {verdict}",
            soft_wrap=True,
        )
        for problem in outcome.integrity_problems[:10]:
            console.print(f"[red]  {problem}[/red]")
    code = exit_code(outcome)
    if outcome.error is not None:
        fail(f"run failed: {outcome.status_detail}", code, outcome.error)
    if code:
        raise typer.Exit(code=code)
    return outcome


def run(
    ctx: typer.Context,
    venue: Annotated[
        str,
        typer.Option(
            "--venue",
            help="paper (default: replay recorded data on the paper venue) or polymarket "
            "(live data; add --paper, --shadow or --live and the options of `polytraders live`; "
            "--desk, --strategy, --store, --out and --metrics-port apply in every mode).",
        ),
    ] = "paper",
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Feed: Parquet dir, line file, Binance .gz, or synthetic:<scenario>?seed=N "
            "(default: the shipped Polymarket sample).",
        ),
    ] = None,
    desk: Annotated[
        Path | None, typer.Option("--desk", help="Desk file (TOML); default: the default desk.")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Your strategy, FILE.py:Class or module:Class: shorthand for a desk whose "
            "strategies are that one bot (its desk-file entry's mode and config apply).",
        ),
    ] = None,
    store: Annotated[
        str,
        typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…"),
    ] = DEFAULT_STORE,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            help="Pace at X × real time, X > 0 (default: as fast as possible).",
        ),
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
            "--out", help="Folder for result.json, envelopes.jsonl, fills.csv, report.html."
        ),
    ] = DEFAULT_OUT,
    jobs: Annotated[int, typer.Option("--jobs", help=_JOBS_HELP)] = 1,
) -> None:
    """Run the default desk (strat.maker_tight, seven risk guards, exec.smartrouter, all
    ENFORCED) on the paper venue over the real Polymarket sample, record it, and summarise.

    Exit codes: 0 completed, 1 failed or store unsound, 2 refused input, 3 a bot ended
    quarantined, 4 halted, 130/143 interrupted by SIGINT/SIGTERM.

    With ``--venue polymarket`` the desk runs on live Polymarket data instead: ``--paper``
    (paper venue), ``--shadow`` (a candidate desk beside the current one, recording only) or
    ``--live`` (real orders; credentials and the explicit confirmation flag are required);
    every option of ``polytraders live`` applies (``--clob-url``/``--ws-url`` point at the
    local simulator). ``--desk``, ``--strategy``, ``--store`` (default as here),
    ``--out`` and ``--metrics-port`` work in every mode; ``--data``, ``--speed`` and
    ``--realtime`` (recorded data only) are refused with it (``docs/runs.md``)."""
    if venue == "polymarket":
        given = {
            "--data": data is not None,
            "--speed": speed is not None,
            "--realtime": realtime,
            "--jobs": jobs != 1,
        }
        unsupported = [name for name, present in given.items() if present]
        if unsupported:
            fail(
                f"{', '.join(unsupported)}: not with --venue polymarket (it runs on live "
                "market data, in real time)"
            )
        passed = [
            "--store", store, "--out", str(out),
            *(["--desk", str(desk)] if desk is not None else []),
            *(["--strategy", strategy] if strategy is not None else []),
            *(["--metrics-port", str(metrics_port)] if metrics_port is not None else []),
        ]  # fmt: skip
        from polytraders.commands import live

        live_app = typer.Typer(add_completion=False)
        live_app.command()(live.run)
        command = typer.main.get_command(live_app)
        code = command.main(
            args=["--venue", "polymarket", *passed, *ctx.args],
            prog_name="polytraders run --venue polymarket",
            standalone_mode=False,
        )
        if isinstance(code, int) and code != 0:  # the live command's own exit code
            raise typer.Exit(code=code)
        return
    if venue != "paper":
        fail(f"--venue {venue}: use paper or polymarket")
    if ctx.args:
        fail(f"unexpected arguments {' '.join(ctx.args)} (live options need --venue polymarket)")
    _execute(
        data=data,
        desk=desk,
        out=out,
        store=store,
        strategy=strategy,
        speed=1.0 if realtime else speed,
        metrics_port=metrics_port,
        jobs=jobs,
    )


def backtest(
    data: Annotated[str, typer.Option("--data", help="Feed to replay (see `run --help`).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    desk: Annotated[Path | None, typer.Option("--desk", help="Desk file (TOML).")] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="Your strategy, FILE.py:Class or module:Class: shorthand for a desk whose "
            "strategies are that one bot (its desk-file entry's mode and config apply).",
        ),
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Also record to this event store.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help=_JOBS_HELP)] = 1,
) -> None:
    """Backtest a desk (or your own strategy inside the desk's guards) on recorded or
    synthetic data; writes result.json, envelopes.jsonl, fills.csv and report.html. Exit codes
    as for ``polytraders run``."""
    _execute(
        data=data,
        desk=desk,
        out=out,
        store=store,
        strategy=strategy,
        speed=None,
        metrics_port=None,
        jobs=jobs,
    )


def schema(
    target: str = typer.Argument(
        ..., help="'desk', 'node' or a bot id (e.g. risk.stalebookguard)."
    ),
) -> None:
    """Print the JSON Schema of the desk file, the live node config or a bot's config."""
    if target == "desk":
        document = DeskFile.model_json_schema()
    elif target == "node":
        document = LiveNodeConfig.json_schema()
    elif target in BOTS:
        document = BOTS[target].Config.json_schema()
    else:
        console.print(
            f"[red]unknown schema {target!r}; use 'desk', 'node' or one of: "
            f"{', '.join(sorted(BOTS))}[/red]"
        )
        raise typer.Exit(code=2)
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
