"""A bot's :class:`~polytraders.contracts.search_space.SearchSpace` as Optuna suggestions.

``IntParam`` → ``suggest_int(low, high, step)``; ``FloatParam`` → ``suggest_float(low, high,
step, log)``; ``CategoricalParam`` → ``suggest_categorical(choices)``, each under the
parameter's name, in declaration order. Optuna computes a stepped float as ``low + i × step``
in binary floating point (``0.9000000000000001``); :func:`snapped` rounds it to the step's
decimals, and every config is built from snapped values.

:func:`space_problems` refuses a space the optimizer cannot search: empty, inconsistent with
the config's hard limits (:meth:`SearchSpace.problems`), or a float with both a step and a log
scale (Optuna samples one or the other).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polytraders.contracts.canonical import canonical_json
from polytraders.contracts.search_space import (
    CategoricalParam,
    FloatParam,
    IntParam,
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
