"""Scenario 1, ``feed_stale_gap``: the market-data feed goes stale, then gaps — the desk adds no
exposure on the old books and resumes by itself after a fresh snapshot.

Phases (the desk quoting with orders resting at the venue):

1. **Stale.** The market channel stays connected and answers ``PING`` but sends nothing
   (simulator fault ``stall_market``): a silent feed only the books' age reveals. Once the
   desk's newest book is older than the stale threshold, one of its resting quotes is traded
   through at the venue (``set_book``; the fill reaches the desk on the user channel, which
   still works): the desk now wants to re-quote on books it cannot trust.
2. **Gap.** The market channel is dropped and refused for :data:`GAP_MS` (``ws_outage``): the
   feed marks every token stale (``SYS_POLY_WS_DISCONNECTED``), and whatever changed
   meanwhile is lost.
3. **Resume.** Connections are accepted again: the channel reconnects and resubscribes, the
   venue answers with a fresh book per token (``SYS_FEED_RESYNCED``), the replay goes on.

The stale threshold is the largest ``max_book_age_ms`` of the desk's ENFORCED
``risk.stalebookguard`` entries — what the desk itself calls stale — or, for a desk without
one, that guard's default (15 s): a desk with no staleness guard is judged by the library's
rule, not let off. Waiting it out makes this the longest scenario (about 20 s).
"""

from __future__ import annotations

import time

from polytraders.bots.risk.stalebookguard import (
    FEED_STALE,
    TOO_OLD,
    StaleBookGuard,
    StaleBookGuardConfig,
)
from polytraders.chaos.harness import ORDERS_RESTING, Judge, LiveDesk, codes_seen, exposure_attempts
from polytraders.contracts.modes import Mode

NAME = "feed_stale_gap"
GAP_MS = 1_500
"""How long the market channel is refused in the gap (ms)."""
MARGIN_MS = 500
"""How far past the stale threshold the books are let age before the quote is traded (ms)."""
GUARD_CODES = (TOO_OLD, FEED_STALE, "RISK_KILLSWITCH_FEED_LOST")
"""Refusals that show the desk's risk chain judged the books stale (the stale-book guard's,
the kill switch's feed-loss halt)."""
CRITERIA = {
    "orders_open_before_fault": ORDERS_RESTING,
    "books_went_stale": "precondition: the desk's newest book grew older than the stale "
    "threshold while the feed was silent",
    "exposure_attempted_while_stale": "the desk's strategies proposed new exposure (PLACE or "
    "REPLACE) after the fill on stale books",
    "stale_refused_by_risk": "the risk chain refused that exposure with a staleness code "
    "(RISK_STALEBOOK_TOO_OLD / _FEED_STALE or RISK_KILLSWITCH_FEED_LOST)",
    "no_new_place_while_stale": "the venue received no new order from the desk while the "
    "feed was stale and while it was gapped",
    "gap_marked_stale": "when the connection dropped, the desk marked every token stale",
    "resumed_after_snapshot": "after the fresh snapshots the desk's tokens are not stale and "
    "it places new orders the venue accepts, ACTIVE, kill switch armed, no venue halt",
}


def stale_threshold_ms(live: LiveDesk) -> int:
    """What the desk under test calls stale (module docstring), ms."""
    ages = [
        StaleBookGuardConfig(**entry.config).max_book_age_ms
        for entry in live.desk.risk
        if entry.mode is Mode.ENFORCED and live.desk.bot_class(entry) is StaleBookGuard
    ]
    return max(ages, default=StaleBookGuardConfig().max_book_age_ms)


def run(live: LiveDesk, judge: Judge) -> None:
    """Run the scenario on a started :class:`LiveDesk` (see the module docstring),
    recording each check in ``judge``.

    Raises:
        ScenarioStoppedError: a precondition failed.
    """
    state = live.session.desk.state
    tokens = live.tokens()
    live.require_orders_open(judge)
    # 1. stale: a silent feed; the books age past the threshold
    threshold_ms = stale_threshold_ms(live)
    live.sim.control("stall_market", on=True)
    posted = live.sim_counter("orders_total")

    def newest_book_ns() -> int:
        books = [state.book(t) for t in tokens]
        return max((b.last_update_ns for b in books if b is not None), default=0)

    def age_ms() -> int:
        return (time.time_ns() - newest_book_ns()) // 1_000_000

    aged = live.wait(
        lambda: age_ms() > threshold_ms + MARGIN_MS,
        threshold_ms / 1000 + live.timeout_s,
    )
    judge.require(
        "books_went_stale",
        aged,
        f"newest book {age_ms()} ms old, threshold {threshold_ms} ms",
    )
    target = live.resting_order()
    if target is None:
        judge.require("orders_open_before_fault", False, "no order left live to trade through")
        return
    crossed_ns = time.time_ns()
    fills_before = len(live.desk_fill_ids())
    live.cross(target)
    booked = live.wait(lambda: len(live.desk_fill_ids()) > fills_before)
    # the desk reacts to the fill on the same step; give its strategy's re-quote (and a
    # refusal by the risk chain) until a refusal shows or the deadline passes
    live.wait(lambda: bool(codes_seen(live.envelopes_since(crossed_ns), GUARD_CODES)), 5)
    stale_envelopes = live.envelopes_since(crossed_ns)
    attempts = exposure_attempts(stale_envelopes)
    judge.record(
        "exposure_attempted_while_stale",
        attempts > 0,
        f"{attempts} PLACE/REPLACE intent(s) proposed after the fill"
        + ("" if booked else " (the fill never reached the desk)"),
    )
    refused = codes_seen(stale_envelopes, GUARD_CODES)
    judge.record(
        "stale_refused_by_risk",
        bool(refused),
        f"staleness refusals {refused or 'none'}",
    )
    sent_stale = live.sim_counter("orders_total") - posted
    # 2. gap: the market channel is dropped and refused; the stall ends with it
    gap_ns = time.time_ns()
    live.sim.control("ws_outage", channel="market", ms=GAP_MS)
    live.sim.control("stall_market", on=False)
    marked = live.wait(lambda: all(state.is_stale(t) for t in tokens))
    judge.record(
        "gap_marked_stale",
        marked,
        f"{sum(state.is_stale(t) for t in tokens)} of {len(tokens)} token(s) marked stale",
    )
    reopen_ns = gap_ns + GAP_MS * 1_000_000
    live.wait(lambda: time.time_ns() >= reopen_ns, GAP_MS / 1000 + live.timeout_s)
    sent_gap = live.sim_counter("orders_total") - posted - sent_stale
    judge.record(
        "no_new_place_while_stale",
        sent_stale == 0 and sent_gap == 0,
        f"{sent_stale} order(s) sent while stale, {sent_gap} while gapped",
    )
    # 3. resume: fresh snapshots, then the desk trades again by itself
    resync = live.wait(lambda: not any(state.is_stale(t) for t in tokens))
    before = live.sim_counter("orders_total")
    resumed = resync and live.pump(
        lambda: live.sim_counter("orders_total") > before and bool(live.venue_live())
    )
    judge.record(
        "resumed_after_snapshot",
        resumed and not live.halted() and not live.session.halts,
        f"tokens {'resynced' if resync else 'still stale'}; "
        f"{live.sim_counter('orders_total') - before} new order(s) "
        f"{(time.time_ns() - reopen_ns) / 1e9:.1f} s after the feed reopened; "
        f"{live.trading_summary()}",
    )
