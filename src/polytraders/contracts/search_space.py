"""Tunable parameters (DESIGN.md "Contracts": ``SEARCH_SPACE``).

Every tunable parameter of a bot is declared once, next to its ``Config``, with its range and
step or its choices. The optimizer reads nothing else. :meth:`SearchSpace.problems` checks the
space against the config's hard limits so the optimizer can never propose a config the desk
would refuse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec
from pydantic import ValidationError

from polytraders.contracts.config import BotConfig


class IntParam(msgspec.Struct, frozen=True, kw_only=True, tag="int"):
    """Integer parameter in ``[low, high]`` on a grid of ``step``."""

    name: str
    low: int
    high: int
    step: int = 1

    def values(self) -> range:
        """Every allowed value."""
        return range(self.low, self.high + 1, self.step)


class FloatParam(msgspec.Struct, frozen=True, kw_only=True, tag="float"):
    """Float parameter in ``[low, high]`` (analytics only: never money), optional ``step``;
    ``log`` samples on a log scale."""

    name: str
    low: float
    high: float
    step: float | None = None
    log: bool = False


class CategoricalParam(msgspec.Struct, frozen=True, kw_only=True, tag="categorical"):
    """Parameter chosen from ``choices`` (str, int, float or bool values)."""

    name: str
    choices: tuple[str | int | float | bool, ...]


Param = IntParam | FloatParam | CategoricalParam


class SearchSpace:
    """An ordered, named set of parameters for one config class."""

    def __init__(self, config_cls: type[BotConfig], *params: Param) -> None:
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names in search space: {names}")
        self.config_cls = config_cls
        self.params: tuple[Param, ...] = params

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def with_ranges(self, ranges: Sequence[Param]) -> SearchSpace:
        """This space with each parameter of ``ranges`` replacing the one of its name (a
        narrower or shifted range for one data set, e.g. thresholds in ticks of an instrument
        whose tick is small against its moves); the order and the other parameters are kept.
        Whether the new ranges respect the config's hard limits is :meth:`problems`' job.

        Raises:
            ValueError: a name not in this space, given twice, or of another kind (an
                ``IntParam`` must stay an ``IntParam``, ...).
        """
        by_name = {p.name: p for p in self.params}
        replaced: dict[str, Param] = {}
        for param in ranges:
            if param.name not in by_name:
                raise ValueError(f"{param.name}: not a parameter of this search space")
            if param.name in replaced:
                raise ValueError(f"{param.name}: given twice")
            if type(param) is not type(by_name[param.name]):
                theirs = type(by_name[param.name]).__struct_config__.tag
                raise ValueError(
                    f"{param.name}: of type {theirs} in the bot's search space, not "
                    f"{type(param).__struct_config__.tag}"
                )
            replaced[param.name] = param
        return SearchSpace(self.config_cls, *(replaced.get(p.name, p) for p in self.params))

    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.params]

    def problems(self) -> list[str]:
        """Inconsistencies with the config class (empty when consistent).

        Each parameter must be a config field; numeric ranges must be ordered, with a positive
        step, and lie within the field's hard limits; both ends of a range and every choice
        must validate as a config value.
        """
        problems: list[str] = []
        fields = self.config_cls.model_fields
        limits = self.config_cls.hard_limits()
        for param in self.params:
            if param.name not in fields:
                problems.append(f"{param.name}: not a field of {self.config_cls.__qualname__}")
                continue
            if isinstance(param, CategoricalParam):
                if not param.choices:
                    problems.append(f"{param.name}: no choices")
                candidates: tuple[Any, ...] = param.choices
            else:
                if param.low > param.high:
                    problems.append(f"{param.name}: low > high")
                if param.step is not None and param.step <= 0:
                    problems.append(f"{param.name}: step must be positive")
                low, high = limits.get(param.name, (None, None))
                if low is None or high is None:
                    problems.append(f"{param.name}: config field has no hard limits")
                elif param.low < low or param.high > high:
                    problems.append(
                        f"{param.name}: range [{param.low}, {param.high}] exceeds hard limits "
                        f"[{low}, {high}]"
                    )
                candidates = (param.low, param.high)
            for value in candidates:
                try:
                    self.config_cls(**{param.name: value})
                except ValidationError as exc:
                    problems.append(f"{param.name}={value!r} is refused by the config: {exc}")
        return problems

    def build(self, values: Mapping[str, Any], base: BotConfig | None = None) -> BotConfig:
        """A config with ``values`` applied over ``base`` (or the defaults).

        Raises:
            KeyError: a value for a name not in the space.
            pydantic.ValidationError: a value outside the hard limits.
        """
        unknown = set(values) - set(self.names())
        if unknown:
            raise KeyError(f"not in the search space: {sorted(unknown)}")
        data = (base or self.config_cls()).model_dump()
        data.update(values)
        return self.config_cls(**data)

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready description of every parameter (with its ``type`` tag)."""
        result: list[dict[str, Any]] = msgspec.to_builtins(list(self.params))
        return result
