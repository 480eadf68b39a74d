"""Time-driven risk monitoring on the simulated clock: the kill switch halts on feed silence and
the drawdown guard reduces and halts with no intent flowing; findings are recorded once, not
on every tick; shadow findings are never applied; the right to halt or trip the kill switch is
a declared capability, and a monitor that breaks it or raises is quarantined (fail closed)."""

from __future__ import annotations

from collections.abc import Iterable

from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.killswitch import KillSwitch, KillSwitchConfig
from polytraders.contracts.authority import Capability
from polytraders.contracts.decisions import MonitorAction, MonitorDecision
from polytraders.contracts.envelope import BotFailure, Decision, ReportEnvelope
from polytraders.contracts.modes import Mode
from polytraders.desk.clock import SimClock
from polytraders.desk.desk import Desk
from polytraders.desk.fixtures import binary_market
from polytraders.desk.slots import BotSlot
from polytraders.desk.state import DeskState
from polytraders.model.events import (
    AnyEvent,
    BookSnapshot,
    KillSwitchTripped,
    OperatorCommand,
    TradingState,
    TradingStateChanged,
)
from polytraders.model.orders import OrderStatus
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import REJECT_CODE, ApproveBot, PassThroughExec, QuoteBot, WatchBot

S = 1_000_000_000
MS = 1_000_000
MARKET = binary_market("m1", "yes", "no", category="crypto")
FEED_LOST = "RISK_KILLSWITCH_FEED_LOST"
WATCH_HALT = MonitorDecision(action=MonitorAction.HALT, reason_codes=(REJECT_CODE,))


def snap(t_s: float, bid: int = 440_000, ask: int = 460_000) -> BookSnapshot:
    return BookSnapshot(
        ts_event_ns=int(t_s * S),
        token_id="yes",
        bids=[(bid, 100_000_000)],
        asks=[(ask, 100_000_000)],
    )


def desk_with(
    risk: Iterable[BotSlot],
    *,
    strategy: object | None = None,
    state: DeskState | None = None,
    clock: SimClock | None = None,
) -> Desk:
    return Desk(
        run_id="run-m",
        venue=PaperVenue(PaperVenueConfig(), [MARKET], "run-m"),
        strategies=[BotSlot(strategy)] if strategy is not None else [],
        risk=list(risk),
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        state=state,
        clock=clock,
    )


def monitor_envelopes(desk: Desk) -> list[ReportEnvelope]:
    """Envelopes of monitor findings (the only risk envelopes without an intent)."""
    return [
        e
        for e in desk.envelopes
        if e.bot_class.value == "risk" and e.correlation_id == "" and e.bot_id != "desk"
    ]


def killswitch(mode: Mode = Mode.ENFORCED) -> BotSlot:
    config = KillSwitchConfig(monitor_interval_ms=1_000, feed_loss_halt_ms=30_000)
    return BotSlot(KillSwitch(config), mode)


def test_feed_silence_halts_the_desk_with_no_intent_flowing() -> None:
    """Issue 11's done-when: the kill switch's monitor trips it when the feed has been silent
    for feed_loss_halt_ms, though no intent passes the chain; the resting quote is cancelled."""
    clock = SimClock()
    desk = desk_with([killswitch()], strategy=QuoteBot("yes", "m1"), clock=clock)
    desk.process(snap(1.0))  # the quote is placed (a GTC bid rests at the venue)
    desk.process(snap(2.0))  # the last market data: the feed falls silent after this
    assert [o.status for o in desk.state.open_orders()] == [OrderStatus.ACCEPTED]
    intents_before = [e for e in desk.envelopes if e.correlation_id]
    clock.advance_to(2 * S + 30 * S - 1)
    desk.tick()  # monitor firings at 3 s … 31 s: the feed is 29 s old at most
    assert not desk.state.kill_switch_tripped
    clock.advance_to(32 * S)
    desk.tick()  # the firing at 32 s finds 30 s of silence
    assert desk.state.kill_switch_tripped
    assert desk.state.trading_state is TradingState.HALTED
    trips = [e for e in desk.result().desk_events if isinstance(e, KillSwitchTripped)]
    assert [(t.ts_event_ns, t.reason_code, t.source) for t in trips] == [
        (32 * S, FEED_LOST, "risk.killswitch")
    ]
    [finding] = monitor_envelopes(desk)
    assert finding.decision is Decision.HALT and finding.mode is Mode.ENFORCED
    assert finding.reason_codes == (FEED_LOST,)
    assert finding.output == MonitorDecision(action=MonitorAction.HALT, reason_codes=(FEED_LOST,))
    assert (finding.ts_event_ns, finding.ts_decided_ns) == (32 * S, 32 * S)
    assert finding.causation_id == f"run-m/monitor:risk.killswitch@{32 * S}"
    assert [e for e in desk.envelopes if e.correlation_id] == intents_before  # no intent flowed
    assert all(o.status is OrderStatus.PENDING_CANCEL for o in desk.state.open_orders())
    desk.process(snap(40.0))  # the venue confirms the cancel; nothing new is sent
    assert desk.state.open_orders() == []
    assert desk.venue.open_orders() == []


def test_a_steady_finding_is_recorded_once_and_a_live_feed_records_nothing() -> None:
    clock = SimClock()
    desk = desk_with([killswitch()], clock=clock)
    for t in range(1, 61, 5):  # a book every 5 s for a minute: all is well
        desk.process(snap(float(t)))
    assert monitor_envelopes(desk) == []
    clock.advance_to(56 * S + 5 * 60 * S)
    desk.tick()  # five minutes of silence: 300 firings, one finding
    assert [e.reason_codes for e in monitor_envelopes(desk)] == [(FEED_LOST,)]


def test_an_operator_reset_while_the_feed_is_still_dead_trips_again() -> None:
    """Applying the finding would change the desk again, so it is recorded and applied again:
    every trip has its envelope."""
    clock = SimClock()
    desk = desk_with([killswitch()], clock=clock)
    desk.process(snap(1.0))
    clock.advance_to(31 * S)
    desk.tick()
    assert desk.state.kill_switch_tripped
    desk.operator(OperatorCommand(ts_event_ns=31 * S, command="reset_kill_switch", operator="op"))
    assert not desk.state.kill_switch_tripped
    clock.advance_to(32 * S)
    desk.tick()
    assert desk.state.kill_switch_tripped
    assert [e.ts_event_ns for e in monitor_envelopes(desk)] == [31 * S, 32 * S]


def test_a_shadow_monitor_records_its_finding_but_never_halts() -> None:
    clock = SimClock()
    desk = desk_with([killswitch(Mode.SHADOW), BotSlot(ApproveBot())], clock=clock)
    desk.process(snap(1.0))
    clock.advance_to(120 * S)
    desk.tick()
    [finding] = monitor_envelopes(desk)
    assert finding.mode is Mode.SHADOW and finding.decision is Decision.HALT
    assert not desk.state.kill_switch_tripped
    assert desk.state.trading_state is TradingState.ACTIVE


def test_drawdown_reduces_then_halts_with_no_intent_flowing() -> None:
    """Books move against a held position between events; no strategy runs. The drawdown
    guard's monitor (on by default, every second) puts the desk in REDUCING at 5 %, HALTED at
    10 %, without tripping the kill switch (it does not hold KILL_SWITCH)."""
    state = DeskState.build(
        now_ns=S,
        markets=[MARKET],
        books={"yes": ([(440_000, 100_000_000)], [(460_000, 100_000_000)])},
        positions={"yes": (1_000_000_000, 450_000_000)},  # 1,000 shares at 0.45
        cash=1_000_000_000,
    )
    assert state.equity == 1_450_000_000
    desk = desk_with([BotSlot(DrawdownGuard())], state=state)
    desk.process(snap(1.0))
    desk.process(snap(5.0, 350_000, 370_000))  # mid 0.36: equity 1,360, drawdown 6.2 %
    desk.process(snap(9.0, 350_000, 370_000))
    assert desk.state.trading_state is TradingState.REDUCING
    desk.process(snap(12.0, 280_000, 300_000))  # mid 0.29: equity 1,290, drawdown 11 %
    desk.process(snap(20.0, 280_000, 300_000))
    assert desk.state.trading_state is TradingState.HALTED
    assert not desk.state.kill_switch_tripped
    changes = [e for e in desk.result().desk_events if isinstance(e, TradingStateChanged)]
    assert [(c.ts_event_ns, c.new_state, c.reason_code, c.source) for c in changes] == [
        (6 * S, TradingState.REDUCING, "RISK_DRAWDOWN_REDUCING", "risk.drawdownguard"),
        (13 * S, TradingState.HALTED, "RISK_DRAWDOWN_HALT", "risk.drawdownguard"),
    ]
    assert [(e.decision, e.reason_codes) for e in monitor_envelopes(desk)] == [
        (Decision.REDUCE, ("RISK_DRAWDOWN_REDUCING",)),
        (Decision.HALT, ("RISK_DRAWDOWN_HALT",)),
    ]
    assert not [e for e in desk.envelopes if e.correlation_id]  # no intent at all


def test_a_monitor_halt_without_the_capability_is_refused_and_quarantined() -> None:
    """A bot that does not declare HALT asks its monitor for HALT: the desk refuses it with
    SYS_AUTHORITY_VIOLATION, quarantines the bot, stays ACTIVE, and from then on rejects every
    intent in the bot's name (fail closed)."""
    usurper = WatchBot(lambda view: WATCH_HALT)
    desk = desk_with([BotSlot(usurper)], strategy=QuoteBot("yes", "m1", cross=True))
    desk.process(snap(1.0))  # the first order passes: the monitor has not fired yet
    assert [e.decision for e in desk.envelopes if e.bot_id == "exec.passthrough"] == [
        Decision.ROUTE
    ]
    desk.process(snap(2.0))  # the firing at 2 s asks for HALT; then the strategy asks again
    assert usurper.calls == 1
    assert desk.state.trading_state is TradingState.ACTIVE
    assert not desk.state.kill_switch_tripped
    [error] = [e for e in desk.envelopes if e.decision is Decision.ERROR]
    assert (error.bot_id, error.ts_event_ns, error.correlation_id) == ("risk.watcher", 2 * S, "")
    assert error.reason_codes == ("SYS_AUTHORITY_VIOLATION", "SYS_BOT_QUARANTINED")
    assert isinstance(error.output, BotFailure)
    assert error.output.message == "HALT needs the HALT capability"
    assert desk.result().quarantined["risk.watcher"].failure.code == "SYS_AUTHORITY_VIOLATION"
    [refusal] = [e for e in desk.envelopes if e.decision is Decision.QUARANTINE]
    assert refusal.bot_id == "risk.watcher" and refusal.reason_codes == ("SYS_BOT_QUARANTINED",)
    assert refusal.correlation_id == "strat.quoter/2"  # the second intent, refused
    assert [e.decision for e in desk.envelopes if e.bot_id == "exec.passthrough"] == [
        Decision.ROUTE
    ]
    desk.process(snap(9.0))
    assert usurper.calls == 1  # a quarantined monitor is not called again


def test_with_the_capability_the_same_finding_halts_without_the_kill_switch() -> None:
    allowed = WatchBot(lambda view: WATCH_HALT, frozenset({Capability.HALT}))
    desk = desk_with([BotSlot(allowed)])
    desk.process(snap(1.0))
    desk.process(snap(2.0))
    assert desk.state.trading_state is TradingState.HALTED
    assert not desk.state.kill_switch_tripped


def test_a_monitor_that_raises_or_overruns_is_quarantined() -> None:
    def boom(view: object) -> None:
        raise RuntimeError("monitor broke")

    raising = WatchBot(boom)
    slow = WatchBot(lambda view: None)
    slow.bot_id = "risk.slowpoke"  # type: ignore[misc]
    desk = desk_with(
        [BotSlot(raising), BotSlot(slow, modelled_latency_ns=6 * MS)],  # budget 5 ms
    )
    desk.process(snap(1.0))
    desk.process(snap(2.5))
    quarantined = desk.result().quarantined
    assert quarantined["risk.watcher"].failure.code == "SYS_BOT_EXCEPTION"
    assert quarantined["risk.watcher"].failure.error_type == "RuntimeError"
    assert quarantined["risk.slowpoke"].failure.code == "SYS_BOT_TIMEOUT"
    assert quarantined["risk.slowpoke"].failure.message == "6000000 ns > 5000000 ns"
    assert desk.state.trading_state is TradingState.ACTIVE


def test_monitors_keep_a_replay_byte_identical() -> None:
    def once() -> tuple[str, int, tuple[str, ...]]:
        desk = desk_with(
            [killswitch(), BotSlot(DrawdownGuard())], strategy=QuoteBot("yes", "m1", cross=True)
        )
        events: list[AnyEvent] = [snap(float(t), 440_000 - t * 5_000) for t in range(1, 30, 3)]
        events.append(snap(80.0))  # after a 52 s silence: the kill switch has tripped
        result = desk.run(events)
        codes = tuple(c for e in monitor_envelopes(desk) for c in e.reason_codes)
        return result.timeline_sha256, result.envelope_count, codes

    first = once()
    assert FEED_LOST in first[2]
    assert once() == first
