"""The columns of the two-file Parquet layout, checked when a directory is opened.

``markets.parquet`` (one row per market) and ``books.parquet`` (one full book of one outcome
token per row); see :mod:`polytraders.feeds.parquet` for their meaning. A column is
*required* when a run would silently differ without it: ``end_ts`` (the market closes, guards
and strategies stop before the end), ``category`` (it selects the taker fee rate), the payout
columns (settlement at resolution; a null or NaN payout means "not resolved") and every
``books.parquet`` column. The optional columns only label things (``slug``, ``question``,
``timeframe``, ``outcome_up``, ``outcome_down``), are unused by the desk (``start_ts``) or
mark converted synthetic data (``synthetic``); when present they must have their type.
Other columns are ignored.

Every problem is a :class:`~polytraders.feeds.errors.FeedError` naming the file and the
column, raised before the first event (never a ``KeyError`` or pyarrow error mid-run).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pyarrow as pa

from polytraders.feeds.errors import FeedError

MARKETS_FILE = "markets.parquet"
BOOKS_FILE = "books.parquet"


class Column(msgspec.Struct, frozen=True):
    """One column of the layout: its type (described and tested), whether the file must have
    it, and whether its values may be null."""

    type_name: str
    accepts: Callable[[pa.DataType], bool]
    required: bool
    nullable: bool


def _is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _is_double_list(t: pa.DataType) -> bool:
    is_list = pa.types.is_list(t) or pa.types.is_large_list(t)
    return bool(is_list and pa.types.is_float64(t.value_type))


_STRING = ("a string", _is_string)
_INTEGER = ("an integer", pa.types.is_integer)
_NUMBER = ("a number", _is_number)
_BOOLEAN = ("a boolean", pa.types.is_boolean)
_DOUBLES = ("a list of doubles", _is_double_list)


def _column(
    kind: tuple[str, Callable[[pa.DataType], bool]], *, required: bool, nullable: bool
) -> Column:
    return Column(kind[0], kind[1], required, nullable)


MARKETS_COLUMNS: dict[str, Column] = {
    "market_id": _column(_STRING, required=True, nullable=False),
    "category": _column(_STRING, required=True, nullable=False),
    "end_ts": _column(_INTEGER, required=True, nullable=False),
    "payout_up": _column(_NUMBER, required=True, nullable=True),
    "payout_down": _column(_NUMBER, required=True, nullable=True),
    "start_ts": _column(_INTEGER, required=False, nullable=True),
    "slug": _column(_STRING, required=False, nullable=True),
    "question": _column(_STRING, required=False, nullable=True),
    "timeframe": _column(_STRING, required=False, nullable=True),
    "outcome_up": _column(_STRING, required=False, nullable=True),
    "outcome_down": _column(_STRING, required=False, nullable=True),
    "synthetic": _column(_BOOLEAN, required=False, nullable=True),
}
"""``markets.parquet``: ids (string), category (string), ``end_ts`` / ``start_ts`` (ms since
the epoch, integers; ``end_ts`` 0 = unknown end), payouts (pUSD per share: 0 or 1, null/NaN
when unresolved)."""

BOOKS_COLUMNS: dict[str, Column] = {
    "market_id": _column(_STRING, required=True, nullable=False),
    "ts": _column(_INTEGER, required=True, nullable=False),
    "side": _column(_STRING, required=True, nullable=True),
    "bid_px": _column(_DOUBLES, required=True, nullable=True),
    "bid_sz": _column(_DOUBLES, required=True, nullable=True),
    "ask_px": _column(_DOUBLES, required=True, nullable=True),
    "ask_sz": _column(_DOUBLES, required=True, nullable=True),
}
"""``books.parquet``: market id, ``ts`` (ms since the epoch), side (``UP``/``DOWN``) and four
lists of doubles. A null side or list is a bad row (counted and skipped while streaming),
not a bad file."""


def check_schema(path: Path, schema: pa.Schema, columns: dict[str, Column]) -> None:
    """Refuse a file missing a required column or holding a known column of the wrong type.

    Raises:
        FeedError: naming ``path``, the column, the expected and the found type.
    """
    for name, column in columns.items():
        index = schema.get_field_index(name)
        if index < 0:
            if column.required:
                raise FeedError(path, f"required column {name!r} is missing")
            continue
        found = schema.field(index).type
        if not column.accepts(found):
            raise FeedError(path, f"column {name!r} is {found}, expected {column.type_name}")


def check_nulls(
    path: Path, table: pa.Table | pa.RecordBatch, columns: dict[str, Column], first_row: int = 0
) -> None:
    """Refuse nulls in the columns of ``table`` that may not hold any; ``table`` holds the
    file's rows from row ``first_row`` on (a batch of them).

    Raises:
        FeedError: naming ``path``, the column and the first null row.
    """
    for name in table.column_names:
        column = columns.get(name)
        if column is None or column.nullable:
            continue
        values = table.column(name)
        if values.null_count:
            row = first_row + values.to_pylist().index(None)
            raise FeedError(path, f"column {name!r} is null in row {row}")
