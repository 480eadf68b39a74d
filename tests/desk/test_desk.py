"""The desk loop end to end with the real paper venue: fills booked, settlement, kill switch,
operator commands, shutdown, ack time-outs, rate limit, cancel-before-place, determinism."""

from __future__ import annotations

import inspect

from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.envelope import BotFailure, Decision, timeline_sha256
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView
from polytraders.desk.desk import Desk, DeskConfig
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import OrderManagerConfig
from polytraders.desk.slots import BotSlot
from polytraders.model.events import (
    AnyEvent,
    BookSnapshot,
    MarketStatus,
    OperatorCommand,
    TradingState,
)
from polytraders.model.fees import taker_fee_micros
from polytraders.model.market import MarketState
from polytraders.model.orders import IntentAction, OrderIntent, OrderStatus, Side
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot, RaisingBot

S = 1_000_000_000
MARKET = binary_market("m1", "yes", "no", category="crypto")


def snap(t_s: float, bid: int = 440_000, ask: int = 460_000, size: int = 100_000_000):
    return BookSnapshot(
        ts_event_ns=int(t_s * S), token_id="yes", bids=[(bid, size)], asks=[(ask, size)]
    )


def make_desk(strategy: object, *, risk=(), config: DeskConfig | None = None, latency_ms=250):
    venue = PaperVenue(
        PaperVenueConfig(order_latency_ms=latency_ms, cancel_latency_ms=latency_ms),
        [MARKET],
        "run-d",
    )
    return Desk(
        run_id="run-d",
        venue=venue,
        strategies=[BotSlot(strategy)],
        risk=[BotSlot(b) for b in risk] or [BotSlot(ApproveBot())],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        config=config,
    )


def taker_events() -> list[AnyEvent]:
    return [
        snap(1.0),
        snap(2.0),
        MarketStatus(
            ts_event_ns=3 * S,
            market_id="m1",
            state=MarketState.RESOLVED,
            accepting_orders=False,
            winning_token_id="yes",
        ),
    ]


def test_taker_fill_is_booked_and_settled_at_resolution() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=True))
    start_cash = desk.state.cash
    result = desk.run(taker_events())
    # A FAK BUY 10 @ 0.46 on each snapshot; each arrives 250 ms later and fills against the
    # book then standing (the venue processes the arrival before the next event).
    fee = taker_fee_micros(10_000_000, 460_000, 70_000)
    assert [f.size for f in result.fills] == [10_000_000, 10_000_000]
    assert all(f.price == 460_000 and f.fee == fee for f in result.fills)
    paid = 2 * (4_600_000 + fee)
    assert result.ledger.settled_markets == ("m1",)
    assert result.settlements[0].cash == 20_000_000  # 20 winning shares pay 1 pUSD each
    assert desk.state.cash == start_cash - paid + 20_000_000
    assert desk.state.ledger.reconciliation_error() == 0
    assert desk.state.position("yes").size == 0  # type: ignore[union-attr]


def test_replay_is_byte_identical() -> None:
    def once() -> tuple[str, str, list[bytes]]:
        desk = make_desk(QuoteBot("yes", "m1", cross=True))
        result = desk.run(taker_events())
        assert result.timeline_sha256 == timeline_sha256(desk.envelopes)
        ids = [e.envelope_id.encode() for e in desk.envelopes]
        return result.timeline_sha256, result.result_sha256(), ids

    assert once() == once()


def test_operator_kill_cancels_resting_orders_and_stays_tripped() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=False))  # rests a GTC bid at 0.44
    desk.process(snap(1.0))
    desk.process(snap(2.0))
    assert [o.status for o in desk.state.open_orders()] == [OrderStatus.ACCEPTED]
    desk.process(OperatorCommand(ts_event_ns=3 * S, command="kill", operator="alice"))
    desk.process(snap(4.0))
    assert desk.state.kill_switch_tripped
    assert desk.state.trading_state is TradingState.HALTED
    assert desk.state.open_orders() == []
    # the strategy keeps proposing; the desk refuses with the kill-switch code
    assert desk.envelopes[-1].reason_codes == ("SYS_KILL_SWITCH_TRIPPED",)
    refused = desk.operator(
        OperatorCommand(
            ts_event_ns=4 * S,
            command="set_trading_state",
            operator="alice",
            args={"state": "ACTIVE"},
        )
    )
    assert not refused.applied
    desk.operator(OperatorCommand(ts_event_ns=4 * S, command="reset_kill_switch", operator="bob"))
    assert desk.state.trading_state is TradingState.HALTED
    ok = desk.operator(
        OperatorCommand(
            ts_event_ns=4 * S,
            command="set_trading_state",
            operator="bob",
            args={"state": "ACTIVE"},
        )
    )
    assert ok.applied and desk.state.trading_state is TradingState.ACTIVE
    result = desk.run([snap(5.0)])
    kinds = [type(e).__name__ for e in result.desk_events]
    assert kinds[:2] == ["TradingStateChanged", "KillSwitchTripped"]
    assert result.desk_events[-1].reason_code == "SYS_SHUTDOWN"  # type: ignore[union-attr]


def test_shutdown_cancels_everything_and_flushes() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=False))
    result = desk.run([snap(1.0), snap(2.0)])
    assert desk.state.open_orders() == []
    assert result.trading_state is TradingState.HALTED
    statuses = [o.status for o in desk.state.orders.values()]
    assert statuses == [OrderStatus.CANCELED]


def test_quarantined_risk_bot_blocks_every_intent() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=True), risk=[RaisingBot()])
    result = desk.run(taker_events())
    assert result.fills == ()
    assert list(result.quarantined) == ["risk.crashy"]
    quarantine = result.quarantined["risk.crashy"]
    assert quarantine.from_mode is Mode.ENFORCED and quarantine.ts_ns == 1 * S
    assert quarantine.failure == BotFailure(
        code="SYS_BOT_EXCEPTION",
        message="boom",
        error_type="RuntimeError",
        location=f"tests/desk/doubles.py:{inspect.getsourcelines(RaisingBot.decide)[1] + 1}",
    )
    decisions = [e.decision for e in desk.envelopes if e.bot_id == "risk.crashy"]
    assert decisions[0] is Decision.ERROR
    assert set(decisions[1:]) == {Decision.QUARANTINE}


class _CrashesOnSecondBook(QuoteBot):
    """Rests a bid on its first book, raises on the next."""

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if isinstance(event, BookSnapshot) and event.token_id == "yes" and self.count >= 1:
            raise RuntimeError("lost its mind")
        return super().decide(event, view)


def test_a_quarantined_strategy_has_its_quotes_cancelled() -> None:
    """Nothing watches a quarantined strategy's resting orders any more: the desk cancels them
    at the venue (once); an order of another strategy stays."""
    flaky = _CrashesOnSecondBook("yes", "m1")
    steady = QuoteBot("no", "m1")
    steady.bot_id = "strat.steady"  # type: ignore[misc]
    desk = make_desk(flaky)
    desk.strategies.slots.append(BotSlot(steady))
    no_book = BookSnapshot(
        ts_event_ns=int(1.5 * S), token_id="no", bids=[(540_000, 10**8)], asks=[(560_000, 10**8)]
    )
    desk.process(snap(1.0))
    desk.process(no_book)
    desk.process(snap(2.0))  # both bids rest; the flaky strategy raises on this book
    assert desk.strategies.slots[0].mode is Mode.QUARANTINE
    assert [q.bot_id for q in desk.quarantines] == ["strat.quoter"]
    by_bot = {o.bot_id: o.status for o in desk.state.open_orders()}
    assert by_bot == {
        "strat.quoter": OrderStatus.PENDING_CANCEL,
        "strat.steady": OrderStatus.ACCEPTED,
    }
    desk.process(snap(3.0))  # the venue confirms the cancel
    assert [o.bot_id for o in desk.state.open_orders()] == ["strat.steady"]
    assert desk.orders.stats.cancels_sent == 1


def test_rate_limit_refuses_beyond_the_bucket() -> None:
    config = DeskConfig(orders=OrderManagerConfig(order_rate_per_s=1, order_burst_count=1))
    desk = make_desk(QuoteBot("yes", "m1", cross=True), config=config)
    events = [snap(1.0 + i * 0.1) for i in range(5)]
    desk.run(events)
    assert desk.orders.stats.rate_limited >= 1
    assert desk.orders.stats.submitted == 1
    refusals = [e for e in desk.envelopes if e.reason_codes == ("SYS_RATE_LIMITED",)]
    assert len(refusals) == desk.orders.stats.rate_limited
    assert all(e.bot_id == "desk" and e.decision is Decision.REFUSE for e in refusals)


def test_ack_timeout_counts_an_error_and_cancels() -> None:
    config = DeskConfig(orders=OrderManagerConfig(ack_timeout_ms=100))
    desk = make_desk(QuoteBot("yes", "m1", cross=False), config=config, latency_ms=500)
    desk.process(snap(1.0))
    desk.process(snap(1.2))  # 200 ms later: still PENDING_NEW (arrives at 1.5 s)
    assert desk.orders.stats.ack_timeouts == 1
    assert desk.state.consecutive_errors >= 1
    order = next(iter(desk.state.orders.values()))
    assert order.status is OrderStatus.PENDING_CANCEL


class _Replacer(QuoteBot):
    """Places once, then replaces its order with one a tick lower."""

    bot_id = "strat.replacer"

    def decide(self, event, view, /):  # type: ignore[no-untyped-def]
        from polytraders.contracts.decisions import Proposal

        if not isinstance(event, BookSnapshot):
            return Proposal()
        self.count += 1
        price = 440_000 - 10_000 * (self.count - 1)
        intent = OrderIntent(
            intent_id=f"{self.bot_id}/{self.count}",
            bot_id=self.bot_id,
            action=IntentAction.PLACE if self.count == 1 else IntentAction.REPLACE,
            target_intent_id="" if self.count == 1 else f"{self.bot_id}/{self.count - 1}",
            token_id="yes",
            market_id="m1",
            side=Side.BUY,
            price=price,
            size=10_000_000,
        )
        return Proposal(intents=(intent,))


def test_cancel_before_place_holds_the_new_order_until_the_cancel_is_confirmed() -> None:
    desk = make_desk(_Replacer("yes", "m1"))
    desk.process(snap(1.0))
    desk.process(snap(2.0))  # the first order arrived at 1.25 s; replace it now
    first, second = desk.state.orders.values()
    assert first.status is OrderStatus.PENDING_CANCEL
    assert second.status is OrderStatus.PENDING_NEW and desk.orders.stats.submitted == 1
    desk.process(snap(3.0))  # cancel effective at 2.25 s → the new order is sent
    assert first.status is OrderStatus.CANCELED
    assert desk.orders.stats.submitted == 2
    # snapshot 3 replaced again: intent 3's order waits for intent 2's cancel
    ids = [(o.client_order_id, o.status) for o in desk.state.orders.values()]
    assert ids == [
        ("strat.replacer/1/o0", OrderStatus.CANCELED),
        ("strat.replacer/2/o0", OrderStatus.PENDING_CANCEL),
        ("strat.replacer/3/o0", OrderStatus.PENDING_NEW),
    ]


def test_route_plan_authority_is_enforced() -> None:
    from tests.desk.doubles import GreedyExec

    venue = PaperVenue(PaperVenueConfig(), [MARKET], "run-g")
    desk = Desk(
        run_id="run-g",
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=True))],
        execution=[BotSlot(GreedyExec())],
        markets=[MARKET],
    )
    result = desk.run([snap(1.0), snap(2.0)])
    assert result.orders_submitted == 0
    assert result.quarantined["exec.greedy"].failure.code == "SYS_AUTHORITY_VIOLATION"
    assert "exceed the intent's size" in result.quarantined["exec.greedy"].failure.message
    assert isinstance(desk.envelopes[-1].output, OrderIntent | RoutePlan)
    assert desk.envelopes[-1].reason_codes == ("SYS_BOT_QUARANTINED",)
    assert Mode.QUARANTINE in {e.mode for e in desk.envelopes}


def test_checkpoint_and_resume_continue_the_run_exactly() -> None:
    import msgspec

    from polytraders.desk.desk import DeskCheckpoint

    desk = make_desk(QuoteBot("yes", "m1", cross=False), risk=[ApproveBot(), RaisingBot()])
    desk.process(snap(1.0))
    desk.process(OperatorCommand(ts_event_ns=2 * S, command="kill", operator="alice"))
    saved = msgspec.json.encode(desk.checkpoint())
    checkpoint = msgspec.json.decode(saved, type=DeskCheckpoint)
    venue = PaperVenue(PaperVenueConfig(), [MARKET], "run-d")
    resumed = Desk.resume(
        checkpoint,
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1", cross=False))],
        risk=[BotSlot(ApproveBot()), BotSlot(RaisingBot())],
        execution=[BotSlot(PassThroughExec())],
    )
    assert resumed.state.kill_switch_tripped
    assert resumed.state.trading_state is TradingState.HALTED
    assert resumed.state.ledger.to_json() == desk.state.ledger.to_json()
    assert list(resumed.state.orders) == list(desk.state.orders)
    assert resumed.risk.slots[1].mode is Mode.QUARANTINE
    assert resumed.risk.slots[1].fails_closed
    resumed.process(snap(3.0))
    # envelope ids continue where the first process stopped: none is reused (client order ids:
    # tests/desk/test_order_ids.py)
    assert resumed.envelopes[0].sequence == checkpoint.envelope_sequence


class _FlakyHeartbeatVenue(PaperVenue):
    """The real paper venue whose heartbeat is refused after ``fail_after_ns``."""

    fail_after_ns = 3 * S

    def heartbeat(self, now_ns: int) -> bool:
        return now_ns < self.fail_after_ns


def test_heartbeats_are_sent_when_due_and_refusals_count_as_errors() -> None:
    venue = _FlakyHeartbeatVenue(PaperVenueConfig(), [MARKET], "run-h")
    desk = Desk(
        run_id="run-h",
        venue=venue,
        strategies=[BotSlot(QuoteBot("yes", "m1"))],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
        config=DeskConfig(heartbeat_interval_ms=1_000),
    )
    for t in (1.0, 1.5, 2.0, 3.5):
        desk.process(snap(t))
    assert desk.state.last_venue_heartbeat_ns == 2 * S  # 1.5 s was not due
    assert desk.state.consecutive_errors >= 1  # refused at 3.5 s


def test_a_failed_fill_is_reversed_or_the_kill_switch_trips() -> None:
    desk = make_desk(QuoteBot("yes", "m1", cross=True))
    for event in (snap(1.0), snap(2.0), snap(2.5)):  # a FAK buy per snapshot; two have filled
        desk.process(event)
    first, second = desk.orders.fills[:2]
    cash_before = desk.state.cash
    assert desk.revert_fill(second, "SYS_POLY_TRADE_FAILED")  # the latest: exact reversal
    assert desk.state.position("yes").size == first.size  # type: ignore[union-attr]
    assert desk.state.cash == cash_before + second.notional + second.fee
    assert [f.fill_id for f in desk.orders.fills] == [first.fill_id]
    assert desk.reverted_fills == [second]
    assert not desk.state.kill_switch_tripped
    # a fill the ledger cannot take back exactly: the desk no longer knows its position
    assert not desk.revert_fill(second, "SYS_POLY_TRADE_FAILED")
    assert desk.state.kill_switch_tripped
    assert desk.state.trading_state is TradingState.HALTED
    assert desk.state.ledger.reconciliation_error() == 0
