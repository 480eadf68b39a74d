"""The public feeds API opens every supported format and streams time-ordered events."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytraders.feeds import open_source
from tests.conftest import BINANCE_SAMPLES, POLYMARKET_SAMPLE


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        (str(POLYMARKET_SAMPLE), "parquet"),
        (str(BINANCE_SAMPLES / "spot_btcusdt_20240808.gz"), "binance"),
        ("synthetic:normal?seed=7&markets=3", "synthetic"),
    ],
)
def test_open_source_detects_format(location: str | Path, kind: str) -> None:
    source = open_source(location)
    assert source.kind == kind
    previous = 0
    for event in source.events():
        assert event.ts_recv_ns >= previous
        previous = event.ts_recv_ns
    assert sum(source.stats.events.values()) > 0
