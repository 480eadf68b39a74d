"""The live desk against a simulator that answers every REST request 2 s late
(``delay_responses``): book events keep being processed while an order post waits for its
answer, no request is ever made from the decision thread once the session runs, submits
beyond the worker's backlog are refused at once while cancels never are, a venue exception
on the worker halts the desk and ends the run FAILED, and a graceful close still cancels
everything at the venue. Every wait polls with a deadline; steps are timed, never slept
against."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from polytraders.commands.live import DESK_BUILDER, LiveSession, build_live_session
from polytraders.feeds.live.connection import KeepaliveConfig
from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected, TradingState
from polytraders.model.orders import Side
from polytraders.node.config import LiveNodeConfig
from polytraders.node.venue_worker import VenueWorker, VenueWorkerError
from polytraders.simclob.engine import Account
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore, RunStatus
from polytraders.venues.base import VenueEvent
from polytraders.venues.polymarket.client import ClobHttpClient
from polytraders.venues.polymarket.venue import PolymarketVenue, PolymarketVenueConfig
from tests.venues.polymarket.conftest import credentials_for, order, throwaway_key
from tests.waiting import wait_until

DELAY_MS = 2_000
FAST = KeepaliveConfig(
    ping_interval_ms=200, pong_timeout_ms=1_000, reconnect_initial_ms=50, reconnect_max_ms=500
)


class Requests:
    """Every REST request of the venue's client: the thread it ran on, and which are in
    flight (installed on :class:`ClobHttpClient` for the test)."""

    def __init__(self) -> None:
        self.threads: list[tuple[int, str, str]] = []
        self.in_flight: dict[int, str] = {}
        self._numbers = iter(range(1_000_000))
        self._lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = ClobHttpClient._request
        requests = self

        def recorded(
            self: ClobHttpClient, method: str, endpoint: str, headers: Any, data: Any, params: Any
        ) -> Any:
            with requests._lock:
                number = next(requests._numbers)
                requests.threads.append((threading.get_ident(), method, endpoint))
                requests.in_flight[number] = f"{method} {endpoint}"
            try:
                return original(self, method, endpoint, headers, data, params)
            finally:
                with requests._lock:
                    del requests.in_flight[number]

        monkeypatch.setattr(ClobHttpClient, "_request", recorded)

    def post_in_flight(self) -> int | None:
        """The number of an order post waiting for its answer, if any."""
        with self._lock:
            return next(
                (
                    n
                    for n, r in self.in_flight.items()
                    if r.startswith("POST ") and r.endswith("/orders")
                ),
                None,
            )


@pytest.fixture
def sim() -> Iterator[tuple[SimClobServer, str, Account]]:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    with SimClobServer(SimSettings(limit_markets=1, restamp=True, confirm_ms=100), account) as s:
        yield s, key, account


def session_for(
    sim: SimClobServer, key: str, account: Account, run_id: str, store_url: str | None = None
) -> LiveSession:
    market_id = next(iter(sim.exchange.tokens.values())).market_id
    session, _ = build_live_session(
        run_id=run_id,
        credentials=credentials_for(key, account),
        markets_ids=[market_id],
        # fills from the user channel only: a trade poll would hold the worker 2 s a second
        node=LiveNodeConfig(venue=PolymarketVenueConfig(clob_url=sim.url, trades_poll_ms=0)),
        ws_url=sim.ws_url + "/ws/market",
        user_ws_url=sim.ws_url + "/ws/user",
        keepalive=FAST,
        store_url=store_url,
    )
    return session


def timed_pump(session: LiveSession, sim: SimClobServer, durations: list[float]) -> None:
    """One round: the simulator replays two snapshots, the desk steps (timed)."""
    sim.step(2)
    time.sleep(0.02)  # lets the websocket deliver; no window is timed by it
    begun = time.monotonic()
    session.step()
    durations.append(time.monotonic() - begun)


def pump_until(
    session: LiveSession, sim: SimClobServer, done: Callable[[], bool], timeout_s: float, what: str
) -> list[float]:
    durations: list[float] = []
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        timed_pump(session, sim, durations)
    return durations


@pytest.mark.slow
def test_book_events_flow_while_a_post_waits_2s_and_no_request_leaves_the_decision_thread(
    sim: tuple[SimClobServer, str, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, key, account = sim
    requests = Requests()
    requests.install(monkeypatch)
    session = session_for(server, key, account, "run-slow-venue")
    worker = session.worker
    assert worker is not None
    decision_thread = threading.get_ident()
    assert any(t == decision_thread for t, _, _ in requests.threads)  # start-up: synchronous
    started = len(requests.threads)
    try:
        pump_until(session, server, lambda: bool(worker.open_orders()), 30, "the desk quotes")
        server.control("delay_responses", ms=DELAY_MS)
        pump_until(
            session, server, lambda: requests.post_in_flight() is not None, 60, "a slow post"
        )
        post = requests.post_in_flight()
        books_before = session.events_in
        durations = pump_until(
            session, server, lambda: post not in requests.in_flight, 30, "the post's answer"
        )
        # the desk went on through the post's 2 s: many book events, every step short
        assert session.events_in - books_before >= 10, (session.events_in, books_before)
        assert max(durations) < DELAY_MS / 1000 / 2, max(durations)
        assert session.desk.state.trading_state is TradingState.ACTIVE
        after = requests.threads[started:]
        assert after, "no request after start-up"
        assert {t for t, _, _ in after} == {worker._thread.ident}  # the worker's only
    finally:
        session.close()
        server.control("delay_responses", ms=0)


@pytest.mark.slow
def test_graceful_close_cancels_everything_at_a_slow_venue(
    sim: tuple[SimClobServer, str, Account],
) -> None:
    server, key, account = sim
    session = session_for(server, key, account, "run-slow-close")
    worker = session.worker
    assert worker is not None
    pump_until(session, server, lambda: bool(worker.open_orders()), 30, "the desk quotes")
    server.control("delay_responses", ms=DELAY_MS)
    try:
        pump_until(session, server, lambda: server.sim_state()["orders_total"] >= 2, 60, "more")
    finally:
        session.close()
    assert server.sim_state()["orders_live"] == 0
    assert not any(o.status.is_open for o in session.desk.state.orders.values())
    assert session.desk.state.trading_state is TradingState.HALTED  # SYS_SHUTDOWN
    server.control("delay_responses", ms=0)


@pytest.mark.slow
def test_a_backlog_refuses_submits_at_once_and_never_a_cancel(
    sim: tuple[SimClobServer, str, Account],
) -> None:
    server, key, account = sim
    venue = PolymarketVenue.from_credentials(
        credentials_for(key, account), PolymarketVenueConfig(clob_url=server.url, trades_poll_ms=0)
    )
    token = sorted(server.exchange.tokens)[0]
    venue.load_token(token)
    venue.mark_reconciled()
    server.control("delay_responses", ms=DELAY_MS)
    worker = VenueWorker(venue, balances={}, max_pending_submits=2).start()
    events: list[VenueEvent] = []

    def polled(done: Callable[[], bool]) -> bool:
        events.extend(worker.poll())
        return done()

    try:
        first, second, third, fourth, fifth = (
            order(token, Side.BUY, 10_000) for _ in range(5)
        )  # 0.01: rests far from the book
        worker.submit(first, time.time_ns())
        worker.advance(time.time_ns())
        wait_until(lambda: server.sim_state()["orders_total"] == 1, 15, "the first post")
        begun = time.monotonic()  # the worker now waits 2 s for the post's answer
        worker.submit(second, time.time_ns())
        worker.submit(third, time.time_ns())
        worker.submit(fourth, time.time_ns())  # two wait already: refused
        worker.advance(time.time_ns())  # the two go to the busy worker's queue
        worker.submit(fifth, time.time_ns())  # still two waiting: refused
        worker.cancel(second.client_order_id, time.time_ns())  # withdrawn on the spot
        worker.cancel(first.client_order_id, time.time_ns())  # queued ahead of submits
        worker.cancel_all(time.time_ns())  # withdraws the third, never refused
        assert time.monotonic() - begun < DELAY_MS / 1000 / 2  # nothing waited
        events.extend(worker.poll())
        refused = [
            (e.client_order_id, e.reason_code) for e in events if isinstance(e, OrderRejected)
        ]
        assert refused == [
            (fourth.client_order_id, "SYS_VENUE_BACKLOG"),
            (fifth.client_order_id, "SYS_VENUE_BACKLOG"),
        ]
        wait_until(
            lambda: polled(
                lambda: any(
                    isinstance(e, OrderCanceled) and e.client_order_id == first.client_order_id
                    for e in events
                )
            ),
            30,
            "the first order cancelled at the venue",
        )
        assert any(isinstance(e, OrderAccepted) for e in events)
        canceled = {e.client_order_id for e in events if isinstance(e, OrderCanceled)}
        assert canceled == {first.client_order_id, second.client_order_id, third.client_order_id}
        assert not any(
            isinstance(e, OrderRejected) and e.reason_code != "SYS_VENUE_BACKLOG" for e in events
        )
        state = server.sim_state()
        assert (state["orders_total"], state["orders_live"]) == (1, 0)  # nothing else was sent
    finally:
        worker.close()
        server.control("delay_responses", ms=0)


@pytest.mark.slow
def test_a_venue_exception_on_the_worker_halts_the_desk_and_fails_the_run(
    sim: tuple[SimClobServer, str, Account], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, key, account = sim
    store_url = str(tmp_path / "desk.sqlite")
    session = session_for(server, key, account, "run-worker-fails", store_url)
    worker = session.worker
    assert worker is not None
    pump_until(session, server, lambda: server.sim_state()["orders_live"] > 0, 30, "quotes")

    def broken(self: PolymarketVenue, now_ns: int) -> None:
        raise RuntimeError("venue bug")

    monkeypatch.setattr(PolymarketVenue, "advance", broken)
    failure = ""
    try:
        deadline = time.monotonic() + 30
        while not failure:  # what the run loop does: step until it raises
            assert time.monotonic() < deadline, "the failure never surfaced"
            try:
                timed_pump(session, server, [])
            except VenueWorkerError as exc:
                failure = f"{type(exc).__name__}: {exc}"
        assert "RuntimeError: venue bug" in failure
        state = session.desk.state
        assert state.trading_state is TradingState.HALTED
        assert session.halts == ["SYS_VENUE_WORKER_FAILED"]
        assert server.sim_state()["orders_live"] == 0  # the worker's last act: cancel all
    finally:
        session.close(status=RunStatus.FAILED, detail=failure)
    with EventStore.open(store_url, create=False) as store:
        (record,) = store.runs()
        assert (record.status, record.detail) == (RunStatus.FAILED, failure)
