"""Clocks and timers: simulated time follows events, timers fire at exact multiples in a
deterministic order and reach strategies before the event that follows them."""

from __future__ import annotations

import pytest

from polytraders.contracts.decisions import Proposal
from polytraders.contracts.view import DeskView
from polytraders.desk.clock import LiveClock, SimClock
from polytraders.desk.desk import Desk
from polytraders.desk.slots import BotSlot
from polytraders.desk.timers import TimerSchedule
from polytraders.model.events import AnyEvent, Timer
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import PassThroughExec, QuoteBot
from tests.desk.test_desk import MARKET, S, snap


def test_sim_clock_follows_events_and_never_goes_back() -> None:
    clock = SimClock(5)
    assert clock.observe(10) == 10
    assert clock.observe(7) == 10
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(9)
    live = LiveClock()
    first = live.now_ns()
    assert live.observe(0) >= first > 0
    assert not live.simulated and clock.simulated


def test_timer_schedule_is_exact_and_ordered() -> None:
    timers = TimerSchedule()
    timers.add("a", 10, 10)
    timers.add("b", 5, 10)
    fired = []
    while (timer := timers.pop_due(20)) is not None:
        fired.append((timer.ts_event_ns, timer.name))
    assert fired == [(10, "a"), (10, "b"), (15, "b"), (20, "a"), (20, "b")]
    with pytest.raises(ValueError, match="already exists"):
        timers.add("a", 1, 1)


class _TimerWatcher(QuoteBot):
    bot_id = "strat.watcher"

    def __init__(self) -> None:
        super().__init__("yes", "m1")
        self.seen: list[tuple[str, int]] = []

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        label = event.name if isinstance(event, Timer) else type(event).__name__
        self.seen.append((label, view.now_ns))
        return Proposal()


def test_desk_fires_timers_before_the_next_event() -> None:
    watcher = _TimerWatcher()
    desk = Desk(
        run_id="run-t",
        venue=PaperVenue(PaperVenueConfig(), [MARKET], "run-t"),
        strategies=[BotSlot(watcher)],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
    )
    desk.add_timer("refresh", S, first_ns=S)
    desk.process(snap(0.5))
    desk.process(snap(2.5))
    assert watcher.seen == [
        ("BookSnapshot", S // 2),
        ("refresh", S),
        ("refresh", 2 * S),
        ("BookSnapshot", 5 * S // 2),
    ]
