"""The bad-input threshold: ``FeedStats.check(FeedConfig)`` passes a feed whose bad input stays
under ``max_bad_input_pct`` of the records read (judged over at least ``min_records_count``)
and refuses one over it with a single line naming the source, the count, the share and the
top reason codes."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from polytraders.feeds import FeedConfig, FeedError, FeedStats, merge, open_source
from polytraders.feeds.stats import FeedIssue
from polytraders.model.events import AnyEvent
from tests.conftest import BINANCE_SAMPLES

HEAD_LINES = 5_000
with gzip.open(BINANCE_SAMPLES / "usdm_ethusdt_20240808.gz") as _handle:
    _HEAD = _handle.read().split(b"\n")[:HEAD_LINES]
_TICKERS = [i for i, line in enumerate(_HEAD) if i >= 200 and b"@bookTicker" in line[:60]]


def _bad_line_numbers(count: int) -> list[int]:
    """``count`` bookTicker lines after the first 200, spread evenly (0-based indices)."""
    step = len(_TICKERS) // count
    return _TICKERS[::step][:count]


def _with_bad_lines(path: Path, count: int) -> Path:
    """The real recording's head with ``count`` bookTicker lines made unreadable JSON (their
    receive time kept; no depth line is touched, so no gap follows)."""
    lines = list(_HEAD)
    for index in _bad_line_numbers(count):
        stamp = lines[index].split(b" ", 1)[0]
        lines[index] = stamp + b' {"stream":"ethusdt@bookTicker","data":{'
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _replay(location: Path | str) -> FeedStats:
    source = open_source(location)
    for _ in source.events():
        pass
    return source.stats


def test_defaults_and_hard_limits() -> None:
    config = FeedConfig()
    assert (config.max_bad_input_pct, config.min_records_count) == (1.0, 1_000)
    for bad in (
        {"max_bad_input_pct": -0.1},
        {"max_bad_input_pct": 100.5},
        {"min_records_count": 0},
    ):
        with pytest.raises(ValidationError):
            FeedConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        FeedConfig(max_bad_lines=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        config.max_bad_input_pct = 5.0  # type: ignore[misc]
    assert all(f.description for f in FeedConfig.model_fields.values())


def test_a_clean_real_file_passes_and_reports_its_records() -> None:
    path = BINANCE_SAMPLES / "usdm_ethusdt_20240808.gz"
    stats = _replay(path)
    health = stats.check(FeedConfig(max_bad_input_pct=0.0))
    with gzip.open(path) as handle:
        lines = sum(1 for line in handle if line.strip())
    assert health.records_read == stats.counters["lines"] == lines > 70_000
    assert (health.bad_records, health.bad_pct, health.top_reasons) == (0, 0.0, ())
    assert health.source.endswith("usdm_ethusdt_20240808.gz")


def test_under_the_limit_passes(tmp_path: Path) -> None:
    stats = _replay(_with_bad_lines(tmp_path / "some_bad.txt", 24))  # 0.48 %
    health = stats.check(FeedConfig())
    assert health.bad_records == 24
    assert health.records_read == HEAD_LINES
    assert health.bad_pct == pytest.approx(0.48)
    assert health.top_reasons == (("SYS_MALFORMED_MESSAGE", 24),)


def test_over_the_limit_is_refused_naming_source_count_share_and_codes(tmp_path: Path) -> None:
    path = _with_bad_lines(tmp_path / "many_bad.txt", 96)  # 1.92 %
    stats = _replay(path)
    with pytest.raises(FeedError) as caught:
        stats.check(FeedConfig())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: 96 bad input records in 5,000 read (1.92 %")
    assert "the limit is 1 %" in message and "SYS_MALFORMED_MESSAGE 96" in message
    stats.check(FeedConfig(max_bad_input_pct=2.0))  # a looser desk setting passes it


def test_checking_while_streaming_stops_early_and_changes_nothing(tmp_path: Path) -> None:
    """Called every event, the check is silent while under the limit and refuses at the first
    record that takes the feed over it; the events before are the same as without checks."""
    path = _with_bad_lines(tmp_path / "many_bad.txt", 96)
    unchecked = list(open_source(path).events())
    source = open_source(path)
    seen: list[AnyEvent] = []

    def replay_checking_every_event() -> None:
        for event in source.events():
            seen.append(event)
            source.stats.check(FeedConfig())

    with pytest.raises(FeedError):
        replay_checking_every_event()
    assert seen == unchecked[: len(seen)]
    # refused as soon as bad × 100 > 1 % × max(records, 1000): at the 11th bad line, the first
    # event after it (bad lines yield no event)
    assert source.stats.bad_input_total == 11
    assert source.stats.records_read == _bad_line_numbers(96)[10] + 2


def test_the_floor_judges_a_few_bad_lines_among_few_records(tmp_path: Path) -> None:
    """One bad line among three is reported (33 %) but tolerated: below the floor of 1,000
    records at most 1 % × 1,000 = 10 problems are. Eleven are not."""
    lines = [*_HEAD[:2], _HEAD[2].split(b" ", 1)[0] + b" {broken"]
    path = tmp_path / "three.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    stats = _replay(path)
    health = stats.check(FeedConfig())
    assert (health.records_read, health.bad_records) == (3, 1)
    assert health.bad_pct == pytest.approx(100 / 3)
    with pytest.raises(FeedError, match="1 bad input records in 3 read"):
        stats.check(FeedConfig(min_records_count=3))  # judged on the 3 records alone
    eleven = [*_HEAD[:2], *(line.split(b" ", 1)[0] + b" {broken" for line in _HEAD[2:13])]
    path.write_bytes(b"\n".join(eleven) + b"\n")
    with pytest.raises(FeedError, match="11 bad input records in 13 read"):
        _replay(path).check(FeedConfig())


def test_merged_sources_sum_records_and_bad_input(tmp_path: Path) -> None:
    bad = open_source(_with_bad_lines(tmp_path / "bad.txt", 24))
    synthetic = open_source("synthetic:normal?seed=1&duration_s=30&step_ms=250")
    merged = merge(bad, synthetic)
    for _ in merged.events():
        pass
    health = merged.stats.check(FeedConfig())
    assert health.records_read == HEAD_LINES + synthetic.stats.counters["frames"]
    assert health.bad_records == 24
    assert health.source == merged.name


def test_snapshots_only_keeps_the_inner_records(tmp_path: Path) -> None:
    source = open_source(_with_bad_lines(tmp_path / "bad.txt", 24), snapshots_only=True)
    for _ in source.events():
        pass
    health = source.stats.check(FeedConfig())
    assert (health.records_read, health.bad_records) == (HEAD_LINES, 24)


@given(
    records=st.integers(min_value=0, max_value=10**7),
    bad=st.integers(min_value=0, max_value=10**5),
    more=st.integers(min_value=1, max_value=10**4),
    pct=st.floats(min_value=0.0, max_value=100.0),
    floor=st.integers(min_value=1, max_value=10**6),
)
def test_more_bad_input_never_passes_and_more_records_never_fail(
    records: int, bad: int, more: int, pct: float, floor: int
) -> None:
    config = FeedConfig(max_bad_input_pct=pct, min_records_count=floor)

    def passes(records_read: int, bad_records: int) -> bool:
        stats = FeedStats("feed", "lines")
        stats.counters["lines"] = records_read
        if bad_records:
            stats.record(FeedIssue(reason_code="SYS_MALFORMED_MESSAGE", ts_recv_ns=0))
            stats.bad_input["SYS_MALFORMED_MESSAGE"] = bad_records
        try:
            stats.check(config)
        except FeedError:
            return False
        return True

    if passes(records, bad + more):
        assert passes(records, bad)
    if passes(records, bad):
        assert passes(records + more, bad)
    assert passes(records, 0)
