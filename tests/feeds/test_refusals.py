"""Bad input is refused when it is opened: one ``FeedError`` line naming the location and what
is wrong, before the first event (issue 10, "Bad input is refused", the feed side).

The bad Parquet sets are made from the real sample with pyarrow (a column dropped, retyped or
nulled), the bad line files from the real recordings.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.feeds import FeedError, open_source
from polytraders.feeds.convert import to_lines
from polytraders.feeds.polymarket_lines import sidecar_path
from tests.conftest import BINANCE_SAMPLES, POLYMARKET_SAMPLE

MARKETS = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").slice(0, 2)
_IDS = MARKETS["market_id"].to_pylist()
BOOKS = (
    pq.read_table(POLYMARKET_SAMPLE / "books.parquet")
    .filter(pc.is_in(pc.field("market_id"), pa.array(_IDS, pa.large_string())))
    .slice(0, 400)
)


def _parquet_set(
    directory: Path,
    markets: pa.Table = MARKETS,
    books: pa.Table = BOOKS,
) -> Path:
    directory.mkdir()
    pq.write_table(markets, directory / "markets.parquet")
    pq.write_table(books, directory / "books.parquet")
    return directory


def _refused(location: str | Path, *fragments: str) -> FeedError:
    with pytest.raises(FeedError) as caught:
        open_source(location)
    error = caught.value
    message = str(error)
    assert "\n" not in message
    assert isinstance(error, ValueError)
    assert message.startswith(str(location))
    for fragment in fragments:
        assert fragment in message, message
    return error


def test_a_small_set_made_from_the_sample_opens_and_replays(tmp_path: Path) -> None:
    """The control for every Parquet case below: unchanged tables replay."""
    source = open_source(_parquet_set(tmp_path / "set"))
    assert sum(1 for _ in source.events()) > 0
    assert source.stats.bad_input_total == 0


# ------------------------------------------------------------------ paths
def test_nonexistent_path(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.gz", "no such file or directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    _refused(path, "empty file")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_gzip_of_nothing_or_blank_lines_holds_no_records(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blank.gz"
    path.write_bytes(gzip.compress(content))
    _refused(path, "holds no records")


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    _refused(tmp_path / "dir", "empty directory")


def test_directory_without_books(tmp_path: Path) -> None:
    directory = _parquet_set(tmp_path / "set")
    (directory / "books.parquet").unlink()
    _refused(directory, "no books.parquet")


@pytest.mark.parametrize("compress", [False, True])
def test_random_bytes_are_no_known_format(tmp_path: Path, compress: bool) -> None:
    """100 KB of random bytes (plain or gzip) used to replay as an empty run that exited 0."""
    noise = random.Random(10).randbytes(100_000)
    path = tmp_path / "noise.bin"
    path.write_bytes(gzip.compress(noise) if compress else noise)
    _refused(path, "no known format")


def test_a_first_line_without_a_json_frame_is_no_known_format(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_text("1723161253937085768 hello world\n")
    _refused(path, "no known format: its only line is not a record", "not JSON")


def test_a_recording_whose_first_line_is_damaged_still_opens(tmp_path: Path) -> None:
    """One bad line is a bad record (counted when replayed), not an unknown format."""
    with gzip.open(BINANCE_SAMPLES / "usdm_ethusdt_20240808.gz") as handle:
        lines = [handle.readline() for _ in range(300)]
    path = tmp_path / "damaged.txt"
    path.write_bytes(b"\x8f\x00garbage\n" + b"".join(lines[1:]))
    source = open_source(path)
    assert sum(1 for _ in source.events()) > 0
    assert source.stats.bad_input["SYS_MALFORMED_MESSAGE"] == 1


def test_a_single_parquet_file_names_the_layout(tmp_path: Path) -> None:
    _refused(POLYMARKET_SAMPLE / "books.parquet", "single Parquet file", "markets.parquet")


def test_a_gzip_corrupt_from_the_start(tmp_path: Path) -> None:
    data = gzip.compress(b"1 {}\n" * 1000)
    path = tmp_path / "bad.gz"
    path.write_bytes(data[:10] + bytes(b ^ 0xFF for b in data[10:40]) + data[40:])
    _refused(path, "gzip")


def test_a_truncated_gzip_fails_while_streaming_naming_the_file(tmp_path: Path) -> None:
    data = (BINANCE_SAMPLES / "usdm_ethusdt_20240808.gz").read_bytes()
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    source = open_source(path)
    with pytest.raises(FeedError, match=r"cut\.gz: corrupt or truncated gzip stream"):
        for _ in source.events():
            pass
    assert source.stats.records_read > 10_000  # the lines before the cut were replayed


def test_invalid_synthetic_spec() -> None:
    _refused("synthetic:nope?seed=1", "invalid synthetic spec", "unknown synthetic scenario")


# ------------------------------------------------------------------ line files
@pytest.fixture(scope="module")
def small_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Polymarket market-channel recording (+ sidecar) of two sample markets."""
    base = tmp_path_factory.mktemp("lines")
    path = base / "two_markets.txt"
    to_lines(open_source(_parquet_set(base / "set")), path)
    return path


def _copy_recording(recording: Path, target: Path) -> Path:
    target.write_bytes(recording.read_bytes())
    return target


def test_a_recording_with_its_sidecar_opens(small_recording: Path) -> None:
    source = open_source(small_recording)
    assert len(source.markets) == 2
    assert sum(1 for _ in source.events()) > 0


def test_a_recording_without_its_sidecar_is_refused(small_recording: Path, tmp_path: Path) -> None:
    path = _copy_recording(small_recording, tmp_path / "alone.txt")
    _refused(path, "no markets sidecar alone.txt.markets.json")


@pytest.mark.parametrize(
    ("sidecar", "problem"), [(b"[]", "lists no markets"), (b"{oops", "not a JSON list")]
)
def test_an_invalid_sidecar_is_refused_naming_it(
    small_recording: Path, tmp_path: Path, sidecar: bytes, problem: str
) -> None:
    path = _copy_recording(small_recording, tmp_path / "rec.txt")
    sidecar_path(path).write_bytes(sidecar)
    with pytest.raises(FeedError, match=problem) as caught:
        open_source(path)
    assert caught.value.location == str(sidecar_path(path))


def test_a_binance_file_without_depth_events_is_refused(tmp_path: Path) -> None:
    with gzip.open(BINANCE_SAMPLES / "usdm_btcusdt_20240808.gz") as handle:
        trades = [line for line in handle.read().splitlines() if b"@trade" in line[:60]]
    path = tmp_path / "trades.txt"
    path.write_bytes(b"\n".join(trades[:100]) + b"\n")
    _refused(path, "no Binance depthUpdate")


# ------------------------------------------------------------------ Parquet columns
def _drop(table: pa.Table, column: str) -> pa.Table:
    return table.drop_columns([column])


def _retype(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def _null_first(table: pa.Table, column: str) -> pa.Table:
    values = table[column].to_pylist()
    values[0] = None
    return _retype(table, column, pa.array(values, table.schema.field(column).type))


MARKET_CASES: list[tuple[str, Callable[[pa.Table], pa.Table], str]] = [
    ("no end_ts", lambda t: _drop(t, "end_ts"), "required column 'end_ts' is missing"),
    ("no market_id", lambda t: _drop(t, "market_id"), "required column 'market_id' is missing"),
    ("no category", lambda t: _drop(t, "category"), "required column 'category' is missing"),
    ("no payout_up", lambda t: _drop(t, "payout_up"), "required column 'payout_up' is missing"),
    (
        "end_ts as text",
        lambda t: _retype(t, "end_ts", pc.cast(t["end_ts"], pa.string())),
        "column 'end_ts' is string, expected an integer",
    ),
    (
        "end_ts as double",
        lambda t: _retype(t, "end_ts", pc.cast(t["end_ts"], pa.float64())),
        "column 'end_ts' is double, expected an integer",
    ),
    (
        "category as a number",
        lambda t: _retype(t, "category", pa.array([1] * t.num_rows)),
        "column 'category' is int64, expected a string",
    ),
    (
        "optional start_ts as text",
        lambda t: _retype(t, "start_ts", pc.cast(t["start_ts"], pa.string())),
        "column 'start_ts' is string, expected an integer",
    ),
    ("null end_ts", lambda t: _null_first(t, "end_ts"), "column 'end_ts' is null in row 0"),
    ("no rows", lambda t: t.slice(0, 0), "holds no markets"),
    (
        "payout 0.5",
        lambda t: _retype(t, "payout_up", pa.array([0.5] * t.num_rows)),
        "are not 0 and 1",
    ),
    (
        "duplicate market",
        lambda t: pa.concat_tables([t, t.slice(0, 1)]),
        "is listed twice",
    ),
]


@pytest.mark.parametrize(
    ("change", "problem"), [(c[1], c[2]) for c in MARKET_CASES], ids=[c[0] for c in MARKET_CASES]
)
def test_bad_markets_parquet_is_refused_naming_file_and_column(
    tmp_path: Path, change: Callable[[pa.Table], pa.Table], problem: str
) -> None:
    directory = _parquet_set(tmp_path / "set", markets=change(MARKETS))
    with pytest.raises(FeedError) as caught:
        open_source(directory)
    assert caught.value.location == str(directory / "markets.parquet")
    assert problem in caught.value.problem


def _list_of(table: pa.Table, column: str, value_type: pa.DataType) -> pa.Table:
    return _retype(table, column, pc.cast(table[column], pa.list_(value_type)))


BOOK_CASES: list[tuple[str, Callable[[pa.Table], pa.Table], str]] = [
    ("no ts", lambda t: _drop(t, "ts"), "required column 'ts' is missing"),
    ("no side", lambda t: _drop(t, "side"), "required column 'side' is missing"),
    ("no ask_sz", lambda t: _drop(t, "ask_sz"), "required column 'ask_sz' is missing"),
    (
        "ts as double",
        lambda t: _retype(t, "ts", pc.cast(t["ts"], pa.float64())),
        "column 'ts' is double, expected an integer",
    ),
    (
        "bid_px as text lists",
        lambda t: _list_of(t, "bid_px", pa.string()),
        "column 'bid_px' is list<element: string>, expected a list of doubles",
    ),
    (
        "bid_sz as float32 lists",
        lambda t: _list_of(t, "bid_sz", pa.float32()),
        "column 'bid_sz' is list<element: float>, expected a list of doubles",
    ),
    ("null ts", lambda t: _null_first(t, "ts"), "column 'ts' is null in row 0"),
    ("null market_id", lambda t: _null_first(t, "market_id"), "column 'market_id' is null"),
    ("no rows", lambda t: t.slice(0, 0), "holds no book rows"),
    (
        "unknown market",
        lambda t: _retype(t, "market_id", pa.array(["0xabc"] * t.num_rows, pa.large_string())),
        "rows of market 0xabc, not in markets.parquet",
    ),
]


@pytest.mark.parametrize(
    ("change", "problem"), [(c[1], c[2]) for c in BOOK_CASES], ids=[c[0] for c in BOOK_CASES]
)
def test_bad_books_parquet_is_refused_naming_file_and_column(
    tmp_path: Path, change: Callable[[pa.Table], pa.Table], problem: str
) -> None:
    directory = _parquet_set(tmp_path / "set", books=change(BOOKS))
    with pytest.raises(FeedError) as caught:
        open_source(directory)
    assert caught.value.location == str(directory / "books.parquet")
    assert problem in caught.value.problem


def test_a_books_file_that_is_not_parquet(tmp_path: Path) -> None:
    directory = _parquet_set(tmp_path / "set")
    (directory / "books.parquet").write_bytes(random.Random(1).randbytes(5_000))
    with pytest.raises(FeedError, match="not a readable Parquet file") as caught:
        open_source(directory)
    assert caught.value.location == str(directory / "books.parquet")


def test_a_null_price_inside_a_list_is_a_counted_bad_row(tmp_path: Path) -> None:
    """Nulls inside the lists are row problems (counted, the token stale until its next row),
    never an exception mid-run."""
    prices = BOOKS["bid_px"].to_pylist()
    prices[5] = [None, *prices[5][1:]]
    books = _retype(BOOKS, "bid_px", pa.array(prices, pa.list_(pa.float64())))
    source = open_source(_parquet_set(tmp_path / "set", books=books))
    assert sum(1 for _ in source.events()) > 0
    assert source.stats.bad_input == {"SYS_MALFORMED_MESSAGE": 1}


# ------------------------------------------------------------------ through the CLI
def test_backtest_refuses_random_bytes_with_one_line(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(3).randbytes(100_000))
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(noise), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    output = result.output.replace("\n", "")  # rich wraps at the terminal width
    assert "noise.bin: no known format" in output


def test_backtest_refuses_markets_without_end_ts(tmp_path: Path) -> None:
    directory = _parquet_set(tmp_path / "set", markets=_drop(MARKETS, "end_ts"))
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(directory), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    output = result.output.replace("\n", "")  # rich wraps at the terminal width
    assert "markets.parquet: required column 'end_ts' is missing" in output
