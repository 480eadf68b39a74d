"""The desk in a live session (live clock, paper venue, market data through a background feed
thread). A strategy quarantined there raises an alert (an ERROR log line naming the bot and the
reason, the bot's error counter and mode gauge updated) and its quotes are stopped (its open
order is cancelled at the venue through the order manager). The kill switch's monitor runs on
the live clock and trips on feed silence with no intent flowing. Polling with deadlines, no
fixed sleeps."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from polytraders.bots.risk.killswitch import KillSwitch, KillSwitchConfig
from polytraders.commands.live import LiveSession
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView
from polytraders.desk.clock import LiveClock
from polytraders.desk.desk import Desk
from polytraders.desk.fixtures import binary_market
from polytraders.desk.sinks import FanoutSink, MemorySink
from polytraders.desk.slots import BotSlot
from polytraders.feeds.live.background import BackgroundFeed
from polytraders.model.events import AnyEvent, BookSnapshot, KillSwitchTripped, TradingState
from polytraders.model.orders import OrderStatus
from polytraders.ops.metrics import DeskMetrics
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot
from tests.desk.test_budgets import SPIN_CPU_NS, spin_cpu

MARKET = binary_market("m1", "yes", "no", category="crypto")
BOT = "strat.flaky"
DEADLINE_S = 10.0


class FlakyQuoter(QuoteBot):
    """Rests a bid on its first book, then computes past its budget on the next one."""

    bot_id = BOT

    def __init__(self) -> None:
        super().__init__("yes", "m1")
        self.books = 0

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if isinstance(event, BookSnapshot) and event.token_id == "yes":
            self.books += 1
            if self.books == 2:
                spin_cpu(SPIN_CPU_NS)
        return super().decide(event, view)


class ReplayFeed:
    """A market-feed client for :class:`BackgroundFeed`: pushes the events, then idles until
    stopped (the live market channel's shape, without the network)."""

    def __init__(self, events: list[AnyEvent], push: Callable[[AnyEvent], None]) -> None:
        self.events = events
        self.push = push
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        for event in self.events:
            self.push(event)
        await self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()


def snapshot(token_id: str) -> BookSnapshot:
    return BookSnapshot(
        ts_event_ns=time.time_ns(),
        token_id=token_id,
        bids=[(440_000, 100_000_000)],
        asks=[(460_000, 100_000_000)],
    )


def step_until(session: LiveSession, done: Callable[[], bool]) -> None:
    """Step the session until ``done()`` (a deadline, not a wait: the pause only yields the
    CPU between rounds that received nothing)."""
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < deadline, "the live session did not get there in time"
        if not session.step():
            time.sleep(0.002)


def test_a_quarantined_strategy_raises_an_alert_and_its_quotes_are_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="polytraders.commands.live")
    memory, metrics = MemorySink(), DeskMetrics()
    venue = PaperVenue(
        PaperVenueConfig(order_latency_ms=0, cancel_latency_ms=0, response_latency_ms=0),
        [MARKET],
        "run-l",
    )
    desk = Desk(
        run_id="run-l",
        venue=venue,
        strategies=[BotSlot(FlakyQuoter())],
        risk=[BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        clock=LiveClock(),
        sink=FanoutSink([memory, metrics]),
    )
    # both books first (the session's warm-up), then one book to quote on
    events = [snapshot("yes"), snapshot("no"), snapshot("yes")]
    feed = BackgroundFeed[AnyEvent](lambda push: ReplayFeed(events, push), "replay").start()
    session = LiveSession(desk, venue, feed, venue_poll_ms=1)
    try:
        step_until(
            session, lambda: [o.status for o in venue.open_orders()] == [OrderStatus.ACCEPTED]
        )
        assert session.alerts == []
        feed.client.push(snapshot("yes"))  # the strategy overruns its budget on this one
        step_until(session, lambda: bool(session.alerts))
        [quarantine] = session.alerts
        assert (quarantine.bot_id, quarantine.from_mode) == (BOT, Mode.ENFORCED)
        assert quarantine.failure.code == "SYS_BOT_TIMEOUT"
        [alert] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert alert.getMessage().startswith(f"ALERT: strategy {BOT} quarantined from ENFORCED")
        assert "SYS_BOT_TIMEOUT" in alert.getMessage()
        assert "open orders are being cancelled" in alert.getMessage()
        errors = metrics.registry.get_sample_value("polytraders_bot_errors_total", {"bot_id": BOT})
        assert errors == 1.0
        mode = {"bot_id": BOT, "polytraders_bot_mode": "QUARANTINE"}
        assert metrics.registry.get_sample_value("polytraders_bot_mode", mode) == 1.0
        # the quote is cancelled at the venue, and nothing new is sent for the bot
        step_until(session, lambda: venue.open_orders() == [])
        assert desk.state.open_orders() == []
        [order] = desk.state.orders.values()
        assert order.status is OrderStatus.CANCELED
        session.step()
        assert len(session.alerts) == 1  # one alert per quarantine
    finally:
        session.close()


def test_the_kill_switch_monitor_trips_on_feed_silence_on_the_live_clock() -> None:
    config = KillSwitchConfig(monitor_interval_ms=50, feed_loss_halt_ms=1_000)
    venue = PaperVenue(PaperVenueConfig(), [MARKET], "run-k")
    desk = Desk(
        run_id="run-k",
        venue=venue,
        risk=[BotSlot(KillSwitch(config))],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        clock=LiveClock(),
    )
    events: list[AnyEvent] = [snapshot("yes"), snapshot("no")]  # then the feed falls silent
    last_feed_ns = events[-1].ts_event_ns
    feed = BackgroundFeed[AnyEvent](lambda push: ReplayFeed(events, push), "silent").start()
    session = LiveSession(desk, venue, feed, venue_poll_ms=50)
    try:
        step_until(session, lambda: desk.state.kill_switch_tripped)
        [trip] = [e for e in desk.result().desk_events if isinstance(e, KillSwitchTripped)]
        assert (trip.reason_code, trip.source) == ("RISK_KILLSWITCH_FEED_LOST", "risk.killswitch")
        assert trip.ts_event_ns - last_feed_ns >= 1_000_000_000  # not before the rule says
        assert desk.state.trading_state is TradingState.HALTED
        [finding] = [e for e in desk.envelopes if e.bot_id == "risk.killswitch"]
        assert 0 <= finding.latency_ns < 5_000_000  # the monitor's own CPU time
    finally:
        session.close()
