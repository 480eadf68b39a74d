"""The venue forgets closed orders ``closed_order_retention_s`` after they closed, once their
trades are final, so a long session's tracked orders stay bounded; open orders and orders
with a trade still unconfirmed are kept."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from polytraders.model.events import OrderAccepted, OrderCanceled
from polytraders.model.fills import Fill
from polytraders.model.orders import OrderStatus, Side
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, credentials_for
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import first_token, order, top
from tests.waiting import wait_until

RETENTION_S = 60
PASS_S = RETENTION_S // 10
"""Forgetting is checked every tenth of the retention."""
_S = 1_000_000_000


@pytest.fixture(scope="module")
def slow_confirm_sim(sim_account: Account) -> Iterator[SimClobServer]:
    """Trades confirm 1 s after they match, so a test sees them MATCHED first."""
    with SimClobServer(SimSettings(limit_markets=1, confirm_ms=1_000), sim_account) as server:
        yield server


@pytest.fixture
def venue(
    slow_confirm_sim: SimClobServer, signer_key: str, sim_account: Account
) -> Iterator[PolymarketVenue]:
    config = PolymarketVenueConfig(
        clob_url=slow_confirm_sim.url, trades_poll_ms=0, closed_order_retention_s=RETENTION_S
    )
    venue = PolymarketVenue.from_credentials(credentials_for(signer_key, sim_account), config)
    for token_id in sorted(slow_confirm_sim.exchange.tokens):
        venue.load_token(token_id)
    venue.mark_reconciled()
    yield venue
    venue.cancel_all(time.time_ns())
    venue.close()


def test_closed_orders_are_forgotten_after_the_retention_once_their_trades_are_final(
    slow_confirm_sim: SimClobServer, venue: PolymarketVenue
) -> None:
    sim = slow_confirm_sim
    token = first_token(sim)
    bid, ask = top(venue, token)
    resting = order(token, Side.BUY, bid - 10_000, post_only=True)
    canceled = order(token, Side.BUY, bid - 20_000, post_only=True)
    taker = order(token, Side.BUY, ask, size=5_000_000)
    now = time.time_ns()
    for each in (resting, canceled, taker):
        venue.submit(each, now)
    venue.advance(now)
    venue.cancel(canceled.client_order_id, now)
    venue.sync_trades(now)
    events = venue.poll()
    assert {e.client_order_id for e in events if isinstance(e, OrderAccepted)} == {
        resting.client_order_id,
        canceled.client_order_id,
        taker.client_order_id,
    }
    assert any(isinstance(e, OrderCanceled) for e in events)
    assert [e.client_order_id for e in events if isinstance(e, Fill)] == [taker.client_order_id]
    assert {t["status"] for t in sim.sim_trades()} == {"MATCHED"}

    # within the retention nothing is forgotten (a pass runs every tenth of it)
    clock = advance_to(venue, now, now + (RETENTION_S - 1) * _S)
    assert venue.order(canceled.client_order_id) is not None
    # past it the cancelled order goes; the filled one stays while its trade is unconfirmed
    clock = advance_to(venue, clock, clock + PASS_S * _S)
    assert venue.order(canceled.client_order_id) is None
    kept = venue.order(taker.client_order_id)
    assert kept is not None and kept.status is OrderStatus.FILLED
    assert [o.client_order_id for o in venue.open_orders()] == [resting.client_order_id]

    wait_until(
        lambda: {t["status"] for t in sim.sim_trades()} == {"CONFIRMED"}, 10, "the confirmation"
    )
    venue.sync_trades(clock)  # the trade's CONFIRMED status reaches the venue
    clock = advance_to(venue, clock, clock + PASS_S * _S)
    assert venue.order(taker.client_order_id) is None
    assert [o.client_order_id for o in venue.orders()] == [resting.client_order_id]
    # the forgotten order's trade, listed again, is no longer ours: no fill is reported twice
    venue.sync_trades(clock)
    assert not [e for e in venue.poll() if isinstance(e, Fill)]


def advance_to(venue: PolymarketVenue, start_ns: int, end_ns: int) -> int:
    """Advance the venue from ``start_ns`` to ``end_ns`` in steps shorter than the heartbeat
    interval (a longer jump would be a heartbeat lapse); returns ``end_ns``."""
    step_ns = venue.config.heartbeat_interval_ms * 1_000_000 // 2
    for now_ns in range(start_ns + step_ns, end_ns, step_ns):
        venue.advance(now_ns)
    venue.advance(end_ns)
    assert venue.halt_reason == "", venue.halt_reason
    return end_ns
