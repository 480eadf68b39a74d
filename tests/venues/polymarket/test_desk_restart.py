"""A desk restart in the middle of open orders: the store-backed resume reconciles with the
venue, adopts its open orders under the same deterministic ids, books the fill that happened
while the desk was down exactly once, and never sends an order twice. The envelopes go to the
store as they happen (flushed every step) and the resumed attempt continues their sequence:
no id is used twice, and the timeline file is the store's."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from polytraders.commands.live import DESK_BUILDER, build_live_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store.event_store import EventStore
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

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
                clob_url=sim.url,
                ws_url=sim.ws_url + "/ws/market",
                user_ws_url=sim.ws_url + "/ws/user",
                venue_config=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300),
                keepalive=FAST,
                timeline=timeline,
                store_url=store_url,
            )

        session, report = start()
        assert report.open_known == []
        for _ in range(25):
            sim.step(2)
            time.sleep(0.02)
            session.step()
        live_before = {o["id"] for o in _open(sim)}
        assert live_before, session.desk.result().reason_codes
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
        venue = resumed.venue
        assert isinstance(venue, PolymarketVenue)
        still_open = {o["id"] for o in _open(sim)}
        assert {venue.order(c).venue_order_id for c in report.open_known} == still_open  # type: ignore[union-attr]
        assert report.orphans_canceled == [] and report.orphans_adopted == []
        assert len(report.missed_fills) == missed
        assert missed >= 1, "no resting quote traded while the desk was down"
        for token_id, size in report.positions.items():
            position = resumed.desk.state.ledger.position(token_id)
            assert (position.size if position else 0) == size
        for _ in range(15):
            sim.step(2)
            time.sleep(0.02)
            resumed.step()
        # new orders continue the deterministic sequence; nothing was ever sent twice
        assert sim.sim_state()["stats"].get("duplicates_rejected", 0) == 0
        assert sim.sim_state()["orders_total"] >= total_before
        hashes = [o.venue_order_id for o in venue.orders() if o.venue_order_id]
        assert len(hashes) == len(set(hashes))
        resumed.close()
        store = EventStore.open(store_url)
        (record,) = store.runs()  # one attempt, resumed, then ended by the graceful stop
        assert record.status.value == "COMPLETED"
        fills = store.fills("run-restart")
        assert len({f.fill_id for f in fills}) == len(fills)  # each fill booked once
        assert sum(f.fill_id in {m.fill_id for m in report.missed_fills} for f in fills) == missed
        sequences = [e.sequence for e in store.iter_envelopes("run-restart")]
        assert sequences == list(range(len(sequences)))  # continued, never restarted at 0
        assert store.check_integrity("run-restart") == []  # every row it says it produced
        exported = io.BytesIO()
        store.export_jsonl("run-restart", exported)
        assert timeline.read_bytes() == exported.getvalue()
        first_ids = {o.client_order_id for o in store.orders("run-restart")}
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
        new_ids = {o.client_order_id for o in store.orders("run-restart@2")} - first_ids
        assert new_ids
        # no client order id is used again: the sequence continues past the first attempt's
        assert min(map(_order_number, new_ids)) > max(map(_order_number, first_ids))
        exported = io.BytesIO()
        store.export_jsonl("run-restart@2", exported)
        assert timeline.read_bytes() == exported.getvalue()  # the file is the new attempt's
        store.close()


def _order_number(client_order_id: str) -> int:
    """``n`` of a desk client order id ``<run id>/o<n>``."""
    return int(client_order_id.rsplit("/o", 1)[1])


def _open(sim: SimClobServer) -> list[dict]:  # type: ignore[type-arg]
    return [o.to_wire("", "") for o in sim.exchange.orders.values() if o.status == "LIVE"]
