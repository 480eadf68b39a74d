"""Polytraders benchmarks. Run ``python -m bench`` (all) or ``python -m bench NAME ...``.

Each ``bench/bench_<name>.py`` module defines ``DESCRIPTION: str`` and
``run(quick: bool = False) -> dict[str, float | int | str]`` returning named figures (units in
the names, e.g. ``level_updates_per_s``). Benchmarks print figures; they never assert targets.
"""
