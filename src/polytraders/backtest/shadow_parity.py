"""Execution parity of two runs over the same events: orders, fills, PnL and exposure side by
side over time, and their differences (candidate − baseline).

Read from the two :class:`~polytraders.backtest.engine.RunOutcome` s, sampled at the end of each
``bucket_ns`` of event time from the earlier run's first event (the last bucket ends at the
later run's last event):

- ``orders``: orders the desk tracked, created at or before the bucket's end (cumulative);
- ``fills``: fills booked with ``ts_event_ns`` at or before it (cumulative);
- ``pnl_micros``: mark-to-mid equity of the latest equity point at or before it, minus the
  starting cash (0 before the first point);
- ``exposure_micros``: worst-case loss at resolution of the positions held then
  (:func:`polytraders.model.exposure.portfolio_exposure`, positions only: fills replayed into
  exact :class:`~polytraders.model.position.Position` s, markets settled by then dropped).

The totals are the runs' own figures (``result.orders``, fills, volume, PnL after settlement)
and the exposure after the last event.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import msgspec

from polytraders.backtest.engine import RunOutcome
from polytraders.model.exposure import portfolio_exposure
from polytraders.model.market import Market
from polytraders.model.position import Position

DEFAULT_BUCKET_S = 300
"""Parity is sampled every 5 minutes of event time by default (a 15-minute market gets three
points)."""


class ParityPoint(msgspec.Struct, frozen=True, kw_only=True):
    """The two runs at ``ts_ns``: each pair is (baseline, candidate)."""

    ts_ns: int
    orders: tuple[int, int]
    fills: tuple[int, int]
    pnl_micros: tuple[int, int]
    exposure_micros: tuple[int, int]


class SideFigures(msgspec.Struct, frozen=True, kw_only=True):
    """One run's totals: ``run_id``, ``status``, ``orders``, ``fills``, ``volume_micros``,
    ``pnl_micros`` (after fees and settlement), ``exposure_micros`` (after the last event)."""

    run_id: str
    status: str
    orders: int
    fills: int
    volume_micros: int
    pnl_micros: int
    exposure_micros: int


class ExecutionParity(msgspec.Struct, frozen=True, kw_only=True):
    """Both runs over time (module docstring).

    Fields: ``bucket_ns``; ``baseline`` and ``candidate`` totals; ``points`` in time order;
    ``max_abs_diff``: the largest |candidate − baseline| over the points, per series
    (``orders``, ``fills``, ``pnl_micros``, ``exposure_micros``).
    """

    bucket_ns: int
    baseline: SideFigures
    candidate: SideFigures
    points: tuple[ParityPoint, ...]
    max_abs_diff: dict[str, int]


class _Series(msgspec.Struct, frozen=True):
    orders: list[int]
    fills: list[int]
    pnl: list[int]
    exposure: list[int]


def _series(outcome: RunOutcome, ends: Sequence[int], markets: Sequence[Market]) -> _Series:
    desk = outcome.desk_result
    created = sorted(
        [*(o.ts_created_ns for o in outcome.orders), *outcome.retired_order_created_ns]
    )
    fills = sorted(desk.fills, key=lambda f: f.ts_event_ns)
    settlements = sorted(desk.settlements, key=lambda s: s.ts_ns)
    curve = desk.equity_curve
    curve_ts = [p.ts_ns for p in curve]
    initial = desk.ledger.initial_cash
    token_market = {t.token_id: m.market_id for m in markets for t in m.tokens}
    positions: dict[str, Position] = {}
    settled: set[str] = set()
    series = _Series([], [], [], [])
    fi = si = 0
    for end in ends:
        while fi < len(fills) and fills[fi].ts_event_ns <= end:
            fill = fills[fi]
            positions.setdefault(fill.token_id, Position(fill.token_id)).apply(fill)
            fi += 1
        while si < len(settlements) and settlements[si].ts_ns <= end:
            settled.add(settlements[si].market_id)
            si += 1
        series.orders.append(bisect.bisect_right(created, end))
        series.fills.append(fi)
        at = bisect.bisect_right(curve_ts, end)
        series.pnl.append(curve[at - 1].equity - initial if at else 0)
        held = [p for t, p in positions.items() if token_market.get(t) not in settled]
        series.exposure.append(portfolio_exposure(markets, held).total)
    return series


def _figures(outcome: RunOutcome, exposure: int) -> SideFigures:
    money = outcome.result.money
    return SideFigures(
        run_id=outcome.result.run_id,
        status=outcome.status.value,
        orders=outcome.result.orders,
        fills=money.fills,
        volume_micros=money.volume,
        pnl_micros=money.pnl,
        exposure_micros=exposure,
    )


def execution_parity(
    baseline: RunOutcome, candidate: RunOutcome, *, bucket_s: int = DEFAULT_BUCKET_S
) -> ExecutionParity:
    """Orders, fills, PnL and exposure of both runs over time (module docstring).

    Raises:
        ValueError: ``bucket_s`` not positive.
    """
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    bucket_ns = bucket_s * 1_000_000_000
    firsts = [
        o.desk_result.first_event_ns
        for o in (baseline, candidate)
        if o.desk_result.events_processed
    ]
    start = min(firsts) if firsts else 0
    stop = max(baseline.desk_result.last_event_ns, candidate.desk_result.last_event_ns)
    ends = [*range(start + bucket_ns, stop, bucket_ns), stop]
    markets = {m.market_id: m for m in (*baseline.markets, *candidate.markets)}
    known = list(markets.values())
    b = _series(baseline, ends, known)
    c = _series(candidate, ends, known)
    points = tuple(
        ParityPoint(
            ts_ns=end,
            orders=(b.orders[i], c.orders[i]),
            fills=(b.fills[i], c.fills[i]),
            pnl_micros=(b.pnl[i], c.pnl[i]),
            exposure_micros=(b.exposure[i], c.exposure[i]),
        )
        for i, end in enumerate(ends)
    )
    max_abs = {
        name: max((abs(getattr(p, name)[1] - getattr(p, name)[0]) for p in points), default=0)
        for name in ("orders", "fills", "pnl_micros", "exposure_micros")
    }
    return ExecutionParity(
        bucket_ns=bucket_ns,
        baseline=_figures(baseline, b.exposure[-1]),
        candidate=_figures(candidate, c.exposure[-1]),
        points=points,
        max_abs_diff=max_abs,
    )
