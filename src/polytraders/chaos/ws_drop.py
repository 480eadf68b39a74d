"""Scenario 4, ``ws_drop_open_orders``: both websockets (market and user channel) drop while the
desk has orders resting, and one of them fills while it is disconnected — the desk
reconnects, resubscribes, reconciles, and books the fill exactly once.

Fault: the simulator drops every websocket and refuses new ones for :data:`OUTAGE_MS`
(``ws_outage``, channel ``all``); at once one of the desk's resting quotes is traded through
(``set_book``). The user channel's trade message for it is lost with the connection (the
venue does not replay the user channel after a reconnect), so the desk learns the fill only
from the venue itself (``GET /data/trades``). The desk's periodic reconciliation runs every
5 s of desk time here (the minimum; 60 s by default), so one concludes after the reconnect.
"""

from __future__ import annotations

import time

from polytraders.chaos.harness import ORDERS_RESTING, Judge, LiveDesk
from polytraders.store.event_store import EventStore
from polytraders.venues.reconciliation import DriftLevel

NAME = "ws_drop_open_orders"
OUTAGE_MS = 2_000
"""How long both channels are refused (ms)."""
CRITERIA = {
    "orders_open_before_fault": ORDERS_RESTING,
    "fill_while_disconnected": "precondition: a resting order of the desk traded while the "
    "channels were down",
    "reconnected": "both channels reconnected after the outage (the venue refused attempts "
    "during it)",
    "resubscribed": "the market channel subscribed again and every token's book is fresh (not "
    "stale)",
    "fill_booked_once": "the fill made while disconnected is booked by the running desk "
    "exactly once (before any shutdown), and the store holds it once",
    "reconciled_after_drop": "a periodic reconciliation concluded after the reconnect, "
    "within tolerance",
    "orders_agree_with_venue": "the orders the desk believes open are exactly those live at "
    "the venue",
    "trading_resumed": "the desk places new orders the venue accepts, ACTIVE, kill switch "
    "armed, no venue halt",
}


def run(live: LiveDesk, judge: Judge) -> None:
    """Run the scenario on a started :class:`LiveDesk` (see the module docstring),
    recording each check in ``judge``.

    Raises:
        ScenarioStoppedError: a precondition failed.
    """
    state = live.session.desk.state
    tokens = live.tokens()
    live.require_orders_open(judge)
    target = live.resting_order()
    if target is None:
        judge.require("orders_open_before_fault", False, "no resting order of the desk to fill")
        return
    connections = live.sim_counter("ws_connections_total")
    subscriptions = live.sim_counter("ws_subscriptions_total")
    trades_before = {t["id"] for t in live.sim.sim_trades()}
    live.sim.control("ws_outage", channel="all", ms=OUTAGE_MS)
    dropped_ns = time.time_ns()
    live.cross(target)
    missed = [t["id"] for t in live.sim.sim_trades() if t["id"] not in trades_before]
    judge.require(
        "fill_while_disconnected",
        bool(missed),
        f"{len(missed)} trade(s) of order {target['id'][:12]}… while disconnected",
    )
    reopen_ns = dropped_ns + OUTAGE_MS * 1_000_000
    live.wait(lambda: time.time_ns() >= reopen_ns, OUTAGE_MS / 1000 + live.timeout_s)
    refused = live.sim_counter("ws_refused_total")

    def both_connected() -> bool:
        s = live.sim.sim_state()
        return bool(s["market_connections"]) and bool(s["user_connections"])

    back = live.pump(both_connected)
    judge.record(
        "reconnected",
        back and refused >= 1,
        f"{refused} connection attempt(s) refused during the outage; "
        f"{live.sim_counter('ws_connections_total') - connections} new connection(s); "
        f"market and user channel {'connected' if back else 'NOT both connected'}",
    )
    reconnected_ns = time.time_ns()
    fresh = live.pump(
        lambda: (
            live.sim_counter("ws_subscriptions_total") > subscriptions
            and not any(state.is_stale(t) for t in tokens)
        )
    )
    judge.record(
        "resubscribed",
        fresh,
        f"{live.sim_counter('ws_subscriptions_total') - subscriptions} new subscription(s); "
        f"{sum(state.is_stale(t) for t in tokens)} token(s) stale",
    )

    def booked_times() -> dict[str, int]:
        ids = live.desk_fill_ids()
        return {trade: sum(i.split(":")[0] == trade for i in ids) for trade in missed}

    booked = live.pump(lambda: all(n >= 1 for n in booked_times().values()))
    running_counts = booked_times()

    def reconciled_since() -> list[str]:
        return [
            r.level.value
            for kind, r in live.session.reconciliations
            if kind.value == "periodic" and r.ts_ns >= reconnected_ns
        ]

    concluded = live.pump(lambda: bool(reconciled_since()))
    levels = reconciled_since()
    judge.record(
        "reconciled_after_drop",
        concluded and levels[0] == DriftLevel.OK.value,
        f"periodic reconciliation(s) after the reconnect: {levels or 'none'}",
    )
    agreed = live.wait(live.orders_agree)
    judge.record("orders_agree_with_venue", agreed, live.agreement())
    live.record_trading_resumed(judge)
    refs = list(live.run_refs)
    live.close()
    with EventStore.open(live.store_url, create=False) as store:
        stored = [f.fill_id.split(":")[0] for ref in refs for f in store.fills(ref)]
    stored_counts = {trade: stored.count(trade) for trade in missed}
    judge.record(
        "fill_booked_once",
        booked
        and all(n == 1 for n in running_counts.values())
        and all(n == 1 for n in stored_counts.values()),
        f"booked while running {running_counts}; in the store {stored_counts}",
    )
