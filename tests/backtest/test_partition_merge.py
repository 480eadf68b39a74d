"""The pieces of a run split by market, one at a time: the merge of equity curves and of the
collateral the markets had committed (against brute force), the shared order-rate bucket, and
a sub-run that raises."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import EquityPoint
from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import Ending
from polytraders.backtest.partition import _conclude_status
from polytraders.backtest.partition_host import HostSetup, Partition, PartitionHost
from polytraders.backtest.partition_merge import _most_in_use, in_order, merge_equity
from polytraders.desk.orders import TokenBucket
from polytraders.feeds import open_source
from polytraders.store.records import RunStatus

PER_MARKET = Path(__file__).resolve().parents[2] / "examples" / "desk_per_market.toml"

# (time, value) points of one series, time-ordered
_series = st.lists(st.tuples(st.integers(0, 30), st.integers(-50, 200)), max_size=12).map(
    lambda points: sorted(points, key=lambda p: p[0])
)


def _value_at(points: list[tuple[int, int]], ts: int, start: int) -> int:
    """A step series' value just after every point at ``ts`` (``start`` before any)."""
    value = start
    for point_ts, point_value in points:
        if point_ts <= ts:
            value = point_value
    return value


@settings(max_examples=200, deadline=None)
@given(st.lists(_series, min_size=1, max_size=4))
def test_the_merged_equity_is_the_sum_of_the_markets_changes_at_every_instant(
    series: list[list[tuple[int, int]]],
) -> None:
    cash = 1_000

    parts = [  # the only fields merge_equity reads
        SimpleNamespace(
            index=i,
            desk_result=SimpleNamespace(equity_curve=[EquityPoint(t, cash + v) for t, v in s]),
        )
        for i, s in enumerate(series)
    ]
    curve = merge_equity(parts, cash)  # type: ignore[arg-type]
    times = sorted({t for s in series for t, _ in s})
    assert [p.ts_ns for p in curve] == sorted(p.ts_ns for p in curve)
    for ts in times:
        expected = cash + sum(_value_at(s, ts, 0) for s in series)
        at_or_before = [p.equity for p in curve if p.ts_ns <= ts]
        assert at_or_before[-1] == expected
    assert all(a.equity != b.equity for a, b in itertools.pairwise(curve))


@settings(max_examples=200, deadline=None)
@given(st.lists(_series, max_size=4))
def test_the_most_committed_together_is_found_at_its_instant(
    series: list[list[tuple[int, int]]],
) -> None:
    most, at = 0, 0
    for ts in sorted({t for s in series for t, _ in s}):
        total = 0
        for points in series:
            now = [v for t, v in points if t == ts]
            total += max(now) if now else _value_at(points, ts, 0)
        if total > most:
            most, at = total, ts
    assert _most_in_use(series) == (most, at)


def test_in_order_sorts_by_time_then_group_then_position() -> None:
    groups = [(1, ["b1", "b2"]), (0, ["a1", "a2"])]
    times = {"a1": 5, "a2": 7, "b1": 5, "b2": 6}
    assert in_order(groups, times.__getitem__) == ["a1", "b1", "b2", "a2"]


def test_the_shared_order_rate_bucket_refills_as_the_desks_does() -> None:
    bucket = TokenBucket(rate_per_s=2, burst_count=2)
    second = 1_000_000_000
    assert [bucket.take(0), bucket.take(0), bucket.take(0)] == [True, True, False]
    assert bucket.take(second // 2)  # one token back after half a second at 2/s
    assert not bucket.take(second // 2)
    assert [bucket.take(10 * second), bucket.take(10 * second)] == [True, True]
    assert not bucket.take(10 * second)  # never more than the burst


def test_a_sub_run_that_raises_stops_there_and_fails_the_run(
    tmp_path: Path, polymarket_sample: Path
) -> None:
    source = open_source(polymarket_sample)
    market = source.markets[0]
    tokens = {t.token_id for t in market.tokens}
    events = list(itertools.islice((e for e in source.events() if e.token_id in tokens), 60))
    desk_file = DeskFile.load(PER_MARKET)
    setup = HostSetup(
        desk=desk_file.model_dump(mode="json"),
        base_dir=str(desk_file.base_dir),
        fill_bounds=False,
        folder=str(tmp_path),
    )
    host = PartitionHost(setup)
    host.add(Partition(index=0, markets=[market], run_id="run-test/p0"))
    for event in events[:40]:
        host.feed(0, event)
    host.feed(0, events[5])  # older than the previous event: the desk refuses it
    host.feed(0, events[50])  # the sub-run has stopped: dropped
    (result,) = host.finish()
    assert result.error.startswith("ValueError: market event at ")
    assert result.desk_result.events_processed == 41
    assert (tmp_path / "p0.jsonl").read_bytes().count(b"\n") == result.desk_result.envelope_count
    ending = Ending()
    _conclude_status(ending, [result], desk_file, 1_000_000_000, result.desk_result)
    assert ending.status is RunStatus.FAILED
    assert ending.detail == f"sub-run p0 ({market.slug}): {result.error}"


@pytest.mark.parametrize("status", [RunStatus.INTERRUPTED, RunStatus.FAILED])
def test_an_interrupted_or_failed_replay_keeps_its_ending(status: RunStatus) -> None:
    ending = Ending(status=status, detail="as it was")
    _conclude_status(ending, [], DeskFile(), 0, None)  # type: ignore[arg-type]
    assert (ending.status, ending.detail) == (status, "as it was")
