"""Open any supported market-data location as a :class:`~polytraders.feeds.source.Source`,
refusing what cannot be replayed before the first event."""

from __future__ import annotations

from pathlib import Path

import msgspec

from polytraders.feeds.binance import BinanceDepthSource, is_binance_recording
from polytraders.feeds.config import EventTimeWindow
from polytraders.feeds.errors import FeedError
from polytraders.feeds.lines import head_lines, split_line
from polytraders.feeds.parquet import ParquetSource
from polytraders.feeds.parquet_schema import BOOKS_FILE, MARKETS_FILE
from polytraders.feeds.polymarket_lines import PolymarketLineSource
from polytraders.feeds.polymarket_wire import DECODE_ERRORS
from polytraders.feeds.snapshots import SnapshotsOnly
from polytraders.feeds.source import Source
from polytraders.feeds.synthetic import PREFIX, SyntheticSource

PARQUET_MAGIC = b"PAR1"
_HEAD_LINES = 10
_HEAD_MAX_BYTES = 1 << 22
_KNOWN_FORMATS = (
    "expected a Parquet directory (markets.parquet + books.parquet) or a line recording of "
    "'<receive ts ns> <JSON frame>' lines (Polymarket market channel or Binance)"
)


def open_source(
    path: str | Path, *, snapshots_only: bool = False, window: EventTimeWindow | None = None
) -> Source:
    """Open a market-data location, detecting its format.

    - ``synthetic:<scenario>?seed=…`` → :class:`SyntheticSource`;
    - a directory with ``markets.parquet`` + ``books.parquet`` → :class:`ParquetSource`
      (both files' columns checked, see :mod:`polytraders.feeds.parquet_schema`);
    - a (plain or gzip) line file whose first lines are Binance combined-stream messages →
      :class:`BinanceDepthSource`;
    - any other line file of ``<receive ts ns> <JSON frame>`` lines →
      :class:`PolymarketLineSource` (market-channel frames; needs its ``.markets.json``
      sidecar).

    Args:
        path: the location or synthetic spec.
        snapshots_only: deliver every book update as a full ``BookSnapshot`` (Parquet: each
            row; other sources: the book after each change, see :class:`SnapshotsOnly`).
        window: the venue times accepted (:class:`EventTimeWindow`; default its defaults:
            not before 2020, at most 1 h ahead of the receive time); others are counted as
            ``SYS_EVENT_TIME_OUT_OF_RANGE`` and skipped.

    Raises:
        FeedError: one line naming the location and the problem: no such path; an empty file
            or directory; a file of no known format (none of its first 10 lines is a record); a
            single Parquet file; no records (a line file of blank lines, a Parquet file of 0
            rows, no Binance depth event); a line file without its markets sidecar; a Parquet
            column missing, of the wrong type or null; an invalid synthetic spec.
    """
    if isinstance(path, str) and path.startswith(PREFIX):
        try:
            source: Source = SyntheticSource(path, window=window)
        except ValueError as exc:
            raise FeedError(path, f"invalid synthetic spec: {exc}") from exc
    else:
        location = Path(path)
        if location.is_dir():
            return ParquetSource(location, snapshots_only=snapshots_only, window=window)
        _check_line_file(location)
        if is_binance_recording(location):
            source = BinanceDepthSource(location, window=window)
        else:
            source = PolymarketLineSource(location, window=window)
    return SnapshotsOnly(source) if snapshots_only else source


def _check_line_file(location: Path) -> None:
    """Refuse a path that is not a non-empty line file with a record among its first lines.

    Raises:
        FeedError: see :func:`open_source`.
    """
    if not location.exists():
        raise FeedError(location, "no such file or directory")
    if not location.is_file():
        raise FeedError(location, f"not a regular file or directory; {_KNOWN_FORMATS}")
    if location.stat().st_size == 0:
        raise FeedError(location, "empty file (0 bytes)")
    with location.open("rb") as handle:
        magic = handle.read(len(PARQUET_MAGIC))
    if magic == PARQUET_MAGIC:
        raise FeedError(
            location,
            f"a single Parquet file: give the directory holding {MARKETS_FILE} and {BOOKS_FILE}",
        )
    lines = head_lines(location, _HEAD_LINES, _HEAD_MAX_BYTES)
    if not lines:
        raise FeedError(location, "holds no records (only blank lines)")
    problems = [_record_problem(line) for line in lines]
    if all(problems):
        where = (
            "its only line is not a record"
            if len(lines) == 1
            else (f"none of its first {len(lines)} lines is a record")
        )
        raise FeedError(
            location, f"no known format: {where} (line 1 {problems[0]}); {_KNOWN_FORMATS}"
        )


def _record_problem(line: bytes) -> str:
    """Why ``line`` is not a ``<receive ts ns> <JSON frame>`` record ("" when it is one)."""
    try:
        _, frame = split_line(line)
    except ValueError:
        return "does not start with '<receive ts ns> '"
    try:
        msgspec.json.decode(frame)
    except DECODE_ERRORS as exc:
        return f"has a frame that is not JSON ({exc})"
    return ""
