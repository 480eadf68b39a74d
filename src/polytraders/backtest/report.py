"""Self-contained HTML report of a run (plotly, with plotly.js embedded once: works offline).

The header says what the figures can be trusted for: the data (recorded, SYNTHETIC, or live
market data with the session's kind), the paper venue's fill model (queue model, latencies)
and whether the figures are therefore an ESTIMATE or the OPTIMISTIC or PESSIMISTIC bound, with
both bounds' PnL, fills and volume beside the run's (``fill_model.bounds``) when computed, or
REAL for a live venue's own fills, the desk
that ran (every bot with its mode, source and config version), and banners for a desk without
risk bots, a desk that halted or tripped its kill switch before the end, quarantined bots, and
a snapshot of a live session still running.

Sections: summary, equity curve with a mark at every desk event (HALTED, REDUCING, ACTIVE,
kill switch; time and reason code on hover), desk events, refusals and rejections by bot and
reason code (a table, from ``BacktestResult.refusals_by_bot``), every reason code on a log axis
(rare refusals stay visible beside thousands of approvals), PnL per market, inventory, our
fills on the top of book with a token selector (every token with fills, up to the
:data:`SELECTOR_TOKENS` with most fills; inventory shows the same tokens), and the desk config.

Each plot is a ``div`` with a fixed id (``figure-equity``, ``figure-reason-codes``,
``figure-market-pnl``, ``figure-inventory``, ``figure-fills-on-book``).

Money is labelled with the run's quote currency (``BacktestResult.currency``: pUSD for
Polymarket, e.g. USDT for a Binance instrument; sizes are shares on Polymarket, base-asset units
on an instrument) and shown to 2 decimals with thousands separators (the exact decimal is
the cell's tooltip and in ``result.json``); times are UTC. Prices and money become floats here
only for plotting. To keep the page (and the memory to build it) bounded however long the run:
each token's top-of-book and inventory series is thinned to at most
:data:`TOP_OF_BOOK_POINTS` points (:func:`thin_top_of_book`; a run's top-of-book series longer
than :data:`KEPT_POINTS` is already thinned as it is recorded, :class:`TopOfBookSeries`), the
equity line to :data:`EQUITY_POINTS` (:func:`thin_equity`, each bucket's extremes kept), and the
selector to :data:`SELECTOR_TOKENS` tokens; each thinning is said in the plot's title, and every
fill of a shown token is drawn. The page is written one plot at a time.
"""

from __future__ import annotations

import bisect
import html
import json
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, overload

import plotly.graph_objects as go

from polytraders.backtest.result import BOUNDS_METHOD, BacktestResult, BotSeen, utc_iso
from polytraders.contracts.reasons import Severity, load_registry
from polytraders.desk.desk import SYS_SHUTDOWN
from polytraders.desk.state import DeskEvent
from polytraders.model.events import BotModeChanged, KillSwitchTripped, TradingState
from polytraders.model.fills import Fill
from polytraders.model.money import MICROS, from_micros
from polytraders.model.orders import Side
from polytraders.model.quote import PUSD

TopOfBook = tuple[int, int | None, int | None]
"""(ts_ns, best bid, best ask) in micro-units; None for an empty side."""

_Point = TypeVar("_Point", bound=tuple[Any, ...])
"""A point of a drawn series: ``(ts_ns, …)``."""

TOP_OF_BOOK_POINTS = 2_000
"""Most top-of-book points drawn per token (see :func:`thin_top_of_book`)."""

EQUITY_POINTS = 10_000
"""Most equity-curve points drawn (see :func:`thin_equity`)."""

SELECTOR_TOKENS = 50
"""Most tokens in the "fills on the book" selector and the inventory plot (those with most
fills)."""

KEPT_POINTS = 2 * TOP_OF_BOOK_POINTS
"""Most top-of-book points a run keeps per token (see :class:`TopOfBookSeries`)."""

_SEVERITY_COLOURS = {
    Severity.HARD: "#c0392b",
    Severity.WARNING: "#e67e22",
    Severity.INFO: "#7f8c8d",
}
_STATE_COLOURS = {
    TradingState.HALTED: "#c0392b",
    TradingState.REDUCING: "#e67e22",
    TradingState.ACTIVE: "#27ae60",
}


_EMPTY = -1
"""How :class:`TopOfBookPoints` stores an empty side (prices are positive)."""


class TopOfBookPoints(Sequence[TopOfBook]):
    """One token's top-of-book series, time-ordered, in three 64-bit arrays (24 bytes a
    point; an empty side is stored as -1 and read back as None).

    Attributes:
        observed: changes appended in all, those dropped by :meth:`thin` included.
    """

    __slots__ = ("asks", "bids", "observed", "ts_ns")

    def __init__(self) -> None:
        self.ts_ns = array("q")
        self.bids = array("q")
        self.asks = array("q")
        self.observed = 0

    def append(self, ts_ns: int, best_bid: int | None, best_ask: int | None) -> None:
        """Add a point after the last one."""
        self.ts_ns.append(ts_ns)
        self.bids.append(_EMPTY if best_bid is None else best_bid)
        self.asks.append(_EMPTY if best_ask is None else best_ask)
        self.observed += 1

    def thin(self, max_points: int) -> None:
        """Keep only :func:`thin_top_of_book` (``max_points``) of the points held."""
        kept = thin_top_of_book(self, max_points)
        self.ts_ns = array("q", [t for t, _, _ in kept])
        self.bids = array("q", [_EMPTY if b is None else b for _, b, _ in kept])
        self.asks = array("q", [_EMPTY if a is None else a for _, _, a in kept])

    def __len__(self) -> int:
        return len(self.ts_ns)

    @overload
    def __getitem__(self, index: int) -> TopOfBook: ...

    @overload
    def __getitem__(self, index: slice) -> list[TopOfBook]: ...

    def __getitem__(self, index: int | slice) -> TopOfBook | list[TopOfBook]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        bid, ask = self.bids[index], self.asks[index]
        return (self.ts_ns[index], None if bid == _EMPTY else bid, None if ask == _EMPTY else ask)

    def __iter__(self) -> Iterator[TopOfBook]:
        for ts, bid, ask in zip(self.ts_ns, self.bids, self.asks, strict=True):
            yield ts, None if bid == _EMPTY else bid, None if ask == _EMPTY else ask


class TopOfBookSeries:
    """Each token's top-of-book changes as the report draws them (:data:`TopOfBook` points,
    appended only when the best bid or ask changed), held compactly
    (:class:`TopOfBookPoints`). A token's series is kept whole up to :data:`KEPT_POINTS`
    points, so the report thins it exactly as it would the full series; beyond that it is
    thinned to :data:`TOP_OF_BOOK_POINTS` as it grows (:meth:`TopOfBookPoints.thin` of the
    points kept so far: every kept point is exact, changes between kept points are not
    drawn), so a long-lived token holds at most :data:`KEPT_POINTS` points."""

    def __init__(self) -> None:
        self._series: dict[str, TopOfBookPoints] = {}
        self._last: dict[str, tuple[int | None, int | None]] = {}

    @property
    def series(self) -> Mapping[str, TopOfBookPoints]:
        """Token id → its series so far (a read-only view, not a copy)."""
        return MappingProxyType(self._series)

    def observe(
        self, token_id: str, ts_ns: int, best_bid: int | None, best_ask: int | None
    ) -> None:
        """Note the top of ``token_id``'s book at ``ts_ns`` (micro-units; None: empty side)."""
        top = (best_bid, best_ask)
        if self._last.get(token_id) != top:
            self._last[token_id] = top
            points = self._series.get(token_id)
            if points is None:
                points = self._series[token_id] = TopOfBookPoints()
            points.append(ts_ns, best_bid, best_ask)
            if len(points) > KEPT_POINTS:
                points.thin(TOP_OF_BOOK_POINTS)

    def copy(self) -> dict[str, list[TopOfBook]]:
        """The series so far (copies: later changes do not reach them)."""
        return {token_id: list(points) for token_id, points in self._series.items()}


def thin_top_of_book(series: Sequence[_Point], max_points: int) -> list[_Point]:
    """At most ``max_points`` (≥ 2) points of a time-ordered top-of-book series (or any
    series of ``(ts_ns, …)`` points), for drawing as a step line.

    A series that fits is returned whole. Otherwise its time span is cut into
    ``max_points // 2`` equal buckets and each bucket keeps its first and last point: every
    kept point is exact and the line holds each value until the next kept change, but changes
    strictly inside a bucket are not drawn. The first and last points are always kept.

    Raises:
        ValueError: ``max_points`` < 2.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    if len(series) <= max_points:
        return list(series)
    buckets = max_points // 2
    start, end = series[0][0], series[-1][0]
    span = end - start + 1
    kept: list[int] = []  # indices into series
    last_bucket = -1
    for i, point in enumerate(series):
        bucket = (point[0] - start) * buckets // span
        if bucket != last_bucket:
            if i > 0 and kept[-1] != i - 1:
                kept.append(i - 1)  # the previous bucket's last point
            kept.append(i)
            last_bucket = bucket
    if kept[-1] != len(series) - 1:
        kept.append(len(series) - 1)
    return [series[i] for i in kept]


def thin_equity(curve: Sequence[tuple[int, int]], max_points: int) -> list[tuple[int, int]]:
    """At most ``max_points`` (≥ 4) points of a time-ordered equity curve, for drawing as a
    step line: a curve that fits is returned whole; otherwise its time span is cut into
    ``max_points // 4`` equal buckets and each keeps its first, lowest, highest and last
    point (in time order; the earliest of equal values), so every kept point is exact and
    every bucket's extremes, the drawdowns, stay drawn.

    Raises:
        ValueError: ``max_points`` < 4.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    if len(curve) <= max_points:
        return list(curve)
    buckets = max_points // 4
    start = curve[0][0]
    span = curve[-1][0] - start + 1
    kept: list[int] = []
    first = low = high = 0
    current = -1
    for i, (ts, equity) in enumerate(curve):
        bucket = (ts - start) * buckets // span
        if bucket != current:
            if current >= 0:
                kept.extend(sorted({first, low, high, i - 1}))
            first = low = high = i
            current = bucket
        elif equity < curve[low][1]:
            low = i
        elif equity > curve[high][1]:
            high = i
    kept.extend(sorted({first, low, high, len(curve) - 1}))
    return [curve[i] for i in kept]


# ---------------------------------------------------------------------------- formatting
def _units(micros: int) -> float:
    return micros / MICROS


def _axis_time(ns: int) -> str:
    """A plotly date string (UTC, milliseconds) for ``ns``."""
    return utc_iso(ns)[:23].replace("T", " ")


def utc_text(ns: int) -> str:
    """``ns`` for people: ``"2026-09-28 08:45:12.649 UTC"``."""
    return f"{_axis_time(ns)} UTC"


def money_text(micros: int, currency: str) -> str:
    """Micro-units of ``currency`` for people: thousands separators, 2 decimals (half-even),
    then the currency: ``money_text(2_005_000, "USDT")`` → ``"2.00 USDT"``."""
    return f"{Decimal(from_micros(micros)):,.2f} {currency}"


def _money_cell(micros: int, currency: str) -> str:
    exact = f"{from_micros(micros)} {currency} exactly"
    return f"<td class='num' title='{_esc(exact)}'>{_esc(money_text(micros, currency))}</td>"


def size_unit(currency: str) -> str:
    """What a run's sizes count: ``shares`` on Polymarket (pUSD), ``base-asset units`` on a
    crypto instrument (any other quote currency)."""
    return "shares" if currency == PUSD else "base-asset units"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:,.2f} %" if whole else "–"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------- header parts
def _bound_block(result: BacktestResult) -> str:
    model = result.fill_model
    if not model.simulated:
        return (
            f"<div class='bound real'><p class='big'>These figures are REAL: "
            f"{_esc(model.bound_reason)}.</p></div>"
        )
    css = model.bound.lower()
    if model.bound == "ESTIMATE":
        lead = f"These figures are an ESTIMATE ({_esc(model.name)} queue model)"
    else:
        article = "an" if model.bound == "OPTIMISTIC" else "a"
        lead = f"These figures are {article} {model.bound} bound"
    return (
        f"<div class='bound {css}'><p class='big'>{lead}: {_esc(model.bound_reason)}.</p>"
        f"{_bounds_table(result)}"
        f"<p>Fill model (paper venue): queue model <b>{_esc(model.name)}</b> · entry latency "
        f"<b>{model.order_latency_ms:,} ms</b> · response latency "
        f"<b>{model.response_latency_ms:,} ms</b> · cancel latency "
        f"<b>{model.cancel_latency_ms:,} ms</b> · complementary-token fills: "
        f"<b>{'ON' if model.complement_fills else 'OFF'}</b>.</p></div>"
    )


def _bounds_table(result: BacktestResult) -> str:
    """The run's money beside both bounds (``fill_model.bounds``), when computed."""
    model = result.fill_model
    pessimistic, optimistic = model.bound_of("PESSIMISTIC"), model.bound_of("OPTIMISTIC")
    if pessimistic is None or optimistic is None:
        return ""
    columns = [
        (f"PESSIMISTIC ({pessimistic.queue_model})", pessimistic.money),
        (f"these figures ({model.name})", result.money),
        (f"OPTIMISTIC ({optimistic.queue_model})", optimistic.money),
    ]
    head = "".join(f"<th>{_esc(name)}</th>" for name, _ in columns)
    currency = result.currency
    rows = [
        "<tr><td>PnL total (after fees)</td>"
        + "".join(_money_cell(money.pnl, currency) for _, money in columns)
        + "</tr>",
        "<tr><td>fills (maker / taker)</td>"
        + "".join(
            f"<td class='num'>{money.fills:,} ({money.maker_fills:,} / {money.taker_fills:,})</td>"
            for _, money in columns
        )
        + "</tr>",
        "<tr><td>volume</td>"
        + "".join(_money_cell(m.volume, currency) for _, m in columns)
        + "</tr>",
        "<tr><td>fees</td>" + "".join(_money_cell(m.fees, currency) for _, m in columns) + "</tr>",
    ]
    return (
        f"<table class='bounds'><tr><th>figure</th>{head}</tr>{''.join(rows)}</table>"
        f"<p>Bounds: {_esc(BOUNDS_METHOD)}.</p>"
    )


def _data_banner(result: BacktestResult) -> str:
    if result.session != "backtest":
        return (
            f"<p>Live market data: a <b>{_esc(result.session)}</b> session (the venue and its "
            "fills: below).</p>"
        )
    if result.synthetic:
        return (
            "<p class='banner synthetic'>SYNTHETIC DATA: these results come from generated, "
            "not recorded, market data.</p>"
        )
    return "<p>Real recorded market data. Backtest results do not predict live results.</p>"


def _section(config: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The ``name`` entries of the desk in ``config`` (a live node config holds its desk under
    ``desk``)."""
    desk = config.get("desk")
    if isinstance(desk, Mapping) and "risk" not in config:
        config = desk
    entries = config.get(name)
    return [e for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []


def _declared_bots(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(class, entry) of every bot the desk config declares, strategies first (a user bot's
    entry carries its ``source``)."""
    return [
        *(("strategy", e) for e in _section(config, "strategies")),
        *(("risk", e) for e in _section(config, "risk")),
        *(("execution", e) for e in _section(config, "execution")),
    ]


def _no_risk_banner(config: Mapping[str, Any]) -> str:
    risk = _section(config, "risk")
    if not risk:
        return (
            "<p class='banner danger'>NO RISK BOTS: this desk ran with an empty risk list; only "
            "the desk's own trading-state gate checked the strategies' intents.</p>"
        )
    if all(str(e.get("mode", "ENFORCED")) != "ENFORCED" for e in risk):
        return (
            "<p class='banner danger'>NO RISK BOT ENFORCED: every risk bot ran in STUB, SHADOW "
            "or ADVISORY mode; none of their decisions was applied.</p>"
        )
    return ""


def _ending_banner(result: BacktestResult) -> str:
    """A FAILED or INTERRUPTED run says so first: its figures cover only part of the data; so
    does a snapshot of a session still RUNNING."""
    if result.status == "RUNNING":
        return (
            "<p class='banner snapshot'>SNAPSHOT of a session still running (written on "
            f"request at {utc_text(result.last_event_ns)}): the figures cover what was done so "
            "far.</p>"
        )
    if result.status not in ("FAILED", "INTERRUPTED"):
        return ""
    return (
        f"<p class='banner danger'>RUN {_esc(result.status)} ({_esc(result.status_detail)}): "
        "the figures cover what was done before it stopped.</p>"
    )


def _halt_banner(events: Sequence[DeskEvent]) -> str:
    trips = {(e.ts_event_ns, e.reason_code) for e in events if isinstance(e, KillSwitchTripped)}
    lines = []
    for event in events:
        if isinstance(event, KillSwitchTripped):
            lines.append(
                f"KILL SWITCH TRIPPED at {utc_text(event.ts_event_ns)}: {_esc(event.reason_code)} "
                f"by {_esc(event.source)}"
            )
        elif isinstance(event, BotModeChanged):
            lines.append(
                f"{_esc(event.bot_id)} taken out of {_esc(event.old_mode)} at "
                f"{utc_text(event.ts_event_ns)}: {_esc(event.reason_code)} by {_esc(event.source)}"
            )
        elif (
            event.new_state is not TradingState.ACTIVE
            and event.reason_code != SYS_SHUTDOWN
            and (event.ts_event_ns, event.reason_code) not in trips  # said by the trip's line
        ):
            lines.append(
                f"Desk went {event.new_state} at {utc_text(event.ts_event_ns)}: "
                f"{_esc(event.reason_code)} by {_esc(event.source)}"
            )
    if not lines:
        return ""
    return "<div class='banner danger'>" + "<br>".join(lines) + "</div>"


def _quarantine_banner(bots: Sequence[BotSeen]) -> str:
    quarantined = [b.bot_id for b in bots if "QUARANTINE" in b.modes]
    if not quarantined:
        return ""
    return (
        "<p class='banner danger'>QUARANTINED during the run: "
        + ", ".join(_esc(b) for b in quarantined)
        + " (see the refusals table).</p>"
    )


def _desk_table(config: Mapping[str, Any], bots: Sequence[BotSeen]) -> str:
    seen = {(b.bot_id, b.bot_class): b for b in bots}
    rows = []
    for bot_class, entry in _declared_bots(config):
        bot_id = str(entry.get("id", "?"))
        mode = str(entry.get("mode", "ENFORCED"))
        source = entry.get("source")
        observed = seen.get((bot_id, bot_class))
        if observed is not None:
            version, config_version = observed.bot_version, observed.config_version
            modes = ", ".join(observed.modes)
        elif mode == "STUB":
            version, config_version, modes = "–", "–", "declared, not run (STUB)"
        else:
            version, config_version, modes = "–", "–", "no decision recorded"
        rows.append(
            f"<tr><td>{bot_class}</td><td><code>{_esc(bot_id)}</code></td><td>{_esc(mode)}</td>"
            f"<td>{_esc(source) if source else 'library'}</td><td>{_esc(version)}</td>"
            f"<td><code>{_esc(config_version)}</code></td><td>{_esc(modes)}</td></tr>"
        )
    return (
        "<table><tr><th>class</th><th>bot</th><th>mode (desk file)</th><th>source</th>"
        "<th>version</th><th>config version</th><th>modes it decided in</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _summary_table(result: BacktestResult, equity_curve: Sequence[tuple[int, int]]) -> str:
    money = result.money
    start_equity = equity_curve[0][1] if equity_curve else 0
    span = (
        f"{utc_text(result.first_event_ns)} → {utc_text(result.last_event_ns)}"
        if result.events
        else "–"
    )
    text_rows: list[tuple[str, str]] = [
        ("run id", f"<code>{_esc(result.run_id)}</code>"),
        (
            "desk config version · seed",
            f"<code>{_esc(result.config_version)}</code> · {result.seed}",
        ),
        ("input events (UTC)", span),
        ("money in", f"<b>{_esc(result.currency)}</b> (the run's quote currency)"),
        (
            "markets · events · orders",
            f"{result.markets:,} · {result.events:,} · {result.orders:,}",
        ),
        (
            "fills (maker / taker)",
            f"{money.fills:,} ({money.maker_fills:,} / {money.taker_fills:,}; maker share "
            f"{_pct(money.maker_fills, money.fills)})",
        ),
    ]
    money_rows = [
        ("volume", money.volume),
        ("invested (buys)", money.invested),
        ("fees", money.fees),
        ("PnL realized (trading)", money.realized_pnl),
        ("payouts at resolution", money.settlement),
        ("PnL settled", money.settled_pnl),
        ("PnL unrealized (marked to mid)", money.unrealized_pnl),
        ("PnL total, after fees", money.pnl),
        ("max drawdown", result.max_drawdown),
    ]
    if result.funding_micros is not None:
        money_rows.append(("funding, ASSUMED rates (not in the PnL above)", result.funding_micros))
    if result.desk_funding_micros is not None:
        money_rows.append(
            ("funding booked by the desk (in its equity; not in the PnL above)",
             result.desk_funding_micros)
        )  # fmt: skip
    tail_rows = [
        ("return on starting equity", _pct(money.pnl, start_equity)),
        ("Sharpe (1-minute equity changes, not annualised)", f"{result.sharpe:.2f}"),
        ("envelopes", f"{result.envelopes:,}"),
        ("envelopes SHA-256", f"<code>{_esc(result.envelopes_sha256)}</code>"),
        ("wall time", f"{result.wall_s:,.2f} s ({result.events_per_s:,.0f} events/s)"),
    ]
    rows = [f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in text_rows]
    rows += [
        f"<tr><th>{name}</th>{_money_cell(value, result.currency)}</tr>"
        for name, value in money_rows
    ]
    rows += [f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in tail_rows]
    if result.feed_problems:
        problems = ", ".join(f"{_esc(k)} {v:,}" for k, v in sorted(result.feed_problems.items()))
        rows.append(f"<tr><th>bad feed input (skipped)</th><td>{problems}</td></tr>")
    return "<table class='summary'>" + "".join(rows) + "</table>"


def _desk_events_table(events: Sequence[DeskEvent]) -> str:
    if not events:
        return "<p>No trading-state change, kill-switch trip or bot-mode change.</p>"
    rows = []
    for event in events:
        if isinstance(event, KillSwitchTripped):
            what, detail = "kill switch tripped", event.detail
        elif isinstance(event, BotModeChanged):
            what, detail = f"{event.bot_id}: {event.old_mode} → {event.new_mode}", event.detail
        else:
            what, detail = f"{event.old_state} → {event.new_state}", ""
        rows.append(
            f"<tr class='desk-event' data-ts-ns='{event.ts_event_ns}' "
            f"data-code='{_esc(event.reason_code)}'><td>{utc_text(event.ts_event_ns)}</td>"
            f"<td>{_esc(what)}</td><td><code>{_esc(event.reason_code)}</code></td>"
            f"<td>{_esc(event.source)}</td><td>{_esc(detail)}</td></tr>"
        )
    return (
        "<table><tr><th>time (UTC)</th><th>event</th><th>reason code</th><th>by</th>"
        "<th>detail</th></tr>" + "".join(rows) + "</table>"
    )


def _refusal_table(result: BacktestResult) -> str:
    if not result.refusals_by_bot:
        return (
            "<p>No bot refused, rejected or reshaped anything, and the venue rejected nothing.</p>"
        )
    registry = load_registry()
    rows = []
    for r in result.refusals_by_bot:
        known = registry.get(r.reason_code)
        meaning = known.user_message if known is not None else "(not a registered code)"
        rows.append(
            f"<tr class='refusal' data-bot='{_esc(r.bot_id)}' data-class='{_esc(r.bot_class)}' "
            f"data-mode='{_esc(r.mode)}' data-decision='{_esc(r.decision)}' "
            f"data-code='{_esc(r.reason_code)}' data-count='{r.count}'>"
            f"<td><code>{_esc(r.bot_id)}</code></td><td>{_esc(r.bot_class)}</td>"
            f"<td>{_esc(r.mode)}</td><td>{_esc(r.decision)}</td>"
            f"<td><code>{_esc(r.reason_code)}</code></td><td class='num'>{r.count:,}</td>"
            f"<td>{_esc(meaning)}</td></tr>"
        )
    return (
        "<table id='refusals'><tr><th>bot</th><th>class</th><th>mode</th><th>decision</th>"
        "<th>reason code</th><th>count</th><th>what it means</th></tr>" + "".join(rows) + "</table>"
    )


# ---------------------------------------------------------------------------- figures
def _equity_figure(
    equity_curve: Sequence[tuple[int, int]],
    events: Sequence[DeskEvent],
    end_ns: int,
    currency: str,
) -> go.Figure:
    """The equity step line (a point is recorded when equity changes; the last value holds
    until ``end_ns``) with a marker per desk event at the equity of that moment."""
    line = thin_equity(equity_curve, EQUITY_POINTS)
    thinned = len(line) < len(equity_curve)
    if line and end_ns > line[-1][0]:
        line.append((end_ns, line[-1][1]))
    figure = go.Figure(
        go.Scatter(
            x=[_axis_time(t) for t, _ in line],
            y=[_units(e) for _, e in line],
            mode="lines",
            line_shape="hv",
            name="equity" if not thinned else "equity (thinned)",
            hovertemplate=f"%{{x}} UTC<br>%{{y:,.2f}} {currency}<extra></extra>",
        )
    )
    times = [t for t, _ in equity_curve]
    marks: dict[str, list[tuple[DeskEvent, float]]] = {}
    for event in events:
        at = bisect.bisect_right(times, event.ts_event_ns) - 1
        y = _units(equity_curve[max(at, 0)][1]) if equity_curve else 0.0
        if isinstance(event, KillSwitchTripped):
            name = "kill switch tripped"
        elif isinstance(event, BotModeChanged):
            name = f"{event.bot_id} {event.old_mode} → {event.new_mode}"
        elif event.reason_code == SYS_SHUTDOWN:
            name = "end of run (shutdown)"
        else:
            name = str(event.new_state)
        marks.setdefault(name, []).append((event, y))
    for name, points in marks.items():
        first = points[0][0]
        if isinstance(first, KillSwitchTripped):
            marker = {"symbol": "x", "size": 16, "color": "#7b241c"}
        elif isinstance(first, BotModeChanged):
            marker = {"symbol": "triangle-down", "size": 13, "color": "#8e44ad"}
        elif name.startswith("end of run"):
            marker = {"symbol": "square", "size": 10, "color": "#95a5a6"}
        else:
            marker = {"symbol": "diamond", "size": 13, "color": _STATE_COLOURS[first.new_state]}
        figure.add_trace(
            go.Scatter(
                x=[_axis_time(e.ts_event_ns) for e, _ in points],
                y=[y for _, y in points],
                mode="markers+text" if not name.startswith("end of run") else "markers",
                marker=marker,
                name=name,
                text=[e.reason_code for e, _ in points],
                textposition="top right",
                hovertext=[
                    f"{name} at {utc_text(e.ts_event_ns)}<br>{e.reason_code} by {e.source}"
                    for e, _ in points
                ],
                hoverinfo="text",
            )
        )
    for event in events:
        if isinstance(event, KillSwitchTripped):
            figure.add_vline(
                x=_axis_time(event.ts_event_ns), line_dash="dash", line_color="#7b241c"
            )
    drawn = f" (thinned: {len(line):,} of {len(equity_curve):,} points drawn)" if thinned else ""
    figure.update_layout(
        title=f"Equity ({currency}, marked to mid) with desk events{drawn}",
        xaxis_title="time (UTC)",
        yaxis_title=currency,
        yaxis_tickformat=",.2f",
    )
    return figure


def _reason_figure(reason_codes: Mapping[str, int]) -> go.Figure:
    registry = load_registry()
    ordered = sorted(reason_codes.items(), key=lambda kv: (kv[1], kv[0]))  # largest on top
    colours = []
    hover = []
    for code, count in ordered:
        known = registry.get(code)
        colours.append(_SEVERITY_COLOURS[known.severity] if known else "#000000")
        message = known.user_message if known else "not a registered code"
        hover.append(f"{code}: {count:,}<br>{html.escape(message)}")
    figure = go.Figure(
        go.Bar(
            x=[n for _, n in ordered],
            y=[c for c, _ in ordered],
            orientation="h",
            marker_color=colours,
            hovertext=hover,
            hoverinfo="text",
            text=[f"{n:,}" for _, n in ordered],
            textposition="outside",
        )
    )
    figure.update_layout(
        title="Reason codes (count, log axis; red hard, orange warning, grey info)",
        xaxis_type="log",
        # from 0.6, so a code seen once still gets a visible bar (and no stray tick label)
        xaxis_range=[math.log10(0.6), math.log10(max((n for _, n in ordered), default=1) * 4)],
        xaxis_title="envelopes and venue rejections with the code (log scale)",
        height=max(400, 22 * len(ordered) + 120),
        margin={"l": 280},
    )
    return figure


def _market_pnl_figure(result: BacktestResult) -> go.Figure:
    labels = [m.slug or m.market_id[:10] for m in result.per_market]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[_units(m.money.pnl) for m in result.per_market],
            name="PnL",
            hovertemplate=f"%{{x}}<br>%{{y:,.2f}} {result.currency}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"PnL per market ({result.currency}, after fees)",
        yaxis_title=result.currency,
        yaxis_tickformat=",.2f",
    )
    return figure


def _inventory_figure(
    fills: Sequence[Fill], token_labels: Mapping[str, str], shown: Sequence[str], unit: str
) -> go.Figure:
    """Each shown token's position after each of its fills (a step line, thinned to
    :data:`TOP_OF_BOOK_POINTS` points like the top of book), in order of first fill."""
    figure = go.Figure()
    chosen = set(shown)
    by_token: dict[str, list[tuple[int, int]]] = {}
    held: dict[str, int] = {}
    for fill in fills:
        if fill.token_id not in chosen:
            continue
        held[fill.token_id] = held.get(fill.token_id, 0) + fill.position_change
        by_token.setdefault(fill.token_id, []).append((fill.ts_event_ns, held[fill.token_id]))
    for token, series in by_token.items():
        drawn = thin_top_of_book(series, TOP_OF_BOOK_POINTS)
        figure.add_trace(
            go.Scatter(
                x=[_axis_time(t) for t, _ in drawn],
                y=[_units(s) for _, s in drawn],
                mode="lines",
                line_shape="hv",
                name=token_labels.get(token, token[:12]),
            )
        )
    figure.update_layout(
        title=f"Inventory per token ({unit})", xaxis_title="time (UTC)", yaxis_title=unit
    )
    return figure


def selector_tokens(fills: Sequence[Fill], chosen_token: str | None) -> list[str]:
    """Tokens offered by the "fills on the book" selector: every token with fills, most fills
    first (ties by id), led by ``chosen_token`` when given (with or without fills)."""
    counts = Counter(f.token_id for f in fills)
    tokens = sorted(counts, key=lambda t: (-counts[t], t))
    if chosen_token is not None:
        tokens = [chosen_token, *(t for t in tokens if t != chosen_token)]
    return tokens


def _fills_on_book_figure(
    tokens: Sequence[str],
    token_labels: Mapping[str, str],
    top_of_book: Mapping[str, Sequence[TopOfBook]],
    fills: Sequence[Fill],
    currency: str,
) -> go.Figure:
    figure = go.Figure()
    unit = size_unit(currency)
    per = "share" if currency == PUSD else "base-asset unit"
    by_token: dict[str, list[Fill]] = {}
    for fill in fills:
        by_token.setdefault(fill.token_id, []).append(fill)
    traces_per_token = 4
    titles = []
    for index, token in enumerate(tokens):
        visible = index == 0
        full = top_of_book.get(token, ())
        tops = thin_top_of_book(full, TOP_OF_BOOK_POINTS)
        changes = full.observed if isinstance(full, TopOfBookPoints) else len(full)
        label = token_labels.get(token, token[:12])
        thinned = f" (top of book thinned: {len(tops):,} of {changes:,} changes drawn)"
        titles.append(f"Fills on the book: {label}" + (thinned if len(tops) < changes else ""))
        x = [_axis_time(t) for t, _, _ in tops]
        for name, values in (
            ("best bid", [_units(b) if b is not None else None for _, b, _ in tops]),
            ("best ask", [_units(a) if a is not None else None for _, _, a in tops]),
        ):
            figure.add_trace(
                go.Scatter(x=x, y=values, mode="lines", line_shape="hv", name=name, visible=visible)
            )
        for side, symbol in ((Side.BUY, "triangle-up"), (Side.SELL, "triangle-down")):
            chosen = [f for f in by_token.get(token, ()) if f.side is side]
            figure.add_trace(
                go.Scatter(
                    x=[_axis_time(f.ts_event_ns) for f in chosen],
                    y=[_units(f.price) for f in chosen],
                    mode="markers",
                    marker={"symbol": symbol, "size": 9},
                    name=f"our {side.value.lower()} fills",
                    visible=visible,
                    hovertext=[
                        f"{f.liquidity.value} {side.value} {from_micros(f.size)} {unit} @ "
                        f"{from_micros(f.price)} {currency}<br>{utc_text(f.ts_event_ns)}"
                        for f in chosen
                    ],
                    hoverinfo="text",
                )
            )
    buttons = []
    for index, token in enumerate(tokens):
        shown = [i // traces_per_token == index for i in range(len(tokens) * traces_per_token)]
        count = len(by_token.get(token, ()))
        buttons.append(
            {
                "label": f"{token_labels.get(token, token[:12])} ({count:,} fills)",
                "method": "update",
                "args": [{"visible": shown}, {"title.text": titles[index]}],
            }
        )
    figure.update_layout(
        title=titles[0] if titles else "Fills on the book",
        xaxis_title="time (UTC)",
        yaxis_title=f"price ({currency} per {per})",
        updatemenus=[
            {"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.18}
        ],
        margin={"t": 110},
    )
    return figure


# ---------------------------------------------------------------------------- page
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}
table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:8px 12px;font-weight:bold}.synthetic,.danger{background:#fdecea;color:#922}
.bound{border:2px solid;padding:4px 12px;margin:0.5em 0}.bound .big{font-size:1.15em;
font-weight:bold}.optimistic{border-color:#e67e22;background:#fef5e7}
.pessimistic{border-color:#2e86c1;background:#ebf5fb}
.estimate{border-color:#27ae60;background:#eafaf1}.real{border-color:#27ae60;
background:#eafaf1}.snapshot{background:#fef5e7;color:#7e5109}pre{background:#f6f6f6;padding:1em;
overflow-x:auto}"""


def write_report(
    path: Path,
    *,
    result: BacktestResult,
    equity_curve: Sequence[tuple[int, int]],
    fills: Sequence[Fill],
    token_labels: Mapping[str, str],
    top_of_book: Mapping[str, Sequence[TopOfBook]],
    chosen_token: str | None,
    config: Mapping[str, Any],
) -> None:
    """Write the report to ``path`` (one self-contained HTML file; see the module docstring).

    Args:
        path: the file to create (replaced if it exists).
        result: the run's figures (fill model, refusals, desk events, bots seen included).
        equity_curve: (ts_ns, equity) points in micro-units of ``result.currency``,
            time-ordered.
        fills: every fill of the run.
        token_labels: token id → label shown for it (e.g. ``"btc-updown-15m-… Up"``).
        top_of_book: token id → its top-of-book changes, time-ordered (any tokens; the
            selector offers those with fills, see :func:`selector_tokens`).
        chosen_token: the token the selector shows first (None: the one with most fills).
        config: the desk config that ran (the desk file's canonical JSON: ``strategies``,
            ``risk``, ``execution`` entries with ``id``, ``mode``, optional ``source``), or a
            live node's config holding it under ``desk``.
    """
    tokens = selector_tokens(fills, chosen_token)
    shown = tokens[:SELECTOR_TOKENS]
    end_ns = max(
        [result.last_event_ns, *(e.ts_event_ns for e in result.desk_events)],
    )
    venue_note = (
        f"<p>Rows with bot <code>venue</code> are the {_esc(result.fill_model.venue)} venue's "
        "rejections of orders the desk sent; the other rows are envelopes whose decision was "
        "not a plain pass.</p>"
    )
    shown_note = (
        f"<p>The {len(shown):,} tokens with most fills of the {len(tokens):,} with fills "
        "(fills.csv lists every fill).</p>\n"
        if len(shown) < len(tokens)
        else ""
    )
    head = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Polytraders run {_esc(result.run_id)}</title>
<style>{_STYLE}</style>
</head><body>
<h1>Polytraders run {_esc(result.run_id)}</h1>
{_data_banner(result)}
{_bound_block(result)}
{_no_risk_banner(config)}
{_ending_banner(result)}
{_halt_banner(result.desk_events)}
{_quarantine_banner(result.bots_seen)}
<h2>The desk that ran</h2>
{_desk_table(config, result.bots_seen)}
<h2>Summary</h2>
{_summary_table(result, equity_curve)}
<h2>Equity and desk events</h2>
"""
    # the page in order; each plot is built, written and dropped in turn (the first carries
    # plotly.js), so a long run's figures are never all held at once
    parts: list[str | tuple[str, Callable[[], go.Figure]]] = [
        head,
        (
            "equity",
            lambda: _equity_figure(equity_curve, result.desk_events, end_ns, result.currency),
        ),
        f"""
{_desk_events_table(result.desk_events)}
<h2>Refusals and rejections by bot and reason code</h2>
{venue_note}
{_refusal_table(result)}
""",
        ("reason-codes", lambda: _reason_figure(result.reason_codes)),
        "\n<h2>Money</h2>\n",
        ("market-pnl", lambda: _market_pnl_figure(result)),
        "\n",
        (
            "inventory",
            lambda: _inventory_figure(fills, token_labels, shown, size_unit(result.currency)),
        ),
        f"\n<h2>Fills on the book</h2>\n{shown_note}",
        (
            "fills-on-book",
            lambda: _fills_on_book_figure(shown, token_labels, top_of_book, fills, result.currency),
        )
        if shown
        else "<p>No fills.</p>",
        f"""
<h2>Desk configuration</h2><pre>{_esc(json.dumps(config, indent=2, sort_keys=True))}</pre>
</body></html>
""",
    ]
    plots = 0
    with path.open("w", encoding="utf-8") as stream:
        for part in parts:
            if isinstance(part, str):
                stream.write(part)
                continue
            name, build = part
            stream.write(
                build().to_html(
                    full_html=False,
                    include_plotlyjs=plots == 0,
                    default_width="100%",
                    div_id=f"figure-{name}",
                )
            )
            plots += 1
