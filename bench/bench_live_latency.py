"""The live node against the local CLOB v2 simulator answering every REST request 0 ms and
2,000 ms late (``delay_responses``): book-event-to-order latency and book events processed
while the venue is slow.

One session of the default desk (``strat.maker_tight`` quoting one market, the whole risk
chain, ``exec.smartrouter``) per delay, built by ``build_live_session`` (start-up with no
delay), then the delay is switched on and the simulator replays two recorded snapshots per
round while the session steps, for ``WINDOW_S`` seconds (``--quick``: ``QUICK_WINDOW_S``):
about 90 recorded snapshots a second, far faster than the market recorded them (the sample's
2,032 snapshots of the market last about 22 s, so the window stops short of their end). Trade
polling is off (fills come from the user channel), so the venue worker's requests are the
desk's own: posts, cancels (one ``DELETE /order`` each), heartbeats every 5 s. At 2 s per
answer they queue behind one another, acks pass the desk's 5 s order ack time-out, the order
manager counts each time-out as an error and the kill switch trips on the streak
(``kill_switch_tripped_after_s``): the desk's own protection against a venue that slow,
while book events keep flowing. ``open_orders_peak`` is the most orders the desk held open
at once (the quoting strategy leaves superseded quotes open under this replay speed, with or
without a delay).

Figures per delay (times from the market event's receive stamp, ``ts_recv_ns``, set when
the websocket frame arrived):

- ``decided``: event → the order decided and queued for the venue (the desk's submit to
  the venue worker: risk chain, routing and order manager included);
- ``acked``: event → the venue's ``OrderAccepted`` back on the decision loop;
- ``book_events_per_s``: market events the session processed per second of the window;
- ``step_ms``: duration of one session step (the decision loop never waits on the network,
  so this stays in milliseconds when answers take seconds).

Each round the simulator replays two snapshots and the session then steps every
millisecond for 20 ms (a step that received nothing sleeps 1 ms), as the run loop would with
a busy feed. Orders decided but never acked were withdrawn by a later cancel before they
reached the venue (the quoting strategy re-prices faster than a 2 s venue answers); acks
arriving after the window (the graceful close) are not counted.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

DESCRIPTION = "Live node: book event → order queued / acked, events/s, venue 0 ms vs 2 s late"

WINDOW_S = 20.0
QUICK_WINDOW_S = 8.0
DELAYS_MS = (0, 2_000)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(delay_ms: int, window_s: float) -> dict[str, Any]:
    from bench.live_sim import start_session, step_round
    from polytraders.commands.live import DESK_BUILDER
    from polytraders.model.events import AnyEvent, OrderAccepted
    from polytraders.model.orders import VenueOrder
    from polytraders.simclob.server import (
        SimClobServer,
        SimSettings,
        account_for_key,
        throwaway_key,
    )
    from polytraders.venues.base import VenueEvent

    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    settings = SimSettings(limit_markets=1, restamp=True, confirm_ms=100)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        session = start_session(
            sim, key, account, [market_id], run_id=f"bench-latency-{delay_ms}", trades_poll_ms=0
        )
        worker = session.worker
        assert worker is not None
        desk = session.desk
        current: list[int] = []  # receive stamp of the market event being processed
        queued: dict[str, int] = {}  # client order id → event receive stamp
        decided_ms: list[float] = []
        acked_ms: list[float] = []
        process, submit, poll = desk.process, worker.submit, worker.poll

        def timed_process(event: AnyEvent) -> None:
            current.append(event.ts_recv_ns)
            try:
                process(event)
            finally:
                current.pop()

        def timed_submit(order: VenueOrder, now_ns: int) -> None:
            submit(order, now_ns)
            if current:
                queued[order.client_order_id] = current[-1]
                decided_ms.append((time.time_ns() - current[-1]) / 1e6)

        def timed_poll() -> list[VenueEvent]:
            events = poll()
            now_ns = time.time_ns()
            for event in events:
                if isinstance(event, OrderAccepted) and event.client_order_id in queued:
                    acked_ms.append((now_ns - queued.pop(event.client_order_id)) / 1e6)
            return events

        desk.process = timed_process  # type: ignore[method-assign]
        worker.submit = timed_submit  # type: ignore[method-assign]
        worker.poll = timed_poll  # type: ignore[method-assign]
        try:
            sim.control("delay_responses", ms=delay_ms)
            steps_ms: list[float] = []
            open_peak = 0
            events_before = session.events_in
            begun, started_ns = time.monotonic(), time.time_ns()
            while time.monotonic() - begun < window_s:
                sim.step(2)  # then the session polls its feeds every ms for 20 ms
                for step_ms in step_round(session):
                    steps_ms.append(step_ms)
                    open_peak = max(open_peak, len(desk.state.open_orders()))
            elapsed_s = time.monotonic() - begun
            desk.process, worker.submit, worker.poll = process, submit, poll  # type: ignore[method-assign]
            events = session.events_in - events_before
            switch = desk.state.controls().kill_switch
            tripped_after_s = (
                round((switch.tripped_ns - started_ns) / 1e9, 1) if switch.tripped else None
            )
        finally:
            session.close()
    tag = f"delay_{delay_ms}ms"
    return {
        f"{tag}_orders_decided": len(decided_ms),
        f"{tag}_orders_acked": len(acked_ms),
        f"{tag}_decided_ms_p50": round(_pct(decided_ms, 0.5), 2),
        f"{tag}_decided_ms_p90": round(_pct(decided_ms, 0.9), 2),
        f"{tag}_decided_ms_max": round(max(decided_ms, default=float("nan")), 2),
        f"{tag}_acked_ms_p50": round(_pct(acked_ms, 0.5), 1),
        f"{tag}_acked_ms_p90": round(_pct(acked_ms, 0.9), 1),
        f"{tag}_acked_ms_max": round(max(acked_ms, default=float("nan")), 1),
        f"{tag}_book_events": events,
        f"{tag}_book_events_per_s": round(events / elapsed_s, 1),
        f"{tag}_step_ms_p50": round(statistics.median(steps_ms), 2),
        f"{tag}_step_ms_p99": round(_pct(steps_ms, 0.99), 2),
        f"{tag}_step_ms_max": round(max(steps_ms), 2),
        f"{tag}_open_orders_peak": open_peak,
        f"{tag}_kill_switch_tripped_after_s": tripped_after_s,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Both delays, one fresh simulator and session each; figures prefixed by the delay."""
    window_s = QUICK_WINDOW_S if quick else WINDOW_S
    figures: dict[str, Any] = {"window_s": window_s}
    for delay_ms in DELAYS_MS:
        figures |= _measure(delay_ms, window_s)
    return figures
