"""Start-up reconciliation with Polymarket: the venue's truth before any quoting.

Steps (issue 7 "Start-up reconciliation"; POLYMARKET.md "Peers' lessons": the venue cannot
list inactive orders, so closed orders are settled from trade history):

1. Register copies of the store's orders with the venue (:meth:`PolymarketVenue.restore`;
   the store's objects are never changed): their client ids are used, so the same intent
   re-sent after a restart is a no-op, and their order hashes (derived from the
   deterministic client id and creation time) map venue data back to them.
2. ``GET /data/orders``: each open venue order is matched by order hash; an unknown one
   (orphan) is adopted or cancelled by policy.
3. The venue's snapshot (:meth:`PolymarketVenue.reconciliation_snapshot`: trades, open
   orders, holdings, taken consistently) is compared with the store's records by
   :func:`polytraders.venues.drift.compare`, the same comparison the running node uses.
4. Fills of our orders the store does not have (``known_fill_ids``) — the comparison's
   unbooked fills — are reported once (:attr:`ReconcileReport.missed_fills`) and added to
   their order's filled size (:meth:`PolymarketVenue.recover_fills`): a fill is never lost and
   never counted twice. A known open order's filled size is then at least the venue's
   matched size (a floor, never added to the fills).
5. A store order believed open but not open at the venue is closed: FILLED when its fills
   cover it, else CANCELED (e.g. by the dead-man switch while we were down).
6. Positions: the venue's token holdings are the truth; the report lists them with the store's
   view and the differences (a new run's store claims no holdings: the venue's are its start).
7. Drift (:mod:`polytraders.venues.drift`): what the venue says and the records plus the
   recovered fills do not explain, judged against the :class:`ReconciliationConfig`
   thresholds; a WARNING or CRITICAL level adds its registered code to the report.

Until :meth:`PolymarketVenue.mark_reconciled` (called at the end), the venue refuses new
orders with ``SYS_POLY_NOT_RECONCILED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from polytraders.model.fills import Fill
from polytraders.model.orders import OrderStatus, VenueOrder
from polytraders.venues.drift import ReconciliationResult, compare, records_of
from polytraders.venues.polymarket.venue import PolymarketVenue
from polytraders.venues.polymarket.wire import OpenOrder
from polytraders.venues.reconciliation import DriftLevel, OrphanPolicy, ReconciliationConfig
from polytraders.venues.reports import VenueSnapshot

ORPHAN_CANCELED = "SYS_POLY_ORPHAN_CANCELED"
ORPHAN_ADOPTED = "SYS_POLY_ORPHAN_ADOPTED"


@dataclass(slots=True)
class ReconcileReport:
    """Outcome of :func:`reconcile` (sizes in micro-shares); the drift figures are the
    comparison's (:attr:`comparison`)."""

    snapshot: VenueSnapshot
    """What the venue held (after orphans were handled)."""
    comparison: ReconciliationResult
    """The comparison of that snapshot with the store's records."""
    open_known: list[str] = field(default_factory=list)
    """Client ids of store orders still open at the venue."""
    closed: dict[str, OrderStatus] = field(default_factory=dict)
    """Client id → FILLED/CANCELED for store orders no longer open."""
    orphans_adopted: list[str] = field(default_factory=list)
    orphans_canceled: list[str] = field(default_factory=list)
    """Venue order ids."""
    missed_fills: list[Fill] = field(default_factory=list)
    """Fills the store did not have, each exactly once."""
    reason_codes: list[str] = field(default_factory=list)
    """Orphan codes, then the drift level's code."""

    @property
    def positions(self) -> dict[str, int]:
        """Token → venue holding (the truth adopted)."""
        return {p.token_id: p.size for p in self.snapshot.positions}

    @property
    def position_differences(self) -> dict[str, tuple[int, int]]:
        """Token → (store size, venue size) where they differ."""
        return {
            p.token_id: (p.desk_size, p.venue_size)
            for p in self.comparison.differences.positions
            if p.desk_size != p.venue_size
        }

    @property
    def unexplained_positions(self) -> dict[str, int]:
        """Token → venue size − (store size + missed fills), where not 0 (empty when the
        store claims no holdings)."""
        return {
            p.token_id: p.unexplained
            for p in self.comparison.differences.positions
            if p.unexplained
        }

    @property
    def order_drift_micros(self) -> int:
        """Σ |venue matched − filled after the missed fills| over store orders open at the
        venue."""
        return self.comparison.order_drift_micros

    @property
    def position_drift_micros(self) -> int:
        """Largest |unexplained position| over tokens."""
        return self.comparison.position_drift_micros

    @property
    def drift(self) -> DriftLevel:
        """The configured thresholds' verdict on the two drifts."""
        return self.comparison.level


def reconcile(
    venue: PolymarketVenue,
    *,
    store_orders: Sequence[VenueOrder],
    known_fill_ids: Iterable[str],
    store_positions: dict[str, int] | None,
    config: ReconciliationConfig,
    now_ns: int,
) -> ReconcileReport:
    """Reconcile ``venue`` with the store, then mark it reconciled.

    Args:
        venue: the live venue (not yet reconciled), with the metadata of every token the desk
            trades cached (their holdings are asked).
        store_orders: orders the store holds for this account (any status; not changed: the
            reconciled states are the venue's, :meth:`PolymarketVenue.orders`).
        known_fill_ids: fill ids the store holds.
        store_positions: token → size as the store believes, or None when the records
            claim nothing about holdings (a new run: the venue's holdings are adopted as the
            start, so there is no position drift to judge).
        config: orphan policy and drift thresholds (``interval_s`` is the running node's).
        now_ns: desk time.

    Raises:
        ClobRequestError: the venue did not answer, or not usably (the venue stays
            unreconciled: fail closed).
    """
    known_fills = set(known_fill_ids)
    stored_ids = {o.client_order_id for o in store_orders}
    was_open = {o.client_order_id for o in store_orders if o.status.is_open}
    venue.restore(store_orders, known_fills)
    restored = [venue.order(o.client_order_id) for o in store_orders]
    # by the venue's copies: an order stored without its hash (killed in flight) has it there
    by_hash = {o.venue_order_id.lower(): o for o in restored if o is not None and o.venue_order_id}
    adopted: list[VenueOrder] = []
    orphan_ids: list[str] = []
    for row in venue.fetch_open_orders():
        if row.id.lower() in by_hash:
            continue
        if config.orphan_policy is OrphanPolicy.ADOPT:
            adopted.append(_adopted(row, now_ns))
            venue.adopt(adopted[-1])
        else:
            orphan_ids.append(row.id)
    canceled = list(venue.cancel_venue_orders(orphan_ids)) if orphan_ids else []
    venue.poll()  # restore/adopt produce no events; drop nothing else
    snapshot = venue.reconciliation_snapshot(now_ns)
    comparison = compare(
        snapshot,
        records_of([*store_orders, *adopted], known_fills, store_positions),
        config,
    )
    report = ReconcileReport(
        snapshot=snapshot,
        comparison=comparison,
        orphans_adopted=[o.venue_order_id for o in adopted],
        orphans_canceled=canceled,
        missed_fills=[f.to_fill(now_ns) for f in comparison.differences.unbooked_fills],
        reason_codes=[ORPHAN_ADOPTED] * len(adopted)
        + [ORPHAN_CANCELED] * len(canceled)
        + list(comparison.reason_codes),
    )
    venue.recover_fills(report.missed_fills)
    open_at_venue = {r.client_order_id: r for r in snapshot.orders if r.client_order_id}
    for cid, listed in open_at_venue.items():
        order = venue.order(cid)
        assert order is not None  # the snapshot names only orders the venue tracks
        if cid in stored_ids:
            report.open_known.append(cid)
        filled = max(order.filled_size, listed.filled_size)
        venue.reconcile_order(
            cid,
            status=OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED,
            filled_size=filled,
            now_ns=now_ns,
        )
    for stored in store_orders:
        cid = stored.client_order_id
        if cid not in was_open or cid in open_at_venue:
            continue
        order = venue.order(cid)
        assert order is not None  # restored above
        status = OrderStatus.FILLED if order.filled_size >= order.size > 0 else OrderStatus.CANCELED
        venue.reconcile_order(cid, status=status, filled_size=order.filled_size, now_ns=now_ns)
        report.closed[cid] = status
    venue.mark_reconciled()
    return report


def _adopted(row: OpenOrder, now_ns: int) -> VenueOrder:
    """An orphan as our order, not yet filled: its trades are not in the store, so they are
    the comparison's unbooked fills, recovered once, which fill it."""
    return VenueOrder(
        client_order_id=f"adopted:{row.id}",
        intent_id=f"adopted:{row.id}",
        bot_id="reconcile",
        token_id=row.asset_id,
        market_id=row.market,
        side=row.order_side,
        price=row.price_micros,
        size=row.original_size_micros,
        time_in_force=row.time_in_force,
        venue_order_id=row.id,
        status=OrderStatus.ACCEPTED,
        ts_created_ns=now_ns,
        ts_updated_ns=now_ns,
    )
