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

A Binance recording (one instrument, no markets) is split in time instead: the lines received
before ``in_sample_pct`` percent of the span between its first and last receive time are in
sample, the rest out of sample, each written as a Binance recording (``<folder>/<part>.txt``).
The out-of-sample part starts with a REST-snapshot line (``lastUpdateId``, ``E``/``T``,
``bids``/``asks``) holding the book the in-sample lines build, its ``lastUpdateId`` the last
applied update id, so the first out-of-sample depth event continues it under Binance's sync
rules (:mod:`polytraders.feeds.binance`) and both parts replay the recorded book exactly. A
part's ``market_ids`` is then the instrument's token id, ``start_ns``/``end_ns`` the venue
times of its first and last event. Signals that need a warm-up lose it at the cut: each part
is a backtest of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polytraders.feeds import Source, open_source
from polytraders.feeds.binance import BinanceDepthSource
from polytraders.feeds.books import BookSet
from polytraders.feeds.convert import to_lines
from polytraders.feeds.digest import data_digest
from polytraders.feeds.lines import format_line, iter_raw_lines, split_line
from polytraders.feeds.parquet import is_parquet_layout
from polytraders.feeds.parquet_schema import BOOKS_FILE, MARKETS_FILE
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, Level
from polytraders.model.market import Market
from polytraders.model.money import from_micros
from polytraders.model.quote import PUSD, QuoteCurrencyError, run_currency

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
    parts, whether an out-of-sample market starts before the last in-sample one ends, and the
    quote currency the data's money is in (:func:`~polytraders.model.quote.run_currency`:
    ``pUSD`` for Polymarket markets, e.g. ``USDT`` for a Binance ``BTCUSDT`` recording)."""

    data: str
    digest: str
    in_sample_pct: int
    in_sample: Part
    out_of_sample: Part
    overlap: bool
    currency: str = PUSD


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
    """Split ``data`` (anything :func:`~polytraders.feeds.open_source` reads, with markets,
    or a Binance recording) into in-sample and out-of-sample data written under ``folder``
    (module docstring).

    Raises:
        SplitError: data without markets that is not a Binance recording, an instrument of
            unknown quote currency, fewer than two markets, a percentage outside 1–99, or a
            recording whose book is out of sync (or missing) at the cut or that leaves a part
            without lines.
        FeedError: the data cannot be opened or read.
        OSError: the parts cannot be written.
    """
    source = open_source(data)
    try:
        currency = run_currency(source.markets, source.instruments)
    except QuoteCurrencyError as exc:
        raise SplitError(f"{data}: {exc}") from exc
    if isinstance(source, BinanceDepthSource):
        return _split_recording(
            source, data=data, in_sample_pct=in_sample_pct, folder=folder, currency=currency
        )
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
        currency=currency,
    )


def _levels(levels: list[Level]) -> list[list[str]]:
    return [[from_micros(price), from_micros(size)] for price, size in levels]


def _recording_part(path: Path, token_id: str) -> Part:
    """The :class:`Part` of a written recording (its first and last venue times)."""
    times = [event.ts_event_ns for event in BinanceDepthSource(path).events()]
    if not times:
        raise SplitError(f"{path}: the part holds no event")
    return Part(
        path=str(path),
        digest=data_digest(path),
        market_ids=(token_id,),
        start_ns=times[0],
        end_ns=times[-1],
    )


def _split_recording(
    source: BinanceDepthSource, *, data: str, in_sample_pct: int, folder: Path, currency: str
) -> DataSplit:
    """Split a Binance recording in time (module docstring)."""
    if not 1 <= in_sample_pct <= 99:
        raise SplitError(f"--in-sample-pct {in_sample_pct}: must be between 1 and 99")
    lines = list(iter_raw_lines(source.path))
    received = [split_line(line)[0] for line in lines]
    cut_ns = received[0] + (received[-1] - received[0]) * in_sample_pct // 100
    count = sum(1 for ts in received if ts < cut_ns)
    if not 0 < count < len(lines):
        raise SplitError(f"{data}: {len(lines)} line(s) leave a part of the split empty")
    folder.mkdir(parents=True, exist_ok=True)
    in_path, out_path = folder / f"{IN_SAMPLE}.txt", folder / f"{OUT_OF_SAMPLE}.txt"
    with in_path.open("wb") as handle:
        handle.writelines(line + b"\n" for line in lines[:count])
    books = BookSet()
    update_id = venue_ms = 0
    for event in BinanceDepthSource(in_path, book_only=True).events():
        books.apply(event)
        if isinstance(event, BookSnapshot | BookDelta):
            update_id, venue_ms = event.sequence, event.ts_event_ns // 1_000_000
    book = books.books.get(source.token_id)
    if book is None or source.token_id in books.stale:
        raise SplitError(f"{data}: no synchronised book at the cut ({cut_ns} ns received)")
    snapshot = msgspec.json.encode(
        {
            "lastUpdateId": update_id,
            "E": venue_ms,
            "T": venue_ms,
            "bids": _levels(book.bids()),
            "asks": _levels(book.asks()),
        }
    )
    with out_path.open("wb") as handle:
        handle.write(format_line(received[count], snapshot))
        handle.writelines(line + b"\n" for line in lines[count:])
    in_sample = _recording_part(in_path, source.token_id)
    out_of_sample = _recording_part(out_path, source.token_id)
    return DataSplit(
        data=data,
        digest=data_digest(data),
        in_sample_pct=in_sample_pct,
        in_sample=in_sample,
        out_of_sample=out_of_sample,
        overlap=False,
        currency=currency,
    )
