"""``polytraders soak validate RUN_ID``: the paper-soak KPIs of a recorded run against declared
thresholds (:mod:`polytraders.readiness.soak`).

Exit codes: 0 every KPI PASS; 1 a KPI FAILs; 2 refused (store, run, data or thresholds
unusable), one line on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from polytraders.commands.failures import EXIT_FAILED, fail
from polytraders.readiness.evidence import ItemStatus
from polytraders.readiness.soak import (
    DEFAULT_THRESHOLDS,
    SoakReport,
    SoakThresholdsError,
    load_thresholds,
    validate_soak,
)
from polytraders.readiness.soak_inputs import SoakInputError
from polytraders.store import EventStore, RunRefError, StoreError

app = typer.Typer(
    name="soak",
    help="Paper-soak validation: a recorded run's KPIs against declared thresholds.",
    no_args_is_help=True,
)
_console = Console()

DEFAULT_STORE = "runs/desk.sqlite"


def _table(report: SoakReport) -> Table:
    verified = "verified" if report.data_verified else "NOT verified"
    table = Table(
        title=f"Paper soak of run {report.run} ({report.status})",
        caption=f"store {report.store}; books from {report.data or 'no data'} ({verified}: "
        f"{report.data_note}); thresholds {report.thresholds}",
    )
    for column in ("KPI", "verdict", "value", "threshold", "evidence"):
        table.add_column(column, overflow="fold")
    for kpi in report.kpis:
        colour = "green" if kpi.status is ItemStatus.PASS else "red"
        table.add_row(
            kpi.name,
            f"[{colour}]{kpi.status.value}[/{colour}]",
            kpi.value,
            kpi.threshold,
            kpi.detail,
        )
    return table


@app.command("validate")
def validate_command(
    run: Annotated[str, typer.Argument(help="The recorded run: RUN_ID or RUN_ID@N.")],
    store: Annotated[
        str, typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…")
    ] = DEFAULT_STORE,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            "--thresholds",
            help=f"Thresholds file (TOML; default: the committed {DEFAULT_THRESHOLDS.name}).",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="The run's data, for its books (default: the run's recorded data source; a "
            "live session needs the recording `polytraders record` made).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compute the paper-soak KPIs of a recorded run (fill rate, maker share, realized spread
    capture, adverse selection 1 s / 5 s / 30 s after each fill, inventory excursion, reject
    rate, uptime) and print PASS/FAIL per KPI with its figures. Exit 0 all PASS, 1 a FAIL,
    2 refused."""
    try:
        declared = load_thresholds(thresholds)
        with EventStore.open(store, create=False) as opened:
            report = validate_soak(
                opened,
                run,
                thresholds=declared,
                thresholds_ref=str(thresholds if thresholds is not None else DEFAULT_THRESHOLDS),
                data=data,
            )
    except (SoakThresholdsError, SoakInputError, RunRefError, StoreError) as exc:
        fail(str(exc), exc=exc)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        _console.print(_table(report))
        verdict = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
        failed = [k.name for k in report.kpis if k.status is not ItemStatus.PASS]
        _console.print(f"{verdict}" + (f": {', '.join(failed)}" if failed else ""))
    if not report.passed:
        raise typer.Exit(code=EXIT_FAILED)
