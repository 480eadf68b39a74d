"""A desk killed with an order in flight (handed to the venue, its answer not yet back): the
store holds the desk's copy without the venue's order hash. At the restart the order is found
at the venue by the hash it was signed with (recomputed offline), so it is the desk's own
order — not an orphan cancelled — and its fill while the desk was down is booked once.
Found by the chaos suite's ``crash_restart`` scenario (``docs/chaos.md``)."""

from __future__ import annotations

import time

import msgspec

from polytraders.model.orders import OrderStatus, Side, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer
from polytraders.venues.polymarket.reconcile import reconcile
from polytraders.venues.reconciliation import DriftLevel, OrphanPolicy, ReconciliationConfig
from tests.venues.polymarket.conftest import top
from tests.venues.polymarket.test_reconcile import fresh_venue


def test_an_order_stored_without_its_hash_is_matched_at_the_restart(
    sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    sim.control("clear")
    token = sorted(sim.exchange.tokens)[0]
    first = fresh_venue(sim, signer_key, sim_account)
    reconcile(
        first,
        store_orders=[],
        known_fill_ids=[],
        store_positions=None,
        config=ReconciliationConfig(),
        now_ns=time.time_ns(),
    )
    bid, _ = top(first, token)
    sent = VenueOrder(
        client_order_id="inflight:0",
        intent_id="inflight",
        token_id=token,
        side=Side.BUY,
        price=bid - 10_000,
        size=5_000_000,
        ts_created_ns=time.time_ns(),
    )
    first.submit(sent, time.time_ns())
    first.flush(time.time_ns())
    venue_copy = first.order("inflight:0")
    assert venue_copy is not None and venue_copy.status is OrderStatus.ACCEPTED
    order_hash = venue_copy.venue_order_id
    first.close()  # killed: the desk never saw the answer
    # the desk's copy as its checkpoint recorded it: pending, no venue id
    stored = msgspec.structs.replace(sent, venue_order_id="", status=OrderStatus.PENDING_NEW)
    restarted = fresh_venue(sim, signer_key, sim_account)
    try:
        report = reconcile(
            restarted,
            store_orders=[stored],
            known_fill_ids=[],
            store_positions={},
            config=ReconciliationConfig(orphan_policy=OrphanPolicy.CANCEL),
            now_ns=time.time_ns(),
        )
        assert report.open_known == ["inflight:0"]
        assert report.orphans_canceled == [] and report.orphans_adopted == []
        assert report.comparison.level is DriftLevel.OK
        mine = restarted.order("inflight:0")
        assert mine is not None
        assert (mine.venue_order_id, mine.status) == (order_hash, OrderStatus.ACCEPTED)
        assert order_hash.lower() in {
            o["id"].lower() for o in sim.sim_orders() if o["status"] == "LIVE"
        }
    finally:
        restarted.cancel_all(time.time_ns())
        restarted.close()


def test_an_order_that_never_left_is_closed_at_the_restart(
    sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    """The same record for an order the venue never received: it closes CANCELED, nothing
    is sent for it."""
    sim.control("clear")
    token = sorted(sim.exchange.tokens)[0]
    venue = fresh_venue(sim, signer_key, sim_account)
    bid, _ = top(venue, token)
    posted = sim.sim_state()["orders_total"]
    never_sent = VenueOrder(
        client_order_id="inflight:1",
        intent_id="inflight-1",
        token_id=token,
        side=Side.BUY,
        price=bid - 10_000,
        size=5_000_000,
        ts_created_ns=time.time_ns(),
    )
    try:
        report = reconcile(
            venue,
            store_orders=[never_sent],
            known_fill_ids=[],
            store_positions={},
            config=ReconciliationConfig(),
            now_ns=time.time_ns(),
        )
        assert report.closed == {"inflight:1": OrderStatus.CANCELED}
        assert report.open_known == [] and report.orphans_canceled == []
        assert sim.sim_state()["orders_total"] == posted
    finally:
        venue.close()
