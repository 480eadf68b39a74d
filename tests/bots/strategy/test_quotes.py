"""Quote manager: place / replace / cancel / keep rules (no churn) and order bookkeeping."""

from __future__ import annotations

import pytest

from polytraders.bots.strategy.maker_tight.quotes import (
    BID,
    QuoteAction,
    QuoteManager,
    Target,
)
from polytraders.contracts.ids import client_order_id
from polytraders.model.orders import Side

TICK = 1_000
S = 1_000_000_000


def manager() -> QuoteManager:
    return QuoteManager(refresh_ticks=2, max_quote_age_s=30, ack_grace_ms=5_000)


def test_actions() -> None:
    q = manager()
    t = Target("UP", Side.BUY, 500_000, 10_000_000)
    assert q.action(None, None, TICK, 0) is QuoteAction.KEEP
    assert q.action(None, t, TICK, 0) is QuoteAction.PLACE
    q.record("m", BID, "i0", t, 0)
    w = q.get("m", BID)
    assert w is not None
    assert q.action(w, None, TICK, 0) is QuoteAction.CANCEL
    assert q.action(w, t, TICK, 29 * S) is QuoteAction.KEEP
    # one tick of movement is below refresh_ticks = 2: no churn
    assert q.action(w, Target("UP", Side.BUY, 501_000, 10_000_000), TICK, S) is QuoteAction.KEEP
    assert q.action(w, Target("UP", Side.BUY, 502_000, 10_000_000), TICK, S) is QuoteAction.REPLACE
    assert q.action(w, Target("UP", Side.BUY, 498_000, 10_000_000), TICK, S) is QuoteAction.REPLACE
    # aged out
    assert q.action(w, t, TICK, 30 * S) is QuoteAction.REPLACE
    # a larger allowed size alone keeps; a smaller one replaces (never leave too much resting)
    assert q.action(w, Target("UP", Side.BUY, 500_000, 20_000_000), TICK, S) is QuoteAction.KEEP
    assert q.action(w, Target("UP", Side.BUY, 500_000, 5_000_000), TICK, S) is QuoteAction.REPLACE
    # a tick-size change to 0.01 leaves 0.5005 off the grid: replaced even if close
    odd = Target("UP", Side.BUY, 500_500, 10_000_000)
    q.record("m", "odd", "i9", odd, 0)
    odd_working = q.get("m", "odd")
    assert odd_working is not None
    assert q.action(odd_working, Target("UP", Side.BUY, 500_000, 10_000_000), 10_000, S) is (
        QuoteAction.REPLACE
    )
    # another token or side is a different order
    assert (
        q.action(w, Target("DOWN", Side.BUY, 500_000, 10_000_000), TICK, S) is QuoteAction.REPLACE
    )


def test_fills_cancels_and_reconcile() -> None:
    q = manager()
    iid = "strat.maker_tight/i0"
    direct, complement = client_order_id(iid, 0), client_order_id(iid, 1)
    q.record("m", BID, iid, Target("UP", Side.BUY, 500_000, 10_000_000), 0)
    # an id is never parsed: until the desk lists it, an event for it is not ours
    assert q.market_of_client_order(direct) is None and q.on_fill(direct, 1) is None
    # the desk lists both legs (a sell split into the complement) under the router's ids
    assert q.reconcile([(iid, direct, 4_000_000), (iid, complement, 6_000_000)], S) == []
    assert q.market_of_client_order(direct) == "m"
    q.on_fill(direct, 4_000_000)
    w = q.get("m", BID)
    assert w is not None and w.size == 6_000_000
    q.on_fill(complement, 6_000_000)  # the complement leg of the same intent
    assert q.get("m", BID) is None
    assert q.on_fill("someone-else/o0", 1) is None

    q.record("m", BID, "i1", Target("UP", Side.BUY, 500_000, 10_000_000), 0)
    q.reconcile([("i1", client_order_id("i1", 0), 10_000_000)], S)
    assert q.on_gone(client_order_id("i1", 0)) is not None and q.get("m", BID) is None

    q.record("m", BID, "i2", Target("UP", Side.BUY, 500_000, 10_000_000), 0)
    assert q.on_gone(client_order_id("i2", 0)) is None  # never listed: unknown, not parsed
    assert q.reconcile([], 5 * S) == []  # never listed, inside the ack grace
    dropped = q.reconcile([], 5 * S + 1)  # never listed, grace over: rejected or never sent
    assert [o.intent_id for o in dropped] == ["i2"] and q.markets() == []


def test_reconcile_follows_the_desk_listing() -> None:
    q = manager()
    q.record("m", BID, "i3", Target("UP", Side.BUY, 500_000, 10_000_000), 0)
    # the desk lists the order and a sell leg routed to the complement under any ids
    assert q.reconcile([("i3", "x/7", 4_000_000), ("i3", "x/8", 3_000_000)], S) == []
    w = q.get("m", BID)
    assert w is not None and w.seen and w.size == 7_000_000
    assert q.market_of_client_order("x/8") == "m"
    q.on_fill("x/7", 4_000_000)  # learnt id: applied at once
    assert w.size == 3_000_000
    q.reconcile([("i3", "x/8", 3_000_000)], 2 * S)
    assert q.get("m", BID) is not None
    gone = q.reconcile([], 2 * S)  # seen before, no longer listed: gone at once, no grace
    assert [o.intent_id for o in gone] == ["i3"]
    assert q.market_of_client_order("x/8") is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="refresh_ticks"):
        QuoteManager(0, 1, 0)
