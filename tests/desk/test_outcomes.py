"""Strategies learn what became of each intent from the view (``intent_outcome``,
``intent_outcomes``): refused by the desk, a risk bot, the execution bot or the order manager;
rejected by the venue; pending, open, partly filled, filled, cancelled, expired; a cancel done.
The desk loop with the real paper venue; memory is bounded per bot."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytraders.contracts.decisions import Proposal, RoutePlan
from polytraders.contracts.modes import Mode
from polytraders.contracts.view import DeskView, IntentOutcome, IntentStatus, OrderRules
from polytraders.desk.desk import Desk, DeskConfig
from polytraders.desk.fixtures import binary_market
from polytraders.desk.orders import OrderManagerConfig
from polytraders.desk.slots import BotSlot
from polytraders.model.events import AnyEvent, BookSnapshot, OperatorCommand
from polytraders.model.orders import IntentAction, OrderIntent, Side, TimeInForce
from polytraders.venues.paper import PaperVenue
from polytraders.venues.paper.config import PaperVenueConfig
from tests.desk.doubles import ApproveBot, PassThroughExec, QuoteBot, RejectBot

S = 1_000_000_000
MARKET = binary_market("m1", "yes", "no", category="crypto")
BOT = "strat.scripted"


def snap(t_s: float, bid=(440_000, 100_000_000), ask=(460_000, 100_000_000)) -> BookSnapshot:
    return BookSnapshot(ts_event_ns=int(t_s * S), token_id="yes", bids=[bid], asks=[ask])


def intent(name: str, **fields: Any) -> OrderIntent:
    values: dict[str, Any] = {
        "token_id": "yes",
        "market_id": "m1",
        "side": Side.BUY,
        "price": 450_000,
        "size": 10_000_000,
        **fields,
    }
    return OrderIntent(intent_id=f"{BOT}/{name}", bot_id=BOT, **values)


def cancel(name: str, target: str) -> OrderIntent:
    return intent(
        name, action=IntentAction.CANCEL, price=0, size=0, target_intent_id=f"{BOT}/{target}"
    )


class Scripted(QuoteBot):
    """Proposes the intents scripted for each snapshot time (s) and records, at every call,
    the outcomes the view shows it for all its intents so far."""

    bot_id = BOT

    def __init__(self, script: dict[float, list[OrderIntent]]) -> None:
        super().__init__("yes", "m1")
        self.script = {int(t * S): intents for t, intents in script.items()}
        self.proposed: list[str] = []
        self.seen: list[dict[str, IntentOutcome | None]] = []

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        self.seen.append({i: view.intent_outcome(i) for i in self.proposed})
        if not isinstance(event, BookSnapshot):
            return Proposal()
        intents = self.script.pop(event.ts_event_ns, [])
        self.proposed += [i.intent_id for i in intents]
        return Proposal(intents=tuple(intents))


def make_desk(
    strategy: Scripted,
    *,
    risk: tuple[object, ...] = (),
    execution: object | None = None,
    config: DeskConfig | None = None,
    venue: PaperVenueConfig | None = None,
) -> Desk:
    return Desk(
        run_id="run-o",
        venue=PaperVenue(venue or PaperVenueConfig(response_latency_ms=0), [MARKET], "run-o"),
        strategies=[BotSlot(strategy)],
        risk=[BotSlot(b) for b in risk] or [BotSlot(ApproveBot())],
        execution=[BotSlot(execution or PassThroughExec())],
        markets=[MARKET],
        config=config,
    )


def outcome(desk: Desk, name: str) -> IntentOutcome:
    found = desk.state.intent_outcome(f"{BOT}/{name}")
    assert found is not None, name
    return found


def test_a_resting_quote_is_pending_open_partly_filled_then_cancelled() -> None:
    strategy = Scripted({1.0: [intent("a")], 4.0: [cancel("c", "a")]})
    desk = make_desk(strategy)
    desk.process(snap(1.0))
    a = outcome(desk, "a")
    assert (a.status, a.client_order_ids, a.filled_size) == (
        IntentStatus.PENDING,
        (f"{BOT}/a/o0",),  # the id the router gave it: the one id everywhere
        0,
    )
    assert a.reason_codes == () and a.decided_by == "" and not a.status.finished
    desk.process(snap(2.0))  # acknowledged at 1.25 s
    assert outcome(desk, "a").status is IntentStatus.OPEN
    desk.process(snap(3.0, ask=(450_000, 4_000_000)))  # an ask of 4 shares crosses our bid
    a = outcome(desk, "a")
    assert (a.status, a.filled_size) == (IntentStatus.PARTIALLY_FILLED, 4_000_000)
    desk.process(snap(4.0))  # the strategy cancels
    assert outcome(desk, "c").status is IntentStatus.DONE
    assert outcome(desk, "a").status is IntentStatus.PARTIALLY_FILLED  # cancel in flight
    desk.process(snap(5.0))
    a = outcome(desk, "a")
    assert (a.status, a.filled_size) == (IntentStatus.CANCELLED, 4_000_000)
    assert a.status.finished
    # the strategy saw each stage through its own view, one call after it happened
    statuses = [s[f"{BOT}/a"].status for s in strategy.seen if s.get(f"{BOT}/a")]  # type: ignore[union-attr]
    assert IntentStatus.OPEN in statuses and IntentStatus.PARTIALLY_FILLED in statuses
    assert statuses[-1] is IntentStatus.CANCELLED


def test_fak_orders_fill_or_cancel_their_remainder() -> None:
    taker = {"price": 460_000, "time_in_force": TimeInForce.FAK}
    strategy = Scripted(
        {1.0: [intent("all", **taker)], 2.0: [intent("more", size=150_000_000, **taker)]}
    )
    desk = make_desk(strategy)
    for t in (1.0, 2.0, 3.0):
        desk.process(snap(t))
    done = outcome(desk, "all")
    assert (done.status, done.filled_size) == (IntentStatus.FILLED, 10_000_000)
    partial = outcome(desk, "more")
    filled = sum(f.size for f in desk.orders.fills if f.client_order_id in partial.client_order_ids)
    assert partial.status is IntentStatus.CANCELLED
    assert partial.filled_size == filled and 0 < filled < 150_000_000  # the book held less


def test_refusals_name_who_refused_and_why() -> None:
    # a risk bot
    desk = make_desk(Scripted({1.0: [intent("r")]}), risk=(RejectBot(),))
    desk.process(snap(1.0))
    refused = outcome(desk, "r")
    assert (refused.status, refused.decided_by, refused.reason_codes) == (
        IntentStatus.REFUSED,
        "risk.reject_all",
        ("SYS_FEED_STALE",),
    )
    assert refused.client_order_ids == () and refused.status.finished
    # the desk's trading-state gate
    desk = make_desk(Scripted({2.0: [intent("h")]}))
    desk.process(
        OperatorCommand(
            ts_event_ns=1 * S,
            command="set_trading_state",
            operator="op",
            args={"state": "HALTED"},
        )
    )
    desk.process(snap(2.0))
    halted = outcome(desk, "h")
    assert (halted.status, halted.decided_by, halted.reason_codes) == (
        IntentStatus.REFUSED,
        "desk",
        ("SYS_TRADING_HALTED",),
    )


class RefusingExec(PassThroughExec):
    """Refuses every intent with a code (no orders)."""

    bot_id = "exec.refuser"
    reason_codes: ClassVar[frozenset[str]] = frozenset({"SYS_VENUE_BELOW_MIN_SIZE"})

    def decide(self, intent: OrderIntent, view: DeskView, /) -> RoutePlan:
        return RoutePlan(reason_codes=("SYS_VENUE_BELOW_MIN_SIZE",))


def test_an_execution_refusal_and_a_venue_rejection() -> None:
    desk = make_desk(Scripted({1.0: [intent("x")]}), execution=RefusingExec())
    desk.process(snap(1.0))
    refused = outcome(desk, "x")
    assert (refused.status, refused.decided_by, refused.reason_codes) == (
        IntentStatus.REFUSED,
        "exec.refuser",
        ("SYS_VENUE_BELOW_MIN_SIZE",),
    )
    desk = make_desk(Scripted({1.0: [intent("t", price=445_000)]}))  # off the 0.01 tick
    desk.process(snap(1.0))
    desk.process(snap(2.0))
    rejected = outcome(desk, "t")
    assert (rejected.status, rejected.decided_by, rejected.reason_codes) == (
        IntentStatus.REJECTED,
        "venue",
        ("SYS_VENUE_INVALID_TICK",),
    )


def test_the_order_managers_refusal_and_a_gtd_expiry() -> None:
    limited = DeskConfig(orders=OrderManagerConfig(order_rate_per_s=1, order_burst_count=1))
    desk = make_desk(Scripted({1.0: [intent("first"), intent("second")]}), config=limited)
    desk.process(snap(1.0))
    assert outcome(desk, "first").status is IntentStatus.PENDING
    second = outcome(desk, "second")
    assert (second.status, second.decided_by, second.reason_codes) == (
        IntentStatus.REFUSED,
        "desk",
        ("SYS_RATE_LIMITED",),
    )
    gtd = intent("g", time_in_force=TimeInForce.GTD, expire_at_ns=3 * S)
    desk = make_desk(Scripted({1.0: [gtd]}), venue=PaperVenueConfig(gtd_security_margin_s=0))
    for t in (1.0, 2.0, 4.0):
        desk.process(snap(t))
    assert outcome(desk, "g").status is IntentStatus.EXPIRED


def test_shutdown_cancels_and_shadow_strategies_have_no_outcomes() -> None:
    strategy = Scripted({1.0: [intent("a")]})
    desk = make_desk(strategy)
    desk.run([snap(1.0), snap(2.0)])
    assert outcome(desk, "a").status is IntentStatus.CANCELLED
    shadow = Scripted({1.0: [intent("s")]})
    desk = Desk(
        run_id="run-s",
        venue=PaperVenue(PaperVenueConfig(), [MARKET], "run-s"),
        strategies=[BotSlot(shadow, Mode.SHADOW)],
        execution=[BotSlot(PassThroughExec())],
        markets=[MARKET],
    )
    desk.process(snap(1.0))
    assert desk.state.intent_outcome(f"{BOT}/s") is None
    assert desk.state.intent_outcomes(BOT) == []


@settings(max_examples=25, deadline=None)
@given(
    kept=st.integers(1, 5),
    refused=st.integers(0, 12),
)
def test_memory_keeps_working_intents_and_the_last_n_finished(kept: int, refused: int) -> None:
    """One resting quote stays working while ``refused`` intents are refused one by one: the
    view keeps the working one and exactly the last ``kept`` finished ones."""
    script = {1.0: [intent("rest")]}
    script |= {2.0 + k: [intent(f"r{k}", side=Side.SELL)] for k in range(refused)}
    config = DeskConfig(outcomes_kept_per_bot=kept)

    class SellRefuser(RejectBot):
        def decide(self, i: OrderIntent, view: DeskView, /):  # type: ignore[no-untyped-def]
            return super().decide(i, view) if i.side is Side.SELL else ApproveBot().decide(i, view)

    desk = make_desk(Scripted(script), risk=(SellRefuser(),), config=config)
    for t in [1.0, *(2.0 + k for k in range(refused))]:
        desk.process(snap(t))
    listed = [o.intent_id for o in desk.state.intent_outcomes(BOT)]
    finished = [f"{BOT}/r{k}" for k in range(refused)][-kept:] if refused else []
    assert listed == [*finished, f"{BOT}/rest"]
    for k in range(refused - len(finished)):
        assert desk.state.intent_outcome(f"{BOT}/r{k}") is None
    assert outcome(desk, "rest").status is IntentStatus.OPEN or refused == 0


def test_order_rules_are_read_from_the_view() -> None:
    desk = make_desk(Scripted({}))
    assert desk.state.order_rules("yes") == OrderRules(
        tick_size=10_000,
        size_step=10_000,
        min_order_size=5_000_000,
        min_price=10_000,
        max_price=990_000,
    )
    assert desk.state.order_rules("unknown") is None


def test_the_outcome_setting_is_in_the_config_version_only_when_changed() -> None:
    default = DeskConfig()
    assert "outcomes_kept_per_bot" not in default.model_dump()
    assert default.outcomes_kept_per_bot == 1_000
    changed = DeskConfig(outcomes_kept_per_bot=10)
    assert changed.model_dump()["outcomes_kept_per_bot"] == 10
    assert changed.config_version != default.config_version
    assert DeskConfig(outcomes_kept_per_bot=1_000).config_version == default.config_version
    with pytest.raises(ValueError, match="outcomes_kept_per_bot"):
        DeskConfig(outcomes_kept_per_bot=0)
