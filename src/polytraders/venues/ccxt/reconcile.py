"""Start-up orphan policy of the ccxt venue: what to do with the exchange's open orders the
store does not know, as :func:`polytraders.venues.polymarket.reconcile.reconcile` does for
Polymarket (:class:`~polytraders.venues.reconciliation.OrphanPolicy`).

:meth:`CcxtVenue.rebuild <polytraders.venues.ccxt.venue.CcxtVenue.rebuild>` has already
adopted every open order of the exchange (under the client id it lists). Then
:func:`apply_orphan_policy`:

- ``adopt``: the open orders the store did not know stay the desk's (tracked, their fills
  booked), each reported with ``SYS_CCXT_ORPHAN_ADOPTED``; conditional orders are left as
  they are (the protective stop keeper manages the ones with its prefix);
- ``cancel``: each of them is cancelled at the exchange (the venue keeps it as CANCELED, its
  fills before the cancel booked), and so is every open conditional order except the
  protective stops that are the desk's: client id with the keeper's prefix, on the closing
  side of a current non-zero position of that symbol (the keeper then keeps, or replaces,
  it). Each cancellation is reported with ``SYS_CCXT_ORPHAN_CANCELED``; one the exchange did
  not confirm is logged (a regular order then stays adopted, a conditional one stays
  listed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from polytraders.model.orders import Side, VenueOrder
from polytraders.venues.ccxt.stops import StopState
from polytraders.venues.ccxt.venue import CcxtVenue
from polytraders.venues.reconciliation import OrphanPolicy

ORPHAN_CANCELED = "SYS_CCXT_ORPHAN_CANCELED"
ORPHAN_ADOPTED = "SYS_CCXT_ORPHAN_ADOPTED"
_LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class OrphanReport:
    """What :func:`apply_orphan_policy` did (ids are the exchange's order or algo ids)."""

    adopted: list[VenueOrder] = field(default_factory=list)
    """Open orders the store did not know, now tracked as the desk's (``adopt``)."""
    orders_canceled: list[str] = field(default_factory=list)
    """Venue ids of the regular orders cancelled (``cancel``)."""
    stops_canceled: list[str] = field(default_factory=list)
    """Algo ids of the conditional orders cancelled (``cancel``)."""
    reason_codes: list[str] = field(default_factory=list)
    """One code per order adopted or cancelled, in that order."""


def apply_orphan_policy(
    venue: CcxtVenue,
    policy: OrphanPolicy,
    known_client_ids: Iterable[str],
    *,
    stop_prefix: str,
    now_ns: int,
) -> OrphanReport:
    """Apply ``policy`` to the exchange's open orders that ``known_client_ids`` (the store's
    orders) lacks, after :meth:`CcxtVenue.rebuild` (module docstring).

    Raises:
        ccxt.BaseError: listing the positions or the conditional orders got no answer.
        ConversionError: an answer that cannot be converted exactly.
    """
    known = set(known_client_ids)
    orphans = [o for o in venue.orders() if o.status.is_open and o.client_order_id not in known]
    report = OrphanReport()
    if policy is OrphanPolicy.ADOPT:
        report.adopted = orphans
        report.reason_codes = [ORPHAN_ADOPTED] * len(orphans)
        return report
    for orphan in orphans:
        venue.cancel(orphan.client_order_id, now_ns)
        after = venue.order(orphan.client_order_id)
        if after is not None and not after.status.is_open:
            report.orders_canceled.append(orphan.venue_order_id)
        else:
            _LOG.warning("orphan order %s not cancelled: kept", orphan.venue_order_id)
    if venue.config.market_type == "perp":
        held = venue.positions()
        for token_id in sorted(venue.markets):
            size = held[token_id].size if token_id in held else 0
            closing = Side.SELL if size > 0 else Side.BUY
            for stop in venue.protective_stops(token_id, now_ns):
                desks = (
                    bool(stop_prefix)
                    and stop.client_order_id.startswith(stop_prefix)
                    and size != 0
                    and stop.side is closing
                )
                if desks:
                    continue
                outcome = venue.cancel_protective_stop(stop, now_ns)
                if outcome.state is StopState.NO_STOP:
                    report.stops_canceled.append(stop.venue_order_id)
                else:
                    _LOG.warning("orphan stop %s not cancelled: %s", stop.venue_order_id, outcome)
    cancelled = len(report.orders_canceled) + len(report.stops_canceled)
    report.reason_codes = [ORPHAN_CANCELED] * cancelled
    return report
