"""Backtest results: every figure of a run computed from its recorded evidence.

:func:`compute_result` takes what a run produced — the markets, our fills, the sampled equity
curve and the envelope timeline — and derives the money figures from the fills alone (positions
are replayed with :class:`polytraders.model.position.Position`), so the result is an independent
check of the desk's accounting, not a copy of it.

Money definitions (all exact micro-units of the run's quote currency internally: pUSD for
Polymarket markets, the quote asset of crypto instruments, e.g. USDT, see
:mod:`polytraders.model.quote`; decimal strings in ``result.json``, whose ``currency`` names it
and whose ``*_usd`` keys keep their names whatever the currency):

- ``volume``: Σ fill notional (price × size). ``invested``: Σ notional of buys.
- ``fees``: Σ fees booked (``Fill.booked_fee``: the fee, or for a commission kept in the
  bought asset the notional it took, as the ledger books it).
- ``realized_pnl``: PnL of positions closed by trading, before fees (average-cost method).
- ``settlement``: cash paid out at resolution, Σ final position × winning payout per token.
- ``settled_pnl``: settlement − cost basis of the positions that settled.
- ``unrealized_pnl``: positions in unresolved markets marked at ``final_marks`` (mid).
- ``pnl`` = realized_pnl + settled_pnl + unrealized_pnl − fees
  = (Σ sells − Σ buys + settlement + mark value of open positions) − fees paid in the quote,
  exactly (a commission kept in the bought asset is already in Σ buys: the whole size's
  notional).
- ``max_drawdown``: largest peak-to-trough fall of the equity curve.
- ``sharpe``: mean / standard deviation of the equity curve's changes sampled every
  ``sharpe_interval_s`` seconds (not annualised; 0.0 when undefined). Float: analytics only.

Evidence beside the money (what the report shows, as data):

- ``refusals_by_bot``: every envelope whose decision is not a plain pass (anything but PROPOSE,
  IDLE, APPROVE and ROUTE: risk REJECT / RESHAPE / HALT, desk-gate and execution REFUSE or
  REJECT, ERROR, QUARANTINE), counted by (bot, class, mode, decision, reason code), plus the
  venue's rejections (bot ``venue``, decision ``VENUE_REJECT``).
- ``desk_events``: trading-state changes, kill-switch trips and bot-mode changes (automatic
  demotion) with time and reason code.
- ``fill_model``: where the fills come from: the paper venue's fill model, whether its
  figures are an ESTIMATE or the OPTIMISTIC or PESSIMISTIC bound, and the figures of both
  bounds for the same orders; or a live venue's own fills (REAL) (:class:`FillModel`).
- ``bots_seen``: every bot that recorded a decision, with its version and config version.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec

from polytraders.contracts.envelope import Decision, ReportEnvelope
from polytraders.desk.state import DeskEvent, DeskState
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Instrument, Market, MarketState
from polytraders.model.money import from_micros, notional_micros
from polytraders.model.orders import Side
from polytraders.model.position import Position
from polytraders.model.quote import PUSD, run_currency
from polytraders.venues.paper.config import PaperVenueConfig

_REFUSALS = frozenset({Decision.REJECT, Decision.HALT, Decision.REFUSE, Decision.QUARANTINE})
_PASSES = frozenset(
    {Decision.PROPOSE, Decision.IDLE, Decision.APPROVE, Decision.ROUTE, Decision.BOOK}
)
UNSPECIFIED = "UNSPECIFIED"
"""Reason code counted for a refusal envelope that carries none."""
VENUE_BOT_ID = "venue"
"""``bot_id`` (and ``bot_class``) of the venue's rejections in :class:`RefusalCount`."""
VENUE_REJECT = "VENUE_REJECT"
"""``decision`` of the venue's rejections in :class:`RefusalCount`."""
_NS_PER_S = 1_000_000_000


def utc_iso(ts_ns: int) -> str:
    """``ts_ns`` (ns since the Unix epoch) as ISO 8601 UTC with all nine fraction digits,
    exactly: ``1_790_585_112_649_000_001`` → ``"2026-09-28T08:45:12.649000001Z"``."""
    seconds, nanos = divmod(ts_ns, _NS_PER_S)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{nanos:09d}Z"


class RefusalCount(msgspec.Struct, frozen=True, kw_only=True):
    """How many envelopes of one bot (in one mode) had one non-pass decision with one reason
    code; for the venue's rejections ``bot_id`` and ``bot_class`` are ``"venue"``, ``mode`` is
    ``""`` and ``decision`` is ``"VENUE_REJECT"``. An envelope with several codes counts once
    under each."""

    bot_id: str
    bot_class: str
    mode: str
    decision: str
    reason_code: str
    count: int


class BotSeen(msgspec.Struct, frozen=True, kw_only=True):
    """A bot that recorded at least one decision: identity as its envelopes carry it, and every
    mode it decided in (e.g. ``ENFORCED`` then ``QUARANTINE``), sorted."""

    bot_id: str
    bot_class: str
    bot_version: str
    config_version: str
    modes: tuple[str, ...]


def desk_event_json(event: DeskEvent) -> dict[str, object]:
    """A desk event as ``result.json`` records it: its fields (``type`` tag included) with
    ``time_utc`` beside ``ts_event_ns`` (``ts_recv_ns``, always equal to it, left out)."""
    fields: dict[str, object] = msgspec.to_builtins(event)
    document = {"type": fields.pop("type"), "ts_event_ns": fields.pop("ts_event_ns")}
    document["time_utc"] = utc_iso(event.ts_event_ns)
    fields.pop("ts_recv_ns")
    document.update(fields)
    return document


class MoneyFigures(msgspec.Struct, kw_only=True):
    """The money fields shared by the whole run and each market (micro-units of the run's
    currency, :attr:`BacktestResult.currency`)."""

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


class FillBound(msgspec.Struct, frozen=True, kw_only=True):
    """The run's money figures under a bound queue model (:class:`FillModel` ``bounds``).

    ``which``: ``PESSIMISTIC`` (queue model ``pessimistic``) or ``OPTIMISTIC``
    (``l2_inference``); ``money``: the same figures as the run's own, from that model's fills.
    """

    which: str
    queue_model: str
    money: MoneyFigures

    def as_json(self) -> dict[str, object]:
        """``queue_model`` and the money figures (decimal strings, counts)."""
        return {"queue_model": self.queue_model, **self.money.as_json()}


BOUNDS_METHOD = (
    "the same orders, in the same pass, on shadow paper venues that differ only in the queue "
    "model (pessimistic; l2_inference): open loop, the desk decided on the estimate's fills"
)
"""How ``result.json`` ``fill_model.bounds`` were computed (``docs/paper_venue.md``)."""


class FillModel(msgspec.Struct, frozen=True, kw_only=True):
    """Where a run's fills come from: the paper venue's fill model, which kind of figure the
    run's money is, and its bounds; or a live venue's own executions.

    On the paper venue (``venue == "paper"``) the queue model decides what the figures are
    (rule 4.4 of :mod:`polytraders.venues.paper`, ``docs/paper_venue.md``): ``probabilistic``
    gives an ESTIMATE, ``pessimistic`` (makers fill only from trades and crossing) the
    PESSIMISTIC bound, ``l2_inference`` (every unexplained book decrease counts as trading
    through us) the OPTIMISTIC bound. ``bounds`` holds the figures of the two bound models for
    the same orders (:data:`BOUNDS_METHOD`), when computed. On any other venue (a ``--live``
    session) the fills are the venue's own executions of real orders: no fill model applies,
    the kind is ``REAL`` (:meth:`real`) and the simulation settings are left out of
    :meth:`as_json`.
    """

    order_latency_ms: int
    cancel_latency_ms: int
    response_latency_ms: int
    queue_model: str
    queue_function: str
    queue_power_n: float
    complement_fills: bool
    name: str
    """The queue model in words, e.g. ``probabilistic (power, n = 2)``."""
    bounds: tuple[FillBound, ...] = ()
    venue: str = "paper"
    """``paper`` (simulated fills) or the live venue that executed the orders."""

    @classmethod
    def of(cls, config: PaperVenueConfig, bounds: tuple[FillBound, ...] = ()) -> FillModel:
        """The fill model of a paper venue config, with the bounds computed for the run."""
        return cls(
            order_latency_ms=config.order_latency_ms,
            cancel_latency_ms=config.cancel_latency_ms,
            response_latency_ms=config.response_latency_ms,
            queue_model=config.queue_model,
            queue_function=config.queue_function,
            queue_power_n=config.queue_power_n,
            complement_fills=config.complement_fills,
            name=config.queue_model_name,
            bounds=bounds,
        )

    @classmethod
    def real(cls, venue: str) -> FillModel:
        """Fills executed by ``venue`` itself (e.g. ``"polymarket"``): no simulation."""
        return cls(
            order_latency_ms=0,
            cancel_latency_ms=0,
            response_latency_ms=0,
            queue_model="",
            queue_function="",
            queue_power_n=0.0,
            complement_fills=False,
            name="",
            venue=venue,
        )

    @property
    def simulated(self) -> bool:
        """True on the paper venue."""
        return self.venue == "paper"

    @property
    def bound(self) -> str:
        """``"ESTIMATE"`` (probabilistic), ``"OPTIMISTIC"`` (l2_inference) or
        ``"PESSIMISTIC"`` (pessimistic); ``"REAL"`` for a live venue's own fills."""
        if not self.simulated:
            return "REAL"
        return {"l2_inference": "OPTIMISTIC", "pessimistic": "PESSIMISTIC"}.get(
            self.queue_model, "ESTIMATE"
        )

    @property
    def bound_reason(self) -> str:
        """One plain-English sentence saying why the figures are that kind."""
        if not self.simulated:
            return (
                f"the fills are {self.venue}'s own executions of the orders the desk sent "
                "(live trading): no fill model is involved"
            )
        if self.queue_model == "l2_inference":
            return (
                "maker fills are inferred from book decreases (l2_inference): a level that "
                "shrinks by cancellations counts as trading through our order"
            )
        if self.queue_model == "pessimistic":
            return (
                "maker fills only from recorded trades reaching our place in the queue or from "
                "the book crossing our price (pessimistic): a decrease of our level never fills us"
            )
        return (
            "maker fills from recorded trades, crossing, and the share of each book decrease a "
            f"{self.name} queue model puts ahead of our order (hftbacktest's ProbQueueModel)"
        )

    def bound_of(self, which: str) -> FillBound | None:
        """The ``PESSIMISTIC`` or ``OPTIMISTIC`` bound, if computed."""
        return next((b for b in self.bounds if b.which == which), None)

    def as_json(self) -> dict[str, object]:
        """``venue``; on the paper venue the settings and ``name``; ``bound``,
        ``bound_reason`` and, when computed, ``bounds`` (``pessimistic`` / ``optimistic`` money
        figures) with ``bounds_method``."""
        if not self.simulated:
            return {"venue": self.venue, "bound": self.bound, "bound_reason": self.bound_reason}
        document: dict[str, object] = {
            "venue": self.venue,
            "order_latency_ms": self.order_latency_ms,
            "cancel_latency_ms": self.cancel_latency_ms,
            "response_latency_ms": self.response_latency_ms,
            "queue_model": self.queue_model,
            "queue_function": self.queue_function,
            "queue_power_n": self.queue_power_n,
            "complement_fills": self.complement_fills,
            "name": self.name,
            "bound": self.bound,
            "bound_reason": self.bound_reason,
        }
        if self.bounds:
            document["bounds"] = {b.which.lower(): b.as_json() for b in self.bounds}
            document["bounds_method"] = BOUNDS_METHOD
        return document


class BacktestResult(msgspec.Struct, kw_only=True):
    """Everything ``result.json`` reports about a run (see :meth:`as_json`)."""

    run_id: str
    seed: int
    config_version: str
    synthetic: bool
    markets: int
    """Markets in the data: Polymarket markets and crypto instruments (each traded alone)."""
    events: int
    first_event_ns: int
    """Time of the first input event processed (0 with none)."""
    last_event_ns: int
    """Time of the last input event processed (0 with none)."""
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
    fill_model: FillModel
    """Where the fills come from: the paper venue's fill model (how believable maker fills
    are, and which bound) or a live venue's own executions."""
    refusals_by_bot: list[RefusalCount]
    """Non-pass decisions and venue rejections by bot, mode, decision and code (sorted)."""
    desk_events: list[DeskEvent]
    """Trading-state changes and kill-switch trips, in time order."""
    bots_seen: list[BotSeen]
    """Every bot that recorded a decision (sorted by class, then id)."""
    feed_problems: dict[str, int] = msgspec.field(default_factory=dict)
    status: str = "COMPLETED"
    """How the run ended: COMPLETED, HALTED, FAILED or INTERRUPTED (``docs/runs.md``);
    RUNNING in a snapshot a live session wrote on request while it went on."""
    status_detail: str = ""
    """The halt's reason code, the failure's error, or the interrupting signal."""
    currency: str = PUSD
    """The quote currency every money figure is in (:func:`~polytraders.model.quote.run_currency`):
    ``pUSD`` for Polymarket markets, e.g. ``USDT`` for Binance ``BTCUSDT``."""
    session: str = "backtest"
    """What produced the run: ``backtest`` (recorded or synthetic data), or a session on live
    market data: ``paper``, ``shadow`` (the current desk), ``shadow-candidate`` or ``live``."""
    funding_micros: int | None = None
    """Net perpetual funding the paper venue credited (negative: charged) under the desk file's
    ASSUMED rates (``[venue] funding_rates_ppb``; rule 12.6 of :mod:`polytraders.venues.paper`);
    not in the PnL figures, which come from fills and marks. None: no assumed funding (then
    ``result.json`` has no funding keys)."""
    desk_funding_micros: int | None = None
    """Net funding the desk's own ledger booked from the venue's funding payments (in its
    cash, equity and drawdown; not in the PnL figures): equal to :attr:`funding_micros` on the
    paper venue. None: the run assumed no funding and the desk booked none (then
    ``result.json`` has no ``desk_funding_usd``)."""

    @property
    def events_per_s(self) -> float:
        """Events processed per wall-clock second."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    def as_json(self) -> dict[str, object]:
        """The ``result.json`` document: money as exact decimal strings."""
        document: dict[str, object] = {
            "run_id": self.run_id,
            "session": self.session,
            "status": self.status,
            "status_detail": self.status_detail,
            "seed": self.seed,
            "config_version": self.config_version,
            "synthetic": self.synthetic,
            "markets": self.markets,
            "events": self.events,
            "first_event_ns": self.first_event_ns,
            "first_event_utc": utc_iso(self.first_event_ns),
            "last_event_ns": self.last_event_ns,
            "last_event_utc": utc_iso(self.last_event_ns),
            "orders": self.orders,
            "currency": self.currency,
            **self.money.as_json(),
            **(
                {
                    "funding_usd": from_micros(self.funding_micros),
                    "funding_source": "assumed rates ([venue] funding_rates_ppb), not recorded",
                }
                if self.funding_micros is not None
                else {}
            ),
            **(
                {"desk_funding_usd": from_micros(self.desk_funding_micros)}
                if self.desk_funding_micros is not None
                else {}
            ),
            "max_drawdown_usd": from_micros(self.max_drawdown),
            "sharpe": round(self.sharpe, 6),
            "rejections": dict(sorted(self.rejections.items())),
            "reason_codes": dict(sorted(self.reason_codes.items())),
            "refusals_by_bot": [msgspec.to_builtins(r) for r in self.refusals_by_bot],
            "desk_events": [desk_event_json(e) for e in self.desk_events],
            "bots_seen": [msgspec.to_builtins(b) for b in self.bots_seen],
            "feed_problems": dict(sorted(self.feed_problems.items())),
            "fill_model": self.fill_model.as_json(),
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


def money_of(
    fills: Sequence[Fill],
    markets: Sequence[Market],
    final_marks: Mapping[str, int],
    instruments: Sequence[Instrument] = (),
) -> tuple[MoneyFigures, list[MarketResult]]:
    """The money figures of ``fills`` over ``markets`` and crypto ``instruments`` (see the
    module docstring): the total and each market's, with final positions; each instrument is
    one more entry after the markets (``market_id`` its token id, ``slug`` its symbol; never
    settled: an open position is marked, a signed one included).

    Raises:
        ValueError: a fill for a token of no known market or instrument, or an open position
            without a mark.
    """
    groups: list[tuple[str, str, Mapping[str, int]]] = [
        (m.market_id, m.slug, m.payouts) for m in markets
    ]
    groups += [(i.token_id, i.symbol, {}) for i in instruments]
    token_group = {t.token_id: m.market_id for m in markets for t in m.tokens}
    token_group.update((i.token_id, i.token_id) for i in instruments)
    by_group: dict[str, list[Fill]] = {group_id: [] for group_id, _, _ in groups}
    for fill in fills:
        group_id = token_group.get(fill.token_id)
        if group_id is None:
            raise ValueError(f"fill {fill.fill_id} for unknown token {fill.token_id}")
        by_group[group_id].append(fill)
    total = MoneyFigures()
    per_market: list[MarketResult] = []
    for group_id, slug, payouts in groups:
        money, final_positions = _money_for(by_group[group_id], payouts, final_marks)
        for field in msgspec.structs.fields(MoneyFigures):
            setattr(total, field.name, getattr(total, field.name) + getattr(money, field.name))
        per_market.append(
            MarketResult(
                market_id=group_id,
                slug=slug,
                money=money,
                final_positions=final_positions,
            )
        )
    return total, per_market


def _money_for(
    fills: Sequence[Fill],
    payouts: Mapping[str, int],
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
        money.fees += fill.booked_fee  # what the ledger books (Fill.booked_fee)
        money.fills += 1
        if fill.liquidity is LiquiditySide.MAKER:
            money.maker_fills += 1
        else:
            money.taker_fills += 1
    for token_id, position in positions.items():
        payout = payouts.get(token_id)
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


def final_marks(
    state: DeskState, markets: Sequence[Market], instruments: Sequence[Instrument] = ()
) -> dict[str, int]:
    """Mark (micro-units of the quote currency) of every token of ``markets`` and every
    instrument in the desk's books: the mid, else the best bid, else 0."""
    marks: dict[str, int] = {}
    token_ids = [t.token_id for m in markets for t in m.tokens]
    token_ids += [i.token_id for i in instruments]
    for token_id in token_ids:
        book = state.book(token_id)
        mark = None
        if book is not None:
            mark = book.mid()
            if mark is None:
                mark = book.best_bid()
        marks[token_id] = mark if mark is not None else 0
    return marks


def settled_markets(markets: Sequence[Market], state: DeskState) -> list[Market]:
    """``markets`` with the payouts of those the desk saw resolve (no payouts for the
    others)."""
    settled = []
    for market in markets:
        current = state.market(market.market_id) or market
        if current.state is MarketState.RESOLVED and current.payouts:
            settled.append(msgspec.structs.replace(market, payouts=current.payouts))
        else:
            settled.append(msgspec.structs.replace(market, payouts={}))
    return settled


RefusalKey = tuple[str, str, str, str, str]
"""(bot_id, bot_class, mode, decision, reason_code) of :class:`RefusalCount`."""


class EnvelopeTally:
    """An envelope sink that keeps only what results need (memory bounded by the number of
    distinct bots and codes, however long the run).

    Attributes:
        count: envelopes recorded.
        reason_codes: reason code → count over every envelope.
        refusals: reason code → count over REJECT, HALT, REFUSE and QUARANTINE envelopes
            (``result.json`` ``rejections``).
        by_bot: (bot_id, bot_class, mode, decision, reason_code) → count over every envelope
            whose decision is not a plain pass (PROPOSE, IDLE, APPROVE, ROUTE).
        bots: (bot_id, bot_class, mode) → (bot_version, config_version) as first recorded.
    """

    def __init__(self) -> None:
        self.count = 0
        self.reason_codes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.by_bot: Counter[RefusalKey] = Counter()
        self.bots: dict[tuple[str, str, str], tuple[str, str]] = {}

    def record(self, envelope: ReportEnvelope) -> None:
        self.count += 1
        identity = (envelope.bot_id, envelope.bot_class.value, envelope.mode.value)
        if identity not in self.bots:
            self.bots[identity] = (envelope.bot_version, envelope.config_version)
        if envelope.reason_codes:
            self.reason_codes.update(envelope.reason_codes)
        decision = envelope.decision
        if decision in _PASSES:
            return
        codes = envelope.reason_codes or (UNSPECIFIED,)
        if decision in _REFUSALS:
            self.refusals.update(codes)
        for code in codes:
            self.by_bot[(*identity, decision.value, code)] += 1

    def refusal_counts(self, venue_rejections: Mapping[str, int]) -> list[RefusalCount]:
        """:attr:`by_bot` plus the venue's rejections (code → count), sorted by bot class,
        bot, mode, decision and code."""
        counts = Counter(self.by_bot)
        for code, n in venue_rejections.items():
            counts[(VENUE_BOT_ID, VENUE_BOT_ID, "", VENUE_REJECT, code)] += n
        return [
            RefusalCount(
                bot_id=bot_id,
                bot_class=bot_class,
                mode=mode,
                decision=decision,
                reason_code=code,
                count=n,
            )
            for (bot_id, bot_class, mode, decision, code), n in sorted(
                counts.items(), key=lambda kv: (_class_rank(kv[0][1]), kv[0])
            )
        ]

    def bots_seen(self) -> list[BotSeen]:
        """Every bot that recorded a decision, sorted by class (strategy, risk, execution)
        then id; ``desk`` appears once per class it decided for."""
        merged: dict[tuple[str, str], tuple[str, str, set[str]]] = {}
        for (bot_id, bot_class, mode), (version, config_version) in self.bots.items():
            entry = merged.setdefault((bot_id, bot_class), (version, config_version, set()))
            entry[2].add(mode)
        return [
            BotSeen(
                bot_id=bot_id,
                bot_class=bot_class,
                bot_version=version,
                config_version=config_version,
                modes=tuple(sorted(modes)),
            )
            for (bot_id, bot_class), (version, config_version, modes) in sorted(
                merged.items(), key=lambda kv: (_class_rank(kv[0][1]), kv[0][0])
            )
        ]

    def flush(self) -> None:
        """Nothing is buffered (sink protocol)."""

    def copy(self) -> EnvelopeTally:
        """An independent copy (what a snapshot of a running session counts)."""
        twin = EnvelopeTally()
        twin.count = self.count
        twin.reason_codes = Counter(self.reason_codes)
        twin.refusals = Counter(self.refusals)
        twin.by_bot = Counter(self.by_bot)
        twin.bots = dict(self.bots)
        return twin


_CLASS_ORDER = ("strategy", "risk", "execution", VENUE_BOT_ID)


def _class_rank(bot_class: str) -> int:
    return _CLASS_ORDER.index(bot_class) if bot_class in _CLASS_ORDER else len(_CLASS_ORDER)


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
    first_event_ns: int,
    last_event_ns: int,
    orders: int,
    venue_rejections: Mapping[str, int],
    final_marks: Mapping[str, int],
    wall_s: float,
    fill_model: FillModel,
    desk_events: Sequence[DeskEvent] = (),
    feed_problems: Mapping[str, int] | None = None,
    sharpe_interval_s: int = 60,
    status: str = "COMPLETED",
    status_detail: str = "",
    session: str = "backtest",
    instruments: Sequence[Instrument] = (),
    funding_micros: int | None = None,
    desk_funding_micros: int | None = None,
) -> BacktestResult:
    """Derive a :class:`BacktestResult` from a run's evidence (see the module docstring).

    ``tally`` holds the envelope counts (desk and bot refusals by reason code and by bot);
    ``venue_rejections`` counts venue refusals by reason code. ``final_marks`` gives a mark
    price (micro) for every token with an open position in an unresolved market.
    ``first_event_ns`` / ``last_event_ns`` span the input events processed.
    ``fill_model`` says where the fills come from; ``desk_events`` the desk's trading-state
    changes and kill-switch trips (``DeskResult.desk_events``), kept in time order; ``status``
    and ``status_detail`` how the run ended; ``session`` what produced it
    (:attr:`BacktestResult.session`); ``funding_micros`` the assumed funding the venue
    settled (:attr:`BacktestResult.funding_micros`) and ``desk_funding_micros`` what the
    desk's ledger booked (:attr:`BacktestResult.desk_funding_micros`).

    The money's currency is :func:`~polytraders.model.quote.run_currency` of ``markets`` and
    ``instruments``.

    Raises:
        ValueError: a fill for a token of no known market, or an open position without a mark;
            :class:`~polytraders.model.quote.QuoteCurrencyError` (a ``ValueError``): an
            instrument of unknown quote currency, or markets and instruments of more than one.
    """
    currency = run_currency(markets, instruments)
    total, per_market = money_of(fills, markets, final_marks, instruments)
    reason_codes = Counter(tally.reason_codes)
    reason_codes.update(venue_rejections)
    rejections = Counter(tally.refusals)
    rejections.update(venue_rejections)
    return BacktestResult(
        run_id=run_id,
        seed=seed,
        config_version=config_version,
        synthetic=synthetic,
        markets=len(markets) + len(instruments),
        events=events,
        first_event_ns=first_event_ns,
        last_event_ns=last_event_ns,
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
        fill_model=fill_model,
        refusals_by_bot=tally.refusal_counts(venue_rejections),
        desk_events=sorted(desk_events, key=lambda e: e.ts_event_ns),
        bots_seen=tally.bots_seen(),
        feed_problems=dict(feed_problems or {}),
        status=status,
        status_detail=status_detail,
        session=session,
        currency=currency,
        funding_micros=funding_micros,
        desk_funding_micros=desk_funding_micros,
    )
