"""Decision latency of ``strat.maker_tight`` per book event and routing latency of
``exec.smartrouter`` per intent, replaying the real Polymarket sample.

Replay: every event of the shipped sample (``data/samples/polymarket/resolvedkit_btc15m``, 12
BTC 15-minute markets, tick 0.001 as their books show) is applied to one
:class:`~polytraders.desk.state.DeskState` (the desk's own state and books), then the strategy
decides on it; every intent it proposes is routed by the smart router, and the routed plan is
applied to the state's order table as the order manager would (cancelled orders removed, new
orders listed as ACCEPTED), so the strategy sees its own working quotes and the mix of places,
replaces, holds and stand-downs is the real one. No venue: nothing fills, so inventory stays
flat. Each ``decide`` is timed alone with ``perf_counter_ns`` with the cyclic garbage collector
paused (as ``timeit`` does); figures are per-call percentiles on one core. Other processes on
the machine show up in the p99.
"""

from __future__ import annotations

import gc
import statistics
import time

import msgspec

from bench.data import POLYMARKET_SAMPLE
from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.state import DeskState
from polytraders.feeds.parquet import ParquetSource
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.market import Market
from polytraders.model.orders import OrderStatus

DESCRIPTION = "strat.maker_tight per book event and exec.smartrouter per intent, real sample"

ACCOUNT = AccountIdentity(
    signer="0x" + "1" * 40,
    funder="0x" + "1" * 40,
    builder_code="0xb000000000000000000000000000000000000000000000000000000000003f7a",
)


def _load() -> tuple[list[Market], list[AnyEvent]]:
    source = ParquetSource(POLYMARKET_SAMPLE)
    markets = [
        msgspec.structs.replace(
            m, tokens=tuple(msgspec.structs.replace(t, tick_size=1_000) for t in m.tokens)
        )
        for m in source.markets
    ]
    return markets, list(source.events())


def _pct(values: list[int], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] / 1_000 if len(values) > 1 else 0.0


def _replay(markets: list[Market], events: list[AnyEvent]) -> tuple[list[int], list[int], int]:
    state = DeskState(account=ACCOUNT)
    for market in markets:
        state.add_market(market)
    bot, router = MakerTight(), SmartRouter()
    strategy_ns: list[int] = []
    router_ns: list[int] = []
    intents = 0
    clock = time.perf_counter_ns
    for event in events:
        if event.ts_event_ns > state.now_ns:
            state.set_time(event.ts_event_ns)
        state.apply_event(event)
        started = clock()
        proposal = bot.decide(event, state)
        elapsed = clock() - started
        if isinstance(event, BookSnapshot | BookDelta):
            strategy_ns.append(elapsed)
        for intent in proposal.intents:
            intents += 1
            started = clock()
            plan = router.decide(intent, state)
            router_ns.append(clock() - started)
            cancels = set(plan.cancel_client_order_ids)
            for order in state.open_orders():
                if order.intent_id == intent.target_intent_id:
                    cancels.add(order.client_order_id)
            for cid in sorted(cancels):
                state.order_closed(cid)
            for order in plan.orders:
                state.add_order(msgspec.structs.replace(order, status=OrderStatus.ACCEPTED))
    return strategy_ns, router_ns, intents


def run(quick: bool = False) -> dict[str, float | int | str]:
    markets, events = _load()
    repeats = 1 if quick else 3
    strategy_all: list[int] = []
    router_all: list[int] = []
    intents = 0
    gc.disable()
    try:
        for _ in range(repeats):
            strategy_ns, router_ns, intents = _replay(markets, events)
            strategy_all += strategy_ns
            router_all += router_ns
    finally:
        gc.enable()
    return {
        "events": len(events),
        "book_events": len(strategy_all) // repeats,
        "intents_routed": intents,
        "strategy_p50_us": round(_pct(strategy_all, 50), 2),
        "strategy_p99_us": round(_pct(strategy_all, 99), 2),
        "strategy_mean_us": round(statistics.fmean(strategy_all) / 1_000, 2),
        "router_p50_us": round(_pct(router_all, 50), 2),
        "router_p99_us": round(_pct(router_all, 99), 2),
        "router_mean_us": round(statistics.fmean(router_all) / 1_000, 2),
    }
