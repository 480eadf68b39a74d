"""Builders shared by the paper-venue tests: a binary market, a venue, orders and book events.

Units as everywhere: prices and sizes in micro-units (``SH`` = one share in micro-shares,
``px(0.45)`` style helpers are avoided: prices are written as integers, 450_000 = 0.45).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polytraders.model.events import BookDelta, BookSnapshot
from polytraders.model.fills import Fill
from polytraders.model.market import Market, MarketState, OutcomeToken
from polytraders.model.orders import Side, TimeInForce, VenueOrder
from polytraders.venues.base import VenueEvent
from polytraders.venues.paper import PaperVenue, PaperVenueConfig

SH = 1_000_000
"""One share in micro-shares."""
MS = 1_000_000
"""One millisecond in ns."""
YES = "tok-yes"
NO = "tok-no"
MARKET = "mkt-1"
RUN = "run-test"


def binary_market(
    *,
    category: str = "crypto",
    tick_size: int = 10_000,
    min_order_size: int = 5 * SH,
    state: MarketState = MarketState.ACTIVE,
) -> Market:
    """A YES/NO market ``mkt-1`` with tokens ``tok-yes`` and ``tok-no``."""
    return Market(
        market_id=MARKET,
        category=category,
        state=state,
        tokens=(
            OutcomeToken(
                token_id=YES,
                market_id=MARKET,
                outcome="Yes",
                complement_token_id=NO,
                tick_size=tick_size,
                min_order_size=min_order_size,
            ),
            OutcomeToken(
                token_id=NO,
                market_id=MARKET,
                outcome="No",
                complement_token_id=YES,
                tick_size=tick_size,
                min_order_size=min_order_size,
            ),
        ),
    )


def make_venue(
    market: Market | None = None,
    holdings: Mapping[str, int] | None = None,
    **config: Any,
) -> PaperVenue:
    """A paper venue on :func:`binary_market` with the given config overrides; the response
    latency is 0 unless given (answers reach the test at once: the rule tests that are not
    about delivery read them right after the action)."""
    config.setdefault("response_latency_ms", 0)
    return PaperVenue(
        PaperVenueConfig(**config), [market or binary_market()], RUN, starting_holdings=holdings
    )


_ORDER_SEQ = [0]


def order(
    side: Side,
    price: int,
    size: int = 0,
    *,
    tif: TimeInForce = TimeInForce.GTC,
    cid: str | None = None,
    token: str = YES,
    notional: int = 0,
    post_only: bool = False,
    expire_at_ns: int = 0,
) -> VenueOrder:
    """A venue order with a fresh client order id unless ``cid`` is given."""
    _ORDER_SEQ[0] += 1
    cid = cid or f"{RUN}/o{_ORDER_SEQ[0]}"
    return VenueOrder(
        client_order_id=cid,
        intent_id=f"{RUN}/i{_ORDER_SEQ[0]}",
        token_id=token,
        market_id=MARKET,
        side=side,
        price=price,
        size=size,
        notional=notional,
        time_in_force=tif,
        post_only=post_only,
        expire_at_ns=expire_at_ns,
    )


def snapshot(
    ts_ns: int,
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    token: str = YES,
) -> BookSnapshot:
    """A book snapshot; levels (price, shares) are given in whole shares for readability."""
    return BookSnapshot(
        ts_event_ns=ts_ns,
        token_id=token,
        bids=[(p, s * SH) for p, s in bids],
        asks=[(p, s * SH) for p, s in asks],
    )


def delta(
    ts_ns: int,
    bids: Sequence[tuple[int, int]] = (),
    asks: Sequence[tuple[int, int]] = (),
    token: str = YES,
) -> BookDelta:
    """A book delta; sizes (new totals) in whole shares."""
    return BookDelta(
        ts_event_ns=ts_ns,
        token_id=token,
        bids=[(p, s * SH) for p, s in bids],
        asks=[(p, s * SH) for p, s in asks],
    )


def submit_and_arrive(venue: PaperVenue, venue_order: VenueOrder, now_ns: int) -> list[VenueEvent]:
    """Submit at ``now_ns``, advance past the order latency, return the events."""
    venue.submit(venue_order, now_ns)
    venue.advance(now_ns + venue.config.order_latency_ms * MS)
    events: list[VenueEvent] = venue.poll()
    return events


def fills_of(events: Sequence[object]) -> list[Fill]:
    """The fills among venue events."""
    return [e for e in events if isinstance(e, Fill)]
