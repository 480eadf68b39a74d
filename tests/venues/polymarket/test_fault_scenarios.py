"""Single venue faults against the simulator, through the whole live desk with its event store:
a 1 s engine-restart (425) window, a single 429 on the order heartbeat, a 10 s cancel-only
window and a burst of five bad market-data frames each end with the desk trading again by
itself — no halt, no kill switch, no dead-man cancel — with no order lost or duplicated, and
the store's final order states and filled sizes equal to the simulator's.

Venue rules (``../shared/POLYMARKET.md`` "Dead-man switch and venue states"): heartbeats every
~5 s, everything cancelled 10 s after the last accepted one; 425 during an engine restart;
429 with ``Retry-After``; 503 cancel-only. Waits poll with deadlines, never a fixed sleep
against a window.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.contracts.decisions import RoutePlan
from polytraders.contracts.view import VenueState
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import TradingState
from polytraders.model.money import to_micros
from polytraders.model.orders import OrderIntent, OrderStatus, Side, VenueOrder
from polytraders.node.config import LiveNodeConfig
from polytraders.node.venue_worker import VenueWorker
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import FILL_REVERTED, EventStore, RunStatus, reverted_fill_ids
from polytraders.venues.polymarket.venue import PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, throwaway_key

FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)
RUN = "run-faults"
SIM_STATUS = {"MATCHED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED}
"""The simulator's final order statuses and the desk's (every order is closed at the end)."""


@dataclass
class Live:
    sim: SimClobServer
    session: LiveSession
    venue: VenueWorker
    store_url: str
    timeline: Path

    def pump(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Replay the market and step the desk until ``done()`` (at most ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            self.sim.step(1)
            time.sleep(0.02)
            self.session.step()

    def pump_for(self, seconds: float) -> None:
        """Keep the desk running through a fault window of ``seconds``."""
        until = time.monotonic() + seconds
        self.pump(lambda: time.monotonic() >= until, seconds + 5, "the window ended")

    def sent(self) -> int:
        return int(self.sim.sim_state()["orders_total"])

    def trading_again_after(self, sent_before: int, timeout_s: float) -> None:
        """The desk sends new orders the venue accepts, by itself, and is not halted."""
        self.pump(
            lambda: self.sent() > sent_before and self.sim.sim_state()["orders_live"] > 0,
            timeout_s,
            "the venue accepted a new order",
        )
        state = self.session.desk.state
        assert state.trading_state is TradingState.ACTIVE and not state.kill_switch_tripped
        assert self.session.halts == []
        assert self.sim.sim_state()["dead_man_fired"] == 0


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, confirm_ms=100)
    store_url = str(tmp_path / "desk.sqlite")
    timeline = tmp_path / f"{RUN}.envelopes.jsonl"
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        session, report = build_live_session(
            run_id=RUN,
            credentials=credentials_for(key, account),
            markets_ids=[market_id],
            node=LiveNodeConfig(venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=300)),
            ws_url=sim.ws_url + "/ws/market",
            user_ws_url=sim.ws_url + "/ws/user",
            keepalive=FAST,
            timeline=timeline,
            store_url=store_url,
        )
        assert report.open_known == [] and report.missed_fills == []
        assert session.worker is not None
        state = Live(sim, session, session.worker, store_url, timeline)
        try:
            state.pump(lambda: sim.sim_state()["orders_live"] > 0, 30, "the desk quotes")
            yield state
        finally:
            session.close()


def assert_store_matches_the_simulator(live: Live) -> None:
    """After the desk closed (everything cancelled): the run ended COMPLETED and sound; every
    order the simulator holds is in the store once; final states, filled sizes and fills are
    the simulator's; the timeline file is the store's timeline."""
    sim = live.sim
    assert sim.sim_state()["stats"].get("duplicates_rejected", 0) == 0
    with EventStore.open(live.store_url, create=False) as store:
        (record,) = store.runs()
        assert (record.status, record.detail) == (RunStatus.COMPLETED, "")
        assert store.check_integrity(record.ref) == []
        latest = {o.client_order_id: o for o in store.orders(record.ref)}
        fills = store.fills(record.ref)
        exported = io.BytesIO()
        store.export_jsonl(record.ref, exported)
    at_sim = {o.order_id.lower(): o for o in sim.exchange.orders.values()}
    recorded = {o.venue_order_id.lower(): o for o in latest.values() if o.venue_order_id}
    assert set(at_sim) <= set(recorded)  # no order the venue holds is missing from the store
    sent = [o for key, o in recorded.items() if key in at_sim]
    assert len(sent) == len(at_sim) == sim.sim_state()["orders_total"]
    for order in sent:
        venue_side = at_sim[order.venue_order_id.lower()]
        assert (order.status, order.filled_size) == (
            SIM_STATUS[venue_side.status],
            venue_side.size_matched,
        ), order.client_order_id
    assert all(not o.status.is_open for o in latest.values())
    assert len({f.fill_id for f in fills}) == len(fills) == len(sim.exchange.trades)
    for order in sent:
        assert sum(f.size for f in fills if f.client_order_id == order.client_order_id) == (
            order.filled_size
        )
    assert live.timeline.read_bytes() == exported.getvalue()


@pytest.mark.slow
def test_a_1s_engine_restart_window(live: Live) -> None:
    venue, sim = live.venue, live.sim
    # start the window just before the next heartbeat, so the desk meets the 425 for sure
    due_ns = venue.status.last_heartbeat_ok_ns + 4_700_000_000
    live.pump(lambda: time.time_ns() >= due_ns, 10, "the heartbeat is nearly due")
    sim.control("engine_restart", duration_ms=1_000, post_only_ms=0)
    sent_before = live.sent()
    seen: set[VenueState] = set()

    def restart_seen() -> bool:
        seen.add(live.session.desk.state.venue_state)
        return VenueState.RESTARTING in seen

    live.pump(restart_seen, 10, "the desk saw the restart")
    assert sim.sim_state()["stats"]["engine_restart_refusals"] >= 1
    live.trading_again_after(sent_before, 30)
    assert live.session.desk.state.venue_state is VenueState.POST_ONLY  # the venue's rule
    live.session.close()
    assert_store_matches_the_simulator(live)


@pytest.mark.slow
def test_a_single_429_on_a_heartbeat(live: Live) -> None:
    venue, sim = live.venue, live.sim
    sim.control("rate_limit", count=1, retry_after_s="1", path="/v1/heartbeats")
    live.pump(
        lambda: sim.sim_state()["stats"].get("rate_limited", 0) == 1,
        15,
        "a heartbeat met the 429",
    )
    refused_ns = time.time_ns()
    live.pump(lambda: venue.status.last_heartbeat_ok_ns > refused_ns, 5, "the heartbeat is retried")
    assert venue.status.last_heartbeat_ok_ns - refused_ns < 3_000_000_000  # Retry-After, not 5 s
    live.trading_again_after(live.sent(), 30)
    live.session.close()
    assert_store_matches_the_simulator(live)


@pytest.mark.slow
def test_a_10s_cancel_only_window(live: Live) -> None:
    sim = live.sim
    sim.control("cancel_only", on=True)
    live.pump(
        lambda: live.session.desk.state.venue_state is VenueState.CANCEL_ONLY,
        30,
        "the desk learnt cancel-only",
    )
    live.pump_for(10)
    sent_before = live.sent()
    sim.control("cancel_only", on=False)
    live.trading_again_after(sent_before, 45)
    assert live.session.desk.state.venue_state is VenueState.NORMAL
    live.session.close()
    assert_store_matches_the_simulator(live)


@pytest.mark.slow
def test_a_burst_of_five_bad_frames(live: Live) -> None:
    sim = live.sim
    sim.control("bad_frames", count=5)
    live.pump(lambda: sim.exchange.faults.bad_frames == 0, 15, "the bad frames were sent")
    live.trading_again_after(live.sent(), 45)
    live.session.close()
    assert_store_matches_the_simulator(live)


@pytest.mark.slow
def test_fills_matched_just_before_a_graceful_stop_are_booked(live: Live) -> None:
    """The market trades through a resting quote and the desk is stopped before it has read
    the user channel: the shutdown applies what the channel delivered and syncs trades after
    cancelling, so the fill reaches the desk and the store."""
    sim = live.sim
    trades = len(sim.exchange.trades)
    deadline = time.monotonic() + 60
    while len(sim.exchange.trades) == trades:  # the desk does not step meanwhile
        assert time.monotonic() < deadline, "no resting quote traded"
        sim.step(5)
    live.session.close()
    booked = {f.fill_id.split(":")[0] for f in live.session.desk.result().fills}
    assert {t.trade_id for t in sim.exchange.trades} <= booked
    assert_store_matches_the_simulator(live)


@pytest.mark.slow
def test_a_failed_trade_leaves_a_reversal_record_in_the_store(live: Live) -> None:
    sim, session = live.sim, live.session
    token = sorted(sim.exchange.tokens)[0]
    book = httpx.get(f"{sim.url}/book", params={"token_id": token}, timeout=5).json()
    ask = to_micros(book["asks"][-1]["price"])
    sim.control("fail_trades", count=1)
    taker = VenueOrder(
        client_order_id="set-by-the-desk",
        intent_id="manual-taker",
        bot_id="strat.maker_tight",
        token_id=token,
        market_id=sim.exchange.tokens[token].market_id,
        side=Side.BUY,
        price=ask,
        size=5_000_000,
    )
    intent = OrderIntent(
        intent_id="manual-taker",
        bot_id="strat.maker_tight",
        token_id=token,
        market_id=taker.market_id,
        side=Side.BUY,
        price=ask,
        size=5_000_000,
    )
    (cid,) = session.desk.orders.execute(intent, RoutePlan(orders=(taker,)), time.time_ns())
    live.pump(lambda: bool(session.reverted_fills), 20, "the trade failed")
    (reverted,) = session.reverted_fills
    assert reverted.client_order_id == cid
    assert reverted.fill_id not in {f.fill_id for f in session.desk.result().fills}
    session.close()
    with EventStore.open(live.store_url, create=False) as store:
        (record,) = store.runs()
        assert reverted.fill_id in {f.fill_id for f in store.fills(record.ref)}  # booked...
        assert reverted_fill_ids(store, record.ref) == {reverted.fill_id}  # ...and reversed
        (entry,) = [e for e in store.audit_log(record.ref) if e.action == FILL_REVERTED]
        assert json.loads(entry.detail) == {
            "fill_id": reverted.fill_id,
            "client_order_id": cid,
            "size": 5_000_000,
            "reason_code": "SYS_POLY_TRADE_FAILED",
        }
        assert store.check_integrity(record.ref) == []
