"""Start-up reconciliation with Polymarket: the venue's truth before any quoting.

Steps (issue 7 "Start-up reconciliation"; POLYMARKET.md "Peers' lessons": the venue cannot
list inactive orders, so closed orders are settled from trade history):

1. Register copies of the store's orders with the venue (:meth:`PolymarketVenue.restore`;
   the store's objects are never changed): their client ids are used, so the same intent
   re-sent after a restart is a no-op, and their order hashes (derived from the
   deterministic client id and creation time) map venue data back to them.
2. ``GET /data/orders``: each open venue order is matched by order hash; an unknown one
   (orphan) is adopted or cancelled by policy.
3. ``GET /data/trades``: fills of our orders the store does not have (``known_fill_ids``) are
   reported once and added to their order's filled size — a fill is never lost and never
   counted twice. A known open order's filled size is then at least the venue's
   ``size_matched`` (a floor, never added to the fills).
4. A store order believed open but not open at the venue is closed: FILLED when the trades
   cover it, else CANCELED (e.g. by the dead-man switch while we were down).
5. Positions: the venue's token balances (``GET /balance-allowance``) are the truth; the
   report lists them with the store's view and the differences.

Until :meth:`PolymarketVenue.mark_reconciled` (called at the end), the venue refuses new
orders with ``SYS_POLY_NOT_RECONCILED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from polytraders.model.fills import Fill
from polytraders.model.money import to_micros
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.polymarket.client import ClobRequestError
from polytraders.venues.polymarket.venue import PolymarketVenue

ORPHAN_CANCELED = "SYS_POLY_ORPHAN_CANCELED"
ORPHAN_ADOPTED = "SYS_POLY_ORPHAN_ADOPTED"


class OrphanPolicy(StrEnum):
    """What to do with an open venue order the store does not know."""

    ADOPT = "adopt"
    CANCEL = "cancel"


@dataclass(slots=True)
class ReconcileReport:
    """Outcome of :func:`reconcile` (sizes in micro-shares, cash in micro-pUSD)."""

    open_known: list[str] = field(default_factory=list)
    """Client ids of store orders still open at the venue."""
    closed: dict[str, OrderStatus] = field(default_factory=dict)
    """Client id → FILLED/CANCELED for store orders no longer open."""
    orphans_adopted: list[str] = field(default_factory=list)
    orphans_canceled: list[str] = field(default_factory=list)
    """Venue order ids."""
    missed_fills: list[Fill] = field(default_factory=list)
    """Fills the store did not have, each exactly once."""
    positions: dict[str, int] = field(default_factory=dict)
    """Token → venue holding (the truth adopted)."""
    position_differences: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Token → (store size, venue size) where they differ."""
    reason_codes: list[str] = field(default_factory=list)


def reconcile(
    venue: PolymarketVenue,
    *,
    store_orders: Sequence[VenueOrder],
    known_fill_ids: Iterable[str],
    store_positions: dict[str, int],
    tokens: Iterable[str],
    policy: OrphanPolicy,
    now_ns: int,
) -> ReconcileReport:
    """Reconcile ``venue`` with the store, then mark it reconciled.

    Args:
        venue: the live venue (not yet reconciled).
        store_orders: orders the store holds for this account (any status; not changed: the
            reconciled states are the venue's, :meth:`PolymarketVenue.orders`).
        known_fill_ids: fill ids the store holds.
        store_positions: token → size as the store believes.
        tokens: tokens whose holdings to fetch (the desk's markets).
        policy: orphan handling.
        now_ns: desk time.

    Raises:
        ClobRequestError: the venue did not answer (the venue stays unreconciled: fail closed).
    """
    report = ReconcileReport()
    known_fills = set(known_fill_ids)
    was_open = {o.client_order_id for o in store_orders if o.status.is_open}
    venue.restore(store_orders, known_fills)
    by_hash = {o.venue_order_id.lower(): o for o in store_orders if o.venue_order_id}
    open_rows = venue.fetch_open_orders()
    open_hashes: set[str] = set()
    matched_at_venue: dict[str, int] = {}
    orphan_ids: list[str] = []
    for row in open_rows:
        order_hash = str(row["id"]).lower()
        open_hashes.add(order_hash)
        known = by_hash.get(order_hash)
        if known is not None:
            matched_at_venue[known.client_order_id] = to_micros(str(row.get("size_matched") or "0"))
            report.open_known.append(known.client_order_id)
        elif policy is OrphanPolicy.ADOPT:
            venue.adopt(_adopted(row, now_ns))
            report.orphans_adopted.append(str(row["id"]))
            report.reason_codes.append(ORPHAN_ADOPTED)
        else:
            orphan_ids.append(str(row["id"]))
    if orphan_ids:
        answer = venue.client.cancel_orders(orphan_ids)
        canceled = [str(i) for i in (answer or {}).get("canceled", [])]
        report.orphans_canceled.extend(canceled)
        report.reason_codes.extend(ORPHAN_CANCELED for _ in canceled)
    venue.poll()  # restore/adopt produce no events; drop nothing else
    if not venue.sync_trades(now_ns, limited=False):
        raise ClobRequestError(0, "GET /data/trades did not answer during reconciliation")
    # missed fills of known orders added to their filled size (once each: known fills are not
    # reported again, and the venue's size_matched is only a floor, never added)
    report.missed_fills = [e for e in venue.poll() if isinstance(e, Fill)]
    for cid, matched in matched_at_venue.items():
        order = venue.order(cid)
        assert order is not None  # restored above
        filled = max(order.filled_size, matched)
        venue.reconcile_order(
            cid,
            status=OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED,
            filled_size=filled,
            now_ns=now_ns,
        )
    for stored in store_orders:
        cid = stored.client_order_id
        if cid not in was_open or stored.venue_order_id.lower() in open_hashes:
            continue
        order = venue.order(cid)
        assert order is not None  # restored above
        status = OrderStatus.FILLED if order.filled_size >= order.size > 0 else OrderStatus.CANCELED
        venue.reconcile_order(cid, status=status, filled_size=order.filled_size, now_ns=now_ns)
        report.closed[cid] = status
    for token_id in tokens:
        held = venue.position(token_id)
        report.positions[token_id] = held
        believed = store_positions.get(token_id, 0)
        if believed != held:
            report.position_differences[token_id] = (believed, held)
    venue.mark_reconciled()
    return report


def _adopted(row: dict[str, object], now_ns: int) -> VenueOrder:
    order_hash = str(row["id"])
    size = to_micros(str(row["original_size"]))
    matched = to_micros(str(row.get("size_matched") or "0"))
    return VenueOrder(
        client_order_id=f"adopted:{order_hash}",
        intent_id=f"adopted:{order_hash}",
        bot_id="reconcile",
        token_id=str(row["asset_id"]),
        market_id=str(row.get("market", "")),
        side=Side(str(row["side"]).upper()),
        price=to_micros(str(row["price"])),
        size=size,
        time_in_force=TimeInForce(str(row.get("order_type") or "GTC").upper()),
        venue_order_id=order_hash,
        status=OrderStatus.PARTIALLY_FILLED if matched else OrderStatus.ACCEPTED,
        filled_size=matched,
        ts_created_ns=now_ns,
        ts_updated_ns=now_ns,
    )
