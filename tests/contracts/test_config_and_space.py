"""BotConfig (frozen, forbid extra, hard limits, deterministic version, JSON Schema) and
SearchSpace (validated against the config's hard limits)."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError

from polytraders.contracts.config import BotConfig, config_problems
from polytraders.contracts.search_space import (
    CategoricalParam,
    FloatParam,
    IntParam,
    SearchSpace,
)


class GuardConfig(BotConfig):
    max_book_age_ms: int = Field(15_000, ge=100, le=120_000)
    """Book age above which intents are rejected."""
    warn_spread_bps: float = Field(300.0, ge=0.0, le=10_000.0)
    """Spread that raises a warning."""
    price_source: Literal["mid", "microprice"] = "mid"
    """Fair value source."""


def test_config_is_frozen_and_forbids_unknown_keys() -> None:
    config = GuardConfig()
    with pytest.raises(ValidationError):
        config.max_book_age_ms = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        GuardConfig(max_book_age_s=1)  # type: ignore[call-arg]


def test_hard_limits_refuse_out_of_range_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 120000"):
        GuardConfig(max_book_age_ms=500_000)
    assert GuardConfig.hard_limits() == {
        "max_book_age_ms": (100, 120_000),
        "warn_spread_bps": (0.0, 10_000.0),
    }


def test_config_version_is_stable_and_value_sensitive() -> None:
    assert GuardConfig().config_version == GuardConfig().config_version
    assert GuardConfig().config_version == GuardConfig(max_book_age_ms=15_000).config_version
    assert GuardConfig().config_version != GuardConfig(max_book_age_ms=14_999).config_version
    assert len(GuardConfig().config_version) == 16
    # pinned: a change here means every recorded envelope's config_version changes
    assert GuardConfig().canonical_json() == (
        '{"max_book_age_ms":15000,"price_source":"mid","warn_spread_bps":300.0}'
    )


def test_json_schema_exports_limits_and_docstrings() -> None:
    schema = GuardConfig.json_schema()
    prop = schema["properties"]["max_book_age_ms"]
    assert prop["minimum"] == 100 and prop["maximum"] == 120_000
    assert prop["description"] == "Book age above which intents are rejected."
    assert schema["additionalProperties"] is False


def test_config_lint() -> None:
    assert config_problems(GuardConfig) == []

    class Sloppy(BotConfig):
        threshold: int = Field(5, ge=0)
        window_ms: int = 5
        """Window."""

    problems = config_problems(Sloppy)
    assert any("threshold: no docstring" in p for p in problems)
    assert any("threshold: no unit suffix" in p for p in problems)
    assert any("threshold: missing a hard limit" in p for p in problems)
    assert any("window_ms: missing a hard limit" in p for p in problems)


def test_search_space_consistent_with_config() -> None:
    space = SearchSpace(
        GuardConfig,
        IntParam(name="max_book_age_ms", low=1_000, high=30_000, step=1_000),
        FloatParam(name="warn_spread_bps", low=50.0, high=1_000.0),
        CategoricalParam(name="price_source", choices=("mid", "microprice")),
    )
    assert space.problems() == []
    assert space.names() == ["max_book_age_ms", "warn_spread_bps", "price_source"]
    assert list(IntParam(name="x", low=1, high=5, step=2).values()) == [1, 3, 5]
    built = space.build({"max_book_age_ms": 2_000, "price_source": "microprice"})
    assert isinstance(built, GuardConfig) and built.max_book_age_ms == 2_000
    assert space.to_dict()[0]["type"] == "int"
    with pytest.raises(KeyError):
        space.build({"unknown": 1})


def test_search_space_problems_are_reported() -> None:
    space = SearchSpace(
        GuardConfig,
        IntParam(name="max_book_age_ms", low=10, high=500_000),
        FloatParam(name="warn_spread_bps", low=5.0, high=1.0),
        CategoricalParam(name="price_source", choices=("mid", "last")),
        IntParam(name="not_a_field", low=1, high=2),
    )
    problems = space.problems()
    assert any("exceeds hard limits" in p for p in problems)
    assert any("low > high" in p for p in problems)
    assert any("price_source='last'" in p for p in problems)
    assert any("not_a_field: not a field" in p for p in problems)
    with pytest.raises(ValueError, match="duplicate"):
        SearchSpace(
            GuardConfig, IntParam(name="a", low=1, high=2), IntParam(name="a", low=1, high=2)
        )
