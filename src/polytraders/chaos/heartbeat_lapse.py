"""Scenario 3, ``heartbeat_lapse``: the order heartbeat lapses while the desk has orders
resting — the venue's dead-man switch cancels everything, the desk halts, and nothing is sent
again blindly.

Venue rule (``../shared/POLYMARKET.md`` "Dead-man switch"): with no heartbeat accepted for the
window (10 s at Polymarket; 1.5 s here, on the simulator and in the venue adapter, heartbeats
every 300 ms) the server cancels every order of the API key.

Fault: the simulator answers every ``POST /v1/heartbeats`` with 429 (``rate_limit`` on that
path) until its dead-man switch fires; then the fault is cleared, so heartbeats are accepted
again and the market keeps trading: a desk that resumed by itself, or a venue adapter that
re-sent what the venue cancelled, would show it now.
"""

from __future__ import annotations

import time

from polytraders.chaos.harness import ORDERS_RESTING, Judge, LiveDesk
from polytraders.model.events import TradingState

NAME = "heartbeat_lapse"
LAPSE = "SYS_POLY_HEARTBEAT_LAPSED"
CRITERIA = {
    "orders_open_before_fault": ORDERS_RESTING,
    "venue_cancelled_all": "the simulator's dead-man switch fired and cancelled every order of "
    "the account that was live when the heartbeats stopped (an order the desk placed in the "
    "moment before it learnt of the lapse must be closed once it halts: desk_orders_closed)",
    "desk_halted": f"the desk went HALTED with the venue's {LAPSE}",
    "desk_orders_closed": "every order the desk believed open is closed in the desk too "
    "(learnt from the venue, not assumed)",
    "nothing_resent": "no order is sent again (the venue refuses no duplicate since the "
    "fault), and after heartbeats are accepted again with the market trading on, the venue "
    "receives no new order since the desk halted, which stays HALTED until an operator "
    "resumes it",
}
WINDOW_MS = 1_500
"""The dead-man window of this scenario, on the simulator and in the venue adapter (ms)."""
HEARTBEAT_MS = 300
"""The venue adapter's heartbeat interval here (ms)."""
QUIET_HEARTBEATS = 3
"""Heartbeats the venue must accept after the fault is cleared before ``nothing_resent`` is
judged (the desk has then had that long with a healthy venue to send something)."""


def run(live: LiveDesk, judge: Judge) -> None:
    """Run the scenario on a started :class:`LiveDesk` (its windows as in the module
    docstring), recording each check in ``judge``.

    Raises:
        ScenarioStoppedError: a precondition failed.
    """
    worker = live.session.worker
    assert worker is not None, "a live session has a venue worker"
    live.require_orders_open(judge)
    duplicates = live.sim_counter("duplicates_rejected")
    live_before = set(live.venue_live())
    live.sim.control("rate_limit", count=1_000_000, retry_after_s="1", path="/v1/heartbeats")
    fired = live.wait(lambda: live.sim_counter("dead_man_fired") >= 1)
    live_after = set(live.venue_live())
    survivors = live_before & live_after
    judge.record(
        "venue_cancelled_all",
        fired and not survivors,
        f"dead-man fired {live.sim_counter('dead_man_fired')} time(s); {len(survivors)} of "
        f"the {len(live_before)} order(s) live before it still live, "
        f"{len(live_after - live_before)} placed since",
    )
    halted = live.wait(lambda: live.session.desk.state.trading_state is TradingState.HALTED)
    judge.record(
        "desk_halted",
        halted and LAPSE in live.session.halts,
        live.trading_summary(),
    )
    closed = live.wait(lambda: not live.desk_open())
    judge.record(
        "desk_orders_closed",
        closed,
        f"{len(live.desk_open())} order(s) still believed open by the desk",
    )
    posted = live.sim_counter("orders_total")
    live.sim.control("clear")
    cleared_ns = time.time_ns()
    healthy = live.pump(
        lambda: (
            worker.status.last_heartbeat_ok_ns
            >= cleared_ns + QUIET_HEARTBEATS * HEARTBEAT_MS * 1_000_000
        )
    )
    sent = live.sim_counter("orders_total") - posted
    twice = live.sim_counter("duplicates_rejected") - duplicates
    still_halted = live.halted()
    judge.record(
        "nothing_resent",
        healthy and sent == 0 and twice == 0 and still_halted,
        f"{sent} new order(s) at the venue since the desk halted, {twice} order(s) sent again "
        "since the fault (refused as duplicates); "
        f"heartbeats {'accepted again' if healthy else 'NOT accepted again'}; "
        f"{live.trading_summary()}",
    )
