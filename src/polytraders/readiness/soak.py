"""The paper-soak validator (seed 004, Day 45 "Paper trading as formal desk gate": a paper-soak
KPI validator with 7 KPIs and PASS/FAIL evidence; Day 66/76: adverse selection after fills;
issue 15 item 5): from one recorded run, the soak's KPIs against declared thresholds.

The KPIs (money exact in micro-units; ratios compared exactly in integers, shown as %):

1. **fill rate**: orders with at least one fill ÷ orders the venue did not reject (distinct
   client order ids; an order's last recorded state says REJECTED).
2. **maker share**: maker notional ÷ all filled notional (``⌊price × size / 10⁶⌋`` per fill).
3. **realized spread capture**: Σ s·(m₀ − p)·q over fills, where s is +1 for a buy and −1 for a
   sell, p the fill price, q its size and m₀ the token's mid just before the fill (the recorded
   book with every event before the fill's venue time applied): the half-spread the desk
   earned on the fills it really got, in micro-pUSD and in bps of those fills' notional.
4. **adverse selection at 1 s, 5 s and 30 s**: Σ s·(m₀ − m_Δ)·q, m_Δ the mid Δ after the fill
   (every event up to fill time + Δ applied): how far the mid moved against the fills (> 0:
   bought before a fall, sold before a rise), in micro-pUSD and bps of notional, compared with
   the spread those same fills captured (a share of it, so one threshold serves a Polymarket
   book quoted in cents and a Binance book quoted in hundredths of a bps; a capture ≤ 0 leaves
   no room and fails any positive adverse move). The evidence also gives the spread kept
   after it (capture − adverse, over the same fills). A fill whose
   horizon passes its market's end or the data's last event, or whose book is one-sided or
   stale then, is not measured at that horizon (counted in the evidence).
5. **inventory excursion**: per market the net position in YES-equivalent shares (binary
   identity: buying NO is selling YES), after each fill; the largest |net| over markets against
   the cap, and how many times a market's |net| went above it.
6. **reject rate**: orders the venue rejected ÷ orders sent. (Risk bots' refusals are the
   Runtime score's item 4, per bot.)
7. **uptime**: the share of the trading time (the union of the data's market windows
   [start, end) within the run, or the whole run when no market declares one) during which
   the desk was deciding: down while it was HALTED (from its first HALT decision or refusal for
   ``SYS_TRADING_HALTED`` to the run's end: the store records no resume) and through every
   silence between decisions longer than ``max_silence_s``. A FAILED run, or one without an
   end record, fails it.

Fail closed: a KPI with nothing to measure (no orders, fewer fills than ``min_fills``, no
books) is a FAIL saying so, never a pass. Thresholds come from a TOML file
(:data:`DEFAULT_THRESHOLDS`, each figure with its source).
"""

from __future__ import annotations

import itertools
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polytraders.feeds.mids import MidQuery
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market
from polytraders.model.money import MICROS, from_micros, notional_micros
from polytraders.model.orders import OrderStatus, Side
from polytraders.readiness.evidence import (
    Evidence,
    EvidenceKind,
    ItemStatus,
    result_evidence,
)
from polytraders.readiness.soak_inputs import (
    NS_PER_S,
    SoakData,
    SoakRun,
    read_data,
    read_run,
)
from polytraders.store import EventStore
from polytraders.store.records import RunStatus

DEFAULT_THRESHOLDS = Path(__file__).with_name("soak_thresholds.toml")
"""The committed thresholds (each with where its figure comes from)."""
HORIZONS_S: tuple[int, ...] = (1, 5, 30)
"""Adverse-selection horizons (issue 15 item 5)."""
BPS = 10_000


class SoakThresholdsError(ValueError):
    """A thresholds file that cannot be read or breaks the limits (one line each problem)."""


class SoakThresholds(BaseModel):
    """Declared thresholds of a paper soak (ratios in bps of 10,000; money in micro-units)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    min_fills: int = Field(ge=1, le=1_000_000)
    """Fewer fills than this and the fill-based KPIs are not measured (FAIL)."""
    fill_rate_min_bps: int = Field(ge=0, le=BPS)
    """Least share of accepted orders with a fill."""
    maker_share_min_bps: int = Field(ge=0, le=BPS)
    """Least share of filled notional made as maker."""
    spread_capture_min_bps: int = Field(ge=-BPS, le=BPS)
    """Least realized spread capture, bps of the measured fills' notional."""
    adverse_selection_max_pct_of_capture_1s: int = Field(ge=0, le=1_000)
    """Most adverse selection 1 s after the fills, % of the spread they captured."""
    adverse_selection_max_pct_of_capture_5s: int = Field(ge=0, le=1_000)
    """Most adverse selection 5 s after the fills, % of the spread they captured."""
    adverse_selection_max_pct_of_capture_30s: int = Field(ge=0, le=1_000)
    """Most adverse selection 30 s after the fills, % of the spread they captured."""
    inventory_max_abs_micros: int = Field(ge=0)
    """Cap on any market's |net| YES-equivalent position (micro-shares)."""
    reject_rate_max_bps: int = Field(ge=0, le=BPS)
    """Most share of sent orders the venue rejected."""
    uptime_min_bps: int = Field(ge=0, le=BPS)
    """Least share of trading time the desk was deciding."""
    max_silence_s: int = Field(ge=1, le=86_400)
    """A gap between decisions longer than this is downtime."""

    def adverse_max_pct(self, horizon_s: int) -> int:
        """The adverse-selection cap at ``horizon_s`` (1, 5 or 30), % of the capture."""
        return int(getattr(self, f"adverse_selection_max_pct_of_capture_{horizon_s}s"))


def load_thresholds(path: Path | None = None) -> SoakThresholds:
    """Read a thresholds file (None: :data:`DEFAULT_THRESHOLDS`).

    Raises:
        SoakThresholdsError: unreadable, not TOML, unknown or missing keys, values out of
            their limits (every problem listed).
    """
    where = path if path is not None else DEFAULT_THRESHOLDS
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SoakThresholdsError(f"{where}: {exc}") from exc
    try:
        return SoakThresholds.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SoakThresholdsError(f"{where}: {problems}") from exc


class Kpi(msgspec.Struct, frozen=True, kw_only=True):
    """One KPI's verdict.

    Fields:
        name: e.g. ``fill_rate``, ``adverse_selection_5s``.
        status: PASS or FAIL (never PENDING: missing evidence fails).
        value: the figure as shown (``"38.41 %"``, ``"12.3 bps (-4.56 pUSD)"``).
        threshold: the threshold as shown (``">= 5.00 %"``).
        detail: what was measured, in one sentence.
        figures: the exact numbers behind it (ints; micro-units for money).
        evidence: what it was computed from.
    """

    name: str
    status: ItemStatus
    value: str
    threshold: str
    detail: str
    figures: dict[str, int]
    evidence: tuple[Evidence, ...]


class SoakReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every KPI of one run; ``passed`` when all PASS.

    Fields:
        run: ``RUN_ID@attempt``; store: the store's URL; status: the run's status;
        data: the data read for books ("" when none); data_verified / data_note: how;
        thresholds: the file read; kpis: in the order of the module docstring.
    """

    run: str
    store: str
    status: str
    data: str
    data_verified: bool
    data_note: str
    thresholds: str
    kpis: tuple[Kpi, ...]

    @property
    def passed(self) -> bool:
        """True when every KPI passed."""
        return all(k.status is ItemStatus.PASS for k in self.kpis)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types, ``passed`` included."""
        document: dict[str, Any] = msgspec.to_builtins(self)
        document["passed"] = self.passed
        return document


# ---------------------------------------------------------------------------- helpers
def _pct(numerator: int, denominator: int) -> str:
    return f"{numerator * 100 / denominator:.2f} %" if denominator else "n/a"


def _bps(raw: int, scale: int, notional: int) -> str:
    """``raw / scale`` micro-pUSD over ``notional`` micro-pUSD, in bps, for display."""
    return f"{raw * BPS / (scale * notional):.1f} bps" if notional else "n/a"


def _status(ok: bool) -> ItemStatus:
    return ItemStatus.PASS if ok else ItemStatus.FAIL


def _sign(fill: Fill) -> int:
    return 1 if fill.side is Side.BUY else -1


class _Context(msgspec.Struct, frozen=True):
    run: SoakRun
    data: SoakData
    thresholds: SoakThresholds
    store_url: str

    def store_evidence(self, what: str, result: object, summary: str) -> Evidence:
        return result_evidence(
            EvidenceKind.STORE, f"{self.store_url} run {self.run.ref}: {what}", result, summary
        )

    def data_evidence(self, what: str, result: object, summary: str) -> Evidence:
        verified = "verified" if self.data.verified else "NOT verified"
        ref = f"{self.data.location or 'no data'} ({verified}: {self.data.note}): {what}"
        return result_evidence(EvidenceKind.COMMAND, ref, result, summary)


# ---------------------------------------------------------------------------- KPIs
def _order_counts(run: SoakRun) -> tuple[int, int, int]:
    """(orders sent, rejected, accepted orders with a fill)."""
    sent = len(run.orders)
    rejected = sum(o.status is OrderStatus.REJECTED for o in run.orders.values())
    filled_ids = {f.client_order_id for f in run.fills}
    filled = sum(
        1
        for cid, o in run.orders.items()
        if cid in filled_ids and o.status is not OrderStatus.REJECTED
    )
    return sent, rejected, filled


def fill_rate(ctx: _Context) -> Kpi:
    """KPI 1 (module docstring)."""
    sent, rejected, filled = _order_counts(ctx.run)
    accepted = sent - rejected
    minimum = ctx.thresholds.fill_rate_min_bps
    figures = {"orders_sent": sent, "orders_accepted": accepted, "orders_filled": filled}
    ok = accepted > 0 and filled * BPS >= minimum * accepted
    detail = (
        f"{filled:,} of {accepted:,} accepted orders had a fill"
        if accepted
        else "no accepted order: nothing to measure"
    )
    return Kpi(
        name="fill_rate",
        status=_status(ok),
        value=_pct(filled, accepted),
        threshold=f">= {_pct(minimum, BPS)}",
        detail=detail,
        figures=figures,
        evidence=(ctx.store_evidence("orders (last state) and fills", figures, detail),),
    )


def maker_share(ctx: _Context) -> Kpi:
    """KPI 2 (module docstring)."""
    total = sum(notional_micros(f.price, f.size) for f in ctx.run.fills)
    maker = sum(
        notional_micros(f.price, f.size)
        for f in ctx.run.fills
        if f.liquidity is LiquiditySide.MAKER
    )
    makers = sum(f.liquidity is LiquiditySide.MAKER for f in ctx.run.fills)
    minimum = ctx.thresholds.maker_share_min_bps
    figures = {
        "fills": len(ctx.run.fills),
        "maker_fills": makers,
        "notional_micros": total,
        "maker_notional_micros": maker,
    }
    enough = len(ctx.run.fills) >= ctx.thresholds.min_fills
    ok = enough and maker * BPS >= minimum * total
    detail = (
        f"{from_micros(maker)} of {from_micros(total)} pUSD filled as maker "
        f"({makers:,} of {len(ctx.run.fills):,} fills)"
    )
    if not enough:
        detail = f"{len(ctx.run.fills):,} fills, fewer than {ctx.thresholds.min_fills}: " + detail
    return Kpi(
        name="maker_share",
        status=_status(ok),
        value=_pct(maker, total),
        threshold=f">= {_pct(minimum, BPS)}",
        detail=detail,
        figures=figures,
        evidence=(ctx.store_evidence("fills by liquidity side", figures, detail),),
    )


class _Measured(msgspec.Struct):
    fills: int = 0
    notional: int = 0
    raw: int = 0
    """Σ s·(Δ of doubled mids)·q: 2 × 10⁶ × the figure in micro-pUSD."""
    capture_raw: int = 0
    unmeasured: int = 0


def _mid(ctx: _Context, fill: Fill, at_ns: int, inclusive: bool) -> int | None:
    return ctx.data.mids.get(MidQuery(at_ns, inclusive, fill.token_id))


def _market_ends(markets: Iterable[Market]) -> dict[str, int]:
    return {m.market_id: m.end_ns for m in markets if m.end_ns}


def spread_capture(ctx: _Context) -> Kpi:
    """KPI 3 (module docstring)."""
    measured = _Measured()
    for fill in ctx.run.fills:
        before = _mid(ctx, fill, fill.ts_event_ns, False)
        if before is None:
            measured.unmeasured += 1
            continue
        measured.fills += 1
        measured.notional += notional_micros(fill.price, fill.size)
        measured.raw += _sign(fill) * (before - 2 * fill.price) * fill.size
    scale = 2 * MICROS
    minimum = ctx.thresholds.spread_capture_min_bps
    figures = {
        "fills_measured": measured.fills,
        "fills_without_book": measured.unmeasured,
        "notional_micros": measured.notional,
        "capture_micros": measured.raw // scale,
    }
    enough = measured.fills >= ctx.thresholds.min_fills
    ok = enough and measured.raw * BPS >= minimum * scale * measured.notional
    detail = (
        f"{from_micros(measured.raw // scale)} pUSD captured against the mid over "
        f"{measured.fills:,} fills ({from_micros(measured.notional)} pUSD); "
        f"{measured.unmeasured:,} fills had no two-sided book"
    )
    if not enough:
        detail = f"fewer than {ctx.thresholds.min_fills} measurable fills: " + detail
    return Kpi(
        name="spread_capture",
        status=_status(ok),
        value=f"{_bps(measured.raw, scale, measured.notional)} "
        f"({from_micros(measured.raw // scale)} pUSD)",
        threshold=f">= {minimum} bps",
        detail=detail,
        figures=figures,
        evidence=(ctx.data_evidence("mid just before each fill", figures, detail),),
    )


def adverse_selection(ctx: _Context, horizon_s: int) -> Kpi:
    """KPI 4 at one horizon (module docstring)."""
    ends = _market_ends(ctx.data.markets)
    measured = _Measured()
    horizon_ns = horizon_s * NS_PER_S
    for fill in ctx.run.fills:
        at_ns = fill.ts_event_ns + horizon_ns
        end_ns = ends.get(fill.market_id)
        before = _mid(ctx, fill, fill.ts_event_ns, False)
        after = _mid(ctx, fill, at_ns, True)
        if before is None or after is None or (end_ns is not None and at_ns >= end_ns):
            measured.unmeasured += 1
            continue
        sign = _sign(fill)
        measured.fills += 1
        measured.notional += notional_micros(fill.price, fill.size)
        measured.raw += sign * (before - after) * fill.size
        measured.capture_raw += sign * (before - 2 * fill.price) * fill.size
    scale = 2 * MICROS
    maximum = ctx.thresholds.adverse_max_pct(horizon_s)
    kept_raw = measured.capture_raw - measured.raw
    figures = {
        "horizon_s": horizon_s,
        "fills_measured": measured.fills,
        "fills_unmeasured": measured.unmeasured,
        "notional_micros": measured.notional,
        "adverse_micros": measured.raw // scale,
        "capture_micros": measured.capture_raw // scale,
        "spread_kept_micros": kept_raw // scale,
    }
    enough = measured.fills >= ctx.thresholds.min_fills
    # adverse ≤ maximum % of the capture of the same fills (a capture ≤ 0 leaves no room)
    ok = enough and measured.raw * 100 <= maximum * measured.capture_raw
    share = _pct(measured.raw, measured.capture_raw) if measured.capture_raw > 0 else "n/a"
    detail = (
        f"the mid moved {from_micros(measured.raw // scale)} pUSD against {measured.fills:,} "
        f"fills within {horizon_s} s; spread kept after it "
        f"{from_micros(kept_raw // scale)} pUSD ({_bps(kept_raw, scale, measured.notional)}); "
        f"{measured.unmeasured:,} fills not measured (no two-sided book, or the market or "
        "data ended within the horizon)"
    )
    if not enough:
        detail = f"fewer than {ctx.thresholds.min_fills} measurable fills: " + detail
    return Kpi(
        name=f"adverse_selection_{horizon_s}s",
        status=_status(ok),
        value=f"{_bps(measured.raw, scale, measured.notional)} "
        f"({from_micros(measured.raw // scale)} pUSD; {share} of the capture)",
        threshold=f"<= {maximum} % of the capture",
        detail=detail,
        figures=figures,
        evidence=(
            ctx.data_evidence(f"mid before each fill and {horizon_s} s after", figures, detail),
        ),
    )


def inventory_excursion(ctx: _Context) -> Kpi:
    """KPI 5 (module docstring)."""
    first_token = {m.market_id: m.tokens[0].token_id for m in ctx.data.markets if m.tokens}
    cap = ctx.thresholds.inventory_max_abs_micros
    net: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    above: set[str] = set()
    excursions = 0
    unknown = 0
    for fill in sorted(ctx.run.fills, key=lambda f: f.ts_event_ns):
        yes = first_token.get(fill.market_id)
        if yes is None:
            unknown += 1
            continue
        direction = 1 if fill.token_id == yes else -1
        net[fill.market_id] += direction * fill.position_change
        size = abs(net[fill.market_id])
        peak[fill.market_id] = max(peak[fill.market_id], size)
        if size > cap and fill.market_id not in above:
            above.add(fill.market_id)
            excursions += 1
        elif size <= cap:
            above.discard(fill.market_id)
    worst_market, worst = max(peak.items(), key=lambda kv: kv[1], default=("", 0))
    figures = {
        "markets": len(peak),
        "max_abs_micros": worst,
        "excursions_above_cap": excursions,
        "fills_of_unknown_markets": unknown,
    }
    ok = bool(ctx.run.fills) and unknown == 0 and worst <= cap
    if not ctx.run.fills:
        detail = "no fills: no inventory to measure"
    elif unknown:
        detail = f"{unknown:,} fills of markets the data do not describe: not measured"
    else:
        detail = (
            f"largest |net| {from_micros(worst)} shares ({worst_market}) over {len(peak)} "
            f"markets; {excursions} excursion(s) above the cap"
        )
    return Kpi(
        name="inventory_excursion",
        status=_status(ok),
        value=f"{from_micros(worst)} shares",
        threshold=f"<= {from_micros(cap)} shares",
        detail=detail,
        figures=figures,
        evidence=(ctx.store_evidence("fills, net YES-equivalent per market", figures, detail),),
    )


def reject_rate(ctx: _Context) -> Kpi:
    """KPI 6 (module docstring)."""
    sent, rejected, _ = _order_counts(ctx.run)
    maximum = ctx.thresholds.reject_rate_max_bps
    figures = {"orders_sent": sent, "orders_rejected": rejected}
    ok = sent > 0 and rejected * BPS <= maximum * sent
    detail = (
        f"{rejected:,} of {sent:,} orders rejected by the venue"
        if sent
        else "no order sent: nothing to measure"
    )
    return Kpi(
        name="reject_rate",
        status=_status(ok),
        value=_pct(rejected, sent),
        threshold=f"<= {_pct(maximum, BPS)}",
        detail=detail,
        figures=figures,
        evidence=(ctx.store_evidence("orders, last state REJECTED", figures, detail),),
    )


Interval = tuple[int, int]


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> int:
    """Total length of the intersection of two unions of disjoint sorted intervals."""
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, end - start)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def uptime(ctx: _Context) -> Kpi:
    """KPI 7 (module docstring)."""
    run, record = ctx.run, ctx.run.record
    times = run.decision_ns
    minimum = ctx.thresholds.uptime_min_bps
    threshold = f">= {_pct(minimum, BPS)}"
    if not times:
        return _uptime_fail(ctx, threshold, "the run recorded no decision")
    if record.ended_ns is None or record.status is RunStatus.RUNNING:
        return _uptime_fail(ctx, threshold, f"the run has no end record ({record.state})")
    if record.status is RunStatus.FAILED:
        return _uptime_fail(ctx, threshold, f"the run FAILED: {record.detail}")
    start = record.started_ns if record.started_ns > 0 else times[0]
    end = max(record.ended_ns, times[-1])
    windows = _union(
        (max(m.start_ns, start), min(m.end_ns or end, end)) for m in ctx.data.markets
    ) or [(start, end)]
    silence_ns = ctx.thresholds.max_silence_s * NS_PER_S
    edges = [start, *times, end]
    silences = [(a, b) for a, b in itertools.pairwise(edges) if b - a > silence_ns]
    halt = [(run.first_halt_ns, end)] if run.first_halt_ns is not None else []
    trading = sum(b - a for a, b in windows)
    lost = _overlap(windows, _union([*silences, *halt]))
    figures = {
        "trading_ns": trading,
        "down_ns": lost,
        "silences": len(silences),
        "halted_from_ns": run.first_halt_ns or 0,
    }
    ok = trading > 0 and (trading - lost) * BPS >= minimum * trading
    halted = (
        f"; halted from {run.first_halt_ns} ns to the end" if run.first_halt_ns is not None else ""
    )
    detail = (
        f"down {lost / NS_PER_S:,.1f} s of {trading / NS_PER_S:,.1f} s of trading time "
        f"({len(windows)} window(s)); silences over {ctx.thresholds.max_silence_s} s and halts "
        f"count as down{halted}"
    )
    return Kpi(
        name="uptime",
        status=_status(ok),
        value=_pct(trading - lost, trading),
        threshold=threshold,
        detail=detail,
        figures=figures,
        evidence=(
            ctx.store_evidence("envelope times, HALT decisions, run end", figures, detail),
            ctx.data_evidence("market windows", [list(w) for w in windows], f"{len(windows)}"),
        ),
    )


def _uptime_fail(ctx: _Context, threshold: str, detail: str) -> Kpi:
    return Kpi(
        name="uptime",
        status=ItemStatus.FAIL,
        value="n/a",
        threshold=threshold,
        detail=detail,
        figures={},
        evidence=(ctx.store_evidence("run record and envelope times", detail, detail),),
    )


def soak_kpis(
    run: SoakRun, data: SoakData, thresholds: SoakThresholds, *, store_url: str
) -> tuple[Kpi, ...]:
    """Every KPI of ``run`` (module docstring order)."""
    ctx = _Context(run, data, thresholds, store_url)
    return (
        fill_rate(ctx),
        maker_share(ctx),
        spread_capture(ctx),
        *(adverse_selection(ctx, h) for h in HORIZONS_S),
        inventory_excursion(ctx),
        reject_rate(ctx),
        uptime(ctx),
    )


def validate_soak(
    store: EventStore,
    run: str,
    *,
    thresholds: SoakThresholds,
    thresholds_ref: str,
    data: str | None = None,
) -> SoakReport:
    """The paper-soak KPIs of one recorded run against ``thresholds``.

    Args:
        store: the event store holding the run.
        run: ``RUN_ID`` (latest attempt) or ``RUN_ID@N``.
        thresholds: the declared thresholds; ``thresholds_ref`` names their file.
        data: the run's data (default: its recorded data source; see
            :mod:`polytraders.readiness.soak_inputs`).

    Raises:
        SoakInputError: no such run, or data that are not the run's or cannot be read.
        RunRefError / StoreError: a malformed reference or a failing store.
    """
    soak_run = read_run(store, run)
    soak_data = read_data(soak_run, data, HORIZONS_S)
    return SoakReport(
        run=soak_run.ref,
        store=store.url,
        status=soak_run.record.state,
        data=soak_data.location,
        data_verified=soak_data.verified,
        data_note=soak_data.note,
        thresholds=thresholds_ref,
        kpis=soak_kpis(soak_run, soak_data, thresholds, store_url=store.url),
    )
