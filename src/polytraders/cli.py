"""The ``polytraders`` command line (typer).

Sub-commands live with the layer they drive; this module only wires them together.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from polytraders import __version__
from polytraders.commands import bench as bench_commands
from polytraders.commands import live as live_commands
from polytraders.commands import optimize as optimize_commands
from polytraders.commands import readiness as readiness_commands
from polytraders.commands import run as run_commands
from polytraders.commands.alerts import app as alerts_app
from polytraders.commands.chaos import app as chaos_app
from polytraders.commands.console import app as console_app
from polytraders.commands.data import app as data_app
from polytraders.commands.demotion import app as demotion_app
from polytraders.commands.failures import set_debug
from polytraders.commands.fills import app as fills_app
from polytraders.commands.gov import app as gov_app
from polytraders.commands.incidents import app as incidents_app
from polytraders.commands.killswitch import app as killswitch_app
from polytraders.commands.replay import app as replay_app
from polytraders.commands.reviews import app as reviews_app
from polytraders.commands.runs import app as runs_app
from polytraders.commands.security import app as security_app
from polytraders.commands.shadow import app as shadow_app
from polytraders.commands.soak import app as soak_app
from polytraders.commands.store import app as store_app
from polytraders.contracts.reasons import (
    load_lock,
    load_registry,
    registry_problems,
    updated_lock,
    write_lock,
)

app = typer.Typer(
    name="polytraders",
    help="Polytraders: a governed trading desk for Polymarket CLOB v2 and crypto venues.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="Print the full traceback with an error (default: one line)."
    ),
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    """Polytraders: a governed trading desk for Polymarket CLOB v2 and crypto venues."""
    set_debug(debug)


app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    run_commands.run
)
app.command("backtest")(run_commands.backtest)
app.command("schema")(run_commands.schema)
app.command("bench")(bench_commands.bench)
app.command("optimize")(optimize_commands.optimize)
app.command("reference-runs")(optimize_commands.reference_runs)
app.command("sim-clob")(live_commands.sim_clob)
app.command("sim-exchange")(live_commands.sim_exchange)
app.command("record")(live_commands.record)
app.command("live")(live_commands.run)
app.add_typer(data_app, name="data")
app.add_typer(runs_app, name="runs")
app.add_typer(fills_app, name="fills")
app.add_typer(killswitch_app, name="kill-switch")
app.add_typer(readiness_commands.app, name="readiness")
app.add_typer(readiness_commands.gates_app, name="gates")
app.command("promote")(readiness_commands.promote_command)
app.add_typer(incidents_app, name="incident")
app.add_typer(reviews_app, name="review")
app.add_typer(alerts_app, name="alerts")
app.add_typer(replay_app, name="replay")
app.add_typer(soak_app, name="soak")
app.add_typer(security_app, name="security")
app.add_typer(demotion_app, name="demotion")
app.add_typer(shadow_app, name="shadow")
app.add_typer(chaos_app, name="chaos")
app.add_typer(gov_app, name="gov")
app.add_typer(store_app, name="store")
app.add_typer(console_app, name="console")


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@app.command()
def reasons(
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
    check: bool = typer.Option(
        False, "--check", help="Lint the registry against its rules and lock; exit 1 on a problem."
    ),
    update_lock: bool = typer.Option(
        False, "--update-lock", help="Add new codes to the lock (never changes existing entries)."
    ),
) -> None:
    """List the reason-code registry (every code a bot or the desk may emit): a table in a
    terminal; piped, one code per line (code, severity, owner, user message; tab-separated)."""
    registry = load_registry()
    if update_lock:
        lock = load_lock()
        new_lock = updated_lock(registry, lock)
        write_lock(new_lock)
        typer.echo(f"lock: {len(new_lock) - len(lock)} code(s) added, {len(new_lock)} in all")
        return
    if check:
        problems = registry_problems(registry, load_lock())
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        if problems:
            raise typer.Exit(code=1)
        typer.echo(f"ok: {len(registry)} reason codes, lock consistent")
        return
    if not as_json and not sys.stdout.isatty():
        # piped or redirected: one code per line, tab-separated, so grep and cut find each
        for entry in registry.values():
            fields = (entry.code, entry.severity.value, entry.owner, entry.user_message)
            sys.stdout.write("\t".join(" ".join(f.split()) for f in fields) + "\n")
        return
    if as_json:
        rows = [
            {
                "code": e.code,
                "severity": e.severity.value,
                "owner": e.owner,
                "summary": e.summary,
                "user_message": e.user_message,
                "since": e.since,
            }
            for e in registry.values()
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"Reason codes ({len(registry)})", show_lines=False)
    for column in ("code", "severity", "owner", "user message"):
        table.add_column(column, overflow="fold")
    for entry in registry.values():
        table.add_row(entry.code, entry.severity.value, entry.owner, entry.user_message)
    console.print(table)


def main() -> None:
    """Entry point for ``python -m polytraders``."""
    app()
