"""Per-intent latency of the seven risk guards, in chain order, on desk states from real data.

States: for sample times spread over the real Polymarket sample (``data/samples/polymarket/
resolvedkit_btc15m``), a :class:`DeskState` holding all 12 markets, every token's last recorded
book at that time (stamped with its recorded time), a 50-share UP position in every market and
two resting orders in each market that is trading, a fresh feed and heartbeat. Intents: a
10-share post-only BUY at the best bid of each side of the market trading at that time, carrying
the desk's builderCode. Each guard's ``decide`` is timed on its own with ``perf_counter_ns``;
an intent's latency is the sum over the seven (the order of the desk's chain). Figures are
per-call percentiles over every intent and repetition on one core, with the cyclic garbage
collector paused while timing (as ``timeit`` does). Goal (issue 5): p99 of the seven together
≤ 50 µs. Other processes on the machine show up in the p99: compare runs on a quiet machine.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import pyarrow.parquet as pq

from bench.data import POLYMARKET_SAMPLE
from polytraders.bots.risk.compliancegate import DESK_BUILDER_CODE, ComplianceGate
from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.exposureguard import ExposureGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.state import DeskState
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import micros_from_recorded
from polytraders.model.orders import OrderIntent, OrderStatus, Side, VenueOrder

DESCRIPTION = "seven risk guards in chain order: per-intent decide latency on real-data states"

MS = 1_000_000
EOA = "0x1111111111111111111111111111111111111111"
GUARDS = (
    KillSwitch,
    ComplianceGate,
    MarketHaltGuard,
    StaleBookGuard,
    MarketQualityGuard,
    ExposureGuard,
    DrawdownGuard,
)

Levels = list[tuple[int, int]]


def _load() -> tuple[list[Market], dict[str, list[tuple[int, Levels, Levels]]]]:
    rows = pq.read_table(POLYMARKET_SAMPLE / "markets.parquet").to_pylist()
    markets = []
    for r in rows:
        mid = r["market_id"]
        up, down = f"{mid}:UP", f"{mid}:DOWN"
        markets.append(
            Market(
                market_id=mid,
                slug=r["slug"],
                question=r["question"],
                category=r["category"],
                start_ns=r["start_ts"] * MS,
                end_ns=r["end_ts"] * MS,
                tokens=(
                    OutcomeToken(
                        token_id=up, market_id=mid, outcome="Up", complement_token_id=down
                    ),
                    OutcomeToken(
                        token_id=down, market_id=mid, outcome="Down", complement_token_id=up
                    ),
                ),
            )
        )
    books: dict[str, list[tuple[int, Levels, Levels]]] = {}
    table = pq.read_table(POLYMARKET_SAMPLE / "books.parquet").to_pydict()
    for mid, ts, side, bp, bs, ap, asz in zip(
        table["market_id"], table["ts"], table["side"], table["bid_px"], table["bid_sz"],
        table["ask_px"], table["ask_sz"], strict=True,
    ):  # fmt: skip
        bids = [
            (micros_from_recorded(p), micros_from_recorded(s)) for p, s in zip(bp, bs, strict=True)
        ]
        asks = [
            (micros_from_recorded(p), micros_from_recorded(s)) for p, s in zip(ap, asz, strict=True)
        ]
        books.setdefault(f"{mid}:{side}", []).append((ts * MS, bids, asks))
    return markets, books


def _state_at(now_ns: int, markets: list[Market], books: dict) -> tuple[DeskState, Market | None]:
    state = DeskState.build(
        now_ns=now_ns,
        markets=markets,
        positions={m.tokens[0].token_id: (50_000_000, 25_000_000) for m in markets},
        cash=5_000_000_000,
        account=AccountIdentity(signer=EOA, funder=EOA, signature_type=0),
        last_feed_event_ns=now_ns - 200 * MS,
        last_venue_heartbeat_ns=now_ns - 2_000 * MS,
    )
    trading = None
    for token_id, rows in books.items():
        last = None
        for row in rows:
            if row[0] > now_ns:
                break
            last = row
        if last is not None:
            state.set_book(token_id, last[1], last[2], last[0])
    for market in markets:
        if market.start_ns <= now_ns < market.end_ns:
            trading = market
            for n, token in enumerate(market.tokens):
                book = state.book(token.token_id)
                if book is None or book.best_bid() is None:
                    continue
                order = VenueOrder(
                    client_order_id=f"bench-{market.market_id}-{n}",
                    intent_id=f"bench-i-{market.market_id}-{n}",
                    token_id=token.token_id,
                    market_id=market.market_id,
                    side=Side.BUY,
                    price=book.best_bid() or 10_000,
                    size=20_000_000,
                    post_only=True,
                    status=OrderStatus.ACCEPTED,
                )
                state.add_order(order)
    state.ledger.peak_equity = state.equity
    return state, trading


def run(quick: bool = False) -> dict[str, Any]:
    markets, books = _load()
    first = min(m.start_ns for m in markets)
    last = max(m.end_ns for m in markets)
    step = (last - first) // (40 if quick else 160)
    cases: list[tuple[DeskState, OrderIntent]] = []
    for k in range(1, (40 if quick else 160)):
        now = first + k * step
        state, market = _state_at(now, markets, books)
        if market is None:
            continue
        for token in market.tokens:
            book = state.book(token.token_id)
            if book is None or book.best_bid() is None:
                continue
            cases.append(
                (
                    state,
                    OrderIntent(
                        intent_id=f"bench-{k}-{token.token_id}",
                        bot_id="strat.maker_tight",
                        token_id=token.token_id,
                        market_id=market.market_id,
                        side=Side.BUY,
                        price=book.best_bid() or 10_000,
                        size=10_000_000,
                        post_only=True,
                        builder_code=DESK_BUILDER_CODE,
                        ts_created_ns=now,
                    ),
                )
            )
    guards = [cls() for cls in GUARDS]
    repeats = 20 if quick else 200
    per_guard: list[list[int]] = [[] for _ in guards]
    totals: list[int] = []
    approved_by_all = 0
    for state, intent in cases:  # warm-up, and how far each intent gets
        if all(g.decide(intent, state).verdict.value != "REJECT" for g in guards):
            approved_by_all += 1
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collector pause is not the guards' latency
    try:
        timed(repeats, cases, guards, per_guard, totals)
    finally:
        if gc_was_enabled:
            gc.enable()
    per_intent = [totals[i :: len(cases)] for i in range(len(cases))]
    medians = [int(statistics.median(samples)) for samples in per_intent]
    figures: dict[str, Any] = {
        "states": len({id(s) for s, _ in cases}),
        "intents": len(cases),
        "intents_passing_all_seven": approved_by_all,
        "calls_timed": len(totals) * len(guards),
        "chain_p50_us": round(_pct(totals, 50) / 1_000, 2),
        "chain_p99_us": round(_pct(totals, 99) / 1_000, 2),
        "chain_mean_us": round(statistics.fmean(totals) / 1_000, 2),
        # per intent, the median of its repetitions (filters scheduler preemption on a busy
        # machine), then percentiles over the intents
        "chain_p50_us_intent_median": round(_pct(medians, 50) / 1_000, 2),
        "chain_p99_us_intent_median": round(_pct(medians, 99) / 1_000, 2),
        "chain_max_us_intent_median": round(max(medians) / 1_000, 2),
    }
    for guard, samples in zip(guards, per_guard, strict=True):
        name = guard.bot_id.removeprefix("risk.")
        figures[f"{name}_p50_us"] = round(_pct(samples, 50) / 1_000, 2)
        figures[f"{name}_p99_us"] = round(_pct(samples, 99) / 1_000, 2)
    return figures


def timed(
    repeats: int,
    cases: list[tuple[DeskState, OrderIntent]],
    guards: list[Any],
    per_guard: list[list[int]],
    totals: list[int],
) -> None:
    """Time every guard on every case ``repeats`` times (appends to the lists)."""
    clock = time.perf_counter_ns
    for _ in range(repeats):
        for state, intent in cases:
            total = 0
            for index, guard in enumerate(guards):
                start = clock()
                guard.decide(intent, state)
                elapsed = clock() - start
                per_guard[index].append(elapsed)
                total += elapsed
            totals.append(total)


def _pct(samples: list[int], pct: int) -> float:
    ordered = sorted(samples)
    return float(ordered[min(len(ordered) - 1, (len(ordered) * pct) // 100)])
