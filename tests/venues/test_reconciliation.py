"""ReconciliationConfig: the drift thresholds judge a reconciliation OK, WARNING or CRITICAL,
warn never above critical, every level with its registered code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.contracts.config import config_problems
from polytraders.contracts.reasons import load_registry
from polytraders.venues.reconciliation import DriftLevel, OrphanPolicy, ReconciliationConfig


def test_defaults_make_any_unexplained_whole_share_step_critical() -> None:
    config = ReconciliationConfig()
    assert config_problems(ReconciliationConfig) == []
    assert config.orphan_policy is OrphanPolicy.CANCEL
    assert config.level(0, 0) is DriftLevel.OK
    assert config.level(0, 1) is DriftLevel.WARNING  # sub-step dust warns
    assert config.level(0, 10_000) is DriftLevel.CRITICAL  # one 0.01-share step
    assert config.level(10_000, 0) is DriftLevel.CRITICAL


@given(
    st.integers(1, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 2 * 10**9),
    st.integers(0, 2 * 10**9),
)
def test_level_is_the_worse_of_orders_and_positions(
    warn: int, extra: int, order_drift: int, position_drift: int
) -> None:
    critical = warn + extra
    config = ReconciliationConfig(
        order_drift_warn_micros=warn,
        order_drift_critical_micros=critical,
        position_drift_warn_micros=warn,
        position_drift_critical_micros=critical,
    )
    worst = max(order_drift, position_drift)
    expected = (
        DriftLevel.CRITICAL
        if worst >= critical
        else DriftLevel.WARNING
        if worst >= warn
        else DriftLevel.OK
    )
    assert config.level(order_drift, position_drift) is expected


def test_warn_above_critical_is_refused_naming_both_fields() -> None:
    with pytest.raises(ValidationError, match=r"order_drift_warn_micros .* order_drift_critical"):
        ReconciliationConfig(order_drift_warn_micros=20_000)
    with pytest.raises(ValidationError, match="interval_s"):
        ReconciliationConfig(interval_s=0)


def test_level_codes_are_registered() -> None:
    registry = load_registry()
    assert DriftLevel.OK.reason_code == ""
    for level in (DriftLevel.WARNING, DriftLevel.CRITICAL):
        assert level.reason_code in registry
        assert registry[level.reason_code].user_message
    assert registry[DriftLevel.CRITICAL.reason_code].severity.value == "hard"
