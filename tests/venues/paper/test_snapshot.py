"""The paper venue's reconciliation snapshot comes from memory: the orders that reached it and
are open, every fill it made, the ledger's holdings; reading it changes nothing, and it agrees
with records built from the venue's own events (zero drift)."""

from __future__ import annotations

import msgspec

from polytraders.model.events import OrderAccepted
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderStatus, Side
from polytraders.venues.drift import compare, records_of
from polytraders.venues.paper import PaperVenue
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import FillReport
from tests.venues.paper.support import (
    MS,
    NO,
    RUN,
    SH,
    YES,
    binary_market,
    make_venue,
    order,
    snapshot,
)

T0 = 1_767_225_600_000_000_000


def test_the_snapshot_lists_open_orders_fills_and_holdings_and_changes_nothing() -> None:
    venue = make_venue(holdings={NO: 3 * SH})
    venue.on_market_event(snapshot(T0, bids=[(440_000, 100)], asks=[(450_000, 4)]))
    taker = order(Side.BUY, 450_000, 6 * SH)  # takes the 4 shares, rests 2
    resting = order(Side.BUY, 430_000, 5 * SH)
    for each in (taker, resting):
        venue.submit(each, T0)
    venue.advance(T0 + venue.config.order_latency_ms * MS)
    travelling = order(Side.BUY, 420_000, 5 * SH)
    venue.submit(travelling, T0 + venue.config.order_latency_ms * MS)
    now = T0 + venue.config.order_latency_ms * MS + 1
    snap = venue.reconciliation_snapshot(now)
    assert venue.reconciliation_snapshot(now) == snap  # read-only
    events = venue.poll()
    fills = [e for e in events if isinstance(e, Fill)]
    accepted = {e.client_order_id: e.venue_order_id for e in events if isinstance(e, OrderAccepted)}
    assert snap.venue == "paper" and snap.ts_ns == now
    assert [(r.client_order_id, r.filled_size, r.status) for r in snap.orders] == [
        (taker.client_order_id, 4 * SH, OrderStatus.PARTIALLY_FILLED),
        (resting.client_order_id, 0, OrderStatus.ACCEPTED),
    ]  # the travelling order has not reached the venue
    assert all(r.venue_order_id == accepted[r.client_order_id] for r in snap.orders)
    assert snap.fills == tuple(FillReport.of(f) for f in fills)
    assert sum(f.size for f in snap.fills) == 4 * SH
    assert {p.token_id: p.size for p in snap.positions} == {YES: 4 * SH, NO: 3 * SH}
    assert [p.token_id for p in snap.positions] == sorted([YES, NO])


def test_records_built_from_the_venues_events_agree_with_its_snapshot() -> None:
    venue = make_venue()
    venue.on_market_event(snapshot(T0, bids=[(440_000, 100)], asks=[(450_000, 3), (460_000, 50)]))
    orders = [order(Side.BUY, 460_000, 8 * SH), order(Side.BUY, 400_000, 5 * SH)]
    for each in orders:
        venue.submit(each, T0)
    venue.advance(T0 + venue.config.order_latency_ms * MS)
    fills = [e for e in venue.poll() if isinstance(e, Fill)]
    desk_orders = []  # as the desk's order manager keeps them from the events
    for each in orders:
        filled = sum(f.size for f in fills if f.client_order_id == each.client_order_id)
        status = OrderStatus.FILLED if filled == each.size else OrderStatus.ACCEPTED
        desk_orders.append(msgspec.structs.replace(each, filled_size=filled, status=status))
    assert [o.status for o in desk_orders] == [OrderStatus.FILLED, OrderStatus.ACCEPTED]
    held_yes = sum(f.size * f.side.sign for f in fills)
    result = compare(
        venue.reconciliation_snapshot(T0 + 10 * MS),
        records_of(desk_orders, [f.fill_id for f in fills], {YES: held_yes}),
        ReconciliationConfig(),
    )
    assert result.level is DriftLevel.OK
    assert (result.order_drift_micros, result.position_drift_micros) == (0, 0)
    assert result.differences.unbooked_fills == () and result.differences.orders == ()


def test_a_venue_without_fill_reports_fills_alike_and_keeps_none() -> None:
    """A fill-bound shadow (``BoundVenues``) is never reconciled: it answers the same fills
    and keeps no report of them."""
    answers = []
    for keep in (True, False):
        venue = make_venue()
        if not keep:
            venue = PaperVenue(venue.config, [binary_market()], RUN, fill_reports=False)
        venue.on_market_event(snapshot(T0, bids=[(440_000, 100)], asks=[(450_000, 8)]))
        venue.submit(order(Side.BUY, 450_000, 6 * SH, cid="o1"), T0)
        venue.advance(T0 + venue.config.order_latency_ms * MS)
        answers.append([e for e in venue.poll() if isinstance(e, Fill)])
        assert bool(venue.reconciliation_snapshot(T0 + MS).fills) is keep
    assert answers[0] == answers[1] and answers[0]
