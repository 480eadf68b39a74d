"""``polytraders chaos``: the chaos suite — five standard failure-injection scenarios against
the local CLOB v2 simulator with the desk under test (``docs/chaos.md``).

- ``chaos run [--desk D.toml] [--scenario NAME …] [--store URL] [--runs-store URL] [--json]``
  runs one, several or all five scenarios (each a fresh simulator with a throwaway key and a
  live session of the desk), prints every written check with its measured value and records
  the verdicts in the event store (``chaos_runs``, audited ``GOV_CHAOS_RUN``); the desk's own
  run records under fault go to ``--runs-store`` (default ``runs/chaos.sqlite``), so the
  faults never count as a bot's runtime evidence (error rate, latency, drift, demotion);
- ``chaos list`` prints the scenarios and their written checks;
- ``chaos history [--scenario NAME] [--store URL] [--json]`` prints the recorded verdicts.

Exit codes: 0 every scenario run passed (or listed); 1 a scenario failed; 2 a bad option, desk
file or store (one line on stderr).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from polytraders.backtest.desk_file import DeskFile, DeskFileError
from polytraders.chaos import SCENARIO_NAMES, SCENARIOS, new_suite_id, run_suite
from polytraders.chaos.harness import DEFAULT_TIMEOUT_S
from polytraders.commands.evidence_cli import (
    DEFAULT_STORE,
    JsonOption,
    fail,
    opened,
    print_json,
)
from polytraders.commands.operator import operator_name
from polytraders.store import StoreError
from polytraders.store.chaos_runs import ChaosRunRow, chaos_runs

DEFAULT_RUNS_STORE = "runs/chaos.sqlite"
"""Where the desk's run records under fault go by default: not the main store, whose runs are
the bots' runtime evidence."""

app = typer.Typer(
    name="chaos",
    help="The chaos suite: five failure-injection scenarios against the CLOB v2 simulator.",
    no_args_is_help=True,
)

ScenarioOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scenario",
        help=f"A scenario to run (repeatable; default all five): {', '.join(SCENARIO_NAMES)}.",
    ),
]


def _document(row: ChaosRunRow) -> dict[str, object]:
    document: dict[str, object] = msgspec.to_builtins(row)
    document["duration_s"] = round((row.ended_wall_ns - row.started_wall_ns) / 1e9, 1)
    return document


def _print_row(row: ChaosRunRow) -> None:
    seconds = (row.ended_wall_ns - row.started_wall_ns) / 1e9
    typer.echo(
        f"{row.scenario}: {'PASS' if row.passed else 'FAIL'} ({seconds:.1f} s; runs "
        f"{', '.join(row.run_refs) or 'none'})"
    )
    for check in row.checks:
        typer.echo(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}: {check.value}")


@contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """Silence the desk's own log lines (warnings are what the faults cause) unless
    ``verbose``."""
    logger = logging.getLogger("polytraders")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@app.command("run")
def run(
    desk: Annotated[
        Path | None,
        typer.Option("--desk", help="The desk under test (TOML desk file; default the default)."),
    ] = None,
    scenario: ScenarioOption = None,
    store: Annotated[
        str,
        typer.Option(
            "--store",
            help="Event store for the verdicts, read by the chaos_suite gate (created if missing).",
        ),
    ] = DEFAULT_STORE,
    runs_store: Annotated[
        str,
        typer.Option(
            "--runs-store",
            help="Event store for the desk's own run records under fault (kept apart from "
            "--store so injected faults never count as a bot's runtime evidence).",
        ),
    ] = DEFAULT_RUNS_STORE,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who runs it (default: the OS user).")
    ] = None,
    timeout_s: Annotated[
        float,
        typer.Option("--timeout-s", min=1.0, help="Deadline of each wait of a scenario (s)."),
    ] = DEFAULT_TIMEOUT_S,
    as_json: JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show the desk's log lines while it runs.")
    ] = False,
) -> None:
    """Run the scenarios against the simulator, print every check, record the verdicts;
    exit 1 when any scenario fails."""
    try:
        desk_file = DeskFile() if desk is None else DeskFile.load(desk)
    except DeskFileError as exc:
        fail(exc.one_line())
    names = list(dict.fromkeys(scenario or SCENARIO_NAMES))
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        fail(f"--scenario: unknown {', '.join(unknown)}; one of {', '.join(SCENARIO_NAMES)}")
    suite_id = new_suite_id()
    if not as_json:
        typer.echo(
            f"chaos suite {suite_id}: {len(names)} scenario(s), desk "
            f"{desk or 'default'} (config {desk_file.config_version}), verdicts in {store}, "
            f"desk runs in {runs_store}"
        )
    with _quiet(verbose):
        try:
            rows = run_suite(
                desk=desk_file,
                store_url=store,
                actor=operator_name(operator),
                scenarios=names,
                suite_id=suite_id,
                timeout_s=timeout_s,
                on_result=None if as_json else _print_row,
                runs_store_url=runs_store,
            )
        except StoreError as exc:
            fail(str(exc))
    failed = [r.scenario for r in rows if not r.passed]
    if as_json:
        print_json(
            {"suite_id": suite_id, "passed": not failed, "runs": [_document(r) for r in rows]}
        )
    else:
        typer.echo(
            f"{len(rows) - len(failed)}/{len(rows)} scenario(s) passed"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    if not rows[0].commit_sha and not as_json:
        typer.echo(
            "note: not run from a git checkout: these verdicts carry no commit and do not "
            "count for the chaos_suite gate"
        )
    if failed:
        raise typer.Exit(code=1)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The standard scenarios and their written checks."""
    if as_json:
        print_json(
            [
                {"scenario": s.name, "title": s.title, "checks": dict(s.criteria)}
                for s in SCENARIOS.values()
            ]
        )
        return
    for s in SCENARIOS.values():
        typer.echo(f"{s.name}: {s.title}")
        for name, criterion in s.criteria.items():
            typer.echo(f"  {name}: {criterion}")


@app.command("history")
def history(
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Only this scenario's runs.")
    ] = None,
    store: Annotated[
        str, typer.Option("--store", help="Event store (an existing one).")
    ] = DEFAULT_STORE,
    as_json: JsonOption = False,
) -> None:
    """The recorded scenario verdicts, oldest first."""
    with opened(store) as handle:
        rows = chaos_runs(handle, scenario=scenario)
    if as_json:
        print_json([_document(r) for r in rows])
        return
    for row in rows:
        failed = f" (failed: {', '.join(row.failed_checks)})" if row.failed_checks else ""
        typer.echo(
            f"{row.row_id} {row.suite_id} {row.scenario}: {'PASS' if row.passed else 'FAIL'}"
            f"{failed} desk {row.desk_config_version} commit {row.commit_sha[:12] or '-'} "
            f"by {row.actor}"
        )
    if not rows:
        typer.echo("no chaos run recorded")
