"""Open any supported market-data location as a :class:`~polytraders.feeds.source.Source`."""

from __future__ import annotations

from pathlib import Path

from polytraders.feeds.binance import BinanceDepthSource, is_binance_recording
from polytraders.feeds.parquet import ParquetSource
from polytraders.feeds.polymarket_lines import PolymarketLineSource
from polytraders.feeds.snapshots import SnapshotsOnly
from polytraders.feeds.source import Source
from polytraders.feeds.synthetic import PREFIX, SyntheticSource


def open_source(path: str | Path, *, snapshots_only: bool = False) -> Source:
    """Open a market-data location, detecting its format.

    - ``synthetic:<scenario>?seed=…`` → :class:`SyntheticSource`;
    - a directory with ``markets.parquet`` + ``books.parquet`` → :class:`ParquetSource`;
    - a (plain or gzip) line file whose first lines are Binance combined-stream messages →
      :class:`BinanceDepthSource`;
    - any other line file → :class:`PolymarketLineSource` (market-channel frames).

    Args:
        path: the location or synthetic spec.
        snapshots_only: deliver every book update as a full ``BookSnapshot`` (Parquet: each
            row; other sources: the book after each change, see :class:`SnapshotsOnly`).

    Raises:
        FileNotFoundError: the path does not exist (or a directory without the Parquet files).
        ValueError: an invalid synthetic spec or unreadable metadata.
    """
    if isinstance(path, str) and path.startswith(PREFIX):
        source: Source = SyntheticSource(path)
    else:
        location = Path(path)
        if location.is_dir():
            return ParquetSource(location, snapshots_only=snapshots_only)
        if not location.is_file():
            raise FileNotFoundError(location)
        if is_binance_recording(location):
            source = BinanceDepthSource(location)
        else:
            source = PolymarketLineSource(location)
    return SnapshotsOnly(source) if snapshots_only else source
