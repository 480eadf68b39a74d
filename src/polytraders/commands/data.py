"""``polytraders data``: inspect market-data locations and convert between formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polytraders.feeds import open_source
from polytraders.feeds.catalog import inspect_source
from polytraders.feeds.convert import to_lines, to_parquet
from polytraders.feeds.parquet import is_parquet_layout

app = typer.Typer(
    name="data",
    help="Market data: inspect a recording, Parquet set or synthetic spec; convert formats.",
    no_args_is_help=True,
)
_console = Console()


@app.command()
def inspect(
    path: str = typer.Argument(
        ..., help="Parquet directory, line recording (.gz or plain) or synthetic:<scenario>?seed=N"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Markets, tokens, event counts, time span, largest gap, bad input and checks.

    Exit code 1 when a check fails (complement, update-id continuity, bookTicker agreement).
    """
    try:
        source = open_source(path, snapshots_only=is_parquet_layout(Path(path)))
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    report = inspect_source(source)
    checks = report["checks"]
    assert isinstance(checks, dict)
    failed = [name for name, check in checks.items() if not check.get("ok", True)]
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print_report(report)
    if failed:
        raise typer.Exit(code=1)


def _print_report(report: dict[str, object]) -> None:
    label = " [bold red](SYNTHETIC)[/]" if report["synthetic"] else ""
    _console.print(f"[bold]{report['source']}[/] ({report['kind']}){label}")
    summary = Table(show_header=False, box=None)
    for key in ("markets", "tokens", "instruments", "snapshots", "crossed_book_states"):
        summary.add_row(key, str(report[key]))
    span = report["time_span"]
    gap = report["largest_gap"]
    assert isinstance(span, dict)
    assert isinstance(gap, dict)
    summary.add_row("time span", f"{span['first']} → {span['last']} ({span['duration_s']:.1f} s)")
    summary.add_row(
        "largest gap",
        f"stream {gap['stream_s']:.3f} s; token {gap['token_s']:.3f} s ({gap['token']})",
    )
    _console.print(summary)
    market_list = report["market_list"]
    assert isinstance(market_list, list)
    if market_list:
        markets = Table(title="markets")
        for column in ("slug", "category", "start", "end", "winner"):
            markets.add_column(column)
        for market in market_list:
            markets.add_row(
                market["slug"] or market["market_id"],
                market["category"],
                str(market["start"]),
                str(market["end"]),
                str(market["winner"] or "-"),
            )
        _console.print(markets)
    for title, key in (("events", "events"), ("bad input", "bad_input"), ("counters", "counters")):
        counts = report[key]
        assert isinstance(counts, dict)
        table = Table(title=title)
        table.add_column("kind")
        table.add_column("count", justify="right")
        for name, count in counts.items():
            table.add_row(name, f"{count:,}")
        if counts:
            _console.print(table)
    checks = report["checks"]
    assert isinstance(checks, dict)
    for name, check in checks.items():
        verdict = "[green]ok[/]" if check.get("ok") else "[red]FAILED[/]"
        details = ", ".join(f"{k}={v}" for k, v in check.items() if k not in ("ok", "examples"))
        _console.print(f"check {name}: {verdict} ({details})")
        for example in check.get("examples", []):
            _console.print(f"  {example}")


@app.command()
def convert(
    source: str = typer.Argument(
        ..., help="Parquet directory, Polymarket line recording or synthetic:<scenario>?seed=N"
    ),
    output: str = typer.Argument(
        ...,
        help="A directory (writes the Parquet layout) when SOURCE is a line recording or spec; "
        "otherwise a line file (.gz compresses) plus its .markets.json sidecar.",
    ),
    to: str = typer.Option(
        "auto", "--to", help="Output format: lines, parquet, or auto (the other format)."
    ),
    legacy_price_change: bool = typer.Option(
        False, "--legacy-price-change", help="Write the pre-2025-09-15 price_change schema."
    ),
) -> None:
    """Convert between the Parquet layout and the Polymarket market-channel line format."""
    try:
        feed = open_source(source)
        target = to
        if target == "auto":
            target = "lines" if is_parquet_layout(Path(source)) else "parquet"
        if target == "lines":
            result = to_lines(feed, Path(output), legacy_price_change=legacy_price_change)
        elif target == "parquet":
            result = to_parquet(feed, Path(output))
        else:
            raise ValueError(f"--to must be lines, parquet or auto, not {to!r}")
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(
        f"wrote {result.output}: {result.items:,} {'lines' if target == 'lines' else 'rows'} "
        f"from {result.events_in:,} events"
        + (f"; no wire/row form: {result.skipped}" if result.skipped else "")
    )
