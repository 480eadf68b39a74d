"""Shared, cached replays of the real samples (each full pass takes seconds; tests reuse it)."""

from __future__ import annotations

import pytest

from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent, BookSnapshot
from tests.conftest import POLYMARKET_SAMPLE

RecordedRow = tuple[str, int, list[tuple[int, int]], list[tuple[int, int]]]


@pytest.fixture(scope="session")
def parquet_events() -> list[AnyEvent]:
    """Every event of the Parquet sample (delta mode)."""
    return list(open_source(POLYMARKET_SAMPLE).events())


@pytest.fixture(scope="session")
def recorded_rows() -> list[RecordedRow]:
    """Every book row of the Parquet sample as (token, ts_ns, bids, asks), stream order."""
    return [
        (e.token_id, e.ts_event_ns, e.bids, e.asks)
        for e in open_source(POLYMARKET_SAMPLE, snapshots_only=True).events()
        if isinstance(e, BookSnapshot)
    ]
