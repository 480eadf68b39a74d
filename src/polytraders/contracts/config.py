"""Bot configuration base (DESIGN.md "Contracts": ``BotConfig``).

Subclasses declare fields with units in their names, an attribute docstring each (it becomes
the field's JSON Schema description) and hard limits through ``Field(ge=…, le=…)`` (numbers) or
a ``Literal``/``Enum`` type (choices). Configs are frozen and reject unknown keys; the defaults
must lie inside every hard limit (checked by :func:`config_problems`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import annotated_types
from pydantic import BaseModel, ConfigDict


class BotConfig(BaseModel):
    """Base of every bot's ``Config``: pydantic v2, ``extra="forbid"``, frozen.

    ``config_version`` is the first 16 hex digits of the SHA-256 of the canonical JSON
    (sorted keys, no whitespace) of the config, so equal configs always share a version and any
    changed value changes it.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )

    UNITLESS_FIELDS: ClassVar[frozenset[str]] = frozenset()
    """Numeric fields that legitimately carry no unit suffix (e.g. counts named ``*_count``)."""

    def canonical_json(self) -> str:
        """The config as canonical JSON: sorted keys, compact separators, exact values."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def config_version(self) -> str:
        """Deterministic version: 16 hex digits of SHA-256 over :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

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


_NUMERIC = (int, float)
UNIT_SUFFIXES: tuple[str, ...] = (
    "_ns", "_ms", "_s", "_pct", "_bps", "_ppm", "_ticks", "_micros", "_usd", "_shares",
    "_count", "_ratio", "_levels", "_events", "_n",
)  # fmt: skip
"""Suffixes accepted as a unit in a numeric config field's name."""


def config_problems(config_cls: type[BotConfig]) -> list[str]:
    """Lint a config class: every field documented; every numeric field has a unit in its name
    (or is listed in ``UNITLESS_FIELDS``) and both hard limits; defaults construct and lie
    inside the limits. Returns a list of problems (empty when clean)."""
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
    try:
        config_cls()
    except Exception as exc:  # pydantic ValidationError or a missing default
        problems.append(f"{config_cls.__qualname__}: defaults do not validate: {exc}")
    return problems
