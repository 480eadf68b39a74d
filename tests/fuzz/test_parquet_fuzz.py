"""Bounded fuzzing of the Parquet reader (``open_source`` on a markets.parquet + books.parquet
directory, then a whole replay): a real one-market set from the sample, mutated in structure
(columns dropped, retyped, added; cells nulled or set to hostile values; rows duplicated) or
in bytes (a file truncated or overwritten). Each input is refused with a ``FeedError`` or
replayed with its bad rows counted; nothing else is raised.

Time: opening and replaying even a clean 12-row set costs pyarrow tens of ms on this machine
(file and dataset set-up per read), so the bound asserted here is the issue's 10 ms on top of
what the same clean set costs: no hostile value may make the reader do more work."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from polytraders.feeds import FeedError, open_source
from tests.conftest import POLYMARKET_SAMPLE
from tests.fuzz.bounds import PER_INPUT_S, bounded, fuzz

_MARKETS = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").slice(0, 1)
_MARKET_ID = _MARKETS["market_id"][0].as_py()
_ALL_BOOKS = pq.read_table(POLYMARKET_SAMPLE / "books.parquet")
_BOOKS = _ALL_BOOKS.filter(pc.equal(_ALL_BOOKS["market_id"], _MARKET_ID)).slice(0, 12)
FILES = {"markets.parquet": _MARKETS, "books.parquet": _BOOKS}

HOSTILE_CELLS: dict[str, list[Any]] = {
    "ts": [-5, 0, 1_000, 2**62, 2**63 - 1, 9_223_372_036_855],
    "end_ts": [-5, 0, 2**62, 2**63 - 1],
    "start_ts": [-5, 2**63 - 1],
    "bid_px": [[math.nan], [math.inf], [1e300], [-1.0], [0.1234567], [], [0.5, 0.5], [1.5]],
    "ask_px": [[math.nan], [0.0], [2.0**60], [0.99999999]],
    "bid_sz": [[-1.0], [math.nan], [1e300], [1e-7]],
    "ask_sz": [[math.inf], [], [1.0, 2.0, 3.0]],
    "side": ["X", "", "up", "UP "],
    "market_id": ["0xunknown", ""],
    "payout_up": [0.5, math.nan, -1.0, 2.0, math.inf],
    "payout_down": [0.5, 1.0, 0.0],
    "category": ["", "x" * 1_000, "\u0000"],
}


def _write(directory: Path, tables: dict[str, pa.Table]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, directory / name)


def _retyped(column: pa.ChunkedArray, kind: str) -> pa.Array:
    values = column.to_pylist()
    if kind == "string":
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    if kind == "double":
        return pa.array([float(len(str(v))) for v in values], pa.float64())
    if kind == "int":
        return pa.array([len(str(v)) for v in values], pa.int64())
    if kind == "bool":
        return pa.array([bool(v) for v in values], pa.bool_())
    return pa.array([[str(v)] for v in values], pa.list_(pa.string()))


@st.composite
def mutated_tables(draw: st.DrawFn) -> dict[str, pa.Table]:
    """One to three structural mutations of the real one-market set."""
    tables = dict(FILES)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        name = draw(st.sampled_from(sorted(tables)))
        table = tables[name]
        how = draw(st.sampled_from(["drop", "retype", "null", "hostile", "dup", "extra"]))
        column = draw(st.sampled_from(table.column_names)) if table.column_names else ""
        if how == "drop" and column:
            table = table.drop_columns([column])
        elif how == "retype" and column:
            kind = draw(st.sampled_from(["string", "double", "int", "bool", "list"]))
            index = table.column_names.index(column)
            table = table.set_column(index, column, _retyped(table[column], kind))
        elif how in ("null", "hostile") and column and table.num_rows:
            rows = table.to_pylist()
            row = draw(st.integers(min_value=0, max_value=len(rows) - 1))
            choices = HOSTILE_CELLS.get(column, [None])
            rows[row][column] = None if how == "null" else draw(st.sampled_from(choices))
            try:
                table = pa.Table.from_pylist(rows, schema=table.schema)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                try:  # the value does not fit the column: let its type change
                    table = pa.Table.from_pylist(rows)
                except (pa.ArrowException, OverflowError, TypeError, ValueError):
                    continue  # mixed types pyarrow cannot hold in one column: no mutation
        elif how == "dup" and table.num_rows:
            table = pa.concat_tables([table, table.slice(0, draw(st.integers(1, 3)))])
        elif how == "extra":
            table = table.append_column("extra", pa.array(range(table.num_rows), pa.int64()))
        note(f"{how} {name}:{column}")
        tables[name] = table
    return tables


@st.composite
def corrupted_files(draw: st.DrawFn) -> dict[str, bytes]:
    """The real set's files with one truncated, overwritten or emptied."""
    raw: dict[str, bytes] = {}
    for name, table in FILES.items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        raw[name] = sink.getvalue().to_pybytes()
    name = draw(st.sampled_from(sorted(raw)))
    data = raw[name]
    at = draw(st.integers(min_value=0, max_value=len(data)))
    how = draw(st.sampled_from(["truncate", "overwrite", "empty"]))
    if how == "truncate":
        raw[name] = data[:at]
    elif how == "overwrite":
        patch = draw(st.binary(min_size=1, max_size=16))
        raw[name] = data[:at] + patch + data[at + len(patch) :]
    else:
        raw[name] = b""
    return raw


def _replay(directory: Path) -> None:
    source = open_source(directory)
    list(source.events())
    source.stats.as_dict()


@pytest.fixture(scope="module")
def clean_cost_s(tmp_path_factory: pytest.TempPathFactory) -> float:
    """What opening and replaying the clean set costs here (fastest of 5 runs)."""
    directory = tmp_path_factory.mktemp("clean")
    _write(directory, FILES)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        _replay(directory)
        runs.append(time.perf_counter() - started)
    return min(runs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parquet")


_COUNTER = iter(range(10**9))


@fuzz(120, deadline=None)
@given(tables=mutated_tables())
def test_mutated_parquet_sets_are_refused_or_replayed(
    tables: dict[str, pa.Table], workdir: Path, clean_cost_s: float
) -> None:
    directory = workdir / str(next(_COUNTER))
    _write(directory, tables)
    bounded(lambda: _replay(directory), (FeedError,), limit_s=clean_cost_s + PER_INPUT_S)


@fuzz(80, deadline=None)
@given(files=corrupted_files())
def test_corrupted_parquet_files_are_refused(
    files: dict[str, bytes], workdir: Path, clean_cost_s: float
) -> None:
    directory = workdir / str(next(_COUNTER))
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    bounded(lambda: _replay(directory), (FeedError,), limit_s=clean_cost_s + PER_INPUT_S)
