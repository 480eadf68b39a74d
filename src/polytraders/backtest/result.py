"""Backtest results: every figure of a run computed from its recorded evidence.

:func:`compute_result` takes what a run produced — the markets, our fills, the sampled equity
curve and the envelope timeline — and derives the money figures from the fills alone (positions
are replayed with :class:`polytraders.model.position.Position`), so the result is an independent
check of the desk's accounting, not a copy of it.

Money definitions (all exact micro-pUSD internally; decimal strings in ``result.json``):

- ``volume``: Σ fill notional (price × size). ``invested``: Σ notional of buys.
- ``fees``: Σ fees paid.
- ``realized_pnl``: PnL of positions closed by trading, before fees (average-cost method).
- ``settlement``: cash paid out at resolution, Σ final position × winning payout per token.
- ``settled_pnl``: settlement − cost basis of the positions that settled.
- ``unrealized_pnl``: positions in unresolved markets marked at ``final_marks`` (mid).
- ``pnl`` = realized_pnl + settled_pnl + unrealized_pnl − fees
  = (Σ sells − Σ buys + settlement + mark value of open positions) − fees, exactly.
- ``max_drawdown``: largest peak-to-trough fall of the equity curve.
- ``sharpe``: mean / standard deviation of the equity curve's changes sampled every
  ``sharpe_interval_s`` seconds (not annualised; 0.0 when undefined). Float: analytics only.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence

import msgspec

from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market
from polytraders.model.money import from_micros, notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position

_REFUSALS = frozenset({Decision.REJECT, Decision.HALT, Decision.REFUSE, Decision.QUARANTINE})


class MoneyFigures(msgspec.Struct, kw_only=True):
    """The money fields shared by the whole run and each market (micro-pUSD)."""

    volume: int = 0
    invested: int = 0
    fees: int = 0
    realized_pnl: int = 0
    settlement: int = 0
    settled_pnl: int = 0
    unrealized_pnl: int = 0
    pnl: int = 0
    fills: int = 0
    maker_fills: int = 0
    taker_fills: int = 0

    def as_json(self) -> dict[str, str | int]:
        """Decimal strings for money (``*_usd``), integers for counts."""
        return {
            "volume_usd": from_micros(self.volume),
            "invested_usd": from_micros(self.invested),
            "fees_usd": from_micros(self.fees),
            "realized_pnl_usd": from_micros(self.realized_pnl),
            "settlement_usd": from_micros(self.settlement),
            "settled_pnl_usd": from_micros(self.settled_pnl),
            "unrealized_pnl_usd": from_micros(self.unrealized_pnl),
            "pnl_usd": from_micros(self.pnl),
            "fills": self.fills,
            "maker_fills": self.maker_fills,
            "taker_fills": self.taker_fills,
        }


class MarketResult(msgspec.Struct, kw_only=True):
    """Per-market figures."""

    market_id: str
    slug: str
    money: MoneyFigures
    final_positions: dict[str, int]


class BacktestResult(msgspec.Struct, kw_only=True):
    """Everything ``result.json`` reports about a run (see :meth:`as_json`)."""

    run_id: str
    seed: int
    config_version: str
    synthetic: bool
    markets: int
    events: int
    orders: int
    money: MoneyFigures
    max_drawdown: int
    sharpe: float
    rejections: dict[str, int]
    reason_codes: dict[str, int]
    envelopes: int
    envelopes_sha256: str
    wall_s: float
    per_market: list[MarketResult]
    feed_problems: dict[str, int] = msgspec.field(default_factory=dict)
    fill_model: dict[str, object] = msgspec.field(default_factory=dict)
    """The paper venue's fill-model settings that bound how believable maker fills are."""

    @property
    def events_per_s(self) -> float:
        """Events processed per wall-clock second."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        """The ``result.json`` document: money as exact decimal strings."""
        document: dict[str, object] = {
            "run_id": self.run_id,
            "seed": self.seed,
            "config_version": self.config_version,
            "synthetic": self.synthetic,
            "markets": self.markets,
            "events": self.events,
            "orders": self.orders,
            **self.money.as_json(),
            "max_drawdown_usd": from_micros(self.max_drawdown),
            "sharpe": round(self.sharpe, 6),
            "rejections": dict(sorted(self.rejections.items())),
            "reason_codes": dict(sorted(self.reason_codes.items())),
            "feed_problems": dict(sorted(self.feed_problems.items())),
            "fill_model": self.fill_model,
            "envelopes": self.envelopes,
            "envelopes_sha256": self.envelopes_sha256,
            "wall_s": round(self.wall_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "per_market": [
                {
                    "market_id": m.market_id,
                    "slug": m.slug,
                    **m.money.as_json(),
                    "final_positions": {
                        token: from_micros(size)
                        for token, size in sorted(m.final_positions.items())
                    },
                }
                for m in self.per_market
            ],
        }
        return document


def _money_for(
    fills: Sequence[Fill],
    market: Market,
    final_marks: Mapping[str, int],
) -> tuple[MoneyFigures, dict[str, int]]:
    positions: dict[str, Position] = {}
    money = MoneyFigures()
    for fill in fills:
        position = positions.get(fill.token_id)
        if position is None:
            position = positions[fill.token_id] = Position(fill.token_id)
        money.realized_pnl += position.apply(fill)
        notional = notional_micros(fill.price, fill.size)
        money.volume += notional
        if fill.side is Side.BUY:
            money.invested += notional
        money.fees += fill.fee
        money.fills += 1
        if fill.liquidity is LiquiditySide.MAKER:
            money.maker_fills += 1
        else:
            money.taker_fills += 1
    for token_id, position in positions.items():
        payout = market.payouts.get(token_id)
        if payout is not None:
            paid = notional_micros(payout, position.size)
            money.settlement += paid
            money.settled_pnl += paid - position.cost_basis
        elif position.size:
            mark = final_marks.get(token_id)
            if mark is None:
                raise ValueError(f"no final mark for open position in {token_id}")
            money.unrealized_pnl += position.unrealized_pnl(mark)
    money.pnl = money.realized_pnl + money.settled_pnl + money.unrealized_pnl - money.fees
    return money, {t: p.size for t, p in positions.items()}


def max_drawdown(equity_curve: Sequence[tuple[int, int]]) -> int:
    """Largest peak-to-trough fall (micro-pUSD, ≥ 0) of (ts_ns, equity) samples."""
    peak: int | None = None
    worst = 0
    for _, equity in equity_curve:
        peak = equity if peak is None else max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def sharpe_ratio(equity_curve: Sequence[tuple[int, int]], interval_s: int = 60) -> float:
    """Mean / sample standard deviation of equity changes between samples taken every
    ``interval_s`` seconds (the last value at or before each boundary). Not annualised.
    0.0 with fewer than two changes or zero variance."""
    if not equity_curve:
        return 0.0
    step_ns = interval_s * 1_000_000_000
    start = equity_curve[0][0]
    sampled: list[int] = []
    boundary = start
    last = equity_curve[0][1]
    for ts, equity in equity_curve:
        while ts >= boundary + step_ns:
            sampled.append(last)
            boundary += step_ns
        last = equity
    sampled.append(last)
    changes = [b - a for a, b in itertools.pairwise(sampled)]
    if len(changes) < 2:
        return 0.0
    mean = sum(changes) / len(changes)
    variance = sum((c - mean) ** 2 for c in changes) / (len(changes) - 1)
    return mean / math.sqrt(variance) if variance > 0 else 0.0


class EnvelopeTally:
    """An envelope sink that keeps only what results need: the count, the reason-code
    histogram, and refusals by reason code (constant memory, however long the run)."""

    def __init__(self) -> None:
        self.count = 0
        self.reason_codes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()

    def record(self, envelope: ReportEnvelope) -> None:
        self.count += 1
        if envelope.reason_codes:
            self.reason_codes.update(envelope.reason_codes)
        if envelope.decision in _REFUSALS:
            self.refusals.update(envelope.reason_codes or ("UNSPECIFIED",))

    def flush(self) -> None:
        """Nothing is buffered (sink protocol)."""


def compute_result(
    *,
    run_id: str,
    seed: int,
    config_version: str,
    synthetic: bool,
    markets: Sequence[Market],
    fills: Sequence[Fill],
    equity_curve: Sequence[tuple[int, int]],
    tally: EnvelopeTally,
    envelopes_sha256: str,
    events: int,
    orders: int,
    venue_rejections: Mapping[str, int],
    final_marks: Mapping[str, int],
    wall_s: float,
    feed_problems: Mapping[str, int] | None = None,
    sharpe_interval_s: int = 60,
    fill_model: Mapping[str, object] | None = None,
) -> BacktestResult:
    """Derive a :class:`BacktestResult` from a run's evidence (see the module docstring).

    ``tally`` holds the envelope counts (desk and bot refusals by reason code);
    ``venue_rejections`` counts venue refusals by reason code. ``final_marks`` gives a mark
    price (micro) for every token with an open position in an unresolved market.

    Raises:
        ValueError: a fill for a token of no known market, or an open position without a mark.
    """
    token_market = {t.token_id: m for m in markets for t in m.tokens}
    by_market: dict[str, list[Fill]] = {m.market_id: [] for m in markets}
    for fill in fills:
        market = token_market.get(fill.token_id)
        if market is None:
            raise ValueError(f"fill {fill.fill_id} for unknown token {fill.token_id}")
        by_market[market.market_id].append(fill)
    total = MoneyFigures()
    per_market: list[MarketResult] = []
    for market in markets:
        money, final_positions = _money_for(by_market[market.market_id], market, final_marks)
        for field in msgspec.structs.fields(MoneyFigures):
            setattr(total, field.name, getattr(total, field.name) + getattr(money, field.name))
        per_market.append(
            MarketResult(
                market_id=market.market_id,
                slug=market.slug,
                money=money,
                final_positions=final_positions,
            )
        )
    reason_codes = Counter(tally.reason_codes)
    reason_codes.update(venue_rejections)
    rejections = Counter(tally.refusals)
    rejections.update(venue_rejections)
    return BacktestResult(
        run_id=run_id,
        seed=seed,
        config_version=config_version,
        synthetic=synthetic,
        markets=len(markets),
        events=events,
        orders=orders,
        money=total,
        max_drawdown=max_drawdown(equity_curve),
        sharpe=sharpe_ratio(equity_curve, sharpe_interval_s),
        rejections=dict(rejections),
        reason_codes=dict(reason_codes),
        envelopes=tally.count,
        envelopes_sha256=envelopes_sha256,
        wall_s=wall_s,
        per_market=per_market,
        feed_problems=dict(feed_problems or {}),
        fill_model=dict(fill_model or {}),
    )
