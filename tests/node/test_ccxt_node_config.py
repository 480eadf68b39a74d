"""The ccxt node's funding poll setting: perpetuals only, part of the recorded node."""

from __future__ import annotations

import pytest

from polytraders.node.config import CcxtNodeConfig, NodeConfigError


def test_a_perpetual_node_records_its_funding_poll_period() -> None:
    node = CcxtNodeConfig.from_mapping({"funding_poll_interval_ms": 5_000})
    assert node.canonical()["funding_poll_interval_ms"] == 5_000
    assert node.config_version != CcxtNodeConfig().config_version


def test_a_spot_node_refuses_a_funding_poll_period() -> None:
    spot = CcxtNodeConfig.from_mapping({"venue": {"exchange_id": "binance"}})
    assert spot.canonical()["funding_poll_interval_ms"] is None
    with pytest.raises(NodeConfigError, match="funding_poll_interval_ms: only for perpetual"):
        CcxtNodeConfig.from_mapping(
            {"venue": {"exchange_id": "binance"}, "funding_poll_interval_ms": 5_000}
        )
