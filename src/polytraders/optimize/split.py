"""In-sample / out-of-sample: the data split in time by market start.

The markets are ordered by start (``Market.start_ns``; a market without one starts at its
first event in the data), ties by market id; the first ``in_sample_pct`` percent (rounded
half up, at least one market and at least one left over) are in sample, the rest out of
sample. Each part is written as data of its own that ``polytraders backtest --data`` reads:

- a Parquet directory (``markets.parquet`` + ``books.parquet``): the rows of the part's
  markets, copied unchanged (``<folder>/<part>/``);
- any other Polymarket-style source (a line recording, a synthetic spec): the part's events
  written as a market-channel line recording with its markets sidecar
  (``<folder>/<part>.jsonl``, :func:`polytraders.feeds.convert.to_lines`; synthetic data stays
  labelled synthetic).

Markets that overlap in time (e.g. synthetic markets all share one window) can put
out-of-sample markets beside in-sample ones in time: :attr:`DataSplit.overlap` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polytraders.feeds import Source, open_source
from polytraders.feeds.convert import to_lines
from polytraders.feeds.digest import data_digest
from polytraders.feeds.parquet import is_parquet_layout
from polytraders.feeds.parquet_schema import BOOKS_FILE, MARKETS_FILE
from polytraders.model.events import AnyEvent
from polytraders.model.market import Market

IN_SAMPLE = "in_sample"
OUT_OF_SAMPLE = "out_of_sample"


class SplitError(ValueError):
    """Data that cannot be split (one line naming the data and why)."""


class Part(msgspec.Struct, frozen=True, kw_only=True):
    """One part of the data.

    Fields:
        path: where its data was written (what ``--data`` takes).
        digest: :func:`~polytraders.feeds.digest.data_digest` of ``path``.
        market_ids: its markets, in start order.
        start_ns / end_ns: first market start and last market end (ns since the epoch; the
            end is the latest ``end_ns``, 0 when no market declares one).
    """

    path: str
    digest: str
    market_ids: tuple[str, ...]
    start_ns: int
    end_ns: int


class DataSplit(msgspec.Struct, frozen=True, kw_only=True):
    """The data split in two: the whole data's location and digest, the in-sample percent, the
    parts, and whether an out-of-sample market starts before the last in-sample one ends."""

    data: str
    digest: str
    in_sample_pct: int
    in_sample: Part
    out_of_sample: Part
    overlap: bool


def split_counts(markets: int, in_sample_pct: int) -> int:
    """How many of ``markets`` markets are in sample: ``in_sample_pct`` percent rounded half
    up, kept within [1, markets − 1].

    Raises:
        SplitError: fewer than two markets, or a percentage outside 1–99.
    """
    if not 1 <= in_sample_pct <= 99:
        raise SplitError(f"--in-sample-pct {in_sample_pct}: must be between 1 and 99")
    if markets < 2:
        raise SplitError(
            f"{markets} market(s): an in-sample / out-of-sample split needs at least 2"
        )
    count = (markets * in_sample_pct * 2 + 100) // 200
    return min(max(count, 1), markets - 1)


def _starts(source: Source) -> dict[str, int]:
    """Each market's start: its declared ``start_ns``, else its first event's time."""
    starts = {m.market_id: m.start_ns for m in source.markets if m.start_ns > 0}
    if len(starts) == len(source.markets):
        return starts
    market_of = {t.token_id: m.market_id for m in source.markets for t in m.tokens}
    for event in source.events():
        market_id = market_of.get(getattr(event, "token_id", ""), getattr(event, "market_id", ""))
        if market_id and market_id not in starts:
            starts[market_id] = event.ts_event_ns
    for market in source.markets:  # a market without events sorts last
        starts.setdefault(market.market_id, 2**63 - 1)
    return starts


class _Subset(Source):
    """The events of some of a source's markets (those with a ``token_id`` or ``market_id``
    of theirs), in the source's order."""

    kind = "subset"

    def __init__(self, source: Source, market_ids: set[str]) -> None:
        super().__init__(
            source.name,
            markets=[m for m in source.markets if m.market_id in market_ids],
            synthetic=source.synthetic,
        )
        self._source = source
        self._market_ids = market_ids
        self._tokens = {t.token_id for m in self.markets for t in m.tokens}

    def _events(self) -> Iterator[AnyEvent]:
        for event in self._source.events():
            token_id = getattr(event, "token_id", None)
            if token_id is not None:
                if token_id in self._tokens:
                    yield event
            elif getattr(event, "market_id", None) in self._market_ids:
                yield event


def _write_parquet(source_dir: Path, target: Path, market_ids: list[str]) -> None:
    """Copy the rows of ``market_ids`` of both Parquet files into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (MARKETS_FILE, BOOKS_FILE):
        table = pq.read_table(source_dir / name)
        column = table["market_id"]
        keep = pc.is_in(column, value_set=pa.array(market_ids, type=column.type))
        pq.write_table(table.filter(keep), target / name)


def _part(
    name: str,
    *,
    folder: Path,
    data: str,
    source: Source,
    markets: list[Market],
    starts: dict[str, int],
) -> Part:
    """Write the data of ``markets`` as part ``name`` under ``folder`` (module docstring)."""
    ids = [m.market_id for m in markets]
    if is_parquet_layout(Path(data)):
        path = folder / name
        _write_parquet(Path(data), path, ids)
    else:
        path = folder / f"{name}.jsonl"
        to_lines(_Subset(source, set(ids)), path)
    return Part(
        path=str(path),
        digest=data_digest(path),
        market_ids=tuple(ids),
        start_ns=min(starts[i] for i in ids),
        end_ns=max(m.end_ns for m in markets),
    )


def split_data(data: str, *, in_sample_pct: int, folder: Path) -> DataSplit:
    """Split ``data`` (anything :func:`~polytraders.feeds.open_source` reads, with markets)
    into in-sample and out-of-sample data written under ``folder`` (module docstring).

    Raises:
        SplitError: data without markets (e.g. a Binance recording), fewer than two markets,
            or a percentage outside 1–99.
        FeedError: the data cannot be opened or read.
        OSError: the parts cannot be written.
    """
    source = open_source(data)
    if not source.markets:
        raise SplitError(
            f"{data}: no Polymarket markets to split (the optimizer needs Polymarket-style data)"
        )
    count = split_counts(len(source.markets), in_sample_pct)
    starts = _starts(source)
    ordered = sorted(source.markets, key=lambda m: (starts[m.market_id], m.market_id))
    folder.mkdir(parents=True, exist_ok=True)
    in_sample, out_of_sample = (
        _part(name, folder=folder, data=data, source=source, markets=markets, starts=starts)
        for name, markets in ((IN_SAMPLE, ordered[:count]), (OUT_OF_SAMPLE, ordered[count:]))
    )
    return DataSplit(
        data=data,
        digest=data_digest(data),
        in_sample_pct=in_sample_pct,
        in_sample=in_sample,
        out_of_sample=out_of_sample,
        overlap=out_of_sample.start_ns < in_sample.end_ns,
    )
