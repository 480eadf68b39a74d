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
   report lists them with the store's view and the differences (a new run's store claims no
   holdings: the venue's are its start).
6. Drift (:mod:`polytraders.venues.reconciliation`): what the venue says and the records plus
   the recovered fills do not explain, judged against the :class:`ReconciliationConfig`
   thresholds; a WARNING or CRITICAL level adds its registered code to the report.

Until :meth:`PolymarketVenue.mark_reconciled` (called at the end), the venue refuses new
orders with ``SYS_POLY_NOT_RECONCILED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from polytraders.model.fills import Fill
from polytraders.model.money import to_micros
from polytraders.model.orders import OrderStatus, Side, TimeInForce, VenueOrder
from polytraders.venues.polymarket.client import ClobRequestError
from polytraders.venues.polymarket.venue import PolymarketVenue
from polytraders.venues.reconciliation import DriftLevel, OrphanPolicy, ReconciliationConfig

ORPHAN_CANCELED = "SYS_POLY_ORPHAN_CANCELED"
ORPHAN_ADOPTED = "SYS_POLY_ORPHAN_ADOPTED"


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
    unexplained_positions: dict[str, int] = field(default_factory=dict)
    """Token → venue size − (store size + missed fills), where not 0 (empty when the store
    claims no holdings)."""
    order_drift_micros: int = 0
    """Σ |venue matched − filled after the missed fills| over store orders open at the venue."""
    position_drift_micros: int = 0
    """Largest |unexplained position| over tokens."""
    drift: DriftLevel = DriftLevel.OK
    """The configured thresholds' verdict on the two drifts."""
    reason_codes: list[str] = field(default_factory=list)


def reconcile(
    venue: PolymarketVenue,
    *,
    store_orders: Sequence[VenueOrder],
    known_fill_ids: Iterable[str],
    store_positions: dict[str, int] | None,
    tokens: Iterable[str],
    config: ReconciliationConfig,
    now_ns: int,
) -> ReconcileReport:
    """Reconcile ``venue`` with the store, then mark it reconciled.

    Args:
        venue: the live venue (not yet reconciled).
        store_orders: orders the store holds for this account (any status; not changed: the
            reconciled states are the venue's, :meth:`PolymarketVenue.orders`).
        known_fill_ids: fill ids the store holds.
        store_positions: token → size as the store believes, or None when the records
            claim nothing about holdings (a new run: the venue's holdings are adopted as the
            start, so there is no position drift to judge).
        tokens: tokens whose holdings to fetch (the desk's markets).
        config: orphan policy and drift thresholds (``interval_s`` is not read here).
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
    matched_at_venue: dict[str, int] = {}  # client id → the venue's size_matched
    known_open: set[str] = set()
    orphan_ids: list[str] = []
    for row in open_rows:
        order_hash = str(row["id"]).lower()
        open_hashes.add(order_hash)
        known = by_hash.get(order_hash)
        matched = to_micros(str(row.get("size_matched") or "0"))
        if known is not None:
            matched_at_venue[known.client_order_id] = matched
            known_open.add(known.client_order_id)
            report.open_known.append(known.client_order_id)
        elif config.orphan_policy is OrphanPolicy.ADOPT:
            adopted = _adopted(row, now_ns)
            venue.adopt(adopted)
            matched_at_venue[adopted.client_order_id] = matched
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
        assert order is not None  # restored or adopted above
        if cid in known_open:  # what the venue matched beyond the fills we know and found
            report.order_drift_micros += abs(matched - order.filled_size)
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
    recovered: dict[str, int] = {}
    for fill in report.missed_fills:
        recovered[fill.token_id] = recovered.get(fill.token_id, 0) + fill.size * fill.side.sign
    for token_id in tokens:
        held = venue.position(token_id)
        report.positions[token_id] = held
        believed = (store_positions or {}).get(token_id, 0)
        if believed != held:
            report.position_differences[token_id] = (believed, held)
        unexplained = held - believed - recovered.get(token_id, 0)
        if store_positions is not None and unexplained:
            report.unexplained_positions[token_id] = unexplained
    report.position_drift_micros = max(map(abs, report.unexplained_positions.values()), default=0)
    report.drift = config.level(report.order_drift_micros, report.position_drift_micros)
    if report.drift is not DriftLevel.OK:
        report.reason_codes.append(report.drift.reason_code)
    venue.mark_reconciled()
    return report


def _adopted(row: dict[str, object], now_ns: int) -> VenueOrder:
    """An orphan as our order, not yet filled: its trades (booked next) fill it, then it
    takes the venue's matched size if larger."""
    order_hash = str(row["id"])
    size = to_micros(str(row["original_size"]))
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
        status=OrderStatus.ACCEPTED,
        ts_created_ns=now_ns,
        ts_updated_ns=now_ns,
    )
