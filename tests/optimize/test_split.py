"""The in-sample / out-of-sample split: by market start, each part data that replays on its
own, byte-identical when written again, synthetic data still labelled."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.feeds import open_source
from polytraders.optimize.split import SplitError, split_counts, split_data
from tests.conftest import POLYMARKET_SAMPLE


@given(markets=st.integers(2, 500), pct=st.integers(1, 99))
def test_both_parts_always_have_a_market(markets: int, pct: int) -> None:
    count = split_counts(markets, pct)
    assert 1 <= count <= markets - 1
    exact = markets * pct / 100
    if 1 <= exact <= markets - 1:
        assert abs(count - exact) <= 0.5  # rounded to the nearest


def test_the_real_sample_splits_by_market_start(tmp_path: Path) -> None:
    split = split_data(str(POLYMARKET_SAMPLE), in_sample_pct=75, folder=tmp_path)
    markets = open_source(POLYMARKET_SAMPLE).markets
    by_start = [m.market_id for m in sorted(markets, key=lambda m: (m.start_ns, m.market_id))]
    assert list(split.in_sample.market_ids) == by_start[:9]
    assert list(split.out_of_sample.market_ids) == by_start[9:]
    assert not split.overlap
    assert split.currency == "pUSD"
    assert split.in_sample.end_ns <= split.out_of_sample.start_ns
    rows = pq.read_table(POLYMARKET_SAMPLE / "books.parquet").num_rows
    parts = [Path(split.in_sample.path), Path(split.out_of_sample.path)]
    assert sum(pq.read_table(p / "books.parquet").num_rows for p in parts) == rows
    for part, ids in zip(parts, (split.in_sample, split.out_of_sample), strict=True):
        assert [m.market_id for m in open_source(part).markets] == list(ids.market_ids)
    again = split_data(str(POLYMARKET_SAMPLE), in_sample_pct=75, folder=tmp_path / "again")
    assert again.in_sample.digest == split.in_sample.digest
    assert again.out_of_sample.digest == split.out_of_sample.digest


def test_synthetic_parts_stay_synthetic_and_say_they_overlap(tmp_path: Path) -> None:
    split = split_data(
        "synthetic:normal?seed=3&markets=3&duration_s=60", in_sample_pct=50, folder=tmp_path
    )
    assert split.in_sample.market_ids == ("synthetic-3-0", "synthetic-3-1")
    assert split.out_of_sample.market_ids == ("synthetic-3-2",)
    assert split.overlap  # synthetic markets share one window
    source = open_source(split.out_of_sample.path)
    assert source.synthetic
    assert {e.synthetic for e in source.events()} == {True}


@pytest.mark.parametrize(("markets", "pct"), [(1, 50), (5, 0), (5, 100)])
def test_impossible_splits_are_refused(markets: int, pct: int) -> None:
    with pytest.raises(SplitError):
        split_counts(markets, pct)
