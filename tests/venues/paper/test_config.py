"""PaperVenueConfig: frozen, unknown keys refused, units and hard limits on every number, and
every code the venue emits registered."""

from __future__ import annotations

import annotated_types
import pytest
from pydantic import ValidationError

from polytraders.contracts.config import UNIT_SUFFIXES
from polytraders.contracts.reasons import load_registry
from polytraders.model.fees import DEFAULT_FEE_RATES_PPM
from polytraders.venues.paper import PaperVenueConfig, reasons


def test_defaults_are_the_documented_ones() -> None:
    config = PaperVenueConfig()
    assert config.order_latency_ms == 250
    assert config.order_latency_ns == 250_000_000
    assert config.response_latency_ms == 100
    assert config.cancel_latency_ms == 250
    assert (config.queue_model, config.queue_function, config.queue_power_n) == (
        "probabilistic",
        "log",
        2.0,
    )
    assert config.complement_fills is True
    assert config.queue_model_name == "probabilistic (log)"
    power = PaperVenueConfig(queue_function="power", queue_power_n=3.0)
    assert power.queue_model_name == "probabilistic (power, n = 3)"
    assert config.fee_rates_ppm == dict(DEFAULT_FEE_RATES_PPM)
    assert config.starting_cash_micros == 1_000_000_000


def test_every_number_has_a_unit_and_both_hard_limits_around_its_default() -> None:
    config = PaperVenueConfig()
    for name, info in PaperVenueConfig.model_fields.items():
        assert info.description, f"{name} has no docstring"
        if info.annotation not in (int, float):
            continue
        assert name.endswith(UNIT_SUFFIXES), name
        low = next(m.ge for m in info.metadata if isinstance(m, annotated_types.Ge))
        high = next(m.le for m in info.metadata if isinstance(m, annotated_types.Le))
        assert low <= getattr(config, name) <= high


def test_frozen_strict_and_limited() -> None:
    config = PaperVenueConfig()
    field_name = "order_latency_ms"
    with pytest.raises(ValidationError):
        setattr(config, field_name, 1)
    with pytest.raises(ValidationError):
        PaperVenueConfig.model_validate({"latency": 5})
    with pytest.raises(ValidationError):
        PaperVenueConfig(order_latency_ms=-1)
    with pytest.raises(ValidationError):
        PaperVenueConfig(queue_model="fifo")
    with pytest.raises(ValidationError):
        PaperVenueConfig(queue_power_n=0.0)
    with pytest.raises(ValidationError):
        PaperVenueConfig.model_validate({"infer_fills_from_decreases": True})  # replaced


def test_settings_the_queue_model_does_not_use_are_refused_not_ignored() -> None:
    with pytest.raises(ValidationError, match="probabilistic"):
        PaperVenueConfig(queue_model="pessimistic", queue_power_n=3.0)
    with pytest.raises(ValidationError, match="probabilistic"):
        PaperVenueConfig(queue_model="l2_inference", queue_function="power")
    with pytest.raises(ValidationError, match="power"):
        PaperVenueConfig(queue_power_n=3.0)  # the default function is log
    tuned = PaperVenueConfig(queue_function="power", queue_power_n=3.0, order_latency_ms=10)
    bound = tuned.with_queue_model("pessimistic")
    assert (bound.queue_model, bound.order_latency_ms) == ("pessimistic", 10)
    assert bound.queue_model_name == "pessimistic"
    assert tuned.with_queue_model("probabilistic", queue_function="log").queue_model_name == (
        "probabilistic (log)"
    )
    with pytest.raises(ValidationError):
        PaperVenueConfig(fee_rates_ppm={"crypto": 2_000_000})


def test_config_version_is_a_stable_hash_of_the_values() -> None:
    assert PaperVenueConfig().config_version == PaperVenueConfig().config_version
    assert (
        PaperVenueConfig(order_latency_ms=100).config_version != PaperVenueConfig().config_version
    )


def test_every_emitted_code_is_registered_with_a_user_message() -> None:
    registry = load_registry()
    for code in reasons.ALL_CODES:
        assert code in registry, code
        assert registry[code].user_message
