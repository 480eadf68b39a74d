"""Run a whole desk over a feed on the paper venue: the main job and the backtest engine.

:func:`run_desk` wires the feed (``polytraders.feeds.open_source``), the paper venue, the bots
of a :class:`~polytraders.backtest.desk_file.DeskFile`, the desk loop, the event store and the
envelope/metrics sinks, runs it on the simulated clock (optionally paced), and writes the
outputs: ``result.json``, ``envelopes.jsonl``, ``fills.csv`` and ``report.html``.

Determinism: the run id is derived from the desk file's config version, a digest of the input
data's bytes and the seed, so the same data, desk and seed give the same ids and a
byte-identical envelope timeline (``envelopes_sha256``) wherever the data lies.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.report import TopOfBook, write_report
from polytraders.backtest.result import BacktestResult, EnvelopeTally, compute_result
from polytraders.contracts import ids
from polytraders.contracts.envelope import ReportEnvelope, encode_envelope
from polytraders.desk.desk import Desk, DeskResult
from polytraders.desk.sinks import EnvelopeSink, JsonlSink
from polytraders.feeds import Source, open_source
from polytraders.model.events import AnyEvent, MarketStatus
from polytraders.model.market import Market, MarketState
from polytraders.model.money import from_micros
from polytraders.ops.metrics import DeskMetrics
from polytraders.store.event_store import EventStore
from polytraders.venues.paper import PaperVenue

Progress = Callable[[int, int], None]
"""Called as ``progress(events_done, ts_event_ns)`` every few hundred events."""


class FanoutSink:
    """Records each envelope in several sinks, in the given order (all must accept it).

    A line sink (:class:`~polytraders.desk.sinks.LineSink`): given the envelope's JSON line
    (the desk's digesting sink encodes each envelope once), it hands the line on to the sinks
    that take one, so none encodes the envelope again.
    """

    def __init__(self, sinks: Sequence[EnvelopeSink]) -> None:
        self._sinks = tuple(sinks)
        # (record_line, None) for a line sink, (None, record) otherwise, in the given order
        self._targets: tuple[tuple[Any, Any], ...] = tuple(
            (getattr(sink, "record_line", None), sink.record) for sink in self._sinks
        )
        self._takes_lines = any(line is not None for line, _ in self._targets)

    def record(self, envelope: ReportEnvelope) -> None:
        if self._takes_lines:
            self.record_line(envelope, encode_envelope(envelope))
        else:
            for sink in self._sinks:
                sink.record(envelope)

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """Record ``envelope``, whose line is ``line`` (``encode_envelope(envelope)``)."""
        for record_line, record in self._targets:
            if record_line is not None:
                record_line(envelope, line)
            else:
                record(envelope)

    def flush(self) -> None:
        for sink in self._sinks:
            sink.flush()


class RunOutcome(msgspec.Struct, kw_only=True):
    """What :func:`run_desk` produced: the computed result and where the evidence lies."""

    result: BacktestResult
    desk_result: DeskResult
    out_dir: Path | None
    store_url: str | None
    integrity_problems: list[str]
    feed_problems: dict[str, int]
    store_attempt: int | None = None
    """The store's attempt number of this run (1 for the first; None without a store)."""


def data_digest(data: str | Path) -> str:
    """SHA-256 (16 hex digits) of the input's bytes: every file of a directory in name order, a
    file's bytes, or a synthetic spec's text."""
    text = str(data)
    if text.startswith("synthetic:"):
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    path = Path(data)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _paced(events: Iterable[AnyEvent], speed: float | None) -> Iterator[AnyEvent]:
    """Yield events no faster than ``speed`` × real time (None: as fast as possible)."""
    if speed is None:
        yield from events
        return
    wall_start = time.monotonic()
    first_ns: int | None = None
    for event in events:
        if first_ns is None:
            first_ns = event.ts_event_ns
        due_s = (event.ts_event_ns - first_ns) / 1e9 / speed
        lag_s = due_s - (time.monotonic() - wall_start)
        if lag_s > 0:
            time.sleep(lag_s)
        yield event


def _final_marks(desk: Desk, markets: Sequence[Market]) -> dict[str, int]:
    """Mark of every token: mid, else the best bid (what we could sell at), else 0."""
    marks: dict[str, int] = {}
    for market in markets:
        for token in market.tokens:
            book = desk.state.book(token.token_id)
            mark = None
            if book is not None:
                mark = book.mid()
                if mark is None:
                    mark = book.best_bid()
            marks[token.token_id] = mark if mark is not None else 0
    return marks


def _resolved_markets(source: Source, desk: Desk) -> list[Market]:
    """The source's markets with payouts for those the run saw resolve."""
    markets = []
    for market in source.markets:
        current = desk.state.market(market.market_id) or market
        if current.state is MarketState.RESOLVED and current.payouts:
            markets.append(msgspec.structs.replace(market, payouts=current.payouts))
        else:
            markets.append(msgspec.structs.replace(market, payouts={}))
    return markets


def _write_fills_csv(path: Path, fills: Sequence[Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(
            [
                "fill_id", "ts_event_ns", "token_id", "market_id", "side", "price", "size",
                "notional_usd", "fee_usd", "liquidity", "client_order_id", "venue_order_id",
            ]
        )  # fmt: skip
        for fill in fills:
            writer.writerow(
                [
                    fill.fill_id, fill.ts_event_ns, fill.token_id, fill.market_id,
                    fill.side.value, from_micros(fill.price), from_micros(fill.size),
                    from_micros(fill.notional), from_micros(fill.fee), fill.liquidity.value,
                    fill.client_order_id, fill.venue_order_id,
                ]
            )  # fmt: skip


def _busiest_token(fills: Sequence[Any], markets: Sequence[Market]) -> str | None:
    counts: dict[str, int] = {}
    for fill in fills:
        counts[fill.token_id] = counts.get(fill.token_id, 0) + 1
    if counts:
        return min(counts, key=lambda t: (-counts[t], t))
    return markets[0].tokens[0].token_id if markets and markets[0].tokens else None


class _Telemetry:
    """Per-event bookkeeping of a run: top-of-book changes per token (for the report) and
    periodic progress and metrics updates. Reads desk state only."""

    def __init__(
        self,
        desk: Desk,
        venue: PaperVenue,
        metrics: DeskMetrics | None,
        progress: Progress | None,
    ) -> None:
        self.desk = desk
        self.venue = venue
        self.metrics = metrics
        self.progress = progress
        self.tops: dict[str, list[TopOfBook]] = {}
        self.count = 0
        self._last_top: dict[str, tuple[int | None, int | None]] = {}
        self._reported = (0, 0, 0, 0)  # events, orders, maker fills, taker fills

    def after(self, event: AnyEvent) -> None:
        self.count += 1
        token_id = getattr(event, "token_id", None)
        if token_id is not None:
            book = self.desk.state.book(token_id)
            if book is not None:
                top = (book.best_bid(), book.best_ask())
                if self._last_top.get(token_id) != top:
                    self._last_top[token_id] = top
                    self.tops.setdefault(token_id, []).append((event.ts_event_ns, *top))
        if self.count % 512 == 0 or isinstance(event, MarketStatus):
            self.report(event.ts_event_ns, event.ts_recv_ns)

    def report(self, now_ns: int, recv_ns: int = 0) -> None:
        if self.progress is not None:
            self.progress(self.count, now_ns)
        if self.metrics is None:
            return
        desk = self.desk
        maker, taker = self.venue.stats.maker_fills, self.venue.stats.taker_fills
        orders = desk.orders.stats.submitted
        events, old_orders, old_maker, old_taker = self._reported
        equity = desk.state.equity
        self.metrics.update_desk(
            now_ns=now_ns,
            events=self.count - events,
            orders=orders - old_orders,
            maker_fills=maker - old_maker,
            taker_fills=taker - old_taker,
            pnl_micros=equity - desk.state.ledger.initial_cash,
            equity_micros=equity,
            trading_state=desk.state.trading_state,
            feed_lag_ns=max(recv_ns - now_ns, 0) if recv_ns else None,
        )
        self._reported = (self.count, orders, maker, taker)


def run_desk(
    *,
    data: str | Path,
    desk_file: DeskFile,
    out_dir: Path | None = None,
    store_url: str | None = None,
    strategy_override: Any | None = None,
    speed: float | None = None,
    metrics: DeskMetrics | None = None,
    progress: Progress | None = None,
    report_token: str | None = None,
) -> RunOutcome:
    """Run the desk of ``desk_file`` over ``data`` on the paper venue; write the outputs.

    Args:
        data: anything ``polytraders.feeds.open_source`` accepts.
        desk_file: bots, venue settings, seed.
        out_dir: where result.json, envelopes.jsonl, fills.csv and report.html go (None:
            nothing written).
        store_url: event store (SQLite path/URL or PostgreSQL URL; None: no store).
        strategy_override: a strategy bot class replacing the desk file's strategies.
        speed: pace events at ``speed`` × real time (1.0 = real time); None = as fast as possible.
        metrics: Prometheus metrics fed with every envelope and the desk gauges.
        progress: callback for progress reporting.
        report_token: token whose book and fills the report plots (default: most fills).

    Raises:
        polytraders.backtest.desk_file.DeskFileError / ValueError: unusable inputs.
        polytraders.store.errors.StoreError: the store failed (the run is marked failed).
    """
    started_wall = time.perf_counter()
    source = open_source(data)
    desk_config = json.loads(desk_file.canonical_json())
    config_version = desk_file.config_version
    if strategy_override is not None:
        override = {
            "class": f"{strategy_override.__module__}.{strategy_override.__qualname__}",
            "bot_id": strategy_override.bot_id,
            "version": strategy_override.version,
            "config": strategy_override.Config().model_dump(mode="json"),
        }
        desk_config["strategy_override"] = override
        config_version = ids.run_id(config_version, json.dumps(override, sort_keys=True))[4:]
    store = EventStore.open(store_url) if store_url is not None else None
    run_id = ids.run_id(config_version, data_digest(data), desk_file.seed)
    strategies, risk, execution = desk_file.build_slots(strategy_override)
    venue = PaperVenue(desk_file.venue, source.markets, run_id)

    tally = EnvelopeTally()
    sinks: list[EnvelopeSink] = [tally]
    jsonl: JsonlSink | None = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        jsonl = JsonlSink(out_dir / "envelopes.jsonl")
        sinks.append(jsonl)
    if metrics is not None:
        sinks.append(metrics)
    attempt: int | None = None
    if store is not None:
        sinks.append(store)
        attempt = store.start_run(
            run_id=run_id,
            started_ns=0,
            seed=desk_file.seed,
            desk_config=desk_config,
            desk_config_version=config_version,
            data_source=str(data),
            synthetic=source.synthetic,
        ).attempt
    desk = Desk(
        run_id=run_id,
        venue=venue,
        strategies=strategies,
        risk=risk,
        execution=execution,
        markets=source.markets,
        sink=FanoutSink(sinks),
        config=desk_file.desk,
        account=desk_file.account.identity(),
    )
    telemetry = _Telemetry(desk, venue, metrics, progress)
    integrity: list[str] = []
    try:
        for event in _paced(source.events(), speed):
            desk.process(event)
            telemetry.after(event)
        desk.shutdown()
        desk_result = desk.result()
        telemetry.report(desk_result.last_event_ns)
        if store is not None:
            for order in desk.state.orders.values():
                store.append_order(run_id, order)
            for fill in desk_result.fills:
                store.append_fill(run_id, fill)
            store.end_run(run_id, ended_ns=desk_result.last_event_ns)
            store.flush()
            integrity = store.check_integrity(f"{run_id}@{attempt}")
    finally:
        if store is not None:
            store.close()
        if jsonl is not None:
            jsonl.close()
    wall_s = time.perf_counter() - started_wall
    markets = _resolved_markets(source, desk)
    feed_problems = dict(source.stats.bad_input)
    equity_curve = [(p.ts_ns, p.equity) for p in desk_result.equity_curve]
    result = compute_result(
        run_id=run_id,
        seed=desk_file.seed,
        config_version=config_version,
        synthetic=source.synthetic,
        markets=markets,
        fills=desk_result.fills,
        equity_curve=equity_curve,
        tally=tally,
        envelopes_sha256=desk_result.timeline_sha256,
        events=desk_result.events_processed,
        orders=desk_result.orders_submitted,
        venue_rejections=dict(venue.stats.rejections_by_code),
        final_marks=_final_marks(desk, markets),
        wall_s=wall_s,
        feed_problems=feed_problems,
        fill_model={
            "order_latency_ms": desk_file.venue.order_latency_ms,
            "queue_model": desk_file.venue.queue_model,
            "infer_fills_from_decreases": desk_file.venue.infer_fills_from_decreases,
        },
    )
    if out_dir is not None:
        chosen = report_token or _busiest_token(desk_result.fills, markets)
        (out_dir / "result.json").write_text(
            json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8"
        )
        _write_fills_csv(out_dir / "fills.csv", desk_result.fills)
        write_report(
            out_dir / "report.html",
            result=result,
            equity_curve=equity_curve,
            fills=desk_result.fills,
            token_labels={
                t.token_id: f"{m.slug or m.market_id[:10]} {t.outcome}"
                for m in markets
                for t in m.tokens
            },
            chosen_token=chosen,
            top_of_book=telemetry.tops.get(chosen, []) if chosen else [],
            config=desk_config,
        )
    return RunOutcome(
        result=result,
        desk_result=desk_result,
        out_dir=out_dir,
        store_url=store_url,
        integrity_problems=integrity,
        feed_problems=feed_problems,
        store_attempt=attempt,
    )
