"""Conversion of the real Parquet sample to the Polymarket wire format replays to identical
books, and converts back to identical rows; the CLI does the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.feeds import BookSet, open_source
from polytraders.feeds.convert import to_lines, to_parquet
from polytraders.feeds.polymarket_lines import PolymarketLineSource, read_sidecar
from polytraders.model.events import BookSnapshot, MarketStatus, TickSizeChange
from polytraders.model.market import MarketState
from tests.conftest import POLYMARKET_SAMPLE
from tests.feeds.conftest import RecordedRow


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wire") / "resolvedkit_btc15m.txt.gz"
    result = to_lines(open_source(POLYMARKET_SAMPLE), path)
    # 25,640 book rows + 12 CLOSED + 12 RESOLVED statuses + 14 inferred tick-size changes
    # (7 markets move both tokens to the 0.001 tick near an extreme)
    assert result.events_in == 25_678
    assert result.skipped == {"MarketStatus": 12}  # CLOSED: re-derived from the sidecar
    return path


def _book_states(location: str | Path) -> list[RecordedRow]:
    books = BookSet()
    states = []
    for event in open_source(location).events():
        book = books.apply(event)
        if book is not None:
            states.append((book.token_id, book.last_update_ns, book.bids(), book.asks()))
    return states


def test_wire_recording_replays_to_identical_books(
    recording: Path, recorded_rows: list[RecordedRow]
) -> None:
    source = open_source(recording)
    assert isinstance(source, PolymarketLineSource)
    assert source.markets == read_sidecar(recording) == open_source(POLYMARKET_SAMPLE).markets
    assert _book_states(recording) == recorded_rows
    assert source.stats.bad_input_total == 0
    statuses = [(e.market_id, e.state) for e in source.events() if isinstance(e, MarketStatus)]
    assert sum(1 for _, state in statuses if state is MarketState.CLOSED) == 12
    assert sum(1 for _, state in statuses if state is MarketState.RESOLVED) == 12
    ticks = [e for e in source.events() if isinstance(e, TickSizeChange)]
    assert len(ticks) == 14
    assert {(e.old_tick_size, e.new_tick_size) for e in ticks} == {(10_000, 1_000)}


@pytest.mark.slow
def test_wire_recording_converts_back_to_identical_rows(
    recording: Path, tmp_path: Path, recorded_rows: list[RecordedRow]
) -> None:
    result = to_parquet(open_source(recording), tmp_path / "back")
    assert result.items == 25_640
    rows = [
        (e.token_id, e.ts_event_ns, e.bids, e.asks)
        for e in open_source(tmp_path / "back", snapshots_only=True).events()
        if isinstance(e, BookSnapshot)
    ]
    assert rows == recorded_rows
    assert open_source(tmp_path / "back").markets == open_source(POLYMARKET_SAMPLE).markets


def test_legacy_price_change_schema_replays_identically(tmp_path: Path) -> None:
    spec = "synthetic:normal?seed=5&markets=2&duration_s=120"
    current, legacy = tmp_path / "current.txt", tmp_path / "legacy.txt"
    to_lines(open_source(spec), current)
    to_lines(open_source(spec), legacy, legacy_price_change=True)
    assert b'"changes"' in legacy.read_bytes() and b'"price_changes"' not in legacy.read_bytes()
    assert _book_states(current) == _book_states(legacy) == _book_states(spec)


def test_cli_inspect_reports_the_sample() -> None:
    result = CliRunner().invoke(app, ["data", "inspect", str(POLYMARKET_SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["markets"], report["tokens"], report["snapshots"]) == (12, 24, 25_640)
    complement = report["checks"]["complement"]
    assert complement["ok"] and complement["identities_failed"] == 0
    assert complement["paired_updates"] == 12_564
    assert report["crossed_book_states"] == 22


def test_cli_convert_and_inspect_synthetic(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "synthetic.txt.gz"
    spec = "synthetic:malformed?seed=3&duration_s=300"
    converted = runner.invoke(app, ["data", "convert", spec, str(target), "--to", "lines"])
    assert converted.exit_code == 0, converted.output
    assert target.exists() and (tmp_path / "synthetic.txt.gz.markets.json").exists()
    inspected = runner.invoke(app, ["data", "inspect", spec, "--json"])
    report = json.loads(inspected.output)
    assert report["synthetic"] is True
    assert set(report["bad_input"]) == {
        "SYS_DELTA_BEFORE_SNAPSHOT",
        "SYS_MALFORMED_MESSAGE",
        "SYS_NEGATIVE_SIZE",
        "SYS_NON_MONOTONIC_TIME",
        "SYS_PRICE_OUT_OF_RANGE",
        "SYS_UNKNOWN_EVENT",
    }
    missing = runner.invoke(app, ["data", "inspect", str(tmp_path / "nope")])
    assert missing.exit_code == 2


def test_synthetic_label_survives_both_conversions(tmp_path: Path) -> None:
    spec = "synthetic:normal?seed=8&markets=2&duration_s=60"
    to_lines(open_source(spec), tmp_path / "s.txt")
    to_parquet(open_source(spec), tmp_path / "s_parquet")
    for location in (tmp_path / "s.txt", tmp_path / "s_parquet"):
        source = open_source(location)
        assert source.synthetic
        assert all(m.synthetic for m in source.markets)
        events = list(source.events())
        assert events and all(e.synthetic for e in events)  # type: ignore[union-attr]
    assert _book_states(tmp_path / "s.txt") == _book_states(spec)
