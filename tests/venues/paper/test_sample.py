"""The paper venue under a simple two-sided quoting loop on the real Polymarket sample
(``data/samples/polymarket/resolvedkit_btc15m``: 12 BTC 15-minute markets, L2 snapshots only,
read through :func:`polytraders.feeds.open_source`).

The loop, per token, every ``QUOTE_EVERY_S`` of event time: cancel its open orders, then bid
5 shares at the best bid (post-only GTC), offer the shares it holds (up to 5) at the best ask,
and every fourth cycle take 5 shares at the best ask with a FAK. Checked on every event:
maker fills never exceed the book's decreases plus the liquidity it shows; consumed liquidity
never exceeds what the level showed; exact money conservation (fills, and the payouts of the
12 resolutions); no negative balance; no order overfilled; and a second run gives
byte-identical venue events.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest

from polytraders.feeds import open_source
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot, MarketStatus
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, MarketState
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.paper import PaperVenue, PaperVenueConfig

QUOTE_EVERY_S = 5
SHARES = 5_000_000
RUN = "run-sample"


@pytest.fixture(scope="module")
def sample(polymarket_sample: Path) -> tuple[list[Market], list[AnyEvent]]:
    source = open_source(polymarket_sample)
    return source.markets, list(source.events())


def quote_run(markets: list[Market], events: list[AnyEvent]) -> dict[str, object]:
    """Run the quoting loop; return the venue events, the orders and the problems found."""
    # answers at once: each event's maker fills are checked against that event
    venue = PaperVenue(PaperVenueConfig(response_latency_ms=0), markets, RUN)
    tick = {t.token_id: t.tick_size for m in markets for t in m.tokens}
    out: list[object] = []
    submitted: dict[str, VenueOrder] = {}
    problems: list[str] = []
    next_quote_ns: dict[str, int] = defaultdict(int)
    cycles: dict[str, int] = defaultdict(int)
    sequence = 0
    epoch_max: dict[tuple[str, Side, int], int] = {}

    def send(token: str, market: str, side: Side, price: int, tif: TimeInForce, now: int) -> None:
        nonlocal sequence
        sequence += 1
        order = VenueOrder(
            client_order_id=f"{RUN}/o{sequence}",
            intent_id=f"{RUN}/i{sequence}",
            token_id=token,
            market_id=market,
            side=side,
            price=price,
            size=SHARES,
            time_in_force=tif,
            post_only=tif is TimeInForce.GTC and side is Side.BUY,
        )
        submitted[order.client_order_id] = order
        venue.submit(order, now)

    for event in events:
        now = event.ts_event_ns
        old: dict[tuple[Side, int], int] = {}
        token_id = getattr(event, "token_id", "")
        if isinstance(event, BookDelta | BookSnapshot):
            book = venue.book(token_id)
            if isinstance(event, BookDelta):
                keys = [(Side.BUY, p) for p, _ in event.bids] + [
                    (Side.SELL, p) for p, _ in event.asks
                ]
            else:
                keys = [(Side.BUY, p) for p, _ in book.bids()] + [
                    (Side.SELL, p) for p, _ in book.asks()
                ]
            old = {key: book.size_at(*key) for key in keys}
        venue.on_market_event(event)
        venue.advance(now)
        produced = venue.poll()
        out.extend(produced)
        maker = sum(
            f.size for f in produced if isinstance(f, Fill) and f.liquidity is LiquiditySide.MAKER
        )
        if isinstance(event, BookDelta | BookSnapshot):
            book = venue.book(token_id)
            drops = sum(max(0, size - book.size_at(*key)) for key, size in old.items())
            shown = sum(s for _, s in book.bids()) + sum(s for _, s in book.asks())
            if maker > drops + shown:
                problems.append(f"{now}: maker fills {maker} > drops {drops} + shown {shown}")
            for key, size in old.items():
                if size and not book.size_at(*key):
                    epoch_max.pop((token_id, *key), None)
            for side, levels in ((Side.BUY, book.bids()), (Side.SELL, book.asks())):
                for price, size in levels:
                    ekey = (token_id, side, price)
                    epoch_max[ekey] = max(epoch_max.get(ekey, 0), size)
            for side, price, taken in venue.consumed(token_id):
                if taken > epoch_max.get((token_id, side, price), 0):
                    problems.append(f"{now}: consumed {taken} at {price} > shown")
        elif maker:
            problems.append(f"{now}: maker fill on {type(event).__name__}")
        problems.extend(venue.ledger.conservation_problems())
        if not isinstance(event, BookDelta | BookSnapshot) or now < next_quote_ns[token_id]:
            continue
        if not venue.accepting_orders(event.token_id.rsplit(":", 1)[0]):
            continue
        next_quote_ns[token_id] = now + QUOTE_EVERY_S * 1_000_000_000
        cycles[token_id] += 1
        book = venue.book(token_id)
        for open_order in venue.open_orders():
            if open_order.token_id == token_id:
                venue.cancel(open_order.client_order_id, now)
        market = token_id.rsplit(":", 1)[0]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and bid >= tick[token_id]:
            send(token_id, market, Side.BUY, bid, TimeInForce.GTC, now)
        if ask is not None and venue.balances().get(token_id, 0) >= SHARES:
            send(token_id, market, Side.SELL, ask, TimeInForce.GTC, now)
        if ask is not None and cycles[token_id] % 4 == 0 and ask <= 1_000_000 - tick[token_id]:
            send(token_id, market, Side.BUY, ask, TimeInForce.FAK, now)
    venue.cancel_all(events[-1].ts_event_ns)
    venue.advance(events[-1].ts_event_ns + 10**12)
    out.extend(venue.poll())
    return {"venue": venue, "events": out, "submitted": submitted, "problems": problems}


@pytest.mark.slow
def test_quoting_loop_on_the_real_sample_keeps_every_invariant(
    sample: tuple[list[Market], list[AnyEvent]],
) -> None:
    markets, events = sample
    assert any(isinstance(e, MarketStatus) for e in events)
    result = quote_run(markets, events)
    venue = result["venue"]
    assert isinstance(venue, PaperVenue)
    assert result["problems"] == []
    fills = [e for e in result["events"] if isinstance(e, Fill)]  # type: ignore[attr-defined]
    submitted = result["submitted"]
    assert isinstance(submitted, dict)
    # the loop trades both ways on real data
    assert any(f.liquidity is LiquiditySide.MAKER for f in fills)
    assert any(f.liquidity is LiquiditySide.TAKER for f in fills)
    assert any(f.side is Side.SELL for f in fills)
    per_order: dict[str, int] = defaultdict(int)
    for fill in fills:
        per_order[fill.client_order_id] += fill.size
    assert all(size <= submitted[cid].size for cid, size in per_order.items())
    # exact money conservation against the fills and the resolutions (rule 11: the winning
    # token redeems 1 pUSD per share; a market's fills all come before its resolution)
    buys = sum(f.notional for f in fills if f.side is Side.BUY)
    sells = sum(f.notional for f in fills if f.side is Side.SELL)
    fees = sum(f.fee for f in fills)
    resolutions = [
        e
        for e in events
        if isinstance(e, MarketStatus) and e.state is MarketState.RESOLVED and e.winning_token_id
    ]
    assert len(resolutions) == len(markets)
    tokens_of = {m.market_id: [t.token_id for t in m.tokens] for m in markets}
    held: dict[str, int] = defaultdict(int)
    payouts = 0

    def resolve(status: MarketStatus) -> None:
        nonlocal payouts
        payouts += held[status.winning_token_id]
        for token_id in tokens_of[status.market_id]:
            held[token_id] = 0

    pending = iter(resolutions)
    due = next(pending, None)
    for fill in fills:
        while due is not None and due.ts_event_ns < fill.ts_event_ns:
            resolve(due)
            due = next(pending, None)
        held[fill.token_id] += fill.size if fill.side is Side.BUY else -fill.size
    while due is not None:
        resolve(due)
        due = next(pending, None)
    assert payouts > 0
    assert venue.ledger.payouts == payouts
    start = PaperVenueConfig().starting_cash_micros
    assert venue.ledger.cash == start + sells - buys - fees + payouts
    for token_id, size in held.items():
        assert venue.ledger.holdings(token_id) == size == 0  # every market resolved
    assert venue.ledger.reserved_cash == 0
    assert all(amount >= 0 for amount in venue.balances().values())
    # determinism: a second run gives the same bytes
    again = quote_run(markets, events)
    digest = hashlib.sha256(msgspec.json.encode(result["events"])).hexdigest()
    assert hashlib.sha256(msgspec.json.encode(again["events"])).hexdigest() == digest
