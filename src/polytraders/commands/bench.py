"""``polytraders bench``: run the benchmark suite of a source checkout (``bench/``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

REPO = Path(__file__).resolve().parents[3]


def bench(
    names: Annotated[
        list[str] | None, typer.Argument(help="Benchmarks to run (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer repetitions.")] = False,
) -> None:
    """Run the benchmarks and print every figure (same as ``python -m bench``)."""
    if not (REPO / "bench" / "__main__.py").is_file():
        typer.echo("benchmarks live in the source checkout's bench/ folder; none found", err=True)
        raise typer.Exit(code=2)
    command = [sys.executable, "-m", "bench", *(names or [])]
    if as_json:
        command.append("--json")
    if quick:
        command.append("--quick")
    raise typer.Exit(code=subprocess.call(command, cwd=REPO))
