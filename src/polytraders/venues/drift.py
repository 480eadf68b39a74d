"""The one comparison of a venue's truth with the desk's records: what the venue's snapshot
shows that the records, plus the fills the venue lists and the records lack, do not explain.

:func:`compare` is pure (no I/O, no clock): the start-up reconciliation
(:func:`polytraders.venues.polymarket.reconcile.reconcile`) and the live node's periodic
reconciliation both judge drift with it. Definitions (sizes in micro-shares; the thresholds
and levels are :class:`~polytraders.venues.reconciliation.ReconciliationConfig`'s):

- **unbooked fills**: fills the venue lists whose ids the records do not hold. They explain
  differences (the desk books them at start-up; while running they are on their way);
- **order drift**: over the records' orders the venue lists open, the sum of
  ``|venue filled − (recorded filled + unbooked fills of the order)|``;
- **position drift**: over the tokens the venue reports, the largest
  ``|venue holding − (recorded holding + unbooked fills of the token, signed)|`` (a fill moves
  the holding by its ``position_change``: ``size − fee_size`` for a BUY); none when the
  records claim no holdings (``positions=None``: a new run adopts the venue's). A holding is
  what the venue reports: a token balance (Polymarket), a signed perpetual position, or a
  spot instrument's base balance less the venue's commission dust (the ccxt venue), so
  spot is judged like any other;
- **unknown orders** (open at the venue, not ours: orphans) and **orders closed at the venue**
  (acknowledged, open in the records, not listed open by the venue and not completed by the
  unbooked fills) are listed, not counted as drift: at start-up the orphan policy and the
  closing of orders handle them; while running, a cancel or expiry may be on its way.

Orders the venue lists under a client id the records do not hold (placed after the records
were taken) are neither drift nor listed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import msgspec

from polytraders.model.orders import OrderStatus, VenueOrder
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import FillReport, OrderStatusReport, VenueSnapshot


class DeskRecords(msgspec.Struct, frozen=True, kw_only=True):
    """What the desk's records say, taken at one time.

    Fields:
        orders: the latest state of every order the records hold (copies: nothing here is
            changed).
        fill_ids: ids of every fill the records have booked (and not reverted).
        positions: token → holding (micro-shares, signed); None when the records claim
            nothing about holdings (a new run).
    """

    orders: tuple[VenueOrder, ...] = ()
    fill_ids: frozenset[str] = frozenset()
    positions: dict[str, int] | None = None


class OrderDifference(msgspec.Struct, frozen=True, kw_only=True):
    """An order open at the venue whose filled size the records do not explain (micro-shares):
    ``drift = |venue_filled_size − (desk_filled_size + unbooked_size)|``."""

    client_order_id: str
    venue_order_id: str
    desk_filled_size: int
    unbooked_size: int
    venue_filled_size: int

    @property
    def drift(self) -> int:
        """The unexplained part (micro-shares, ≥ 0)."""
        return abs(self.venue_filled_size - self.desk_filled_size - self.unbooked_size)


class PositionDifference(msgspec.Struct, frozen=True, kw_only=True):
    """A token whose venue holding differs from the records' or is not what they and the
    unbooked fills explain (micro-shares, signed): ``unexplained = venue_size − desk_size −
    unbooked_size`` (0 when the records claim no holdings)."""

    token_id: str
    desk_size: int
    venue_size: int
    unbooked_size: int
    unexplained: int


class Differences(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a comparison found, as recorded with it (JSON via :meth:`to_json`)."""

    unbooked_fills: tuple[FillReport, ...] = ()
    orders: tuple[OrderDifference, ...] = ()
    positions: tuple[PositionDifference, ...] = ()
    unknown_orders: tuple[OrderStatusReport, ...] = ()
    closed_at_venue: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """Canonical JSON (fields in declaration order, entries in the order found)."""
        return msgspec.json.encode(self)


class ReconciliationResult(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of one comparison.

    Fields:
        ts_ns: the snapshot's time.
        level: OK, WARNING or CRITICAL by the configured thresholds.
        order_drift_micros / position_drift_micros: the two drifts (module docstring).
        reason_codes: the level's registered code (none when OK).
        differences: what differs, unexplained or explained.
    """

    ts_ns: int
    level: DriftLevel
    order_drift_micros: int
    position_drift_micros: int
    reason_codes: tuple[str, ...]
    differences: Differences


def compare(
    snapshot: VenueSnapshot, records: DeskRecords, config: ReconciliationConfig
) -> ReconciliationResult:
    """Compare ``snapshot`` with ``records`` (module docstring); pure and deterministic:
    entries come in the snapshot's order (orders, fills, positions) and then the records'
    order, whatever the hash seed."""
    known = {o.client_order_id: o for o in records.orders}
    unbooked = tuple(f for f in snapshot.fills if f.fill_id not in records.fill_ids)
    by_order: dict[str, int] = {}
    by_token: dict[str, int] = {}
    for fill in unbooked:
        by_order[fill.client_order_id] = by_order.get(fill.client_order_id, 0) + fill.size
        by_token[fill.token_id] = by_token.get(fill.token_id, 0) + fill.position_change
    orders: list[OrderDifference] = []
    listed: set[str] = set()
    for report in snapshot.orders:
        order = known.get(report.client_order_id) if report.client_order_id else None
        if order is None:
            continue
        listed.add(order.client_order_id)
        difference = OrderDifference(
            client_order_id=order.client_order_id,
            venue_order_id=report.venue_order_id,
            desk_filled_size=order.filled_size,
            unbooked_size=by_order.get(order.client_order_id, 0),
            venue_filled_size=report.filled_size,
        )
        if difference.drift:
            orders.append(difference)
    closed = tuple(
        o.client_order_id
        for o in records.orders
        if o.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        and o.client_order_id not in listed
        and o.filled_size + by_order.get(o.client_order_id, 0) < o.size
    )
    positions = _position_differences(snapshot, records.positions, by_token)
    order_drift = sum(d.drift for d in orders)
    position_drift = max((abs(p.unexplained) for p in positions), default=0)
    level = config.level(order_drift, position_drift)
    return ReconciliationResult(
        ts_ns=snapshot.ts_ns,
        level=level,
        order_drift_micros=order_drift,
        position_drift_micros=position_drift,
        reason_codes=(level.reason_code,) if level is not DriftLevel.OK else (),
        differences=Differences(
            unbooked_fills=unbooked,
            orders=tuple(orders),
            positions=positions,
            unknown_orders=tuple(r for r in snapshot.orders if not r.client_order_id),
            closed_at_venue=closed,
        ),
    )


def _position_differences(
    snapshot: VenueSnapshot, believed: Mapping[str, int] | None, unbooked: Mapping[str, int]
) -> tuple[PositionDifference, ...]:
    """Tokens whose venue holding differs from the records' (the records hold 0 of a token
    they do not name) or is unexplained; unexplained only when the records claim holdings."""
    out: list[PositionDifference] = []
    for report in snapshot.positions:
        desk = (believed or {}).get(report.token_id, 0)
        moved = unbooked.get(report.token_id, 0)
        unexplained = 0 if believed is None else report.size - desk - moved
        if report.size != desk or unexplained:
            out.append(
                PositionDifference(
                    token_id=report.token_id,
                    desk_size=desk,
                    venue_size=report.size,
                    unbooked_size=moved,
                    unexplained=unexplained,
                )
            )
    return tuple(out)


def records_of(
    orders: Sequence[VenueOrder], fill_ids: Collection[str], positions: Mapping[str, int] | None
) -> DeskRecords:
    """Desk records from live objects: copies of ``orders`` (so later changes do not reach
    them), the fill ids and the holdings as given."""
    return DeskRecords(
        orders=tuple(msgspec.structs.replace(o) for o in orders),
        fill_ids=frozenset(fill_ids),
        positions=None if positions is None else dict(positions),
    )
