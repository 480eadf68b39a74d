"""Configuration bases (DESIGN.md "Contracts": ``BotConfig``) and their lint.

:class:`FrozenConfig` is the base of every linted configuration in the project (bot configs
through :class:`BotConfig`, the paper and Polymarket venues, reconciliation, the live node).
Subclasses declare fields with units in their names, an attribute docstring each (it becomes
the field's JSON Schema description) and hard limits through ``Field(ge=…, le=…)`` (numbers) or
a ``Literal``/``Enum`` type (choices). Configs are frozen and reject unknown keys; the defaults
must lie inside every hard limit (checked by :func:`config_problems`). Versions come from
:func:`polytraders.contracts.canonical.config_version`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import annotated_types
from pydantic import BaseModel, ConfigDict

from polytraders.contracts.canonical import canonical_json, config_version

DEMOTION_NOT_CONFIGURABLE = (
    "automatic demotion cannot be configured or turned off (seed 001: demotion is automatic "
    "and on-call cannot disable it)"
)
"""The problem reported for a configuration key that names demotion."""


def demotion_keys(data: Any, path: str = "") -> list[str]:
    """The paths (``desk.auto_demotion``, ``risk.0.config.demote``) of every key of a parsed
    configuration (nested tables and arrays of tables included) whose name contains
    ``demot`` in any case: seed 001's demotion is automatic and no configuration may turn it
    off, so such a key is refused by name rather than reported as merely unknown."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if "demot" in str(key).lower():
                found.append(where)
            found += demotion_keys(value, where)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += demotion_keys(value, f"{path}.{i}" if path else str(i))
    return found


class ConfigFileError(ValueError):
    """A config file (desk file, node config) that cannot be used; ``problems`` lists every
    problem with its path, ``source`` names the file. Subclasses set :attr:`kind`."""

    kind = "config"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid {self.kind}:\n  " + "\n  ".join(problems))

    def one_line(self) -> str:
        """The source and every problem on one line (``; ``-separated)."""
        return f"{self.source}: invalid {self.kind}: " + "; ".join(self.problems)


class FrozenConfig(BaseModel):
    """Base of every linted config: pydantic v2, ``extra="forbid"``, frozen, defaults validated.

    ``config_version`` is the first 16 hex digits of the SHA-256 of the canonical JSON of
    :meth:`canonical` (:mod:`polytraders.contracts.canonical`), so equal configs always share a
    version and any changed value changes it.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    UNITLESS_FIELDS: ClassVar[frozenset[str]] = frozenset()
    """Numeric fields that legitimately carry no unit suffix (e.g. counts named ``*_count``)."""

    def canonical(self) -> dict[str, Any]:
        """The values the version covers, as JSON-compatible data (``model_dump(mode="json")``)."""
        return self.model_dump(mode="json")

    def canonical_json(self) -> str:
        """:meth:`canonical` as canonical JSON: sorted keys, compact separators, exact values."""
        return canonical_json(self.canonical())

    @property
    def config_version(self) -> str:
        """Deterministic version: 16 hex digits of SHA-256 over :meth:`canonical_json`."""
        return config_version(self.canonical())

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of this config (hard limits appear as minimum/maximum)."""
        return cls.model_json_schema()

    @classmethod
    def hard_limits(cls) -> dict[str, tuple[float | int | None, float | int | None]]:
        """Per numeric field, its (lower, upper) hard limit from ``ge``/``gt``/``le``/``lt``."""
        limits: dict[str, tuple[float | int | None, float | int | None]] = {}
        for name, info in cls.model_fields.items():
            low: Any = None
            high: Any = None
            for meta in info.metadata:
                if isinstance(meta, annotated_types.Ge):
                    low = meta.ge
                elif isinstance(meta, annotated_types.Gt):
                    low = meta.gt
                elif isinstance(meta, annotated_types.Le):
                    high = meta.le
                elif isinstance(meta, annotated_types.Lt):
                    high = meta.lt
            if low is not None or high is not None:
                limits[name] = (low, high)
        return limits


class BotConfig(FrozenConfig):
    """Base of every bot's ``Config`` (a :class:`FrozenConfig`)."""


_NUMERIC = (int, float)
UNIT_SUFFIXES: tuple[str, ...] = (
    "_ns", "_ms", "_s", "_pct", "_bps", "_ppm", "_ppb", "_ticks", "_micros", "_usd", "_shares",
    "_count", "_ratio", "_levels", "_events", "_n",
)  # fmt: skip
"""Suffixes accepted as a unit in a numeric config field's name."""


def config_problems(config_cls: type[FrozenConfig]) -> list[str]:
    """Lint a config class: every field documented; every numeric field has a unit in its name
    (or is listed in ``UNITLESS_FIELDS``) and both hard limits; defaults construct and lie
    inside the limits; every field that is itself a :class:`FrozenConfig` passes the same lint
    (its problems are listed with its own class name). Returns a list of problems (empty when
    clean)."""
    problems: list[str] = []
    limits = config_cls.hard_limits()
    for name, info in config_cls.model_fields.items():
        if not info.description:
            problems.append(f"{config_cls.__qualname__}.{name}: no docstring")
        annotation = info.annotation
        if annotation in _NUMERIC and annotation is not bool:
            if not name.endswith(UNIT_SUFFIXES) and name not in config_cls.UNITLESS_FIELDS:
                problems.append(f"{config_cls.__qualname__}.{name}: no unit suffix in name")
            low, high = limits.get(name, (None, None))
            if low is None or high is None:
                problems.append(f"{config_cls.__qualname__}.{name}: missing a hard limit")
        if isinstance(annotation, type) and issubclass(annotation, FrozenConfig):
            problems.extend(config_problems(annotation))
    try:
        config_cls()
    except Exception as exc:  # pydantic ValidationError or a missing default
        problems.append(f"{config_cls.__qualname__}: defaults do not validate: {exc}")
    return problems
