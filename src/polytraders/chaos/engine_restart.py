"""Scenario 2, ``engine_restart_post_only``: the venue's matching engine restarts (HTTP 425 on
every trading request) while the desk has orders resting, then accepts only post-only orders
for a while — no order is lost, and only post-only orders go through in the window.

Venue rule (``../shared/POLYMARKET.md`` "Dead-man switch and venue states"): 425 during the
weekly restart (back off), then about 2 minutes of post-only mode (503 ``post_only_mode``: only
post-only orders and cancels accepted). Here: a 1 s restart and a 5 s post-only window on
the simulator, the venue adapter told the same post-only length
(``post_only_after_restart_ms``); the dead-man window is Polymarket's 10 s (the adapter's
first retry after a 425 waits for the restart back-off, which a short window would not
survive).

Fault: the restart starts just before the adapter's next heartbeat is due (so the venue learns
it from the heartbeat, as it would with no order in flight) and, at once, one of the desk's
resting quotes is traded through: the desk wants to re-quote into the restart. Once the desk
knows the post-only window, another resting quote (if one is left) is traded through: the desk
wants to quote in the window.
"""

from __future__ import annotations

import time

from polytraders.chaos.harness import ORDERS_RESTING, Judge, LiveDesk

NAME = "engine_restart_post_only"
RESTART_MS = 1_000
"""The simulator's 425 window (ms)."""
POST_ONLY_MS = 5_000
"""The simulator's post-only window after the restart, and the adapter's (ms)."""
CRITERIA = {
    "orders_open_before_fault": ORDERS_RESTING,
    "restart_seen": "the venue refused requests with 425 and the desk's venue state went "
    "RESTARTING, then POST_ONLY",
    "only_post_only_in_window": "the venue accepted at least one order of the desk during "
    "the restart and post-only windows, every one of them post-only",
    "no_taker_sent_in_window": "the desk sent no order the venue refused for post-only mode",
    "no_order_lost": "after the windows, every order the desk believes open is live at the venue",
    "no_untracked_order": "after the windows, every order live at the venue is one the desk "
    "believes open",
    "trading_resumed": "the desk is ACTIVE, kill switch armed, no venue halt, its venue state "
    "NORMAL again",
}


def run(live: LiveDesk, judge: Judge) -> None:
    """Run the scenario on a started :class:`LiveDesk` (see the module docstring),
    recording each check in ``judge``.

    Raises:
        ScenarioStoppedError: a precondition failed.
    """
    worker = live.session.worker
    assert worker is not None, "a live session has a venue worker"
    state = live.session.desk.state
    quoting = live.pump(lambda: live.resting_order() is not None)
    resting = live.venue_live()
    judge.require(
        "orders_open_before_fault",
        quoting,
        f"{len(resting)} live at the venue, {live.sim_counter('orders_total')} posted",
    )
    # start the window just before the next heartbeat, so the venue meets the 425 on it
    interval_ns = live.windows.heartbeat_interval_ms * 1_000_000
    due_ns = worker.status.last_heartbeat_ok_ns + interval_ns * 2 // 3
    live.wait(lambda: time.time_ns() >= due_ns, 5)
    before = live.venue_order_ids()
    live.sim.control("engine_restart", duration_ms=RESTART_MS, post_only_ms=POST_ONLY_MS)
    injected_ns = time.time_ns()
    window_end_ns = injected_ns + (RESTART_MS + POST_ONLY_MS) * 1_000_000
    crossed = live.resting_order()
    if crossed is not None:
        live.cross(crossed)  # the desk wants to re-quote into the restart
    seen: list[str] = []

    def note_state() -> None:
        mode = state.venue_state.value
        if not seen or seen[-1] != mode:
            seen.append(mode)

    crossed_in_window = False

    def window_over() -> bool:
        nonlocal crossed_in_window
        note_state()
        if not crossed_in_window and seen[-1] == "POST_ONLY":
            crossed_in_window = True
            resting = live.resting_order()
            if resting is not None:
                live.cross(resting)  # the desk wants to quote in the window
        return time.time_ns() >= window_end_ns

    live.pump(window_over, (RESTART_MS + POST_ONLY_MS) / 1000 + live.timeout_s)
    in_window = [
        o for o in live.sim.sim_orders() if o["id"].lower() not in before
    ]  # accepted between the injection and the window's end (just passed)
    refusals = live.sim_counter("engine_restart_refusals")
    restarting = "RESTARTING" in seen and "POST_ONLY" in seen[seen.index("RESTARTING") :]
    judge.record(
        "restart_seen",
        refusals >= 1 and restarting,
        f"{refusals} request(s) refused with 425; desk venue states {' -> '.join(seen)}",
    )
    takers = [o for o in in_window if not o["post_only"]]
    judge.record(
        "only_post_only_in_window",
        bool(in_window) and not takers,
        f"{len(in_window)} order(s) accepted in the windows, {len(takers)} not post-only",
    )
    post_only_refused = live.sim_counter("post_only_refusals")
    judge.record(
        "no_taker_sent_in_window",
        post_only_refused == 0,
        f"{post_only_refused} order request(s) refused for post-only mode",
    )

    def back_to_normal() -> bool:
        note_state()
        return state.venue_state.value == "NORMAL"

    resumed = live.wait(back_to_normal)
    agreed = live.wait(live.orders_agree)
    desk_open, venue_live = set(live.desk_open()), set(live.venue_live())
    judge.record("no_order_lost", agreed or desk_open <= venue_live, live.agreement())
    judge.record("no_untracked_order", agreed or venue_live <= desk_open, live.agreement())
    judge.record(
        "trading_resumed",
        resumed and not live.halted() and not live.session.halts,
        f"{live.trading_summary()}, venue state {state.venue_state.value}",
    )
