"""The paper venue and the desk's ledger agree (issue 10, item 8), property-tested.

A random sequence of book snapshots, public trades, orders (both tokens, both sides, every time
in force, sells of part of what is held), cancels, closes, reopenings and resolutions over
three markets, then a resolution of every market, drives the real
:class:`~polytraders.venues.paper.PaperVenue`; every fill it reports is booked
in the real :class:`~polytraders.accounting.ledger.Ledger`, and every resolution with a winning
token is settled there, in the desk's order (``Desk`` step 1: the venue's earlier events are
booked first, then the ledger settles the event and the venue receives it). After every step:

- venue cash == ledger cash, to the micro-unit;
- venue holdings of every token == the ledger's position in it (0 once its market resolved);
- both keep their own conservation identities (venue rules 6.5, ledger reconciliation).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from polytraders.accounting.ledger import Ledger
from polytraders.model.events import BookSnapshot, MarketStatus, Trade
from polytraders.model.fills import Fill
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.money import ONE
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.paper import QUEUE_MODELS, PaperVenue, PaperVenueConfig
from tests.venues.paper.support import MS, SH

RUN = "run-agree"
CENT = 10_000
MARKET_COUNT = 3


def _market(index: int) -> Market:
    market_id = f"m{index}"
    yes, no = f"{market_id}:Y", f"{market_id}:N"
    return Market(
        market_id=market_id,
        category="crypto",
        tokens=tuple(
            OutcomeToken(
                token_id=token_id,
                market_id=market_id,
                outcome=outcome,
                complement_token_id=other,
                tick_size=CENT,
                min_order_size=5 * SH,
            )
            for token_id, outcome, other in ((yes, "Yes", no), (no, "No", yes))
        ),
    )


MARKETS = [_market(i) for i in range(MARKET_COUNT)]
TOKENS = [t.token_id for m in MARKETS for t in m.tokens]

market_index = st.integers(0, MARKET_COUNT - 1)
token_index = st.integers(0, 1)
cents = st.integers(30, 70)
shares = st.integers(1, 40).map(lambda s: s * SH)

books = st.tuples(
    st.just("book"), market_index, token_index, cents, st.integers(1, 3), shares, shares
)
trades = st.tuples(
    st.just("trade"),
    market_index,
    token_index,
    cents,
    shares,
    st.sampled_from([Side.BUY, Side.SELL, None]),
)
orders = st.tuples(
    st.just("order"),
    market_index,
    token_index,
    st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
    st.integers(-2, 2),  # cents beyond the touch it would take (BUY: best ask, SELL: best bid)
    st.integers(5, 30).map(lambda s: s * SH),
    st.sampled_from(list(TimeInForce)),
    st.booleans(),  # post-only (kept for GTC/GTD only)
    st.sampled_from([0, 50, 100]),  # SELL: % of the free holdings instead of a fixed size
)
cancels = st.tuples(st.just("cancel"), st.integers(0, 50))
statuses = st.tuples(
    st.just("status"),
    market_index,
    st.sampled_from([MarketState.ACTIVE, MarketState.CLOSED, MarketState.RESOLVED]),
    st.sampled_from([0, 1, None]),  # winning token index (RESOLVED only); None = not given
)
steps = st.lists(
    st.tuples(
        st.sampled_from([0, 50, 250, 1_000]),
        st.one_of(books, books, books, trades, trades, *[orders] * 6, cancels, statuses),
    ),
    min_size=20,
    max_size=100,
)
opening_books = st.tuples(*[st.tuples(cents, st.integers(1, 3), shares, shares)] * len(TOKENS))
"""(bid cents, spread cents, bid size, ask size) of every token's first book."""
final_winners = st.tuples(*[st.sampled_from([0, 1, None])] * MARKET_COUNT)
"""After the plan every market resolves (winning token index; None = no winner given)."""


def configs(queue_model: str) -> st.SearchStrategy[PaperVenueConfig]:
    """Venue configs with ``queue_model``; answers are delivered at once (response latency 0:
    the comparison is after every step, and the desk books a fill only when it arrives)."""
    return st.builds(
        PaperVenueConfig,
        queue_model=st.just(queue_model),
        order_latency_ms=st.sampled_from([0, 250]),
        cancel_latency_ms=st.sampled_from([0, 250]),
        response_latency_ms=st.just(0),
        complement_fills=st.booleans(),
        starting_cash_micros=st.sampled_from([20 * ONE, 200 * ONE, 1_000 * ONE]),
    )


def _token(m: int, t: int) -> OutcomeToken:
    return MARKETS[m].tokens[t]


def _check(venue: PaperVenue, ledger: Ledger, step: int) -> None:
    assert venue.ledger.cash == ledger.cash, f"step {step}: cash"
    for token_id in TOKENS:
        assert venue.ledger.holdings(token_id) == ledger.size(token_id), f"step {step}: {token_id}"
    assert venue.ledger.conservation_problems() == [], f"step {step}"
    assert ledger.reconciliation_error() == 0, f"step {step}"


@pytest.mark.parametrize("queue_model", QUEUE_MODELS)
@settings(max_examples=100, deadline=None)
@given(data=st.data(), opening=opening_books, plan=steps, winners=final_winners)
def test_venue_cash_and_holdings_equal_the_ledger_after_every_step(
    queue_model: str,
    data: st.DataObject,
    opening: tuple[tuple[int, int, int, int], ...],
    plan: list[tuple[int, tuple[Any, ...]]],
    winners: tuple[int | None, ...],
) -> None:
    config = data.draw(configs(queue_model))
    venue = PaperVenue(config, MARKETS, RUN)
    ledger = Ledger(config.starting_cash_micros)
    for market in MARKETS:
        ledger.register_market(market)
    sent: list[str] = []
    now = 0
    for token_id, (bid, spread, bid_size, ask_size) in zip(TOKENS, opening, strict=True):
        venue.on_market_event(
            BookSnapshot(
                ts_event_ns=now,
                token_id=token_id,
                bids=[(bid * CENT, bid_size)],
                asks=[((bid + spread) * CENT, ask_size)],
            )
        )

    def book_venue_events() -> None:
        for venue_event in venue.poll():
            if isinstance(venue_event, Fill):
                assert ledger.apply_fill(venue_event)

    finale = [(1_000, ("status", m, MarketState.RESOLVED, w)) for m, w in enumerate(winners)]
    for n, (dt_ms, step) in enumerate([*plan, *finale]):
        now += dt_ms * MS
        venue.advance(now)
        book_venue_events()  # the venue's earlier events first, as the desk does
        kind = step[0]
        if kind == "book":
            _, m, t, bid, spread, bid_size, ask_size = step
            venue.on_market_event(
                BookSnapshot(
                    ts_event_ns=now,
                    token_id=_token(m, t).token_id,
                    bids=[(bid * CENT, bid_size)],
                    asks=[((bid + spread) * CENT, ask_size)],
                )
            )
        elif kind == "trade":
            _, m, t, price, size, aggressor = step
            venue.on_market_event(
                Trade(
                    ts_event_ns=now,
                    token_id=_token(m, t).token_id,
                    price=price * CENT,
                    size=size,
                    aggressor=aggressor,
                )
            )
        elif kind == "order":
            _, m, t, side, offset, size, tif, post_only, held_pct = step
            token = _token(m, t)
            book = venue.book(token.token_id)
            touch = book.best_ask() if side is Side.BUY else book.best_bid()
            price = (touch if touch is not None else 50 * CENT) // CENT
            price = min(max(price + (offset if side is Side.BUY else -offset), 1), 99)
            if side is Side.SELL and held_pct:  # part of what is held: partial positions
                free = venue.ledger.free_tokens(token.token_id)
                size = max(5 * SH, free * held_pct // 100 // CENT * CENT)
            cid = f"{RUN}/o{n}"
            sent.append(cid)
            venue.submit(
                VenueOrder(
                    client_order_id=cid,
                    intent_id=f"{RUN}/i{n}",
                    token_id=token.token_id,
                    market_id=token.market_id,
                    side=side,
                    price=price * CENT,
                    size=size,
                    time_in_force=tif,
                    post_only=post_only and tif in (TimeInForce.GTC, TimeInForce.GTD),
                    expire_at_ns=now + 61_000 * MS if tif is TimeInForce.GTD else 0,
                ),
                now,
            )
        elif kind == "cancel":
            if sent:
                venue.cancel(sent[step[1] % len(sent)], now)
        else:
            _, m, state, winner = step
            market = MARKETS[m]
            winning = ""
            if state is MarketState.RESOLVED and winner is not None:
                winning = market.tokens[winner].token_id
            status = MarketStatus(
                ts_event_ns=now,
                market_id=market.market_id,
                state=state,
                accepting_orders=state is MarketState.ACTIVE,
                winning_token_id=winning,
            )
            if winning:  # the desk's ledger settles the event, then the venue gets it
                settled = ledger.settle(
                    market.market_id,
                    {t.token_id: ONE if t.token_id == winning else 0 for t in market.tokens},
                    now,
                )
                if any(s.payout_per_share for s in settled):
                    event("a resolution paid out")
                if len(settled) == 2:
                    event("a resolution settled both tokens")
            venue.on_market_event(status)
        venue.advance(now)
        book_venue_events()
        _check(venue, ledger, n)
    event(f"fills: {'some' if ledger.positions() else 'none'}")
