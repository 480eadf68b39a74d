"""Paper-venue benchmark on the real Polymarket sample.

Three figures, each the best of several repetitions on one core, events held in memory (the
feed's own cost is excluded):

1. ``baseline_market_events_per_s``: every event of the sample fed to a paper venue with no
   orders (book upkeep only).
2. ``quoting_market_events_per_s``: the same events with a two-sided quoting loop (per token,
   every 5 s of event time: cancel, then a post-only bid at the best bid, an ask for the shares
   held, and every fourth cycle a FAK at the best ask), so resting orders sit in the queue and
   are matched on every book update; ``venue.advance`` and ``venue.poll`` after each event.
   ``quoting_fills_per_s`` = fills of that run / its time.
3. ``taker_fills_per_s``: FAK orders that each walk three ask levels of a standing book
   (latency 0), the levels re-shown between orders so the consumed liquidity is renewed.
"""

from __future__ import annotations

import time
from collections import defaultdict

from bench.data import POLYMARKET_SAMPLE
from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.fills import Fill
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenue, PaperVenueConfig

DESCRIPTION = "paper venue: market events/s with resting orders, fills/s (real Polymarket data)"

QUOTE_EVERY_NS = 5_000_000_000
SHARES = 5_000_000


def _baseline(markets: list[Market], events: list[AnyEvent]) -> float:
    venue = PaperVenue(PaperVenueConfig(), markets, "run-bench")
    started = time.perf_counter()
    for event in events:
        venue.on_market_event(event)
        venue.advance(event.ts_event_ns)
        venue.poll()
    return time.perf_counter() - started


def _quoting(markets: list[Market], events: list[AnyEvent]) -> tuple[float, int, int, float]:
    """Returns (seconds, fills, orders, mean resting orders per event)."""
    venue = PaperVenue(PaperVenueConfig(), markets, "run-bench")
    tick = {t.token_id: t.tick_size for m in markets for t in m.tokens}
    market_of = {t.token_id: t.market_id for m in markets for t in m.tokens}
    next_quote: dict[str, int] = defaultdict(int)
    cycles: dict[str, int] = defaultdict(int)
    fills = orders = resting_sum = 0
    started = time.perf_counter()
    for event in events:
        now = event.ts_event_ns
        venue.on_market_event(event)
        venue.advance(now)
        for produced in venue.poll():
            if isinstance(produced, Fill):
                fills += 1
        resting_sum += venue.open_order_count
        if not isinstance(event, BookDelta | BookSnapshot):
            continue
        token_id = event.token_id
        if now < next_quote[token_id] or not venue.accepting_orders(market_of[token_id]):
            continue
        next_quote[token_id] = now + QUOTE_EVERY_NS
        cycles[token_id] += 1
        for open_order in venue.open_orders():
            if open_order.token_id == token_id:
                venue.cancel(open_order.client_order_id, now)
        book = venue.book(token_id)
        bid, ask = book.best_bid(), book.best_ask()
        plan: list[tuple[Side, int, TimeInForce]] = []
        if bid is not None and bid >= tick[token_id]:
            plan.append((Side.BUY, bid, TimeInForce.GTC))
        if ask is not None and venue.ledger.free_tokens(token_id) >= SHARES:
            plan.append((Side.SELL, ask, TimeInForce.GTC))
        if ask is not None and cycles[token_id] % 4 == 0:
            plan.append((Side.BUY, ask, TimeInForce.FAK))
        for side, price, tif in plan:
            orders += 1
            venue.submit(
                VenueOrder(
                    client_order_id=f"run-bench/o{orders}",
                    intent_id=f"run-bench/i{orders}",
                    token_id=token_id,
                    market_id=market_of[token_id],
                    side=side,
                    price=price,
                    size=SHARES,
                    time_in_force=tif,
                    post_only=tif is TimeInForce.GTC and side is Side.BUY,
                ),
                now,
            )
    return time.perf_counter() - started, fills, orders, resting_sum / len(events)


def _taker(orders: int) -> tuple[float, int]:
    token = OutcomeToken(token_id="y", market_id="m", outcome="Yes", complement_token_id="n")
    market = Market(
        market_id="m",
        category="crypto",
        state=MarketState.ACTIVE,
        tokens=(
            token,
            OutcomeToken(token_id="n", market_id="m", outcome="No", complement_token_id="y"),
        ),
    )
    config = PaperVenueConfig(
        order_latency_ms=0, response_latency_ms=0, starting_cash_micros=10**15
    )
    venue = PaperVenue(config, [market], "run-bench")
    asks = [(450_000, 10_000_000), (460_000, 10_000_000), (470_000, 10_000_000)]
    venue.on_market_event(
        BookSnapshot(ts_event_ns=0, token_id="y", bids=[(400_000, 10**9)], asks=asks)
    )
    fills = 0
    started = time.perf_counter()
    for n in range(1, orders + 1):
        now = n * 1_000
        venue.on_market_event(
            BookDelta(ts_event_ns=now, token_id="y", bids=[], asks=[(p, 0) for p, _ in asks])
        )
        venue.on_market_event(BookDelta(ts_event_ns=now, token_id="y", bids=[], asks=asks))
        venue.submit(
            VenueOrder(
                client_order_id=f"t{n}",
                intent_id=f"i{n}",
                token_id="y",
                side=Side.BUY,
                price=470_000,
                size=30_000_000,
                time_in_force=TimeInForce.FAK,
            ),
            now,
        )
        venue.advance(now)
        fills += sum(1 for e in venue.poll() if isinstance(e, Fill))
    return time.perf_counter() - started, fills


def run(quick: bool = False) -> dict[str, float | int | str]:
    source = open_source(POLYMARKET_SAMPLE)
    markets = source.markets
    events = list(source.events())
    repeats = 1 if quick else 3
    baseline_s = min(_baseline(markets, events) for _ in range(repeats))
    quoting = [_quoting(markets, events) for _ in range(repeats)]
    quoting_s, fills, orders, resting = min(quoting)
    taker_orders = 2_000 if quick else 20_000
    taker_s, taker_fills = min(_taker(taker_orders) for _ in range(repeats))
    return {
        "market_events": len(events),
        "baseline_market_events_per_s": len(events) / baseline_s,
        "quoting_market_events_per_s": len(events) / quoting_s,
        "quoting_orders": orders,
        "quoting_mean_open_orders": round(resting, 2),
        "quoting_fills": fills,
        "quoting_fills_per_s": fills / quoting_s,
        "taker_orders": taker_orders,
        "taker_fills": taker_fills,
        "taker_fills_per_s": taker_fills / taker_s,
    }
