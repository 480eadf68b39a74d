"""Run benchmarks and print their figures: ``python -m bench [NAME ...] [--json] [--quick]``.

A benchmark module whose ``OWN_PROCESS`` is True (a figure of the whole process, such as a
long session's resident memory) runs in a fresh interpreter when other benchmarks run in the
same invocation (``python -m bench NAME --json`` as a child; its stderr passes through), so
what earlier benchmarks left in this process's heap is not counted in its figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.goals import judge

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of every ``bench_<name>`` module, sorted."""
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {available()})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    results: dict[str, Any] = {}
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        if not args.json:
            print(f"== {name}: {module.DESCRIPTION}", flush=True)
        started = time.perf_counter()
        if getattr(module, "OWN_PROCESS", False) and len(names) > 1:
            figures = _in_own_process(name, quick=args.quick)
        else:
            figures = module.run(quick=args.quick)
        figures["bench_wall_s"] = round(time.perf_counter() - started, 3)
        results[name] = figures
        if not args.json:
            width = max(len(k) for k in figures)
            for key, value in figures.items():
                shown = f"{value:,.0f}" if isinstance(value, float) and value >= 100 else value
                if isinstance(value, int) and not isinstance(value, bool):
                    shown = f"{value:,}"
                print(f"  {key:<{width}}  {shown}")
    results["goals"] = judge(results)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_goals(results["goals"])
    return 0


def _in_own_process(name: str, *, quick: bool) -> dict[str, Any]:
    """Run benchmark ``name`` alone in a child interpreter and return its figures.

    Raises:
        RuntimeError: the child failed (its exit code).
    """
    command = [sys.executable, "-m", "bench", name, "--json", *(["--quick"] if quick else [])]
    done = subprocess.run(command, cwd=HERE.parent, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark {name} failed in its own process (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(done.stdout)[name]
    figures.pop("bench_wall_s", None)
    return figures


def _print_goals(goals: dict[str, Any]) -> None:
    print("== goals (issue 20): figure of this run against its target", flush=True)
    for goal, verdict in goals.items():
        if goal == "peer_ratios":
            continue
        shown = verdict.get("value", "-")
        print(
            f"  {goal:<34} {verdict['status']:<13} {shown} "
            f"({verdict['comparison']} {verdict['target']:g}; {verdict['figure']})"
        )
    for name, ratio in goals["peer_ratios"].items():
        print(f"  {name:<34} {ratio}")


if __name__ == "__main__":
    sys.exit(main())
