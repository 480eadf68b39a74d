"""A restart in the middle of open orders reconciles with the venue: no duplicate order, no
lost fill, orphans handled by policy, venue positions adopted, new orders blocked until done."""

from __future__ import annotations

import time

import msgspec

from polytraders.model.events import OrderAccepted, OrderRejected
from polytraders.model.fills import Fill
from polytraders.model.money import to_micros
from polytraders.model.orders import OrderStatus, Side, VenueOrder
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer
from polytraders.venues.polymarket.reconcile import reconcile
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from polytraders.venues.reconciliation import DriftLevel, OrphanPolicy, ReconciliationConfig
from tests.venues.polymarket.conftest import credentials_for

CANCEL = ReconciliationConfig(orphan_policy=OrphanPolicy.CANCEL)
ADOPT = ReconciliationConfig(orphan_policy=OrphanPolicy.ADOPT)


def fresh_venue(sim: SimClobServer, key: str, account: Account) -> PolymarketVenue:
    venue = PolymarketVenue.from_credentials(
        credentials_for(key, account), PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)
    )
    for token_id in sorted(sim.exchange.tokens):
        venue.load_token(token_id)
    return venue


def _tracked(venue: PolymarketVenue, client_order_id: str) -> VenueOrder:
    """The venue's copy of an order (its view: the submitted object is never changed)."""
    order = venue.order(client_order_id)
    assert order is not None
    return order


def make(token: str, cid: str, side: Side, price: int, size: int, ts: int) -> VenueOrder:
    return VenueOrder(
        client_order_id=cid,
        intent_id=cid,
        token_id=token,
        side=side,
        price=price,
        size=size,
        ts_created_ns=ts,
    )


def test_restart_reconciles_without_duplicates_or_lost_fills(
    sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    sim.control("clear")
    token = sorted(sim.exchange.tokens)[1]
    first = fresh_venue(sim, signer_key, sim_account)
    refused = make(token, "rec:0", Side.BUY, 100_000, 5_000_000, time.time_ns())
    first.submit(refused, time.time_ns())
    (event,) = first.poll()
    assert isinstance(event, OrderRejected) and event.reason_code == "SYS_POLY_NOT_RECONCILED"
    reconcile(
        first,
        store_orders=[],
        known_fill_ids=[],
        store_positions={},
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    book = first.client.get_order_book(token)
    bid, ask = to_micros(book["bids"][-1]["price"]), to_micros(book["asks"][-1]["price"])
    now = time.time_ns()
    resting = [
        make(token, f"rec:{i}", Side.BUY, bid - 10_000 * i, 5_000_000, now) for i in (1, 2, 3)
    ]
    taker = make(token, "rec:4", Side.BUY, ask, 5_000_000, now)
    for order in [*resting, taker]:
        first.submit(order, now)
    first.flush(now)
    first.sync_trades(time.time_ns())
    events = first.poll()
    assert sum(isinstance(e, OrderAccepted) for e in events) == 4
    fills = [e for e in events if isinstance(e, Fill)]
    assert len(fills) == 1
    # what the store had persisted when the process died: the orders, but not the last fill
    store_orders = [_tracked(first, o.client_order_id) for o in (*resting, taker)]
    store_orders[-1].status = OrderStatus.ACCEPTED
    store_orders[-1].filled_size = 0
    orders_before = sim.sim_state()["orders_total"]
    # an order at the venue the store never heard of (another process, a manual order)
    stranger = fresh_venue(sim, signer_key, sim_account)
    stranger.mark_reconciled()
    orphan = make(token, "someone-else:1", Side.BUY, bid - 50_000, 5_000_000, now)
    stranger.submit(orphan, now)
    stranger.flush(now)
    stranger.poll()
    orphan_hash = _tracked(stranger, orphan.client_order_id).venue_order_id
    first.close()

    restarted = fresh_venue(sim, signer_key, sim_account)
    report = reconcile(
        restarted,
        store_orders=store_orders,
        known_fill_ids=[],
        store_positions={},
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    assert sorted(report.open_known) == ["rec:1", "rec:2", "rec:3"]
    assert report.orphans_canceled == [orphan_hash]
    assert report.reason_codes == ["SYS_POLY_ORPHAN_CANCELED"]
    assert [(f.fill_id, f.size) for f in report.missed_fills] == [(fills[0].fill_id, 5_000_000)]
    assert report.closed == {"rec:4": OrderStatus.FILLED}
    assert report.positions[token] == sim.exchange.positions[token]
    assert report.position_differences[token] == (0, sim.exchange.positions[token])
    # the same intents re-sent after the restart are not sent again
    for order in store_orders:
        restarted.submit(msgspec.structs.replace(order), time.time_ns())
    restarted.flush(time.time_ns())
    assert restarted.poll() == []
    assert sim.sim_state()["orders_total"] == orders_before + 1  # only the orphan was new
    # reconciling again with the fill now booked reports nothing twice
    again = fresh_venue(sim, signer_key, sim_account)
    second = reconcile(
        again,
        store_orders=[msgspec.structs.replace(o) for o in store_orders],
        known_fill_ids=[fills[0].fill_id],
        store_positions={token: sim.exchange.positions[token]},
        config=ADOPT,
        now_ns=time.time_ns(),
    )
    assert second.missed_fills == [] and second.position_differences == {}
    restarted.cancel_all(time.time_ns())
    for venue in (restarted, again, stranger):
        venue.close()


def test_orphans_can_be_adopted(sim: SimClobServer, signer_key: str, sim_account: Account) -> None:
    sim.control("clear")
    token = sorted(sim.exchange.tokens)[0]
    other = fresh_venue(sim, signer_key, sim_account)
    other.mark_reconciled()
    bid = to_micros(other.client.get_order_book(token)["bids"][-1]["price"])
    orphan = make(token, "elsewhere:1", Side.BUY, bid - 30_000, 6_000_000, time.time_ns())
    other.submit(orphan, time.time_ns())
    other.flush(time.time_ns())
    orphan_hash = _tracked(other, orphan.client_order_id).venue_order_id
    venue = fresh_venue(sim, signer_key, sim_account)
    report = reconcile(
        venue,
        store_orders=[],
        known_fill_ids=[],
        store_positions={},
        config=ADOPT,
        now_ns=time.time_ns(),
    )
    assert orphan_hash in report.orphans_adopted
    adopted = [o for o in venue.open_orders() if o.venue_order_id == orphan_hash]
    assert adopted and adopted[0].size == 6_000_000 and adopted[0].side is Side.BUY
    venue.cancel_all(time.time_ns())
    assert not _tracked(venue, adopted[0].client_order_id).status.is_open
    other.close()
    venue.close()


def test_a_fill_missed_while_down_is_booked_once_and_unexplained_drift_is_critical(
    sim: SimClobServer, signer_key: str, sim_account: Account
) -> None:
    """An order partly filled while the desk was down: the recovered fill explains the venue's
    matched size and holding (no drift, filled once, not twice); the same venue state against
    records that claim the fill but not its size or holding is unexplained: CRITICAL."""
    sim.control("clear")
    token = sorted(sim.exchange.tokens)[0]
    first = fresh_venue(sim, signer_key, sim_account)
    reconcile(
        first,
        store_orders=[],
        known_fill_ids=[],
        store_positions={},
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    held_before = first.position(token)
    # the records name every token's holding (a token they do not name is believed flat)
    held = {t: first.position(t) for t in sorted(sim.exchange.tokens)}
    best_ask = first.client.get_order_book(token)["asks"][-1]
    price, level = to_micros(best_ask["price"]), to_micros(best_ask["size"])
    now = time.time_ns()
    order = make(token, "drift:1", Side.BUY, price, level + 5_000_000, now)
    first.submit(order, now)
    first.flush(now)
    first.poll()
    sent = first.order("drift:1")  # the venue's copy carries the order hash
    assert sent is not None
    first.close()
    stored = msgspec.structs.replace(sent, status=OrderStatus.ACCEPTED, filled_size=0)

    restarted = fresh_venue(sim, signer_key, sim_account)
    report = reconcile(
        restarted,
        store_orders=[stored],
        known_fill_ids=[],
        store_positions=held,
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    assert report.open_known == ["drift:1"]
    assert sum(f.size for f in report.missed_fills) == level
    reconciled = restarted.order("drift:1")  # the store's object is never changed
    assert reconciled is not None
    assert reconciled.filled_size == level and reconciled.status is OrderStatus.PARTIALLY_FILLED
    assert report.positions[token] == held_before + level
    assert (report.order_drift_micros, report.position_drift_micros) == (0, 0)
    assert report.drift is DriftLevel.OK and report.reason_codes == []

    again = fresh_venue(sim, signer_key, sim_account)
    claimed = msgspec.structs.replace(sent, status=OrderStatus.ACCEPTED, filled_size=0)
    second = reconcile(
        again,
        store_orders=[claimed],
        known_fill_ids=[f.fill_id for f in report.missed_fills],
        store_positions=held,
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    assert second.missed_fills == []
    assert second.order_drift_micros == level
    assert second.unexplained_positions == {token: level}
    assert second.position_drift_micros == level
    assert second.drift is DriftLevel.CRITICAL
    assert second.reason_codes == ["SYS_RECONCILE_DRIFT_CRITICAL"]
    lenient = ReconciliationConfig(
        order_drift_critical_micros=level + 1, position_drift_critical_micros=level + 1
    )
    assert lenient.level(second.order_drift_micros, second.position_drift_micros) is (
        DriftLevel.WARNING
    )
    # a new run's records claim no holdings: the venue's are adopted, no position drift
    fresh = fresh_venue(sim, signer_key, sim_account)
    adopted = reconcile(
        fresh,
        store_orders=[],
        known_fill_ids=[],
        store_positions=None,
        config=CANCEL,
        now_ns=time.time_ns(),
    )
    assert adopted.positions[token] == held_before + level
    assert adopted.unexplained_positions == {} and adopted.drift is DriftLevel.OK
    again.cancel_all(time.time_ns())
    for venue in (restarted, again, fresh):
        venue.close()
