"""A desk restart in the middle of open orders: the store-backed resume reconciles with the
venue, adopts its open orders under the same deterministic ids, books the fill that happened
while the desk was down exactly once, and never sends an order twice. The envelopes go to the
store as they happen (flushed every step) and the resumed attempt continues their sequence:
no id is used twice, and the timeline file is the store's. One client order id end to end,
across the restart: the id in the router's ROUTE envelope is the one the venue signs and
tracks, the store records and fills carry, and no id is ever given to two orders."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.envelope import Decision
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.view import AccountIdentity
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.orders import OrderStatus
from polytraders.node.config import LiveNodeConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store.event_store import EventStore
from polytraders.venues.polymarket.venue import PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, on_worker, throwaway_key

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)


@pytest.mark.slow
def test_restart_resumes_from_the_store_without_duplicates_or_lost_fills(tmp_path: Path) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, heartbeat_timeout_ms=60_000)
    store_url = str(tmp_path / "desk.sqlite")
    timeline = tmp_path / "run-restart.envelopes.jsonl"
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id

        def start() -> tuple:  # type: ignore[type-arg]
            return build_live_session(
                run_id="run-restart",
                credentials=credentials_for(key, account),
                markets_ids=[market_id],
                node=LiveNodeConfig(
                    venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300)
                ),
                ws_url=sim.ws_url + "/ws/market",
                user_ws_url=sim.ws_url + "/ws/user",
                keepalive=FAST,
                timeline=timeline,
                store_url=store_url,
            )

        session, report = start()
        assert report.open_known == []
        deadline = time.monotonic() + 30
        while not _open(sim):  # until the desk's first quotes rest at the venue
            assert time.monotonic() < deadline, session.desk.result().reason_codes
            sim.step(2)
            time.sleep(0.02)  # lets the websockets deliver; the deadline bounds the wait
            session.step()
        live_before = {o["id"] for o in _open(sim)}
        assert live_before, session.desk.result().reason_codes
        first_ids = _one_id_everywhere(session)
        assert first_ids
        with EventStore.open(store_url, create=False) as reader:  # flushed at every step
            assert reader.counts("run-restart").envelopes == session.desk.result().envelope_count
        session.close(cancel_open_orders=False)  # the process dies with orders resting
        # while the desk is down the replayed market trades through a resting quote
        trades_before = sim.sim_state()["trades"]
        for _ in range(100):
            sim.step(10)
            if sim.sim_state()["trades"] > trades_before:
                break
        missed = sim.sim_state()["trades"] - trades_before
        total_before = sim.sim_state()["orders_total"]

        resumed, report = start()
        at_venue = {o.client_order_id: o for o in on_worker(resumed, lambda v: v.orders())}
        still_open = {o["id"] for o in _open(sim)}
        assert {at_venue[c].venue_order_id for c in report.open_known} == still_open
        assert report.orphans_canceled == [] and report.orphans_adopted == []
        assert len(report.missed_fills) == missed
        assert missed >= 1, "no resting quote traded while the desk was down"
        for token_id, size in report.positions.items():
            position = resumed.desk.state.ledger.position(token_id)
            assert (position.size if position else 0) == size
        deadline = time.monotonic() + 30
        while sim.sim_state()["orders_total"] == total_before:  # until the resumed desk quotes
            assert time.monotonic() < deadline, "the resumed desk placed no order"
            sim.step(2)
            time.sleep(0.02)
            resumed.step()
        # new orders continue the deterministic sequence; nothing was ever sent twice
        assert sim.sim_state()["stats"].get("duplicates_rejected", 0) == 0
        venue_orders = on_worker(resumed, lambda v: v.orders())
        hashes = [o.venue_order_id for o in venue_orders if o.venue_order_id]
        assert len(hashes) == len(set(hashes))
        signer = on_worker(resumed, lambda v: v.signer)
        # the resumed desk knows every order of the run, closed ones too: no id is sent again
        assert first_ids <= set(resumed.desk.state.orders)
        # the attempt's whole timeline: every id routed once, before the restart and after
        second_ids = _one_id_everywhere(resumed)
        assert second_ids > first_ids
        resumed.close()
        store = EventStore.open(store_url)
        # the run records the node config in effect: the credentials' builder code filled in,
        # the desk's [account] replaced by the credentials' identity
        effective = LiveNodeConfig(
            venue=PolymarketVenueConfig(
                clob_url=sim.url, trades_poll_ms=300, builder_code=DESK_BUILDER
            )
        ).with_account(
            AccountIdentity(
                signer=signer.address,
                funder=signer.funder,
                signature_type=0,
                builder_code=DESK_BUILDER,
            )
        )
        (record,) = store.runs()  # one attempt, resumed, then ended by the graceful stop
        assert record.status.value == "COMPLETED"
        assert record.desk_config_version == effective.config_version
        assert json.loads(record.desk_config_json) == effective.canonical()
        fills = store.fills("run-restart")
        assert len({f.fill_id for f in fills}) == len(fills)  # each fill booked once
        assert sum(f.fill_id in {m.fill_id for m in report.missed_fills} for f in fills) == missed
        # the store holds the router's ids, each for one order only, and fills carry them
        rows = store.orders("run-restart")
        assert {o.client_order_id for o in rows} == second_ids
        for row in rows:
            first = next(o for o in rows if o.client_order_id == row.client_order_id)
            assert (row.intent_id, row.token_id, row.side, row.price, row.size) == (
                first.intent_id, first.token_id, first.side, first.price, first.size,
            )  # fmt: skip
        assert {f.client_order_id for f in fills} <= second_ids
        assert {o.client_order_id for o in venue_orders} <= second_ids
        sequences = [e.sequence for e in store.iter_envelopes("run-restart")]
        assert sequences == list(range(len(sequences)))  # continued, never restarted at 0
        assert store.check_integrity("run-restart") == []  # every row it says it produced
        exported = io.BytesIO()
        store.export_jsonl("run-restart", exported)
        assert timeline.read_bytes() == exported.getvalue()
        store.close()

        # started again after that graceful end: a second attempt, carrying the orders on
        again, _ = start()
        placed = sim.sim_state()["orders_total"]
        deadline = time.monotonic() + 30
        while sim.sim_state()["orders_total"] == placed:
            assert time.monotonic() < deadline, "the second attempt placed no order"
            sim.step(2)
            time.sleep(0.02)
            again.step()
        again.close()
        assert sim.sim_state()["stats"].get("duplicates_rejected", 0) == 0
        store = EventStore.open(store_url)
        assert [(r.attempt, r.status.value) for r in store.runs()] == [
            (1, "COMPLETED"),
            (2, "COMPLETED"),
        ]
        assert store.check_integrity("run-restart@2") == []
        carried = {o.client_order_id: o for o in store.orders("run-restart@1")}
        second = store.orders("run-restart@2")
        assert {o.client_order_id for o in second} - set(carried)  # it placed new orders
        # no client order id is used again for another order: ids derive from intent ids
        for row in second:
            before = carried.get(row.client_order_id)
            if before is not None:
                assert (row.intent_id, row.token_id, row.side, row.price, row.size) == (
                    before.intent_id, before.token_id, before.side, before.price, before.size,
                )  # fmt: skip
        exported = io.BytesIO()
        store.export_jsonl("run-restart@2", exported)
        assert timeline.read_bytes() == exported.getvalue()  # the file is the new attempt's
        store.close()


def _one_id_everywhere(session: LiveSession) -> set[str]:
    """The client order ids this session's router assigned (ROUTE envelopes), checked to be the
    ids the desk tracks, the venue signed and the store recorded; each derives from its intent
    and its position in the plan, and none repeats."""
    recording = session.recording
    assert recording is not None and recording.store is not None and recording.run is not None
    routed = [
        (e.correlation_id, k, o)
        for e in recording.store.iter_envelopes(recording.run)
        if e.bot_id == "exec.smartrouter"
        and e.decision is Decision.ROUTE
        and isinstance(e.output, RoutePlan)
        for k, o in enumerate(e.output.orders)
    ]
    ids = [o.client_order_id for _, _, o in routed]
    assert len(ids) == len(set(ids))
    assert all(o.client_order_id == client_order_id(i, k) for i, k, o in routed)
    assert set(ids) <= set(session.desk.state.orders)
    orders = {o.client_order_id: o for o in on_worker(session, lambda v: v.orders())}
    for cid in ids:  # sent under the router's id, or still held back (desk or worker)
        at_venue = orders.get(cid)
        if at_venue is None:
            assert session.desk.state.orders[cid].status is OrderStatus.PENDING_NEW
        else:
            assert at_venue.client_order_id == cid
    stored = {o.client_order_id for o in recording.store.orders(recording.run)}
    assert set(ids) <= stored
    return set(ids)


def _open(sim: SimClobServer) -> list[dict]:  # type: ignore[type-arg]
    return [o.to_wire("", "") for o in sim.exchange.orders.values() if o.status == "LIVE"]
