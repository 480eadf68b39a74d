"""The two-file Parquet layout of recorded Polymarket L2 books (``markets.parquet`` +
``books.parquet``), as in ``data/samples/polymarket/resolvedkit_btc15m`` and documented in
``../shared/data/README.md``.

Token ids: the data has none, so each outcome token gets a stable derived id,
``f"{market_id}:{side}"`` with ``side`` the recorded outcome column value (``UP`` / ``DOWN``),
e.g. ``0xfb85…1028:UP`` (:func:`parquet_token_id`). The ``UP`` token is listed first and each
token names the other as its complement.

Events per market, streamed in time order across markets:

- each row of ``books.parquet`` is a full book of one token at ``ts`` (ms): the token's first
  row becomes a :class:`BookSnapshot`; later rows a :class:`BookDelta` of the levels that changed
  (an unchanged row gives an empty delta, which still refreshes the book's update time). With
  ``snapshots_only`` every row is a snapshot.
- ``MarketStatus`` CLOSED at the market's ``end_ts``; ``MarketStatus`` RESOLVED with the winning
  token at the market's last row (the data has no resolution time; the payout columns give
  the winner).

``ts_event_ns`` = ``ts_recv_ns`` = ``ts`` × 10⁶ (the data has one time per row). A row whose
``ts`` is outside the :class:`~polytraders.feeds.config.EventTimeWindow` (before its floor,
2020 by default, or beyond int64 ns) is counted as ``SYS_EVENT_TIME_OUT_OF_RANGE`` at the start
of each pass and not replayed: it neither opens, resolves nor moves its market (each row is a
full book, so the next row loses nothing). Prices and
sizes are recorded as doubles and converted with
:func:`~polytraders.model.money.micros_from_recorded` (exact or refused). A row with an
unreadable number, a price outside (0, 1), a negative size, duplicate prices, or mismatched
list lengths is skipped with its reason code and its token is stale until its next row (which is
then emitted as a snapshot).

Opening checks both files' columns (:mod:`polytraders.feeds.parquet_schema`: required
columns, types, nulls), that both hold rows, and that every book row names a listed market;
each problem is a :class:`~polytraders.feeds.errors.FeedError` naming the file.

Memory: the ``market_id`` and ``ts`` columns are read up front (to know when each market starts
and ends); a market's rows are loaded when the stream reaches its first row and dropped after
its last, so at most the markets open at one time are in memory. A market's read decodes the
row groups holding it (the whole file when it has one row group); the memory pool gives what
it freed back to the system after each read (pyarrow's pool: see :mod:`polytraders`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polytraders.feeds.config import MAX_TS_NS, EventTimeWindow
from polytraders.feeds.errors import FeedError
from polytraders.feeds.guard import EVENT_TIME_OUT_OF_RANGE, BookGuard
from polytraders.feeds.lifecycle import MarketCloser
from polytraders.feeds.parquet_schema import (
    BOOKS_COLUMNS,
    BOOKS_FILE,
    MARKETS_COLUMNS,
    MARKETS_FILE,
    check_nulls,
    check_schema,
)
from polytraders.feeds.polymarket_wire import MALFORMED, NEGATIVE_SIZE, PRICE_OUT_OF_RANGE
from polytraders.feeds.source import Source
from polytraders.feeds.stats import FeedIssue
from polytraders.model.events import (
    AnyEvent,
    BookDelta,
    BookSnapshot,
    Level,
    MarketStatus,
    TickSizeChange,
)
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.money import ONE, from_micros, micros_from_recorded

SIDES = ("UP", "DOWN")
_NS_PER_MS = 1_000_000
_BATCH_ROWS = 4_096
"""Rows decoded at a time while reading ``books.parquet``."""


def parquet_token_id(market_id: str, side: str) -> str:
    """Stable token id of a Parquet-layout outcome: ``f"{market_id}:{side}"`` (side UP/DOWN)."""
    return f"{market_id}:{side}"


def is_parquet_layout(path: Path) -> bool:
    """True when ``path`` is a directory holding ``markets.parquet`` and ``books.parquet``."""
    return path.is_dir() and (path / MARKETS_FILE).is_file() and (path / BOOKS_FILE).is_file()


def _check_directory(path: Path) -> None:
    """Refuse anything but a directory holding both files (naming what is missing)."""
    if not path.exists():
        raise FeedError(path, "no such file or directory")
    if not path.is_dir():
        raise FeedError(path, f"not a directory holding {MARKETS_FILE} and {BOOKS_FILE}")
    if not any(path.iterdir()):
        raise FeedError(path, f"empty directory (expected {MARKETS_FILE} and {BOOKS_FILE})")
    missing = [name for name in (MARKETS_FILE, BOOKS_FILE) if not (path / name).is_file()]
    if missing:
        raise FeedError(
            path,
            f"no {' and no '.join(missing)}: not a Parquet-layout directory "
            f"({MARKETS_FILE} + {BOOKS_FILE})",
        )


_UNREADABLE = (pa.ArrowException, OSError, UnicodeDecodeError)
"""What pyarrow raises on a damaged file (a column name that is not UTF-8 is decoded lazily,
as ``UnicodeDecodeError``)."""


def _read_table(path: Path) -> pa.Table:
    """The whole file, fully validated (offsets, UTF-8 of every string: a damaged file must
    not fail later while its values are read), with pyarrow's errors turned into a
    :class:`FeedError` on ``path``."""
    try:
        with pq.ParquetFile(path) as file:
            table = file.read(use_threads=False)
        table.validate(full=True)
    except _UNREADABLE as exc:
        raise FeedError(path, f"not a readable Parquet file: {exc}") from exc
    return table


def _batches(
    path: Path, columns: list[str], row_groups: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches of at most :data:`_BATCH_ROWS` (only ``row_groups`` when
    given), each fully validated (see :func:`_read_table`); pyarrow's errors become a
    :class:`FeedError` on ``path``. At most one batch is decoded at a time, whatever the
    file's row groups."""
    try:
        with pq.ParquetFile(path) as file:
            groups = list(range(file.num_row_groups)) if row_groups is None else row_groups
            for batch in file.iter_batches(
                batch_size=_BATCH_ROWS, row_groups=groups, columns=columns, use_threads=False
            ):
                batch.validate(full=True)
                yield batch
    except _UNREADABLE as exc:
        raise FeedError(path, f"not a readable Parquet file: {exc}") from exc


def read_markets(path: Path) -> list[Market]:
    """The markets of a Parquet-layout directory, in file order.

    ``state`` is ACTIVE (the state at the start of the data; transitions come as events);
    ``payouts`` hold the settled payout per token when both payout columns are finite (NaN or
    null: not resolved); ``synthetic`` comes from an optional boolean ``synthetic`` column
    (written when a synthetic feed is converted; absent in recorded data).

    Raises:
        FeedError: an unreadable file, a column missing, of the wrong type or null where it
            may not be (:data:`~polytraders.feeds.parquet_schema.MARKETS_COLUMNS`), no rows, a
            duplicate market id, or payouts that are not 0 and 1 pUSD.
    """
    file = path / MARKETS_FILE
    table = _read_table(file)
    check_schema(file, table.schema, MARKETS_COLUMNS)
    check_nulls(file, table, MARKETS_COLUMNS)
    if not table.num_rows:
        raise FeedError(file, "holds no markets (0 rows)")
    markets: list[Market] = []
    seen: set[str] = set()
    for row in table.to_pylist():
        market_id = str(row["market_id"])
        if market_id in seen:
            raise FeedError(file, f"market {market_id} is listed twice")
        seen.add(market_id)
        up, down = parquet_token_id(market_id, "UP"), parquet_token_id(market_id, "DOWN")
        tokens = (
            OutcomeToken(
                token_id=up,
                market_id=market_id,
                outcome=str(row.get("outcome_up") or "Up"),
                complement_token_id=down,
            ),
            OutcomeToken(
                token_id=down,
                market_id=market_id,
                outcome=str(row.get("outcome_down") or "Down"),
                complement_token_id=up,
            ),
        )
        payouts: dict[str, int] = {}
        pay_up, pay_down = row.get("payout_up"), row.get("payout_down")
        if _finite(pay_up) and _finite(pay_down):
            if sorted((pay_up, pay_down)) != [0, 1]:
                problem = f"market {market_id}: payouts {pay_up}/{pay_down} are not 0 and 1"
                raise FeedError(file, problem)
            payouts = {up: micros_from_recorded(pay_up), down: micros_from_recorded(pay_down)}
        markets.append(
            Market(
                market_id=market_id,
                slug=str(row.get("slug") or ""),
                question=str(row.get("question") or ""),
                category=str(row.get("category") or "other"),
                start_ns=int(row.get("start_ts") or 0) * _NS_PER_MS,
                end_ns=int(row["end_ts"]) * _NS_PER_MS,
                state=MarketState.ACTIVE,
                tokens=tokens,
                payouts=payouts,
                synthetic=bool(row.get("synthetic", False)),
            )
        )
    return markets


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class _BadRowError(Exception):
    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


class _RowProblem:
    """Internal marker travelling in a row's event list: the row was bad."""

    __slots__ = ("issue",)

    def __init__(self, issue: FeedIssue) -> None:
        self.issue = issue


_Row = tuple[int, list[AnyEvent | _RowProblem]]
"""(ts ms, the row's events or its problem)."""


class ParquetSource(Source):
    """Events of a Parquet-layout directory (see the module docstring).

    Args:
        path: the directory.
        snapshots_only: every row becomes a ``BookSnapshot`` (no deltas).
        window: the times accepted (default :class:`EventTimeWindow`'s defaults); a row has
            one time, so only the floor and the int64 limit apply.

    Stats counters: ``rows`` (book rows read, refused ones included), ``unchanged_rows``
    (rows equal to the token's previous one), ``suppressed_while_stale``.

    Raises (constructor):
        FeedError: no such directory, an empty one, a missing file, a file that is not
            Parquet, a column missing or of the wrong type (naming file and column), nulls in
            ``market_id``/``ts``, no rows (or none inside the window), invalid market metadata,
            or a book row of an unknown market. While streaming: a file that became
            unreadable.
    """

    kind = "parquet"
    record_counter = "rows"

    def __init__(
        self,
        path: str | Path,
        *,
        snapshots_only: bool = False,
        window: EventTimeWindow | None = None,
    ) -> None:
        self.path = Path(path)
        self.window = window = window or EventTimeWindow()
        # rows are kept when first_ms <= ts <= last_ms (ms bounds of the window's ns bounds)
        self._ts_range_ms = (-(-window.min_event_ts_ns // _NS_PER_MS), MAX_TS_NS // _NS_PER_MS)
        _check_directory(self.path)
        markets = read_markets(self.path)
        super().__init__(
            str(self.path), markets=markets, synthetic=any(m.synthetic for m in markets)
        )
        self.snapshots_only = snapshots_only
        books = self.path / BOOKS_FILE
        try:
            schema = pq.read_schema(books)
            schema.names  # noqa: B018 (decodes every column name: a damaged one fails here)
        except _UNREADABLE as exc:
            raise FeedError(books, f"not a readable Parquet file: {exc}") from exc
        check_schema(books, schema, BOOKS_COLUMNS)
        self._index(books)
        if not self.row_count:
            raise FeedError(books, "holds no book rows (0 rows): nothing to replay")
        if not self._spans:
            raise FeedError(
                books,
                f"none of its {self.row_count:,} book rows has a ts inside the event-time "
                f"window ({self._ts_range_ms[0]}..{self._ts_range_ms[1]} ms): nothing to replay",
            )
        known = {m.market_id for m in self.markets}
        for market_id in self._spans:
            if market_id not in known:
                raise FeedError(books, f"rows of market {market_id}, not in {MARKETS_FILE}")

    def _index(self, books: Path) -> None:
        """Read ``market_id`` and ``ts`` of every row, a batch at a time: the first and last
        ts and the row groups of each market's rows inside the window (``_spans``,
        ``_groups``, in order of first row), the rows outside it (``_outside``) and the row
        count.

        Raises:
            FeedError: an unreadable file, or a null ``market_id`` or ``ts`` (naming the row).
        """
        first_ms, last_ms = self._ts_range_ms
        self._spans: dict[str, tuple[int, int]] = {}
        self._groups: dict[str, list[int]] = {}
        self._outside: list[tuple[str, int]] = []
        spans, groups, outside = self._spans, self._groups, self._outside
        rows = 0
        with pq.ParquetFile(books) as file:
            group_count = file.num_row_groups
        for group in range(group_count):
            for batch in _batches(books, ["market_id", "ts"], [group]):
                check_nulls(books, batch, BOOKS_COLUMNS, first_row=rows)
                rows += batch.num_rows
                for market_id, ts in zip(
                    batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
                ):
                    if not first_ms <= ts <= last_ms:
                        outside.append((market_id, ts))
                        continue
                    span = spans.get(market_id)
                    if span is None:
                        spans[market_id] = (ts, ts)
                        groups[market_id] = [group]
                        continue
                    if ts < span[0] or ts > span[1]:
                        spans[market_id] = (min(ts, span[0]), max(ts, span[1]))
                    if groups[market_id][-1] != group:
                        groups[market_id].append(group)
        self.row_count = rows

    def expected_records(self) -> int:
        """The book rows of ``books.parquet`` (counted when it was opened)."""
        return int(self.row_count)

    def _refuse_outside_rows(self) -> None:
        """Count the rows whose ts is outside the window (they are not replayed)."""
        first_ms, last_ms = self._ts_range_ms
        for market_id, ts_ms in self._outside:
            self.stats.counters["rows"] += 1
            self.stats.record(
                FeedIssue(
                    reason_code=EVENT_TIME_OUT_OF_RANGE,
                    ts_recv_ns=0,  # the row's only time is the refused one
                    detail=f"market {market_id}: row at ts {ts_ms} ms, outside "
                    f"{first_ms}..{last_ms} ms",
                )
            )

    def _events(self) -> Iterator[AnyEvent]:
        self._refuse_outside_rows()
        order = {m.market_id: i for i, m in enumerate(self.markets)}
        winners = {
            m.market_id: next(t for t, p in m.payouts.items() if p == ONE)
            for m in self.markets
            if m.payouts
        }
        pending = sorted(
            (first, order[market_id], market_id) for market_id, (first, _) in self._spans.items()
        )
        pending.reverse()
        heap: list[tuple[int, int, int, list[AnyEvent | _RowProblem], Iterator[_Row]]] = []
        guard = BookGuard(self.stats, synthetic=self.synthetic, window=self.window)
        closer = MarketCloser(self.markets, synthetic=self.synthetic)
        counters = self.stats.counters
        out: list[AnyEvent] = []
        tie = 0
        while pending or heap:
            # open every market whose first row is due before the next row of the open ones
            while pending and (not heap or pending[-1][0] <= heap[0][0]):
                _, _, market_id = pending.pop()
                rows = self._market_rows(market_id, winners.get(market_id, ""))
                first = next(rows, None)
                if first is not None:
                    tie += 1
                    heapq.heappush(heap, (first[0], order[market_id], tie, first[1], rows))
            ts_ms, market_index, _, events, rows = heapq.heappop(heap)
            ts_ns = ts_ms * _NS_PER_MS
            if closer.next_ns is not None and ts_ns >= closer.next_ns:
                closer.until(ts_ns, out)
            for event in events:
                if isinstance(event, _RowProblem):
                    counters["bad_rows"] += 1
                    guard.issue(event.issue, out)
                else:
                    guard.admit(event, out)
            if out:
                yield from out
                out.clear()
            following = next(rows, None)
            if following is not None:
                tie += 1
                heapq.heappush(heap, (following[0], market_index, tie, following[1], rows))

    def _market_rows(self, market_id: str, winner: str) -> Iterator[_Row]:
        """(ts ms, events) per row of one market, time order (stable for equal times)."""
        first_ms, last_ms = self._ts_range_ms
        parts = []
        for batch in _batches(
            self.path / BOOKS_FILE,
            ["market_id", "ts", "side", "bid_px", "bid_sz", "ask_px", "ask_sz"],
            self._groups[market_id],
        ):
            stamps = batch.column(1)
            keep = pc.and_(
                pc.equal(batch.column(0), market_id),
                pc.and_(pc.greater_equal(stamps, first_ms), pc.less_equal(stamps, last_ms)),
            )
            parts.append(batch.filter(keep).drop_columns(["market_id"]))
        table = pa.Table.from_batches(parts)
        table = table.take(pc.sort_indices(table, sort_keys=[("ts", "ascending")]))
        columns: dict[str, list[Any]] = {
            "ts": table["ts"].to_pylist(),
            "side": table["side"].to_pylist(),
        }
        refused = False
        for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
            columns[name], refused_here = _micros_lists(table[name])
            refused = refused or refused_here
        del table
        pa.default_memory_pool().release_unused()  # the decoded row groups (module docstring)
        previous: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
        counters = self.stats.counters
        last_ts = self._spans[market_id][1]
        synthetic = self.synthetic
        market_tokens = [
            t.token_id for m in self.markets if m.market_id == market_id for t in m.tokens
        ]
        tick = min(
            (t.tick_size for m in self.markets if m.market_id == market_id for t in m.tokens),
            default=_TICKS[0],
        )
        for ts_ms, side, bid_px, bid_sz, ask_px, ask_sz in zip(
            columns["ts"],
            columns["side"],
            columns["bid_px"],
            columns["bid_sz"],
            columns["ask_px"],
            columns["ask_sz"],
            strict=True,
        ):
            counters["rows"] += 1
            ts_ns = ts_ms * _NS_PER_MS
            token = parquet_token_id(market_id, str(side))
            events: list[AnyEvent | _RowProblem] = []
            try:
                if side not in SIDES:
                    raise _BadRowError(MALFORMED, f"side {side!r} is not UP or DOWN")
                bids = _levels(bid_px, bid_sz, refused)
                asks = _levels(ask_px, ask_sz, refused)
            except _BadRowError as bad:
                previous.pop(token, None)
                events.append(
                    _RowProblem(
                        FeedIssue(
                            reason_code=bad.reason_code,
                            ts_recv_ns=ts_ns,
                            token_id=token if side in SIDES else "",
                            detail=bad.detail,
                        )
                    )
                )
            else:
                finer = _finest_tick(tick, bids, asks)
                if finer < tick:
                    counters["tick_size_changes"] += 1
                    events.extend(
                        TickSizeChange(
                            ts_event_ns=ts_ns,
                            ts_recv_ns=ts_ns,
                            synthetic=synthetic,
                            token_id=token_id,
                            old_tick_size=tick,
                            new_tick_size=finer,
                        )
                        for token_id in market_tokens
                    )
                    tick = finer
                before = previous.get(token)
                previous[token] = (bids, asks)
                if before is None or self.snapshots_only:
                    events.append(
                        BookSnapshot(
                            ts_event_ns=ts_ns,
                            ts_recv_ns=ts_ns,
                            synthetic=synthetic,
                            token_id=token,
                            bids=sorted(bids.items(), reverse=True),
                            asks=sorted(asks.items()),
                        )
                    )
                else:
                    bid_changes = _diff(before[0], bids)
                    ask_changes = _diff(before[1], asks)
                    if not bid_changes and not ask_changes:
                        counters["unchanged_rows"] += 1
                    events.append(
                        BookDelta(
                            ts_event_ns=ts_ns,
                            ts_recv_ns=ts_ns,
                            synthetic=synthetic,
                            token_id=token,
                            bids=bid_changes,
                            asks=ask_changes,
                        )
                    )
            yield ts_ms, events
        if winner:
            yield (
                last_ts,
                [
                    MarketStatus(
                        ts_event_ns=last_ts * _NS_PER_MS,
                        ts_recv_ns=last_ts * _NS_PER_MS,
                        synthetic=synthetic,
                        market_id=market_id,
                        state=MarketState.RESOLVED,
                        accepting_orders=False,
                        winning_token_id=winner,
                    )
                ],
            )


_TICKS = (10_000, 1_000, 100)
"""Polymarket tick sizes this data can show (0.01, 0.001, 0.0001), coarsest first."""


def _finest_tick(tick: int, bids: dict[int, int], asks: dict[int, int]) -> int:
    """The tick a snapshot's prices need: ``tick`` when every price lies on it, else the
    coarsest finer Polymarket tick that fits them all (or the finest known one).

    The recorded set has no tick-size events, but Polymarket moves a token to a finer tick near
    the extremes (data README: about 10.5 % of rows carry 0.001 prices); a snapshot with prices
    off the current grid is the evidence of that change. Ticks are only ever made finer here:
    in the recorded data each token switches once and never back.
    """
    # ``any(map(step.__rmod__, prices))`` is ``any(p % step for p in prices)``: a price off
    # the grid of ``step``, tested in C (this runs on every row)
    if not any(map(tick.__rmod__, bids)) and not any(map(tick.__rmod__, asks)):
        return tick
    prices = [*bids, *asks]
    for candidate in _TICKS:
        if candidate < tick and not any(map(candidate.__rmod__, prices)):
            return candidate
    return _TICKS[-1]


def _micros_lists(column: pa.ChunkedArray) -> tuple[list[list[int | str] | None], bool]:
    """A list<double> column as lists of exact micro-units (vectorised).

    ``round(x × 10⁶)`` is accepted when dividing it back by 10⁶ gives exactly ``x`` (IEEE
    division is correctly rounded, so that is the double nearest to the 6-decimal value, the
    acceptance rule of :func:`micros_from_recorded`); any other element (float noise such as
    ``1.9300000000000002``, NaN, huge values) goes through ``micros_from_recorded`` itself. An
    element it refuses becomes its error text (a ``str``), which the row check reports.
    Returns the lists and whether any element is such an error text.
    """
    array = column.combine_chunks()
    values = array.flatten()
    scaled = pc.round(pc.multiply(values, 1_000_000.0))
    finite = pc.and_(pc.is_finite(scaled), pc.less(pc.abs(scaled), 2.0**53))
    safe = pc.fill_null(pc.if_else(finite, scaled, 0.0), 0.0)
    # a null element is not exact (``fill_null``): it goes to ``micros_from_recorded`` and is
    # refused there, so the row is reported instead of failing later on ``None``
    exact = pc.fill_null(pc.and_(finite, pc.equal(pc.divide(safe, 1_000_000.0), values)), False)
    ints: list[int | str] = pc.cast(safe, pa.int64()).to_pylist()
    refused = False
    if not pc.all(exact).as_py():
        raw = values.to_pylist()
        for index, ok in enumerate(exact.to_pylist()):
            if not ok:
                try:
                    ints[index] = micros_from_recorded(raw[index])
                except (ValueError, TypeError) as exc:
                    ints[index] = f"recorded number {raw[index]!r}: {exc}"
                    refused = True
    offsets = array.offsets.to_pylist()
    valid = array.is_valid().to_pylist()
    lists = [
        ints[start:end] if ok else None
        for (start, end), ok in zip(itertools.pairwise(offsets), valid, strict=True)
    ]
    return lists, refused


def _levels(
    prices: list[int | str] | None, sizes: list[int | str] | None, refused: bool
) -> dict[int, int]:
    """price → size of one side (zero sizes dropped), validated; raises _BadRowError.
    ``refused``: some number of the market could not be converted (look for its text)."""
    if prices is None or sizes is None or len(prices) != len(sizes):
        raise _BadRowError(MALFORMED, "price and size lists are missing or of different lengths")
    if not prices:
        return {}
    if refused:
        for value in (*prices, *sizes):
            if isinstance(value, str):
                raise _BadRowError(MALFORMED, value)
    px: list[int] = prices  # type: ignore[assignment]
    sz: list[int] = sizes  # type: ignore[assignment]
    if min(px) <= 0 or max(px) >= ONE:
        bad = next(p for p in px if not 0 < p < ONE)
        raise _BadRowError(PRICE_OUT_OF_RANGE, f"price {from_micros(bad)} outside (0, 1)")
    if min(sz) < 0:
        raise _BadRowError(NEGATIVE_SIZE, f"size {from_micros(min(sz))} is negative")
    result = dict(zip(px, sz, strict=True))
    if len(result) != len(px):
        raise _BadRowError(MALFORMED, "a price is listed twice on one side")
    if 0 in sz:
        return {p: s for p, s in result.items() if s}
    return result


def _diff(old: dict[int, int], new: dict[int, int]) -> list[Level]:
    """Level changes turning ``old`` into ``new`` (new totals; 0 removes), removals first."""
    # same lists as ``[(p, 0) for p in old if p not in new]`` followed by
    # ``[(p, s) for p, s in new.items() if old.get(p) != s]`` (sizes are ints, never None),
    # with the membership tests done by the dict views in C; removals are rare, so the
    # ordered pass over ``old`` runs only when the key-set difference says there are some
    changes = [(price, 0) for price in old if price not in new] if old.keys() - new.keys() else []
    old_items = old.items()
    changes += [item for item in new.items() if item not in old_items]
    return changes
