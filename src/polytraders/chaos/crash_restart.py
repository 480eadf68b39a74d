"""Scenario 5, ``crash_restart``: the desk process is killed mid-order and restarted with the
same run id — no order is sent twice, and the fill made while it was down is booked once.

The kill is the in-process equivalent of ``SIGKILL`` that ``tests/venues/polymarket/
test_desk_restart.py`` uses (:meth:`LiveDesk.crash`: the session stops without cancelling
or ending its store attempt, and what the venue worker still had queued is dropped, as a
dying process drops it); ``test_crash_restart.py`` does the same with a real process through
the CLI. Sequence:

1. The desk quotes; one of its resting quotes is traded through, so its strategy re-quotes;
   the desk is killed right after the step that handed a new order to the venue worker and
   before the venue's answer reached the desk (an order in flight).
2. While it is down, a resting quote trades (``set_book``).
3. The desk restarts: the store attempt is resumed, the start-up reconciliation matches the
   venue's open orders by hash, books the missed fill, and the desk trades on.

The simulator's dead-man window is 60 s here, so the resting orders outlive the down time
(scenario 3 is the dead-man switch's).
"""

from __future__ import annotations

from polytraders.chaos.harness import ORDERS_RESTING, Judge, LiveDesk
from polytraders.store.event_store import EventStore
from polytraders.venues.reconciliation import DriftLevel

NAME = "crash_restart"
DEAD_MAN_MS = 60_000
"""The simulator's dead-man window in this scenario (ms)."""
MID_ORDER_TIMEOUT_S = 10.0
"""How long to wait for a step that leaves an order in flight (s)."""
CRITERIA = {
    "orders_open_before_fault": ORDERS_RESTING,
    "killed_mid_order": "precondition: the desk was killed with an order handed to the venue "
    "and not yet acknowledged",
    "fill_while_down": "precondition: a resting order of the desk traded while it was down",
    "restart_reconciled": "the restart's reconciliation found every order live at the venue "
    "among its own (no orphan) and no drift",
    "missed_fill_booked_once": "each fill made while down is booked once at the restart, and "
    "the store holds it once",
    "orders_agree_after_restart": "the orders the restarted desk believes open are exactly "
    "those live at the venue (the order in flight included, whether or not it got there)",
    "no_duplicate_order": "no order was sent twice: the venue refused no duplicate, every "
    "client order id has one venue order and every venue order one client order id",
    "trading_resumed": "the restarted desk places new orders the venue accepts, ACTIVE, "
    "kill switch armed, no venue halt",
}


def run(live: LiveDesk, judge: Judge) -> None:
    """Run the scenario on a started :class:`LiveDesk` (see the module docstring),
    recording each check in ``judge``.

    Raises:
        ScenarioStoppedError: a precondition failed.
    """
    live.require_orders_open(judge)
    # 1. a fill makes the strategy re-quote; kill the desk with that order in flight
    fills_before = len(live.desk_fill_ids())
    live.cross(live.resting_order() or next(iter(live.venue_live().values())))
    live.wait(lambda: len(live.desk_fill_ids()) > fills_before)
    in_flight = live.pending() > 0 or live.pump(lambda: live.pending() > 0, MID_ORDER_TIMEOUT_S)
    pending = live.pending()
    live.crash()
    judge.require(
        "killed_mid_order",
        in_flight,
        f"killed with {pending} order(s) in flight and {len(live.venue_live())} live at the venue",
    )
    # 2. while it is down a resting quote trades
    resting = live.venue_live()
    trades_before = {t["id"] for t in live.sim.sim_trades()}
    if resting:
        live.cross(next(iter(resting.values())))
    missed = [t["id"] for t in live.sim.sim_trades() if t["id"] not in trades_before]
    judge.require(
        "fill_while_down",
        bool(missed),
        f"{len(missed)} trade(s) while down ({len(resting)} order(s) were live)",
    )
    # 3. restart with the same run id
    live_at_restart = set(live.venue_live())
    report = live.start()
    known = {
        o.venue_order_id.lower()
        for o in live.session.desk.state.orders.values()
        if o.client_order_id in report.open_known
    }
    level = report.comparison.level
    orphans = [*report.orphans_adopted, *report.orphans_canceled]
    judge.record(
        "restart_reconciled",
        not orphans and live_at_restart <= known and level is DriftLevel.OK,
        f"{len(live_at_restart)} live at the venue, {len(known & live_at_restart)} of them "
        f"known; {len(orphans)} orphan(s); drift {level.value}",
    )
    missed_counts = {
        trade: sum(f.fill_id.split(":")[0] == trade for f in report.missed_fills)
        for trade in missed
    }
    agreed = live.wait(live.orders_agree)
    judge.record("orders_agree_after_restart", agreed, live.agreement())
    live.record_trading_resumed(judge)
    refs = list(live.run_refs)
    live.close()
    with EventStore.open(live.store_url, create=False) as store:
        fills = [f.fill_id.split(":")[0] for ref in refs for f in store.fills(ref)]
        orders = [o for ref in refs for o in store.orders(ref) if o.venue_order_id]
    stored_counts = {trade: fills.count(trade) for trade in missed}
    judge.record(
        "missed_fill_booked_once",
        all(n == 1 for n in missed_counts.values()) and all(n == 1 for n in stored_counts.values()),
        f"booked at the restart {missed_counts}; in the store {stored_counts}",
    )
    hashes: dict[str, set[str]] = {}
    clients: dict[str, set[str]] = {}
    for order in orders:
        hashes.setdefault(order.client_order_id, set()).add(order.venue_order_id.lower())
        clients.setdefault(order.venue_order_id.lower(), set()).add(order.client_order_id)
    duplicates = live.sim_counter("duplicates_rejected")
    two_hashes = sorted(c for c, h in hashes.items() if len(h) > 1)
    two_clients = sorted(h for h, c in clients.items() if len(c) > 1)
    untracked = live.venue_order_ids() - set(clients)
    judge.record(
        "no_duplicate_order",
        duplicates == 0 and not two_hashes and not two_clients and not untracked,
        f"{duplicates} duplicate(s) refused by the venue; {len(two_hashes)} client id(s) with "
        f"two venue orders; {len(two_clients)} venue order(s) with two client ids; "
        f"{len(untracked)} venue order(s) not in the store",
    )
