"""``polytraders replay``: the replay regression check and its baseline
(:mod:`polytraders.backtest.replay_check`).

``replay check`` exits 0 when the check passes, 1 when it fails (each reason on its own line),
2 when refused before anything ran (data, desk file, seed or baseline unusable, or a run wrote
no timeline). ``replay baseline`` exits 0 when the baseline was written, 2 when refused.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from polytraders.backtest.replay_check import (
    ReplayError,
    ReplayReport,
    check_replay,
    record_baseline,
    write_baseline,
)
from polytraders.commands.failures import EXIT_FAILED, fail

app = typer.Typer(
    name="replay",
    help="Replay regression: two byte-identical runs and reason codes against a baseline.",
    no_args_is_help=True,
)
_console = Console()

_DATA = typer.Option("--data", help="The recorded data set (as `polytraders backtest --data`).")
_DESK = typer.Option("--desk", help="Desk file (TOML); default: the default desk.")
_SEED = typer.Option("--seed", help="Replace the desk's seed (default: the desk file's).")


def _hash_seeds(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        fail(f"--hash-seeds {text}: give two whole numbers, e.g. 11,12")
    return int(parts[0]), int(parts[1])


def _print_report(report: ReplayReport) -> None:
    for run in report.runs:
        _console.print(
            f"run PYTHONHASHSEED={run.hash_seed}: {run.status}, {run.envelopes:,} envelopes, "
            f"sha256 {run.envelopes_sha256[:16]}…, {run.wall_s:.1f} s",
            soft_wrap=True,
        )
    _console.print(
        "timelines byte-identical" if report.identical else "[red]timelines DIFFER[/red]"
    )
    total = sum(sum(codes.values()) for codes in report.reason_codes.values())
    _console.print(
        f"reason codes: {total:,} over {len(report.reason_codes)} bots; "
        f"baseline {report.baseline_dir}; timeline "
        + ("equals" if report.timeline_matches_baseline else "differs from")
        + " the baseline's",
        soft_wrap=True,
    )
    for line in report.input_differences:
        _console.print(f"note: {line}", soft_wrap=True)
    for line in report.code_changes:
        _console.print(f"note: code changed since the baseline: {line}", soft_wrap=True)
    if not report.counts_enforced:
        for change in report.count_changes:
            _console.print(
                f"count (informational, other inputs): {change.bot_id} {change.code} "
                f"{change.baseline:,} → {change.observed:,}",
                soft_wrap=True,
            )
    for line in report.failures:
        _console.print(f"[red]FAIL[/red] {line}", soft_wrap=True)
    if report.passed:
        _console.print("[green]PASS[/green]: 0 unexpected reason codes, runs identical")
    elif report.counts_enforced and report.count_changes:
        _console.print(
            "if the change is intended, record a new baseline: polytraders replay baseline "
            f"--data … --desk … --out {report.baseline_dir}",
            soft_wrap=True,
        )


@app.command("check")
def check_command(
    data: Annotated[str, _DATA],
    baseline: Annotated[
        Path, typer.Option("--baseline", help="Folder holding the committed baseline.json.")
    ],
    desk: Annotated[Path | None, _DESK] = None,
    seed: Annotated[int | None, _SEED] = None,
    hash_seeds: Annotated[
        str | None,
        typer.Option(
            "--hash-seeds",
            help="The two runs' PYTHONHASHSEED values, A,B (default: two random ones, printed).",
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Keep the two runs' outputs here (default: a temp dir)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the data twice through the desk, in separate processes with different
    PYTHONHASHSEEDs: the timelines must be byte-identical and every bot's reason codes in the
    baseline (a code not in it is unexpected and fails). On the baseline's data, seed and desk
    a changed count fails too. Exit 0 pass, 1 fail, 2 refused."""
    seeds = _hash_seeds(hash_seeds)
    with tempfile.TemporaryDirectory(prefix="polytraders-replay-") as temp:
        where = work_dir if work_dir is not None else Path(temp)
        try:
            report = check_replay(
                data=data,
                desk=desk,
                baseline_dir=baseline,
                work_dir=where,
                seed=seed,
                hash_seeds=seeds,
            )
        except ReplayError as exc:
            fail(str(exc), exc=exc)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, default=str) + "\n")
    else:
        _print_report(report)
    if not report.passed:
        raise typer.Exit(code=EXIT_FAILED)


@app.command("baseline")
def baseline_command(
    data: Annotated[str, _DATA],
    out: Annotated[Path, typer.Option("--out", help="Folder to write baseline.json into.")],
    desk: Annotated[Path | None, _DESK] = None,
    seed: Annotated[int | None, _SEED] = None,
) -> None:
    """Run the data once through the desk (in its own process) and write its baseline:
    reason-code counts per bot, the timeline's sha256, the desk's config version and code
    digests, the data's digest and the polytraders version. Exit 0 written, 2 refused."""
    with tempfile.TemporaryDirectory(prefix="polytraders-replay-") as temp:
        try:
            baseline = record_baseline(data=data, desk=desk, work_dir=Path(temp), seed=seed)
        except ReplayError as exc:
            fail(str(exc), exc=exc)
    try:
        path = write_baseline(baseline, out)
    except OSError as exc:
        fail(f"--out {out}: {exc}", exc=exc)
    total = sum(sum(codes.values()) for codes in baseline.reason_codes.values())
    _console.print(
        f"baseline {path}: run {baseline.run_id} {baseline.status}, {baseline.envelopes:,} "
        f"envelopes, {total:,} reason codes over {len(baseline.reason_codes)} bots",
        soft_wrap=True,
    )
