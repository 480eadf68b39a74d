"""A bot's :class:`~polytraders.contracts.search_space.SearchSpace` as Optuna suggestions.

``IntParam`` → ``suggest_int(low, high, step)``; ``FloatParam`` → ``suggest_float(low, high,
step, log)``; ``CategoricalParam`` → ``suggest_categorical(choices)``, each under the
parameter's name, in declaration order. Optuna computes a stepped float as ``low + i × step``
in binary floating point (``0.9000000000000001``); :func:`snapped` rounds it to the step's
decimals, and every config is built from snapped values.

:func:`space_problems` refuses a space the optimizer cannot search: empty, inconsistent with
the config's hard limits (:meth:`SearchSpace.problems`), or a float with both a step and a log
scale (Optuna samples one or the other).

A **ranges file** (``polytraders optimize --ranges FILE``, :func:`load_ranges`) replaces some
parameters' ranges for one data set, one TOML table per parameter with the fields to change
(``low``/``high``/``step``/``log``, or ``choices``); the rest of each parameter is the bot's::

    [bar_s]          # strat.ema_cross on a six-minute recording: bars of 1-5 s
    low = 1
    high = 5
    step = 1

The effective space is what the study records (``search_space`` in ``summary.json``), so a
study with other ranges is another study.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from polytraders.contracts.canonical import canonical_json
from polytraders.contracts.search_space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Param,
    SearchSpace,
)

if TYPE_CHECKING:  # trial workers import this module; they need no Optuna
    import optuna


def space_problems(bot_id: str, space: Any) -> list[str]:
    """Why the optimizer cannot search ``space`` of ``bot_id`` (empty when it can)."""
    if not isinstance(space, SearchSpace):
        return [f"{bot_id}: SEARCH_SPACE is not a SearchSpace"]
    if not len(space):
        return [f"{bot_id}: empty search space (SEARCH_SPACE declares no tunable parameter)"]
    problems = [
        f"{bot_id}: search space outside the config's hard limits: {p}" for p in space.problems()
    ]
    problems += [
        f"{bot_id}: {p.name}: a float parameter with both step and log cannot be sampled"
        for p in space
        if isinstance(p, FloatParam) and p.step is not None and p.log
    ]
    return problems


def suggest(trial: optuna.trial.Trial, space: SearchSpace) -> dict[str, Any]:
    """Ask ``trial`` for a value of every parameter of ``space``; returns name → value."""
    values: dict[str, Any] = {}
    for param in space:
        if isinstance(param, IntParam):
            values[param.name] = trial.suggest_int(
                param.name, param.low, param.high, step=param.step
            )
        elif isinstance(param, FloatParam):
            values[param.name] = trial.suggest_float(
                param.name, param.low, param.high, step=param.step, log=param.log
            )
        else:
            assert isinstance(param, CategoricalParam)
            values[param.name] = trial.suggest_categorical(param.name, list(param.choices))
    return values


def space_json(space: SearchSpace) -> str:
    """The space as canonical JSON (what a study records and compares)."""
    return canonical_json(space.to_dict())


def snapped(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every value of a stepped float parameter rounded to as many decimals
    as its step has (``0.9000000000000001`` with step 0.1 → ``0.9``); other values unchanged."""
    steps = {p.name: p.step for p in space if isinstance(p, FloatParam) and p.step is not None}
    result = dict(params)
    for name, step in steps.items():
        if name in result:
            exponent = Decimal(repr(step)).as_tuple().exponent
            decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
            result[name] = round(float(result[name]), decimals)
    return result


class RangesError(ValueError):
    """A ranges file that cannot be read or applied (one line naming the file and the problem)."""


def load_ranges(path: Path, space: SearchSpace) -> tuple[Param, ...]:
    """The parameters a ranges file (module docstring) gives, each merged over the bot's own
    parameter of that name in ``space``.

    Raises:
        RangesError: the file is missing or not TOML; a table names no parameter of the space,
            is not a table, or has a field the parameter does not have or of the wrong type.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RangesError(f"--ranges {path}: {exc}") from exc
    own = {p.name: p for p in space}
    params: list[Param] = []
    for name, fields in document.items():
        if name not in own:
            raise RangesError(
                f"--ranges {path}: {name}: not in the search space ({', '.join(own)})"
            )
        if not isinstance(fields, dict):
            raise RangesError(f"--ranges {path}: {name}: must be a table of fields")
        base = own[name]
        allowed = set(base.__struct_fields__) - {"name"}
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise RangesError(
                f"--ranges {path}: {name}: unknown field(s) {unknown}; a {type(base).__name__} "
                f"has {sorted(allowed)}"
            )
        merged = {**msgspec.to_builtins(base), **fields}
        try:
            params.append(msgspec.convert(merged, type(base)))
        except msgspec.ValidationError as exc:
            raise RangesError(f"--ranges {path}: {name}: {exc}") from exc
    return tuple(params)
