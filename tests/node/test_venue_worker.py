"""The venue worker's contract with a scripted venue (no network): the desk's calls never wait
for the venue, cancels jump ahead of queued submits, events and call results come back to
the decision thread in order, a venue exception is never swallowed, and the two closes do
what they say. Against the simulator: ``test_venue_worker_sim.py``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from polytraders.contracts.view import VenueState
from polytraders.model.events import OrderAccepted, OrderCanceled, OrderRejected
from polytraders.model.orders import Side, VenueOrder
from polytraders.node.venue_worker import VenueWorker, VenueWorkerError
from polytraders.venues.base import VenueEvent
from tests.waiting import wait_until

DEADLINE_S = 10.0


class ScriptedVenue:
    """The part of ``PolymarketVenue`` the worker uses, recording every call with the
    thread it came from; ``gate`` holds ``advance`` (a venue busy on a slow request) and
    ``fail_on_advance`` makes it raise."""

    name = "polymarket"

    def __init__(self) -> None:
        self.heartbeat_interval_ns = 5_000 * 1_000_000
        self.request_timeout_s = 1.0
        self.halt_reason = ""
        self.last_heartbeat_ok_ns = 0
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.blocked = threading.Event()
        self.fail_on_advance = False
        self.closed = False
        self._open: dict[str, VenueOrder] = {}
        self._events: list[VenueEvent] = []

    def _note(self, *call: str) -> None:
        self.threads.add(threading.get_ident())
        self.calls.append(call)  # type: ignore[arg-type]

    def venue_state(self, now_ns: int) -> VenueState:
        return VenueState.NORMAL

    def open_orders(self) -> list[VenueOrder]:
        return list(self._open.values())

    def submit(self, order: VenueOrder, now_ns: int) -> None:
        self._note("submit", order.client_order_id)
        self._open[order.client_order_id] = order
        self._events.append(
            OrderAccepted(
                ts_event_ns=now_ns,
                ts_recv_ns=now_ns,
                client_order_id=order.client_order_id,
                venue_order_id="0x" + order.client_order_id,
            )
        )

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self._note("cancel", client_order_id)
        if self._open.pop(client_order_id, None) is not None:
            self._events.append(
                OrderCanceled(
                    ts_event_ns=now_ns, ts_recv_ns=now_ns, client_order_id=client_order_id
                )
            )

    def cancel_all(self, now_ns: int) -> None:
        self._note("cancel_all", "")
        for cid in list(self._open):
            self.cancel(cid, now_ns)

    def advance(self, now_ns: int) -> None:
        self.threads.add(threading.get_ident())
        if not self.gate.is_set():
            self.blocked.set()
            assert self.gate.wait(DEADLINE_S), "the test never released the venue"
            self.blocked.clear()
        if self.fail_on_advance:
            raise RuntimeError("venue bug")
        self.last_heartbeat_ok_ns = now_ns

    def poll(self) -> list[VenueEvent]:
        events, self._events = self._events, []
        return events

    def take_reverted(self) -> list[Any]:
        return []

    def on_user_message(self, message: dict[str, object], ts_recv_ns: int) -> None:
        self._note("message", str(message.get("id", "")))
        if message.get("bad"):
            raise ValueError("malformed trade")

    def close(self) -> None:
        self.threads.add(threading.get_ident())
        self.closed = True


def order(n: int) -> VenueOrder:
    return VenueOrder(
        client_order_id=f"run:{n}",
        intent_id=f"intent-{n}",
        token_id="yes",
        side=Side.BUY,
        price=100_000,
        size=10_000_000,
    )


def started(venue: ScriptedVenue, **kw: Any) -> VenueWorker[ScriptedVenue]:
    return VenueWorker(venue, balances={"pUSD": 7}, idle_advance_ms=1, **kw).start()


def held(venue: ScriptedVenue) -> None:
    """Hold the venue inside ``advance`` (as if a request were outstanding)."""
    venue.gate.clear()
    assert venue.blocked.wait(DEADLINE_S), "the worker never advanced the venue"


def collect(worker: VenueWorker[ScriptedVenue], done: Any, what: str) -> list[VenueEvent]:
    events: list[VenueEvent] = []

    def enough() -> bool:
        events.extend(worker.poll())
        return bool(done(events))

    wait_until(enough, DEADLINE_S, what)
    return events


def test_desk_calls_return_at_once_and_cancels_jump_ahead_of_queued_submits() -> None:
    venue = ScriptedVenue()
    worker = started(venue)
    try:
        held(venue)
        begun = time.monotonic()
        worker.submit(order(1), 0)
        worker.submit(order(2), 0)
        worker.advance(0)  # hands both over: queued behind the busy venue
        worker.submit(order(3), 0)  # kept until the next advance
        worker.cancel("run:9", 0)  # an order the venue holds: urgent
        worker.cancel("run:2", 0)  # still queued: withdrawn on the spot
        worker.cancel("run:3", 0)  # still kept: withdrawn on the spot
        assert time.monotonic() - begun < 1.0  # nothing waited for the busy venue
        local = worker.poll()
        assert [(type(e), e.client_order_id) for e in local] == [
            (OrderCanceled, "run:2"),
            (OrderCanceled, "run:3"),
        ]
        assert venue.calls == []
        venue.gate.set()
        events = collect(worker, lambda ev: len(ev) >= 1, "the accepted order")
        assert venue.calls[:2] == [("cancel", "run:9"), ("submit", "run:1")]
        assert [e.client_order_id for e in events] == ["run:1"]
        wait_until(lambda: bool(worker.open_orders()), DEADLINE_S, "the published status")
        assert [o.client_order_id for o in worker.open_orders()] == ["run:1"]
        assert worker.balances() == {"pUSD": 7}
        assert venue.threads == {worker._thread.ident}  # only the worker calls the venue
    finally:
        worker.close(cancel_open_orders=False)
    assert venue.closed


def test_submits_beyond_the_backlog_are_refused_at_once_cancels_never() -> None:
    venue = ScriptedVenue()
    worker = started(venue, max_pending_submits=2)
    try:
        held(venue)
        worker.submit(order(1), 0)
        worker.advance(0)  # queued (the venue is busy): 1 waiting
        worker.submit(order(2), 0)  # kept: 2 waiting
        worker.submit(order(3), 0)  # refused
        worker.cancel("run:7", 0)
        worker.cancel_all(0)  # withdraws 1 and 2, never refused
        events = worker.poll()
        refused = [e for e in events if isinstance(e, OrderRejected)]
        assert [(e.client_order_id, e.reason_code) for e in refused] == [
            ("run:3", "SYS_VENUE_BACKLOG")
        ]
        assert {e.client_order_id for e in events if isinstance(e, OrderCanceled)} == {
            "run:1",
            "run:2",
        }
        venue.gate.set()
        wait_until(lambda: ("cancel_all", "") in venue.calls, DEADLINE_S, "the cancel-all")
        # no submit went out; the cancel-all replaced the cancel queued before it
        assert venue.calls == [("cancel_all", "")]
    finally:
        worker.close(cancel_open_orders=False)


def test_call_results_and_user_messages_are_handled_in_order() -> None:
    venue = ScriptedVenue()
    worker = started(venue)
    try:
        caller = threading.get_ident()
        got: list[tuple[object, int]] = []
        worker.on_user_message({"id": "m1"}, 1)
        worker.on_user_message({"id": "m2", "bad": True}, 2)  # logged and skipped
        worker.call(lambda v: len(v.calls), lambda r: got.append((r, threading.get_ident())))
        worker.call(lambda v: v.calls[-1], lambda r: got.append((r, threading.get_ident())))
        wait_until(lambda: worker.deliver_results() >= 0 and len(got) == 2, DEADLINE_S, "results")
        assert got == [(2, caller), (("message", "m2"), caller)]
        assert worker.failure == ""
    finally:
        worker.close(cancel_open_orders=False)


def test_a_venue_exception_stops_the_worker_and_is_reported_not_swallowed() -> None:
    venue = ScriptedVenue()
    worker = started(venue)
    worker.submit(order(1), 0)
    worker.advance(0)
    wait_until(lambda: bool(worker.open_orders()), DEADLINE_S, "the order at the venue")
    venue.fail_on_advance = True
    wait_until(lambda: bool(worker.failure), DEADLINE_S, "the failure")
    assert worker.failure == "RuntimeError: venue bug"
    assert worker.status.failure == worker.failure
    assert venue.calls[-2:] == [("cancel_all", ""), ("cancel", "run:1")]  # best effort
    assert not worker.heartbeat(time.time_ns())
    worker.submit(order(2), 5)
    events = collect(worker, lambda ev: any(isinstance(e, OrderRejected) for e in ev), "refusal")
    (refused,) = [e for e in events if isinstance(e, OrderRejected)]
    assert (refused.client_order_id, refused.reason_code) == ("run:2", "SYS_VENUE_WORKER_FAILED")
    with pytest.raises(VenueWorkerError, match="venue bug"):
        worker.close()
    assert venue.closed


def test_graceful_close_cancels_everything_and_waits_crash_close_only_stops() -> None:
    venue = ScriptedVenue()
    worker = started(venue)
    worker.submit(order(1), 0)
    worker.advance(0)
    worker.submit(order(2), 0)  # never handed over: withdrawn by the close
    wait_until(lambda: bool(worker.open_orders()), DEADLINE_S, "the order at the venue")
    worker.close()
    assert venue.calls[-2:] == [("cancel_all", ""), ("cancel", "run:1")]
    assert not worker._thread.is_alive() and venue.closed
    events = worker.poll()  # still delivered after the close
    assert {(type(e), e.client_order_id) for e in events} >= {
        (OrderCanceled, "run:1"),
        (OrderCanceled, "run:2"),
    }
    crashed = ScriptedVenue()
    worker = started(crashed)
    worker.submit(order(3), 0)
    worker.advance(0)
    wait_until(lambda: bool(worker.open_orders()), DEADLINE_S, "the order at the venue")
    worker.close(cancel_open_orders=False)
    assert ("cancel_all", "") not in crashed.calls and crashed.closed


def test_a_slow_graceful_close_is_an_error() -> None:
    venue = ScriptedVenue()
    worker = started(venue, close_timeout_s=0.2)
    held(venue)
    with pytest.raises(VenueWorkerError, match=r"not done within 0\.2 s"):
        worker.close()
    venue.gate.set()
