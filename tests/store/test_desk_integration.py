"""The store as the desk's envelope sink: a real desk run (paper venue, simulated clock) is
recorded, passes the integrity check, and re-exports byte-identically to the desk's own
timeline hash."""

from __future__ import annotations

import hashlib
import io

from polytraders.desk.desk import Desk
from polytraders.desk.fixtures import binary_market
from polytraders.desk.slots import BotSlot
from polytraders.model.events import BookSnapshot, MarketStatus
from polytraders.model.market import MarketState
from polytraders.store import EventStore, RunJournal, RunProduced, RunStatus
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot

S = 1_000_000_000
RUN = "run-store-desk"


def test_a_desk_run_recorded_in_the_store_is_sound_and_byte_identical(store: EventStore) -> None:
    market = binary_market("m1", "yes", "no", category="crypto")
    desk = Desk(
        run_id=RUN,
        venue=PaperVenue(PaperVenueConfig(order_latency_ms=250), [market], RUN),
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=True))],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[market],
        sink=store,
        journal=RunJournal(store, RUN),  # order states and fills stream in as they happen
    )
    store.start_run(
        run_id=RUN,
        started_ns=0,
        seed=0,
        desk_config=desk.config.model_dump_json(),
        desk_config_version=desk.config.config_version,
        data_source="hand-made snapshots of tests/store",
        synthetic=True,
    )
    events = [
        BookSnapshot(
            ts_event_ns=t * S, token_id="yes", bids=[(440_000, 10**8)], asks=[(460_000, 10**8)]
        )
        for t in (1, 2, 3)
    ]
    events.append(
        MarketStatus(
            ts_event_ns=4 * S,
            market_id="m1",
            state=MarketState.RESOLVED,
            accepting_orders=False,
            winning_token_id="yes",
        )
    )
    result = desk.run(events)
    stats = desk.orders.stats
    store.end_run(
        RUN,
        ended_ns=result.last_event_ns,
        status=RunStatus.COMPLETED,
        produced=RunProduced(
            envelopes=result.envelope_count, orders=stats.order_states, fills=stats.fills_booked
        ),
    )

    assert result.fills, "the scenario must trade"
    assert store.check_integrity(RUN) == []
    exported = io.BytesIO()
    assert store.export_jsonl(RUN, exported) == result.envelope_count
    assert hashlib.sha256(exported.getvalue()).hexdigest() == result.timeline_sha256
    assert store.fills(RUN) == list(result.fills)
    # every lifecycle state was journaled; the last one of each order is the desk's final state
    latest = {order.client_order_id: order for order in store.orders(RUN)}
    assert latest == desk.state.orders
    assert len(store.orders(RUN)) == stats.order_states > len(latest)
